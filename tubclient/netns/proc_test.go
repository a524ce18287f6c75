package netns

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
)

const (
	// procLines is how many unread stdout lines a child may get ahead of
	// the test; beyond it the child blocks on its next write.
	procLines = 4096
	// procTail is how much of a child's stderr is kept for failure messages.
	procTail = 8 << 10
	// skippedKept is how many skipped lines waitLine quotes when it gives up.
	skippedKept = 10
)

// proc is one child process of the test whose stdout is read as lines.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser // held open: the Python peers exit on EOF
	lines   chan string
	quit    chan struct{} // closed to make the reader discard instead of queue
	exited  chan struct{} // closed once the process has been reaped
	stderr  *pypeer.TailBuffer
	Started time.Time

	killOnce sync.Once
	waitErr  error // set before exited is closed
}

// startProc runs argv as a child of the test; cleanup SIGKILLs and reaps
// it. The child is also SIGKILLed if the test process dies first.
func startProc(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{
		name:   name,
		cmd:    cmd,
		lines:  make(chan string, procLines),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
		stderr: pypeer.NewTailBuffer(procTail),
	}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go p.read(stdout)
	t.Cleanup(p.Kill)
	return p
}

// read is the only reader of stdout; it reaps the process when stdout ends.
func (p *proc) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		select {
		case p.lines <- sc.Text():
		case <-p.quit:
		}
	}
	io.Copy(io.Discard, stdout)
	p.waitErr = p.cmd.Wait()
	close(p.lines)
	close(p.exited)
}

// Kill SIGKILLs the process and reaps it; it is idempotent.
func (p *proc) Kill() {
	p.killOnce.Do(func() {
		close(p.quit)
		p.cmd.Process.Kill()
		<-p.exited
		p.stdin.Close()
	})
}

// waitLine skips stdout lines until match accepts one, match fails, the
// process exits or ctx ends.
func (p *proc) waitLine(ctx context.Context, what string, match func(string) (bool, error)) (string, error) {
	var skipped []string
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("%s exited (%v) before %s%s%s", p.name, p.waitErr, what, skippedNote(skipped), p.stderrNote())
			}
			ok, err := match(line)
			if err != nil {
				return "", fmt.Errorf("%s: waiting for %s: %w%s", p.name, what, err, p.stderrNote())
			}
			if ok {
				return line, nil
			}
			skipped = append(skipped, line)
			if len(skipped) > skippedKept {
				skipped = skipped[1:]
			}
		case <-ctx.Done():
			return "", fmt.Errorf("%s: waiting for %s: %w%s%s", p.name, what, ctx.Err(), skippedNote(skipped), p.stderrNote())
		}
	}
}

func skippedNote(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return "\nlast lines skipped:\n  " + strings.Join(skipped, "\n  ")
}

func (p *proc) stderrNote() string {
	s := strings.TrimSpace(p.stderr.String())
	if s == "" {
		return ""
	}
	return "\nstderr:\n" + s
}
