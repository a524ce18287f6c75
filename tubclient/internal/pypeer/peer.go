package pypeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Line is one JSON object a peer printed. Numbers are json.Number.
type Line map[string]any

// Event is the line's "event" field.
func (l Line) Event() string { return l.String("event") }

// String returns a string field, or "" when absent or not a string.
func (l Line) String(key string) string {
	s, _ := l[key].(string)
	return s
}

// Bool returns a boolean field, or false when absent or not a boolean.
func (l Line) Bool(key string) bool {
	b, _ := l[key].(bool)
	return b
}

// Int returns an integer field and whether it was present as one.
func (l Line) Int(key string) (int64, bool) {
	n, ok := l[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

func (l Line) text() string {
	b, err := json.Marshal(map[string]any(l))
	if err != nil {
		return fmt.Sprint(map[string]any(l))
	}
	return string(b)
}

const (
	// lineBuffer is how many unread lines a peer may get ahead of its
	// reader; beyond it the reader stops draining stdout and the peer
	// blocks on its next write, so nothing is lost silently.
	lineBuffer = 1024
	// maxLineBytes caps one stdout line; a longer one ends line parsing.
	maxLineBytes = 1 << 20
	// stderrTail is how much of a peer's stderr is kept for error messages.
	stderrTail = 16 << 10
	// skippedKept is how many skipped lines Expect quotes when it gives up.
	skippedKept = 12
	// stopGrace is how long Stop waits after EOF, and again after SIGTERM,
	// before escalating.
	stopGrace = 5 * time.Second
)

// Peer is one running Python peer process.
type Peer struct {
	name string
	cmd  *exec.Cmd
	dir  string

	stdinMu sync.Mutex
	stdin   io.WriteCloser

	lines  chan Line
	quit   chan struct{} // closed to make the reader discard instead of queue
	exited chan struct{} // closed once the process has been reaped
	stderr *TailBuffer

	waitErr  error // set before exited is closed
	readErr  error // set before exited is closed
	hello    Line
	quitOnce sync.Once
	stopOnce sync.Once
	stopErr  error
}

// start launches a command whose stdout carries JSON lines. dir, if not
// empty, is removed once the process is reaped.
func start(name string, argv []string, dir string) (*Peer, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// Its own process group, so a signal reaches anything it started too:
	// a survivor holding stdout open would keep the reader, and so the
	// reaping, waiting forever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{
		name:   name,
		cmd:    cmd,
		dir:    dir,
		stdin:  stdin,
		lines:  make(chan Line, lineBuffer),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
		stderr: NewTailBuffer(stderrTail),
	}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pypeer %s: start: %w", name, err)
	}
	go p.read(stdout)
	return p, nil
}

// read is the only reader of stdout; it reaps the process when stdout ends.
func (p *Peer) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	for sc.Scan() {
		p.deliver(parseLine(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		p.readErr = err
		// Keep draining so the peer never blocks on a pipe nobody reads.
		io.Copy(io.Discard, stdout)
	}
	p.waitErr = p.cmd.Wait()
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
	close(p.lines)
	close(p.exited)
}

func (p *Peer) deliver(l Line) {
	select {
	case <-p.quit:
		return
	default:
	}
	select {
	case p.lines <- l:
	case <-p.quit:
	}
}

func parseLine(raw []byte) Line {
	var l Line
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&l); err != nil || l == nil {
		return Line{"event": "unparsed", "raw": string(raw)}
	}
	return l
}

// Hello is the first line the peer printed: "furl" for a server, "tub" for
// a client.
func (p *Peer) Hello() Line { return p.hello }

// TubID is the peer's own tubid.
func (p *Peer) TubID() string { return p.hello.String("tubid") }

// FURL is the server's echo object FURL ("" for clients).
func (p *Peer) FURL() string { return p.hello.String("furl") }

// Next returns the next line the peer printed.
func (p *Peer) Next(ctx context.Context) (Line, error) {
	select {
	case l, ok := <-p.lines:
		if !ok {
			return nil, p.exitError()
		}
		return l, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("pypeer %s: waiting for output: %w%s", p.name, ctx.Err(), p.stderrNote())
	}
}

// Expect skips lines until one whose event is one of events.
func (p *Peer) Expect(ctx context.Context, events ...string) (Line, error) {
	var skipped []string
	for {
		l, err := p.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("expecting %v: %w%s", events, err, skippedNote(skipped))
		}
		for _, e := range events {
			if l.Event() == e {
				return l, nil
			}
		}
		skipped = append(skipped, l.text())
		if len(skipped) > skippedKept {
			skipped = skipped[1:]
		}
	}
}

