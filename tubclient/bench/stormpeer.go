package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
)

// Modes of the bench-peer command.
const (
	PeerIdle  = "idle"  // RunPeer: idle connections for row 5
	PeerStorm = "storm" // RunStormPeer: a share of row 4's storm clients
)

// RunPeerMode runs the bench-peer command in the given mode.
func RunPeerMode(ctx context.Context, mode, furl string, n int, in io.Reader, out io.Writer) error {
	switch mode {
	case PeerIdle, "":
		return RunPeer(ctx, furl, n, in, out)
	case PeerStorm:
		return RunStormPeer(ctx, furl, n, in, out)
	}
	return fmt.Errorf("%s: unknown mode %q (want %s or %s)", PeerCommand, mode, PeerIdle, PeerStorm)
}

// stormCommand is the line that starts the storm in a storm peer.
const stormCommand = "storm"

// RunStormPeer opens n client tubs, each a slave of furl's tub with one
// successful call, and writes "ready N". On a "storm" line from in it
// black-holes its clients' path, restarts every client silently at once,
// lets each retry until its first successful call and writes
//
//	back OK MAX-µs REJECTS FAILED READ-UNIX-ns [FIRST-ERROR]
//
// where MAX-µs is the slowest recovery counted from reading the line and
// READ-UNIX-ns the wall-clock time of that read. It holds its tubs until
// in ends.
func RunStormPeer(ctx context.Context, furl string, n int, in io.Reader, out io.Writer) error {
	if n < 1 {
		return fmt.Errorf("%s: n must be at least 1, not %d", PeerCommand, n)
	}
	if _, err := tubclient.ParseFURL(furl); err != nil {
		return fmt.Errorf("%s: %w", PeerCommand, err)
	}
	// Each client holds its live socket and the black-holed one its silent
	// restart left open.
	raiseFDLimit(uint64(2*n + fdReserve))
	path := faultnet.NewPath(nil)
	clients, err := stormClients(ctx, furl, n, path)
	if err != nil {
		return fmt.Errorf("%s: %w", PeerCommand, err)
	}
	defer closeTubs(clients)
	if _, err := fmt.Fprintf(out, "ready %d\n", n); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	stormed := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != stormCommand || stormed {
			return fmt.Errorf("%s: unexpected input %q", PeerCommand, line)
		}
		stormed = true
		read := time.Now()
		o := restartAll(ctx, clients, furl, path, read)
		msg := ""
		if o.lastErr != nil {
			msg = " " + strings.ReplaceAll(o.lastErr.Error(), "\n", " ")
		}
		if _, err := fmt.Fprintf(out, "back %d %d %d %d %d%s\n", o.ok, o.last.Microseconds(), o.rejects, o.failed,
			read.UnixNano(), msg); err != nil {
			return err
		}
	}
	return sc.Err()
}

// backReport is a storm peer's "back" line.
type backReport struct {
	ok, rejects, failed int
	last                time.Duration
	read                time.Time
	firstErr            string
}

func parseBack(line string) (backReport, error) {
	var b backReport
	f := strings.SplitN(strings.TrimSpace(line), " ", 7)
	if len(f) < 6 || f[0] != "back" {
		return b, fmt.Errorf("not a back line: %q", line)
	}
	var v [5]int64
	for i := range v {
		x, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil || x < 0 {
			return b, fmt.Errorf("bad back line %q", line)
		}
		v[i] = x
	}
	b.ok, b.last, b.rejects, b.failed = int(v[0]), time.Duration(v[1])*time.Microsecond, int(v[2]), int(v[3])
	b.read = time.Unix(0, v[4])
	if len(f) == 7 {
		b.firstErr = f[6]
	}
	return b, nil
}

// lineWriter takes a child's stdout and passes its lines (each cut to
// maxLine bytes) to lines; lines that find it full are dropped.
type lineWriter struct {
	lines chan string
	mu    sync.Mutex
	cur   []byte
}

