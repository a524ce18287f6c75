// Package flogtest makes real Foolscap 21.7 write flog files for the flog
// tests: a Python tub (flogpeer.py) that logs through Foolscap's own
// logger, a raw Go tub that puts chosen hellos and decisions in front of
// it, a flogtool tail that saves its logport, and the scenarios that
// provoke every duplicate-connection rule.
package flogtest

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Python is the interpreter with python3-foolscap installed.
const Python = "/usr/bin/python3"

// Flogtool is Foolscap's log tool.
const Flogtool = "/usr/bin/flogtool"

//go:embed flogpeer.py
var peerScript []byte

var availability = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, Python, "-E", "-s", "-B", "-c",
		"import foolscap, sys; sys.stdout.write(foolscap.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import foolscap (apt-get install python3-foolscap): %v: %s", Python, err, strings.TrimSpace(string(out)))
	}
	if _, err := os.Stat(Flogtool); err != nil {
		return fmt.Errorf("flogtool missing: %w", err)
	}
	return nil
})

// Require skips the test when Foolscap is missing, unless CI is set.
func Require(t testing.TB) {
	t.Helper()
	if err := availability(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("real Foolscap required in CI: %v", err)
		}
		t.Skipf("real Foolscap unavailable: %v", err)
	}
}

// Options configures a flogpeer.
type Options struct {
	Dir      string // working directory: key, logport.furl; required
	LogDir   string // incident directory; "" means no incidents
	FlogFile string // FLOGFILE (FLOGLEVEL=10); "" means none
	// HandleOld, when set, is handle-old-duplicate-connections in seconds.
	HandleOld *int
}

// Peer is a running flogpeer.py.
type Peer struct {
	Ready Line // the first line: tubid, incarnation, furl, logport_furl, port

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan Line
	exited chan struct{}
	stderr strings.Builder
	errMu  sync.Mutex
}

// Line is one JSON line the peer printed.
type Line map[string]any

// String is a string field, "" when absent.
func (l Line) String(k string) string { s, _ := l[k].(string); return s }

// TubID is the peer's tubid.
func (p *Peer) TubID() string { return p.Ready.String("tubid") }

// Incarnation is the peer's tub incarnation.
func (p *Peer) Incarnation() string { return p.Ready.String("incarnation") }

// Addr is the peer's listening address.
func (p *Peer) Addr() string {
	port, _ := p.Ready["port"].(float64)
	return fmt.Sprintf("127.0.0.1:%d", int(port))
}

// LogportFURL is the FURL of the peer's log publisher.
func (p *Peer) LogportFURL() string { return p.Ready.String("logport_furl") }

// Start runs flogpeer.py and waits for it to be ready.
func Start(ctx context.Context, o Options) (*Peer, error) {
	if err := availability(); err != nil {
		return nil, err
	}
	script := filepath.Join(o.Dir, "flogpeer.py")
	if err := os.WriteFile(script, peerScript, 0o600); err != nil {
		return nil, err
	}
	args := []string{"-E", "-s", "-B", script, "--dir", o.Dir}
	if o.LogDir != "" {
		args = append(args, "--logdir", o.LogDir)
	}
	if o.HandleOld != nil {
		args = append(args, "--handle-old", fmt.Sprint(*o.HandleOld))
	}
	cmd := exec.Command(Python, args...)
	cmd.Dir = o.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = os.Environ()
	if o.FlogFile != "" {
		cmd.Env = append(cmd.Env, "FLOGFILE="+o.FlogFile, "FLOGLEVEL=10")
	}
	p := &Peer{cmd: cmd, lines: make(chan Line, 64), exited: make(chan struct{})}
	cmd.Stderr = &lockedWriter{&p.errMu, &p.stderr}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go p.read(stdout)
	ready, err := p.expect(ctx, "ready")
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("flogpeer: starting: %w", err)
	}
	p.Ready = ready
	return p, nil
}

func (p *Peer) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var l Line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l = Line{"event": "unparsed", "raw": sc.Text()}
		}
		p.lines <- l
	}
	io.Copy(io.Discard, stdout)
	p.cmd.Wait()
	close(p.lines)
	close(p.exited)
}

func (p *Peer) expect(ctx context.Context, event string) (Line, error) {
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return nil, fmt.Errorf("flogpeer exited: %s", p.stderrText())
			}
			if l.String("event") == event {
				return l, nil
			}
			if l.String("event") == "error" {
				return nil, fmt.Errorf("flogpeer: %v", l)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %q: %w (stderr: %s)", event, ctx.Err(), p.stderrText())
		}
	}
}

