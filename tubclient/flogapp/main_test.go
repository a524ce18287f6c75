package flogapp

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binaryDir string
	binary    string
	buildErr  error
)

// tubscopeBinary builds the tubscope command once per test run: the
// command-line tests run the real program, as an operator would.
func tubscopeBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if binaryDir, buildErr = os.MkdirTemp("", "flogapp-"); buildErr != nil {
			return
		}
		binary = filepath.Join(binaryDir, "tubscope")
		gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(gotool, "build", "-o", binary, "github.com/tubscope/tubscope").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
