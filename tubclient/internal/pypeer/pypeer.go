// Package pypeer runs real Foolscap 21.7 peers (Debian's python3-foolscap)
// as child processes, for interop tests and the bench command.
//
// Each peer is a Python script that reports what its tub sees as one JSON
// object per stdout line and takes commands on stdin; closing stdin makes it
// exit. The scripts are embedded so the tubscope binary can run them too.
//
// Lines both peers print (keys beyond "event"):
//
//	offer              side peer incarnation last_connection master existing
//	decision           side peer accept current_connection | error; when an
//	                   established connection was weighed: duplicate rule
//	                   existing_slave_ir existing_seqnum
//	decision_received  side peer current_connection dropped_existing
//	negotiation_failed side error
//	connection         peer direction master seqnum slave_ir local remote
//	disconnection      peer local remote reason
//	status             tubid incarnation brokers master_table slave_table
//	dropped            count            (answer to "drop")
//	bye                                 (answer to "quit")
//
// Server only: furl (furl tubid incarnation port, always first) and call
// (object method args). Client only: tub (tubid incarnation, always first),
// connected, reconnected (peer tubid incarnation master last_connection
// current_connection local remote [previous_incarnation]), rejected (error
// [detail] type), connect_failed, disconnected (peer local), result (cmd
// method value) and error (cmd [method] error [type]). Client commands:
// "call METHOD [ARGS_JSON]", reconnect, forget, newinc, drop, status, quit;
// the server takes drop, status and quit.
package pypeer

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Python is the interpreter the peers run under: the distribution's python3,
// which is where python3-foolscap is installed.
const Python = "/usr/bin/python3"

//go:embed py/*.py
var scripts embed.FS

// startTimeout bounds a peer's startup when the caller's context has no
// deadline of its own.
const startTimeout = 30 * time.Second

var availability = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, Python, pythonFlags("-c",
		"import foolscap, sys; sys.stdout.write(foolscap.__version__)")...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pypeer: %s cannot import foolscap (apt-get install python3-foolscap): %v: %s",
			Python, err, strings.TrimSpace(string(out)))
	}
	return nil
})

// Available reports whether Python with Foolscap can be run.
func Available() error { return availability() }

// TB is the part of testing.TB that Require needs; taking it as an
// interface keeps the testing package out of the binaries that run peers.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Require skips the test when the peers cannot run, unless CI is set, in
// which case a missing peer is a failure rather than a silent skip.
func Require(t TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("real Foolscap peer required in CI: %v", err)
	}
	t.Skipf("real Foolscap peer unavailable: %v", err)
}

// pythonFlags isolates the interpreter from the caller's PYTHON* variables
// and user site-packages, and keeps it from writing bytecode next to the
// scripts.
func pythonFlags(args ...string) []string {
	return append([]string{"-E", "-s", "-B"}, args...)
}

// writeScripts copies the embedded scripts into a fresh directory.
func writeScripts() (string, error) {
	dir, err := os.MkdirTemp("", "pypeer-")
	if err != nil {
		return "", err
	}
	err = fs.WalkDir(scripts, "py", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := scripts.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, d.Name()), data, 0o600)
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("pypeer: writing scripts: %w", err)
	}
	return dir, nil
}

// withStartDeadline gives ctx a deadline if it has none.
func withStartDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, startTimeout)
}

var errExited = errors.New("peer exited")
