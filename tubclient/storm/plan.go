package storm

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

const (
	// fdReserve is the descriptors each process keeps back for pipes, the
	// runtime and the resolver when sizing against RLIMIT_NOFILE.
	fdReserve = 256
	// maxPerChild bounds the clients in one process, and so its heap and
	// its garbage collector's pauses, whatever the open-file limit allows.
	maxPerChild = 5000
)

// Plan is what a storm will do, worked out and said before it starts.
type Plan struct {
	Target string
	TubID  string
	Hints  []TargetHint

	N, Rounds int
	Fault     Fault
	Rate      float64
	Window    time.Duration
	Hold      time.Duration
	Timeout   time.Duration
	// NegotiationTimeout bounds each attempt; Down is a flap's outage.
	NegotiationTimeout time.Duration
	Down               time.Duration
	Backoff            tubclient.Backoff
	Slaves             bool // every client is the target's slave

	// The open-file limit: the soft limit found, raised to the hard one.
	FDSoftBefore, FDSoft, FDHard uint64
	SocketsPerClient             int
	// Children is how many client processes run, Sizes their clients.
	Children int
	Sizes    []int
	// SourceAddrs: each client process dials from its own loopback
	// address, so the sockets are not limited to one address's local ports.
	SourceAddrs bool
	LocalPorts  int // the ephemeral port range's size; 0 when unknown
	Warnings    []string
}

// makePlan sizes the storm against the open-file limit soft (hard the
// most it could be raised to) and the local port range.
func makePlan(o Options, f tubclient.FURL, hints []TargetHint, softBefore, soft, hard uint64, ports int) (Plan, error) {
	p := Plan{Target: o.FURL, TubID: f.TubID, Hints: hints, N: o.N, Rounds: o.Rounds, Fault: o.Fault, Rate: o.Rate,
		Window: o.Window, Hold: o.Hold, Timeout: o.Timeout, NegotiationTimeout: o.NegotiationTimeout, Down: o.Down,
		Backoff: o.Backoff, Slaves: !o.AnyRole, FDSoftBefore: softBefore, FDSoft: soft, FDHard: hard,
		SocketsPerClient: o.Fault.socketsPerClient(o.Rounds), LocalPorts: ports}
	if soft < fdReserve+uint64(p.SocketsPerClient) {
		return p, fmt.Errorf("the open-file limit is %d (hard %d): too low for even one client (%d sockets each, %d kept back per process)",
			soft, hard, p.SocketsPerClient, fdReserve)
	}
	usable := min(soft, 1<<30) - fdReserve // RLIM_INFINITY reads as a huge number
	limit := maxPerChild
	if o.PerProcess > 0 {
		limit = min(o.PerProcess, limit)
	}
	perChild := min(int(usable/uint64(p.SocketsPerClient)), limit)
	p.Children = (o.N + perChild - 1) / perChild
	p.Sizes = make([]int, p.Children)
	for i := range p.Sizes {
		p.Sizes[i] = o.N / p.Children
		if i < o.N%p.Children {
			p.Sizes[i]++
		}
	}
	sockets := o.N * p.SocketsPerClient
	if allLoopbackV4(hints) && ports > 0 && sockets > ports*9/10 && p.Children < 250 {
		p.SourceAddrs = true
	} else if ports > 0 && sockets > ports*9/10 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the clients may hold %d sockets to the target from one address, "+
			"but this machine has %d local ports: expect \"cannot assign requested address\"", sockets, ports))
	}
	for _, h := range hints {
		if h.Class == "loopback" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("the target is on this machine: it needs an open file per client "+
				"(more while old connections linger), within its own limit, and shares these %d CPUs", runtime.NumCPU()))
			break
		}
	}
	return p, nil
}

// sourceAddr is the loopback address client process i dials from.
func (p Plan) sourceAddr(i int) string {
	if !p.SourceAddrs {
		return ""
	}
	return netip.AddrFrom4([4]byte{127, 0, byte((i + 2) >> 8), byte(i + 2)}).String()
}