func skippedNote(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return "\nlast lines skipped:\n  " + strings.Join(skipped, "\n  ")
}

// Send writes one command line to the peer's stdin.
func (p *Peer) Send(command string) error {
	if strings.ContainsAny(command, "\r\n") {
		return fmt.Errorf("pypeer %s: command contains a line break", p.name)
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin == nil {
		return fmt.Errorf("pypeer %s: stdin closed", p.name)
	}
	if _, err := io.WriteString(p.stdin, command+"\n"); err != nil {
		return fmt.Errorf("pypeer %s: send %q: %w%s", p.name, command, err, p.stderrNote())
	}
	return nil
}

// CallError is a remote call that failed on the peer.
type CallError struct {
	Method  string
	Type    string
	Message string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("remote %s failed: %s: %s", e.Method, e.Type, e.Message)
}

// Call asks a client peer started with Hold to call method on its target
// and waits for the answer. A remote failure comes back as *CallError.
func (p *Peer) Call(ctx context.Context, method string, args ...any) (any, error) {
	if args == nil {
		args = []any{}
	}
	enc, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("pypeer %s: encoding args: %w", p.name, err)
	}
	if err := p.Send("call " + method + " " + string(enc)); err != nil {
		return nil, err
	}
	for {
		l, err := p.Expect(ctx, "result", "error")
		if err != nil {
			return nil, err
		}
		if l.String("cmd") != "call" {
			continue
		}
		if l.Event() == "error" {
			return nil, &CallError{Method: method, Type: l.String("type"), Message: l.String("error")}
		}
		return l["value"], nil
	}
}

// Stop ends the peer gracefully: stdin EOF, then SIGTERM, then SIGKILL,
// each after a grace period. It reaps the process and is idempotent.
func (p *Peer) Stop() error {
	p.stopOnce.Do(func() {
		p.release()
		p.closeStdin()
		if p.waitExit(stopGrace) {
			p.stopErr = p.exitStatus()
			return
		}
		p.signal(syscall.SIGTERM)
		if p.waitExit(stopGrace) {
			p.stopErr = fmt.Errorf("pypeer %s: ignored stdin EOF, needed SIGTERM: %v%s", p.name, p.waitErr, p.stderrNote())
			return
		}
		p.signal(syscall.SIGKILL)
		<-p.exited
		p.stopErr = fmt.Errorf("pypeer %s: did not stop, killed%s", p.name, p.stderrNote())
	})
	return p.stopErr
}

// Kill ends the peer with SIGKILL and reaps it.
func (p *Peer) Kill() {
	p.release()
	select {
	case <-p.exited:
		return
	default:
	}
	p.signal(syscall.SIGKILL)
	<-p.exited
	p.closeStdin()
}

// signal sends sig to the peer's process group.
func (p *Peer) signal(sig syscall.Signal) {
	syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Exited is closed once the process has been reaped.
func (p *Peer) Exited() <-chan struct{} { return p.exited }

// release lets the reader drain stdout without a consumer.
func (p *Peer) release() { p.quitOnce.Do(func() { close(p.quit) }) }

func (p *Peer) closeStdin() {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
}

func (p *Peer) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

// exitStatus is nil for a clean exit; call only after exited is closed.
func (p *Peer) exitStatus() error {
	if p.waitErr != nil {
		return fmt.Errorf("pypeer %s: %w%s", p.name, p.waitErr, p.stderrNote())
	}
	if p.readErr != nil {
		return fmt.Errorf("pypeer %s: reading output: %w", p.name, p.readErr)
	}
	return nil
}

func (p *Peer) exitError() error {
	<-p.exited
	if err := p.exitStatus(); err != nil {
		return fmt.Errorf("%w: %w", errExited, err)
	}
	return fmt.Errorf("pypeer %s: %w%s", p.name, errExited, p.stderrNote())
}

func (p *Peer) stderrNote() string {
	s := strings.TrimSpace(p.stderr.String())
	if s == "" {
		return ""
	}
	return "\nstderr:\n" + s
}

// TailBuffer keeps the last max bytes written to it: a child process's
// stderr, bounded, for failure messages.
type TailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped bool
}

// NewTailBuffer keeps up to max bytes.
func NewTailBuffer(max int) *TailBuffer { return &TailBuffer{max: max} }

func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) >= b.max {
		p = p[len(p)-b.max:]
		b.buf = b.buf[:0]
		b.dropped = true
	} else if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.dropped = true
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped {
		return "…" + string(b.buf)
	}
	return string(b.buf)
}
