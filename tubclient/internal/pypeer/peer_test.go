package pypeer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func shell(t *testing.T, script string) *Peer {
	t.Helper()
	p, err := start("sh", []string{"/bin/sh", "-c", script}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestLinesAndExit(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	p := shell(t, `echo '{"event":"a","n":7}'; echo 'not json'; echo '[1]'; echo '{"event":"b"}'; echo oops >&2; exit 3`)
	l, err := p.Next(ctx)
	if err != nil || l.Event() != "a" {
		t.Fatalf("first line %v, %v", l, err)
	}
	if n, ok := l.Int("n"); !ok || n != 7 {
		t.Errorf("Int(n) = %d, %v", n, ok)
	}
	for _, raw := range []string{"not json", "[1]"} {
		if l, err := p.Next(ctx); err != nil || l.Event() != "unparsed" || l.String("raw") != raw {
			t.Errorf("line %q gave %v, %v", raw, l, err)
		}
	}
	if l, err := p.Expect(ctx, "b"); err != nil || l.Event() != "b" {
		t.Fatalf("Expect b: %v, %v", l, err)
	}
	_, err = p.Next(ctx)
	if !errors.Is(err, errExited) || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "oops") {
		t.Errorf("after exit: %v, want exit status and stderr", err)
	}
	if err := p.Stop(); err == nil {
		t.Error("Stop reported success for exit status 3")
	}
}

func TestExpectHonoursDeadline(t *testing.T) {
	p := shell(t, `echo '{"event":"x"}'; exec cat >/dev/null`)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Expect(ctx, "never")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"event":"x"`) {
		t.Errorf("Expect past deadline: %v, want deadline error quoting skipped line", err)
	}
	// cat exits on stdin EOF, so Stop needs no signal.
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestKillUnblocksUnreadOutput(t *testing.T) {
	// Far more lines than the buffer holds, and nobody reading them. The
	// shell forks yes, so killing the shell alone would leave yes holding
	// stdout open: Kill must reach it too.
	p := shell(t, `yes '{"event":"spam"}'`)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := p.Next(ctx); err != nil { // yes is running
		t.Fatal(err)
	}
	p.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Kill returned before the process was reaped")
	}
}

func TestSendRejectsLineBreaks(t *testing.T) {
	p := shell(t, `exec cat >/dev/null`)
	if err := p.Send("call echo [1]\nquit"); err == nil {
		t.Error("Send accepted an embedded newline")
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := NewTailBuffer(8)
	b.Write([]byte("0123"))
	if got := b.String(); got != "0123" {
		t.Errorf("got %q", got)
	}
	b.Write([]byte("456789"))
	if got := b.String(); got != "…23456789" {
		t.Errorf("got %q", got)
	}
	b.Write([]byte("abcdefghijkl"))
	if got := b.String(); got != "…efghijkl" {
		t.Errorf("got %q", got)
	}
}

func TestTimingArgs(t *testing.T) {
	args, err := timingArgs(0, 1500*time.Millisecond, 2*time.Second)
	if err != nil || strings.Join(args, " ") != "--keepalive 1.5 --disconnect 2" {
		t.Errorf("timingArgs = %v, %v", args, err)
	}
	if _, err := timingArgs(-time.Second, 0, 0); err == nil {
		t.Error("negative duration accepted")
	}
}
