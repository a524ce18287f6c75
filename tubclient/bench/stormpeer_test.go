package bench

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

// The storm runs with its clients in child processes (the test binary
// stands in for tubscope bench-peer --mode storm): every client comes
// back, each peer's broker is replaced once, and the children's peak
// memory is read.
func TestStormChildProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n, perChild = 40, 20
	res, err := stormChildren(ctx, n, perChild, testPeer)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.n != n || res.failed != 0 {
		t.Errorf("%d of %d failed: %s", res.failed, res.n, res.lastErr)
	}
	if res.last <= 0 || res.last > stormBound {
		t.Errorf("all back after %v", res.last)
	}
	// A silent restart leaves the old connection black-holed, so each new
	// offer replaces exactly one old broker at the master.
	if res.replaced != n || res.flaps != 0 {
		t.Errorf("replacements = %d, flaps = %d; want %d and 0", res.replaced, res.flaps, n)
	}
	if len(res.childHWM) != n/perChild {
		t.Fatalf("children's peaks = %v, want %d", res.childHWM, n/perChild)
	}
	for _, b := range res.childHWM {
		if b == 0 {
			t.Errorf("a child's VmHWM was not read: %v", res.childHWM)
		}
	}
}

// A storm child that fails during setup is reported with its stderr.
func TestStormChildFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad := func(ctx context.Context, mode, _ string, n int) *exec.Cmd {
		return testPeer(ctx, mode, "not a furl", n)
	}
	_, err := stormChildren(ctx, 4, 2, bad)
	if err == nil || !strings.Contains(err.Error(), "ended before ready") || !strings.Contains(err.Error(), PeerCommand) {
		t.Fatalf("err = %v, want the child's early exit and its message", err)
	}
}

// RunStormPeer reports ready, answers one storm line with a back line once
// its clients have recovered, and rejects anything else.
func TestRunStormPeer(t *testing.T) {
	master, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	inR, inW := io.Pipe()
	out := newLineWriter()
	done := make(chan error, 1)
	go func() { done <- RunStormPeer(context.Background(), furl, 3, inR, out) }()
	if l := <-out.lines; l != "ready 3" {
		t.Fatalf("first line %q", l)
	}
	if _, err := io.WriteString(inW, "storm\n"); err != nil {
		t.Fatal(err)
	}
	b, err := parseBack(<-out.lines)
	if err != nil {
		t.Fatal(err)
	}
	if b.ok != 3 || b.failed != 0 || b.last <= 0 || time.Since(b.read) > time.Minute {
		t.Errorf("back report %+v", b)
	}
	if _, err := io.WriteString(inW, "storm\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "unexpected input") {
		t.Errorf("second storm line: %v", err)
	}
	inW.Close()
	if err := RunPeerMode(context.Background(), "bogus", furl, 1, inR, io.Discard); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestParseBack(t *testing.T) {
	b, err := parseBack("back 5 1500 2 1 1700000000000000000 dial: refused now")
	if err != nil {
		t.Fatal(err)
	}
	if b.ok != 5 || b.last != 1500*time.Microsecond || b.rejects != 2 || b.failed != 1 ||
		b.read.UnixNano() != 1700000000000000000 || b.firstErr != "dial: refused now" {
		t.Errorf("parsed %+v", b)
	}
	for _, bad := range []string{"", "ready 3", "back 1 2 3", "back 1 -2 3 4 5", "back x 2 3 4 5"} {
		if _, err := parseBack(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLineWriter(t *testing.T) {
	w := newLineWriter()
	w.Write([]byte("rea"))
	w.Write([]byte("dy 2\n" + strings.Repeat("x", 2*maxLine) + "\n"))
	if l := <-w.lines; l != "ready 2" {
		t.Errorf("line %q", l)
	}
	if l := <-w.lines; len(l) != maxLine {
		t.Errorf("long line kept %d bytes, want %d", len(l), maxLine)
	}
	for range 20 {
		w.Write([]byte("more\n")) // a full channel drops, never blocks
	}
}

func TestParseHWM(t *testing.T) {
	if got := parseHWM("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t1 kB\n"); got != 2048<<10 {
		t.Errorf("parseHWM = %d", got)
	}
	if parseHWM("VmRSS: 1 kB\n") != 0 {
		t.Error("no VmHWM should be 0")
	}
}
