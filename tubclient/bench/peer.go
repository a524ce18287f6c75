package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/parallel"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// PeerCommand is the hidden tubscope subcommand that runs RunPeerMode: the
// client side of the idle-cost row or of the reconnect storm, in a process
// of its own.
const PeerCommand = "bench-peer"

// fdReserve is the descriptors kept back for listeners, pipes and the
// runtime when sizing a run against RLIMIT_NOFILE.
const fdReserve = 1024

// RunPeer opens n client tubs, each with one connection to furl
// (getReference and one ping, then idle, no keepalives), writes
// "ready N" to out once all are connected, and holds them until in
// reaches its end. Each tub is a distinct client identity because a tub
// keeps at most one broker per peer.
func RunPeer(ctx context.Context, furl string, n int, in io.Reader, out io.Writer) error {
	if n < 1 {
		return fmt.Errorf("bench-peer: n must be at least 1, not %d", n)
	}
	if _, err := tubclient.ParseFURL(furl); err != nil {
		return fmt.Errorf("bench-peer: %w", err)
	}
	raiseFDLimit(uint64(n + fdReserve))
	tubs := make([]*tubclient.Tub, n)
	defer closeTubs(tubs)
	err := parallel.Each(ctx, n, setupParallel, func(ctx context.Context, i int) error {
		t, err := tubclient.New(tubclient.Config{NegotiationTimeout: 30 * time.Second})
		if err != nil {
			return err
		}
		tubs[i] = t
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err = callOnce(cctx, t, furl)
		return err
	})
	if err != nil {
		return fmt.Errorf("bench-peer: %w", err)
	}
	if _, err := fmt.Fprintf(out, "ready %d\n", n); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, in)
	return err
}

// closeTubs closes tubs (nil entries skipped) a batch at a time.
func closeTubs(tubs []*tubclient.Tub) {
	parallel.Each(context.Background(), len(tubs), setupParallel, func(_ context.Context, i int) error {
		if tubs[i] != nil {
			tubs[i].Close()
		}
		return nil
	})
}

// peerStarter builds the command that runs the bench-peer command in mode
// (PeerIdle or PeerStorm) against furl with n clients.
type peerStarter func(ctx context.Context, mode, furl string, n int) *exec.Cmd

// selfPeer re-executes exe's bench-peer subcommand. Without an
// executable (a test binary has no such subcommand) it is nil and the rows
// stay in process.
func selfPeer(exe string) (peerStarter, error) {
	if exe == "" {
		return nil, errors.New("no tubscope executable to run as " + PeerCommand)
	}
	return func(ctx context.Context, mode, furl string, n int) *exec.Cmd {
		return exec.CommandContext(ctx, exe, PeerCommand, "--mode", mode, "--furl", furl, "--n", strconv.Itoa(n))
	}, nil
}

// ServerIdleResult is what IdleCostServer measured.
type ServerIdleResult struct {
	Brokers             int
	BytesPerBroker      float64 // server side only
	GoroutinesPerBroker float64
}

const (
	peerReapBound = 30 * time.Second
	peerStderrMax = 4 << 10
)

// idleCostServer starts one server tub in this process, has a child
// process started by start open n connections to it, and measures the
// server's own heap, stacks and goroutines per idle broker.
func idleCostServer(ctx context.Context, n int, start peerStarter) (res ServerIdleResult, err error) {
	server, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		return res, err
	}
	defer server.Close()
	before := memInUse()
	g0 := runtime.NumGoroutine()

	cctx, kill := context.WithCancel(ctx)
	defer kill()
	cmd := start(cctx, PeerIdle, furl, n)
	ready := &readyWriter{want: fmt.Sprintf("ready %d\n", n), ready: make(chan struct{})}
	stderr := &capBuffer{max: peerStderrMax}
	cmd.Stdout, cmd.Stderr = ready, stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting the client process: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// reap ends the child: closing its stdin asks it to close its tubs
	// and exit; it is killed when it takes longer than peerReapBound.
	reap := func() error {
		stdin.Close()
		t := time.AfterFunc(peerReapBound, kill)
		defer t.Stop()
		return <-exited
	}

	setupBound := 2*time.Minute + time.Duration(n)*20*time.Millisecond
	timer := time.NewTimer(setupBound)
	defer timer.Stop()
	select {
	case <-ready.ready:
	case werr := <-exited:
		exited <- werr
		reap()
		return res, fmt.Errorf("client process ended before its %d connections were up (%v): %s", n, werr, stderr)
	case <-timer.C:
		kill()
		reap()
		return res, fmt.Errorf("client process not ready within %s: %s", setupBound, stderr)
	case <-ctx.Done():
		reap()
		return res, ctx.Err()
	}

	after := memInUse()
	g1 := runtime.NumGoroutine()
	live := 0
	for _, b := range server.Snapshot().Brokers {
		if b.State == snapshot.Live {
			live++
		}
	}
	if werr := reap(); werr != nil {
		return res, fmt.Errorf("client process: %v: %s", werr, stderr)
	}
	if live != n {
		return res, fmt.Errorf("the server holds %d live brokers, want %d", live, n)
	}
	res.Brokers = n
	res.BytesPerBroker = (float64(after) - float64(before)) / float64(n)
	res.GoroutinesPerBroker = float64(g1-g0) / float64(n)
	return res, nil
}

// readyWriter takes a child's stdout and closes ready once it has seen
// want at its start; it keeps no more than len(want) bytes.
type readyWriter struct {
	want  string
	ready chan struct{}
	mu    sync.Mutex
	got   []byte
	done  bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && len(w.got) < len(w.want) {
		w.got = append(w.got, p[:min(len(p), len(w.want)-len(w.got))]...)
		if string(w.got) == w.want {
			w.done = true
			close(w.ready)
		}
	}
	return len(p), nil
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := bytes.TrimSpace(b.buf.Bytes())
	if len(s) == 0 {
		return "(no output)"
	}
	return string(s)
}
