package flogapp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
)

// proc is a child process whose stdout is read line by line.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	err    error // the exit status, once exited is closed

	mu     sync.Mutex
	stderr strings.Builder
}

// startProc runs argv in dir with env added to the test's environment.
func startProc(t testing.TB, dir string, env []string, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// Python buffers a pipe's output; lines must arrive as printed.
	cmd.Env = append(append(os.Environ(), "PYTHONUNBUFFERED=1"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{t: t, name: filepath.Base(argv[0]) + " " + strings.Join(argv[1:min(len(argv), 3)], " "), cmd: cmd,
		lines: make(chan string, 1<<14), exited: make(chan struct{})}
	cmd.Stderr = lockedWriter{p}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.lines)
		close(p.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		if t.Failed() {
			if s := p.stderrText(); s != "" {
				t.Logf("%s stderr:\n%s", p.name, s)
			}
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// awaitStderr waits until the process has written want to stderr, which
// arrives through a pipe of its own, in its own time.
func (p *proc) awaitStderr(ctx context.Context, want string) {
	p.t.Helper()
	for !strings.Contains(p.stderrText(), want) {
		select {
		case <-ctx.Done():
			p.t.Fatalf("%s never wrote %q to stderr:\n%s", p.name, want, p.stderrText())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// next is the next line, false once the output has ended.
func (p *proc) next(ctx context.Context) (string, bool) {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		return l, ok
	case <-ctx.Done():
		p.t.Fatalf("%s: no line: %v\nstderr:\n%s", p.name, ctx.Err(), p.stderrText())
	}
	return "", false
}

// expect skips lines until one contains want.
func (p *proc) expect(ctx context.Context, want string) string {
	p.t.Helper()
	lines := p.until(ctx, want)
	return lines[len(lines)-1]
}

// until returns the lines up to the first that contains want, included.
func (p *proc) until(ctx context.Context, want string) []string {
	p.t.Helper()
	var lines []string
	for {
		l, ok := p.next(ctx)
		if !ok {
			p.t.Fatalf("%s ended (%v) before a line with %q\nstderr:\n%s", p.name, p.wait(), want, p.stderrText())
		}
		lines = append(lines, l)
		if strings.Contains(l, want) {
			return lines
		}
	}
}

// event skips JSON lines until one whose "event" is among events.
func (p *proc) event(ctx context.Context, events ...string) map[string]any {
	p.t.Helper()
	for {
		l := p.expect(ctx, `"event"`)
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if e, _ := m["event"].(string); slices.Contains(events, e) {
			return m
		}
		if m["event"] == "error" {
			p.t.Fatalf("%s: %s", p.name, l)
		}
	}
}

func (p *proc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// wait waits for the process to exit and returns its status.
func (p *proc) wait() error {
	<-p.exited
	return p.err
}

// interrupt sends SIGINT, as an operator's ^C does, and returns the exit
// status.
func (p *proc) interrupt(ctx context.Context) error {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
		return p.err
	case <-ctx.Done():
		p.t.Fatalf("%s ignored SIGINT", p.name)
	}
	return nil
}

// rest drains what is left of the output once the process has ended.
func (p *proc) rest() []string {
	var out []string
	for l := range p.lines {
		out = append(out, l)
	}
	return out
}

// runTubscope runs the binary to the end and returns its output.
func runTubscope(t testing.TB, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, tubscopebin.Path(t), args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// orderedPEMs writes n Foolscap identities into dir, sorted by tubid, so
// a test knows who is master of each connection (the higher tubid).
func orderedPEMs(t testing.TB, dir string, n int) (paths, tubids []string) {
	t.Helper()
	type id struct{ path, tubid string }
	var ids []id
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("id%d.pem", i))
		tubid, err := pypeer.NewPEM(path)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id{path, tubid})
	}
	slices.SortFunc(ids, func(a, b id) int { return strings.Compare(a.tubid, b.tubid) })
	for _, i := range ids {
		paths, tubids = append(paths, i.path), append(tubids, i.tubid)
	}
	return paths, tubids
}

func script(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func python(t testing.TB, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	pypeer.Require(t)
	return startProc(t, dir, env, append([]string{pypeer.Python, "-E", "-s", "-B", script(t, name)}, args...)...)
}
