package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

const (
	peerFURLEnv = "TUBSCOPE_BENCH_PEER_FURL"
	peerNEnv    = "TUBSCOPE_BENCH_PEER_N"
	peerModeEnv = "TUBSCOPE_BENCH_PEER_MODE"
)

// runTestPeer is the child side when the test binary is re-executed as
// a bench-peer client process.
func runTestPeer(furl string) int {
	n, err := strconv.Atoi(os.Getenv(peerNEnv))
	if err == nil {
		err = RunPeerMode(context.Background(), os.Getenv(peerModeEnv), furl, n, os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testPeer re-executes this test binary as a client process.
func testPeer(ctx context.Context, mode, furl string, n int) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peerFURLEnv+"="+furl, peerNEnv+"="+strconv.Itoa(n), peerModeEnv+"="+mode)
	return cmd
}

// The server-side measurement works with its clients in another process,
// and the child exits when its stdin closes.
func TestIdleCostServerChildProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Enough brokers that their memory stands well clear of the heap's noise.
	const n = 200
	res, err := idleCostServer(ctx, n, testPeer)
	if err != nil {
		t.Fatal(err)
	}
	if res.Brokers != n {
		t.Errorf("brokers = %d, want %d", res.Brokers, n)
	}
	t.Logf("per broker: %.2f goroutines, %.0f bytes", res.GoroutinesPerBroker, res.BytesPerBroker)
	// Every broker runs at least one goroutine and holds some memory.
	if res.GoroutinesPerBroker < 1 || res.BytesPerBroker <= 0 {
		t.Errorf("per broker: %.2f goroutines, %.0f bytes", res.GoroutinesPerBroker, res.BytesPerBroker)
	}
}

// A child that fails before it is ready is reported with its stderr.
func TestIdleCostServerChildFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad := func(ctx context.Context, mode, _ string, n int) *exec.Cmd {
		return testPeer(ctx, mode, "not a furl", n)
	}
	_, err := idleCostServer(ctx, 3, bad)
	if err == nil || !strings.Contains(err.Error(), "ended before") || !strings.Contains(err.Error(), "bench-peer") {
		t.Fatalf("err = %v, want the child's early exit and its message", err)
	}
}

// RunPeer reports ready once every client has called, then holds its
// connections until its input ends.
func TestRunPeer(t *testing.T) {
	server, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- RunPeer(context.Background(), furl, 3, inR, outW)
		outW.Close()
	}()
	line := make([]byte, len("ready 3\n"))
	if _, err := io.ReadFull(outR, line); err != nil || string(line) != "ready 3\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	if got := len(server.Snapshot().Brokers); got != 3 {
		t.Errorf("server brokers = %d, want 3", got)
	}
	select {
	case err := <-done:
		t.Fatalf("RunPeer returned before its input ended: %v", err)
	default:
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := RunPeer(context.Background(), furl, 0, inR, io.Discard); err == nil {
		t.Error("n = 0 accepted")
	}
}

func TestReadyWriter(t *testing.T) {
	w := &readyWriter{want: "ready 2\n", ready: make(chan struct{})}
	w.Write([]byte("rea"))
	select {
	case <-w.ready:
		t.Fatal("ready after a partial line")
	default:
	}
	w.Write([]byte("dy 2\nmore output"))
	select {
	case <-w.ready:
	default:
		t.Fatal("not ready after the whole line")
	}
	wrong := &readyWriter{want: "ready 2\n", ready: make(chan struct{})}
	wrong.Write([]byte("ready 1\nready 2\n"))
	select {
	case <-wrong.ready:
		t.Fatal("ready on the wrong count")
	default:
	}
	b := &capBuffer{max: 4}
	b.Write([]byte("abcdef"))
	if b.String() != "abcd" {
		t.Errorf("capBuffer kept %q", b.String())
	}
}