const maxLine = 1 << 10

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 8)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p {
		if c != '\n' {
			if len(w.cur) < maxLine {
				w.cur = append(w.cur, c)
			}
			continue
		}
		select {
		case w.lines <- string(w.cur):
		default:
		}
		w.cur = w.cur[:0]
	}
	return len(p), nil
}

// stormChild is one child process of a storm.
type stormChild struct {
	n      int
	out    *lineWriter
	stderr *capBuffer
	stdin  io.WriteCloser
	exited chan error
	pid    int
}

// next waits for the child's next stdout line.
func (c *stormChild) next(ctx context.Context, bound time.Duration, what string) (string, error) {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case l := <-c.out.lines:
		return l, nil
	case werr := <-c.exited:
		c.exited <- werr
		return "", fmt.Errorf("client process ended before %s (%v): %s", what, werr, c.stderr)
	case <-timer.C:
		return "", fmt.Errorf("client process not %s within %s: %s", what, bound, c.stderr)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// stormChildren runs the storm with the master in this process and n
// clients spread over child processes of at most perChild each, started
// by start.
func stormChildren(ctx context.Context, n, perChild int, start peerStarter) (res stormResult, err error) {
	res = stormResult{n: n}
	master, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		return res, err
	}
	defer master.Close()

	cctx, kill := context.WithCancel(ctx)
	defer kill()
	k := (n + perChild - 1) / perChild
	var children []*stormChild
	// Closing a child's stdin asks it to close its tubs and exit; it is
	// killed when it takes longer than peerReapBound.
	defer func() {
		for _, c := range children {
			c.stdin.Close()
		}
		t := time.AfterFunc(peerReapBound, kill)
		defer t.Stop()
		for _, c := range children {
			if werr := <-c.exited; werr != nil && err == nil {
				err = fmt.Errorf("client process: %v: %s", werr, c.stderr)
			}
		}
	}()
	for i := range k {
		c := &stormChild{n: n / k, out: newLineWriter(), stderr: &capBuffer{max: peerStderrMax}, exited: make(chan error, 1)}
		if i < n%k {
			c.n++
		}
		cmd := start(cctx, PeerStorm, furl, c.n)
		cmd.Stdout, cmd.Stderr = c.out, c.stderr
		cmd.WaitDelay = 5 * time.Second
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			return res, err
		}
		if err := cmd.Start(); err != nil {
			return res, fmt.Errorf("starting client process %d: %w", i+1, err)
		}
		c.pid = cmd.Process.Pid
		go func() { c.exited <- cmd.Wait() }()
		children = append(children, c)
	}
	setupBound := 2*time.Minute + time.Duration(n)*20*time.Millisecond
	for _, c := range children {
		line, err := c.next(ctx, setupBound, "ready")
		if err != nil {
			return res, fmt.Errorf("storm setup: %w", err)
		}
		if want := fmt.Sprintf("ready %d", c.n); line != want {
			return res, fmt.Errorf("storm setup: client process said %q, want %q", line, want)
		}
	}

	watch := watchBrokers(master)
	watch.start()
	peaks := startPeakSampler(50 * time.Millisecond)
	t0 := time.Now()
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, stormCommand+"\n"); err != nil {
			peaks.Stop()
			watch.finish()
			return res, fmt.Errorf("starting the storm: %w: %s", err, c.stderr)
		}
	}
	var errs []error
	for _, c := range children {
		line, err := c.next(ctx, stormBound+time.Minute, "back")
		var b backReport
		if err == nil {
			b, err = parseBack(line)
		}
		if err != nil {
			errs = append(errs, err)
			res.failed += c.n
			continue
		}
		res.failed += b.failed
		res.rejects += b.rejects
		if b.firstErr != "" {
			res.lastErr = b.firstErr
		}
		res.last = max(res.last, max(b.read.Sub(t0), 0)+b.last)
		res.childHWM = append(res.childHWM, procHWM(c.pid))
	}
	res.inUse, res.sys = peaks.Stop()
	res.flaps, res.replaced, res.refused, res.dropped = watch.finish()
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	return res, nil
}

// procHWM is a process's peak resident set from /proc (0 when unknown).
func procHWM(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return parseHWM(string(data))
}
