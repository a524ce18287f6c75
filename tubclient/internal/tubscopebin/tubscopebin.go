// Package tubscopebin builds the tubscope command for the tests that run
// the real program, as an operator would. It is built once per test
// binary; TestMain removes it with Remove.
package tubscopebin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// Server is a `tubscope serve` child process.
type Server struct {
	Cmd  *exec.Cmd
	FURL string
}

// Serve runs `tubscope serve --listen tcp:127.0.0.1:0 ARGS…`, with at most
// nofile open files (0: as inherited), and waits for the FURL it prints.
// The process is killed when the test ends, or if the test process dies.
func Serve(t testing.TB, nofile int, args ...string) *Server {
	t.Helper()
	argv := append([]string{Path(t), "serve", "--listen", "tcp:127.0.0.1:0"}, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if nofile > 0 {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = strconv.Quote(a)
		}
		cmd = exec.Command("/bin/sh", "-c", fmt.Sprintf("ulimit -n %d && exec %s", nofile, strings.Join(quoted, " ")))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("tubscope serve printed no FURL: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	return &Server{Cmd: cmd, FURL: strings.TrimSpace(line)}
}