// Lines says the plan in words, one item a line.
func (p Plan) Lines() []string {
	var hs []string
	for _, h := range p.Hints {
		addrs := make([]string, len(h.Addrs))
		for i, a := range h.Addrs {
			addrs[i] = a.String()
		}
		class := h.Class
		if class == "" {
			class = "public: allowed by --i-own-this-target"
		}
		hs = append(hs, fmt.Sprintf("%s → %s (%s)", h.Hint, strings.Join(addrs, ", "), class))
	}
	who := "each the target's slave, so the target is master and makes every decision"
	if !p.Slaves {
		who = "tubids on either side of the target's (--any-role): a client that is master decides for itself"
	}
	when := "all at once"
	if p.Rate > 0 {
		spread := time.Duration(float64(p.N-1) / p.Rate * float64(time.Second))
		when = fmt.Sprintf("%g clients a second (over %s)", p.Rate, spread.Round(time.Millisecond))
	}
	fault := fmt.Sprintf("%s: %s", p.Fault, p.Fault.Describe())
	if p.Fault == Flap {
		fault += fmt.Sprintf(" after %s", p.Down)
	}
	b := p.Backoff
	lines := []string{
		fmt.Sprintf("target   %s", p.Target),
		fmt.Sprintf("         tubid %s; %s", p.TubID, strings.Join(hs, "; ")),
		fmt.Sprintf("clients  %d client tubs, %s", p.N, who),
		fmt.Sprintf("fault    %s", fault),
		fmt.Sprintf("         %s, %s", when, plural(p.Rounds, "round")),
		fmt.Sprintf("each     connects, calls echo if the target has it (else a bare getReference succeeds), holds its connection; "+
			"after the fault retries with Foolscap's backoff (%s ×%.3g, jitter %.3g, at most %s) until a call succeeds; "+
			"each negotiation is bounded by %s, each attempt (getReference and the call too) by %s",
			b.Initial, b.Factor, b.Jitter, b.Max, p.NegotiationTimeout, 2*p.NegotiationTimeout),
		fmt.Sprintf("window   %s from each client's fault: one not back by then is counted locked out; a round ends %s after "+
			"its last client is back (flaps are counted until then); the whole run is bounded by %s", p.Window, p.Hold, p.Timeout),
	}
	raised := fmt.Sprintf("open-file limit %d", p.FDSoft)
	if p.FDSoftBefore != p.FDSoft {
		raised += fmt.Sprintf(" (soft limit raised from %d to the hard limit)", p.FDSoftBefore)
	} else if p.FDSoft == p.FDHard {
		raised += " (the hard limit)"
	}
	sizes := make([]string, len(p.Sizes))
	for i, s := range p.Sizes {
		sizes[i] = strconv.Itoa(s)
	}
	lines = append(lines, fmt.Sprintf("files    %s; up to %d sockets per client (live, and those its faults leave "+
		"black-holed) → %s of %s clients", raised, p.SocketsPerClient, plural(p.Children, "client process"), strings.Join(sizes, "+")))
	if p.SourceAddrs {
		lines = append(lines, fmt.Sprintf("         each client process dials from its own loopback address (127.0.0.2 …), "+
			"since %d sockets would not fit one address's %d local ports", p.N*p.SocketsPerClient, p.LocalPorts))
	}
	for _, w := range p.Warnings {
		lines = append(lines, "note     "+w)
	}
	return lines
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "s") {
		return fmt.Sprintf("%d %ses", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// raiseOpenFiles lifts the soft open-file limit to the hard one and
// returns the soft limit before and after, and the hard one.
func raiseOpenFiles() (before, soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	before = lim.Cur
	if lim.Cur < lim.Max {
		next := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err == nil {
			lim.Cur = lim.Max
		}
	}
	return before, lim.Cur, lim.Max, nil
}

// localPorts is the size of the ephemeral port range (0 when unknown).
func localPorts() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return 0
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return 0
	}
	return hi - lo + 1
}
