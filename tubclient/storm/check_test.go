package storm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

func TestParseFault(t *testing.T) {
	for _, f := range Faults() {
		got, err := ParseFault(string(f))
		if err != nil || got != f {
			t.Errorf("ParseFault(%q) = %q, %v", f, got, err)
		}
		if f.Describe() == "" {
			t.Errorf("%s has no description", f)
		}
	}
	if f, err := ParseFault(""); err != nil || f != SilentRestart {
		t.Errorf("default fault %q, %v", f, err)
	}
	var f Fault
	if err := f.Set("power-cut"); err == nil || !strings.Contains(err.Error(), "silent-restart") {
		t.Errorf("unknown fault: %v", err)
	}
	if SilentRestart.socketsPerClient(3) != 4 || Flap.socketsPerClient(3) != 1 || Clone.socketsPerClient(1) != 2 {
		t.Error("sockets per client")
	}
}

func TestOptionsBounds(t *testing.T) {
	o, err := Options{Start: SelfExec("x")}.filled()
	if err != nil {
		t.Fatal(err)
	}
	if o.N != DefaultN || o.Rounds != 1 || o.Window != DefaultWindow || o.Fault != SilentRestart || o.Backoff != foolscapBackoff {
		t.Errorf("defaults %+v", o)
	}
	for _, bad := range []Options{
		{N: MaxClients + 1}, {N: -1}, {Rounds: MaxRounds + 1}, {Rate: -1}, {Window: 2 * MaxWindow},
		{Window: time.Second, Hold: 2 * time.Second}, {Timeout: -time.Second}, {Fault: "bogus"}, {KeyExchange: "rsa"},
	} {
		bad.Start = SelfExec("x")
		if _, err := bad.filled(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := (Options{}).filled(); err == nil {
		t.Error("no starter accepted")
	}
}

func TestAddressClass(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "172.31.255.255": "private", "192.168.1.1": "private",
		"fd00::1": "unique-local", "169.254.1.1": "link-local", "fe80::1": "link-local",
		"8.8.8.8": "", "172.32.0.1": "", "2001:db8::1": "", "0.0.0.0": "", "100.64.0.1": "",
	} {
		if got := addressClass(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

func fakeLookup(names map[string][]string) Lookup {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		addrs, ok := names[host]
		if !ok {
			return nil, fmt.Errorf("no such host %s", host)
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

func TestCheckTarget(t *testing.T) {
	lookup := fakeLookup(map[string][]string{
		"staging.lan":   {"10.0.0.7", "fd00::7"},
		"mixed.example": {"10.0.0.7", "93.184.215.14"},
		"empty.lan":     {},
	})
	furl := func(hints ...string) tubclient.FURL {
		f := tubclient.FURL{TubID: "abc", Swissnum: "x"}
		for _, h := range hints {
			host, port, _ := net.SplitHostPort(h)
			var p int
			fmt.Sscan(port, &p)
			f.Hints = append(f.Hints, tubclient.Hint{Host: host, Port: p})
		}
		return f
	}
	ctx := context.Background()
	hs, err := CheckTarget(ctx, furl("127.0.0.1:1", "staging.lan:2"), false, lookup)
	if err != nil || len(hs) != 2 || hs[0].Class != "loopback" || hs[1].Class != "mixed private" || len(hs[1].Addrs) != 2 {
		t.Errorf("private target: %+v, %v", hs, err)
	}
	for _, bad := range []tubclient.FURL{furl("8.8.8.8:1"), furl("127.0.0.1:1", "mixed.example:2")} {
		if _, err := CheckTarget(ctx, bad, false, lookup); !errors.Is(err, ErrPublicTarget) || !strings.Contains(err.Error(), "--i-own-this-target") {
			t.Errorf("%v: %v", bad, err)
		}
		if hs, err := CheckTarget(ctx, bad, true, lookup); err != nil || hs[len(hs)-1].Class != "" {
			t.Errorf("owned %v: %+v, %v", bad, hs, err)
		}
	}
	for _, bad := range []tubclient.FURL{furl("nowhere.lan:1"), furl("empty.lan:1"), furl()} {
		if _, err := CheckTarget(ctx, bad, true, lookup); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestGuardDial(t *testing.T) {
	if err := guardDial("tcp4", "127.0.0.1:80", nil); err != nil {
		t.Error(err)
	}
	if err := guardDial("tcp4", "8.8.8.8:80", nil); !errors.Is(err, ErrPublicTarget) {
		t.Errorf("public: %v", err)
	}
	d, err := dialer(&childConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.DialContext(ctx, "tcp", "192.0.2.1:9"); !errors.Is(err, ErrPublicTarget) {
		t.Errorf("dialling a public address: %v", err)
	}
}

func TestPlan(t *testing.T) {
	o, err := Options{N: MaxClients, FURL: "pb://abc@tcp:127.0.0.1:1/x", Start: SelfExec("x")}.filled()
	if err != nil {
		t.Fatal(err)
	}
	f := tubclient.FURL{TubID: "abc"}
	hints := []TargetHint{{Hint: "tcp:127.0.0.1:1", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Class: "loopback"}}
	p, err := makePlan(o, f, hints, 1024, 20000, 20000, 28232)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, s := range p.Sizes {
		sum += s
		if s > maxPerChild || s*p.SocketsPerClient+fdReserve > 20000 {
			t.Errorf("a process of %d clients does not fit", s)
		}
	}
	if sum != MaxClients || p.Children != len(p.Sizes) || p.Children != 4 {
		t.Errorf("%d clients in %v", sum, p.Sizes)
	}
	if !p.SourceAddrs || p.sourceAddr(0) != "127.0.0.2" || p.sourceAddr(3) != "127.0.0.5" {
		t.Errorf("source addresses %v: %s", p.SourceAddrs, p.sourceAddr(0))
	}
	text := strings.Join(p.Lines(), "\n")
	for _, want := range []string{"20000 client tubs", "silent-restart", "all at once", "1 round", "pb://abc@",
		"open-file limit 20000 (soft limit raised from 1024", "4 client processes", "127.0.0.2", "loopback", "window   1m0s"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if _, err := makePlan(o, f, hints, 100, 100, 100, 0); err == nil {
		t.Error("a 100-file limit was accepted")
	}
	small, err := makePlan(Options{N: 7, Rounds: 1, Fault: Flap, Rate: 2}, f, nil, 4096, 4096, 4096, 28232)
	if err != nil || small.Children != 1 || small.Sizes[0] != 7 || small.SourceAddrs {
		t.Errorf("small plan %+v, %v", small, err)
	}
	if text := strings.Join(small.Lines(), "\n"); !strings.Contains(text, "2 clients a second (over 3s)") {
		t.Errorf("rate not said:\n%s", text)
	}
}

func TestClassify(t *testing.T) {
	dup := &tubclient.NegotiationError{Phase: "decision", Err: tubclient.ErrDuplicateConnection, Remote: duplicateText}
	for _, c := range []struct {
		err     error
		offered string
		want    Reason
	}{
		{dup, "none 0", Reason{Refused: true, Text: duplicateText, Offer: "offer remembered no decision", Rule: "never-decided"}},
		{dup, "abcdef 3", Reason{Refused: true, Text: duplicateText, Offer: "offer named an earlier connection", Rule: "older-seqnum"}},
		{dup, "", Reason{Refused: true, Text: duplicateText, Offer: "offer had no last-connection", Rule: "no-last-connection"}},
		{&tubclient.NegotiationError{Phase: "hello", Remote: "too many"}, "", Reason{Refused: true, Text: "too many"}},
		{&tubclient.NegotiationError{Phase: "decision", Err: fmt.Errorf("%w: x", tubclient.ErrNegotiationTimeout)}, "", Reason{Text: "negotiation timed out"}},
		{context.DeadlineExceeded, "", Reason{Text: "attempt timed out"}},
		{&tubclient.NegotiationError{Phase: "connect", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, "", Reason{Text: "connection refused"}},
		{&net.OpError{Op: "dial", Err: errors.New("no route")}, "", Reason{Text: "unreachable"}},
		{&tubclient.DeadReferenceError{Reason: "gone"}, "", Reason{Text: "connection lost during the call"}},
		{&tubclient.RemoteError{Type: "builtins.KeyError"}, "", Reason{Text: "remote error: builtins.KeyError"}},
		{&tubclient.NegotiationError{Phase: "tls", Err: errors.New("bad cert")}, "", Reason{Text: "negotiation failed in tls"}},
		{errors.New("what"), "", Reason{Text: "other"}},
	} {
		if got := classify(c.err, c.offered); got != c.want {
			t.Errorf("classify(%v, %q) = %+v, want %+v", c.err, c.offered, got, c.want)
		}
	}
	if k := (Reason{Text: duplicateText, Offer: "offer remembered no decision"}).Key(); k != "Duplicate connection (offer remembered no decision)" {
		t.Errorf("key %q", k)
	}
}

func TestNextDelay(t *testing.T) {
	bo := foolscapBackoff
	bo.Jitter = 1e-9
	d := bo.Initial
	for range 3 {
		d = nextDelay(d, bo)
	}
	e3 := math.Pow(math.E, 3)
	if want := time.Duration(e3 * float64(time.Second)); d < want-time.Millisecond || d > want+time.Millisecond {
		t.Errorf("third retry after %s, want about %s", d, want)
	}
	bo.Max = 5 * time.Second
	if d := nextDelay(4*time.Second, bo); d > 5*time.Second+time.Millisecond {
		t.Errorf("cap passed: %s", d)
	}
}
