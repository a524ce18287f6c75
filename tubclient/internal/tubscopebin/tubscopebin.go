// Package tubscopebin builds the tubscope command for the tests that run
// the real program, as an operator would. It is built once per test
// binary; TestMain removes it with Remove.
package tubscopebin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Module is the import path of the tubscope command.
const Module = "github.com/tubscope/tubscope"

var (
	once sync.Once
	dir  string
	path string
	err  error
)

// GoTool is the go command: the one on PATH, else the one that built the
// running test.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// Path returns the tubscope binary, building it on first use.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if dir, err = os.MkdirTemp("", "tubscope-bin-"); err != nil {
			return
		}
		path = filepath.Join(dir, "tubscope")
		err = build(dir, Module)
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Build builds pkgs, commands beside tubscope, into dir.
func Build(t testing.TB, dir string, pkgs ...string) {
	t.Helper()
	if err := build(dir, pkgs...); err != nil {
		t.Fatal(err)
	}
}

func build(dir string, pkgs ...string) error {
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	if out, err := exec.Command(GoTool(), args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %v\n%s", pkgs, err, out)
	}
	return nil
}

// Remove deletes the binary Path built, if it built one.
func Remove() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}