func (p *Peer) stderrText() string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return strings.TrimSpace(p.stderr.String())
}

// Command sends one command line and waits for its answer.
func (p *Peer) Command(ctx context.Context, cmd string) (Line, error) {
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		return nil, err
	}
	want := "ok"
	if cmd == "incidents" {
		want = "incidents"
	}
	return p.expect(ctx, want)
}

// Stop asks the peer to quit and waits until it has exited, so FLOGFILE is
// complete; after the context ends it is killed.
func (p *Peer) Stop(ctx context.Context) error {
	p.stdin.Close()
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		p.Kill()
		return fmt.Errorf("flogpeer did not quit: %w", ctx.Err())
	}
}

// Kill ends the peer at once and reaps it.
func (p *Peer) Kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	for range p.lines {
	}
	<-p.exited
}

// Incidents lists the incident files the peer has finished writing.
func (p *Peer) Incidents(ctx context.Context) ([]string, error) {
	l, err := p.Command(ctx, "incidents")
	if err != nil {
		return nil, err
	}
	var files []string
	list, _ := l["files"].([]any)
	for _, f := range list {
		if s, ok := f.(string); ok {
			files = append(files, s)
		}
	}
	return files, nil
}

// WaitIncident waits for the peer's first finished incident file. The
// trailing window closes after 100 events, so noise is logged to end it
// rather than waiting out its five seconds.
func (p *Peer) WaitIncident(ctx context.Context) (string, error) {
	if _, err := p.Command(ctx, "noise 120"); err != nil {
		return "", err
	}
	for {
		files, err := p.Incidents(ctx)
		if err != nil {
			return "", err
		}
		if len(files) > 0 {
			return files[0], nil
		}
		// The reporter renames its file an event-loop turn after the last
		// trailing event; ask again on the next tick.
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no incident file: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Tail is a running `flogtool tail --catch-up --save-to FILE FURL`.
type Tail struct {
	cmd    *exec.Cmd
	exited chan struct{}
	File   string

	mu      sync.Mutex
	want    string        // the mark being waited for
	seen    chan struct{} // closed when a line holding want is printed
	printed int           // lines printed so far
}

// StartTail runs flogtool tail against the peer's logport, saving to
// file, and waits until it is subscribed.
func StartTail(ctx context.Context, p *Peer, file string) (*Tail, error) {
	cmd := exec.Command(Flogtool, "tail", "--catch-up", "--save-to", file, p.LogportFURL())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	t := &Tail{cmd: cmd, exited: make(chan struct{}), File: file}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go t.read(stdout)
	if err := t.Sync(ctx, p); err != nil {
		t.Kill()
		return nil, fmt.Errorf("flogtool tail never subscribed: %w", err)
	}
	return t, nil
}

func (t *Tail) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		t.mu.Lock()
		t.printed++
		if t.want != "" && strings.Contains(sc.Text(), t.want) {
			close(t.seen)
			t.want = ""
		}
		t.mu.Unlock()
	}
	io.Copy(io.Discard, stdout)
	t.cmd.Wait()
	close(t.exited)
}

// Sync logs a mark on the peer and waits until the tail prints it. The
// logport delivers in order with at most 10 events in flight, so a tail
// lags behind its publisher; once the mark is printed, everything logged
// before it has reached the tail's file.
func (t *Tail) Sync(ctx context.Context, p *Peer) error {
	mark := "flogtest mark " + NewIncarnation()
	seen := make(chan struct{})
	t.mu.Lock()
	t.want, t.seen = mark, seen
	t.mu.Unlock()
	for {
		if _, err := p.Command(ctx, "mark "+mark); err != nil {
			return err
		}
		// Until subscribed the mark may go unseen: --catch-up replays only
		// what Foolscap still buffers, so mark again after a while.
		retry := time.NewTimer(500 * time.Millisecond)
		select {
		case <-seen:
			retry.Stop()
			return nil
		case <-t.exited:
			retry.Stop()
			return errors.New("flogtool tail exited")
		case <-ctx.Done():
			retry.Stop()
			return ctx.Err()
		case <-retry.C:
		}
	}
}

// Stop interrupts the tail as a user would (SIGINT), which closes the
// saved file cleanly, and waits for it to exit. Call Sync first, or the
// file may miss what the tail had not yet received.
func (t *Tail) Stop(ctx context.Context) error {
	syscall.Kill(-t.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-t.exited:
		return nil
	case <-ctx.Done():
		t.Kill()
		return fmt.Errorf("flogtool tail ignored SIGINT: %w", ctx.Err())
	}
}

// Kill ends the tail at once.
func (t *Tail) Kill() {
	syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
	<-t.exited
}
