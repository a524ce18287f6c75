package scenario

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Timer settings shared by the scenarios. The master reaps a silent broker
// after DisconnectTimeout; the client retries at most a second apart.
const (
	keepalive  = 2 * time.Second
	disconnect = 8 * time.Second
	negTimeout = 2 * time.Second
	maxBackoff = time.Second
)

func masterConfig(id *tubclient.Identity, p negotiation.Policy) tubclient.Config {
	return tubclient.Config{Identity: id, Policy: p, KeepaliveTimeout: keepalive, DisconnectTimeout: disconnect}
}

func clientConfig(id *tubclient.Identity) tubclient.Config {
	return tubclient.Config{
		Identity:           id,
		NegotiationTimeout: negTimeout,
		Backoff:            tubclient.Backoff{Initial: 250 * time.Millisecond, Factor: 2, Jitter: -1, Max: maxBackoff},
		KeepaliveTimeout:   keepalive,
		DisconnectTimeout:  disconnect,
	}
}

// expect is one policy's row in a recovery scenario's table.
type expect struct {
	rule   string // the rule of the accepting verdict; "" means locked out for the whole bound
	reject string // the rule every refusal before recovery carries ("" when none must appear)
	// The recovery window, measured from the fault.
	min, max time.Duration
	// detach names the master's reason for dropping the old broker
	// (a substring); "" skips the check.
	detach string
}

// forEachPolicy runs body in its own bubble under every policy, failing if
// table lacks a row for one.
func forEachPolicy[E any](t *testing.T, table map[string]E, body func(t *testing.T, policy string, e E)) {
	names := negotiation.PolicyNames()
	for name := range table {
		if _, ok := variants[name]; ok {
			names = append(names, name)
		}
	}
	slices.Sort(names[len(negotiation.PolicyNames()):])
	for _, name := range names {
		e, ok := table[name]
		if !ok {
			t.Errorf("no expectation for policy %s", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) { body(t, name, e) })
		})
	}
}

// checkRecovery waits up to bound for master m to accept an offer from peer
// made after decision base, and checks it against e. t0 is the fault.
func (w *world) checkRecovery(m *node, peer string, base uint64, t0 time.Time, bound time.Duration, e expect) (snapshot.Decision, outcome) {
	w.t.Helper()
	var acc snapshot.Decision
	ok := false
	w.waitFor(bound, func() bool {
		a := m.acceptsAfter(peer, base)
		if len(a) > 0 {
			acc, ok = a[0], true
		}
		return ok
	})
	var refused []snapshot.Decision
	for _, d := range m.masterDecisions(peer) {
		if d.Seq > base && !d.Accept && (!ok || d.Seq < acc.Seq) {
			refused = append(refused, d)
		}
	}
	seen := rules(refused)
	note := ""
	if len(refused) > 0 {
		note = "refused " + formatCounts(seen)
	}
	for r := range seen {
		if e.reject == "" || (r != e.reject && r != e.rule) {
			w.errorf("refusal with rule %s before recovery, want only %q", r, e.reject)
		}
	}
	if e.reject != "" && seen[e.reject] == 0 {
		w.errorf("no refusal with rule %s before recovery", e.reject)
	}
	if e.rule == "" {
		if ok {
			w.fail("recovered with rule %s after %s, want locked out for %s", acc.Rule, acc.Time.Sub(t0), bound)
		}
		return acc, outcome{note: note}
	}
	if !ok {
		w.fail("not recovered within %s, want rule %s", bound, e.rule)
	}
	after := acc.Time.Sub(t0)
	if acc.Rule != e.rule {
		w.errorf("recovered with rule %s, want %s", acc.Rule, e.rule)
	}
	if after < e.min || after > e.max {
		w.errorf("recovered after %s, want within [%s, %s]", after, e.min, e.max)
	}
	return acc, outcome{recovered: true, rule: acc.Rule, after: after, note: note}
}

// checkDetach checks the reason n gave for detaching broker id.
func (w *world) checkDetach(n *node, id uint64, want string) {
	w.t.Helper()
	if want == "" {
		return
	}
	var reason string
	w.waitFor(time.Second, func() bool {
		for _, ev := range n.Events(snapshot.KindBrokerDetached) {
			if ev.BrokerID == id {
				reason = ev.Reason
				return true
			}
		}
		return false
	})
	if !strings.Contains(reason, want) {
		w.errorf("%s detached broker %d with reason %q, want %q", n.name, id, reason, want)
	}
}

// agreed reports whether a and b each hold exactly one live broker to the
// other and both are the two ends of one connection with one seqnum.
func agreed(a, b *node) bool {
	ab, ba := a.LiveBrokers(b.tub.TubID()), b.LiveBrokers(a.tub.TubID())
	if len(ab) != 1 || len(ba) != 1 {
		return false
	}
	return ab[0].LocalAddr == ba[0].RemoteAddr && ab[0].RemoteAddr == ba[0].LocalAddr && ab[0].SeqNum == ba[0].SeqNum
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(k)
		sb.WriteString("×")
		sb.WriteString(strconv.Itoa(m[k]))
	}
	return sb.String()
}
