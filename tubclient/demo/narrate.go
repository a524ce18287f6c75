package demo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// LastHold is the least time a narrated sentence stays on screen: long
// enough to read it twice, however many events follow. What happens
// meanwhile waits, and the most important of it takes over afterwards.
const LastHold = 8 * time.Second

// weight ranks sentences waiting for the strip.
type weight int

const (
	weightLow  weight = iota + 1 // a connection turned suspect or was lost
	weightHigh                   // a decision on a duplicate, a clone, the demo's own faults
)

// sentence is one narrated line: what happened (and why), and when.
type sentence struct {
	text   string
	at     time.Time
	weight weight
}

// narrator turns one queen's events into the sentence the narration
// strip shows: what just happened and why, in words a newcomer follows.
type narrator struct {
	names func(tubid string) string

	mu      sync.Mutex
	cur     sentence
	shown   time.Time // when cur took the strip
	pending *sentence // the best sentence waiting for the hold to end
	gen     uint64    // grows whenever cur changes
	peers   map[string]*peerStory
}

// peerStory is what the narrator remembers about one client, so that a
// decision can be told with its history ("back after 4.2 s locked out").
type peerStory struct {
	held      uint64    // the queen's connection to it, 0 when none
	heard     time.Time // the newest call the queen answered for it
	suspect   time.Time // when the held connection turned suspect
	off       bool      // the demo has cut its power and said what follows
	poweredOn time.Time // when the demo powered it back on
	lost      time.Time // when the queen lost its connection (not replaced)
	lostWhy   snapshot.CloseReason
	refusals  int
	locked    time.Time // the first refusal since it last attached
}

func newNarrator(names func(string) string) *narrator {
	return &narrator{names: names, peers: make(map[string]*peerStory)}
}

// follow feeds the queen's events to the narrator until ctx ends.
func (n *narrator) follow(ctx context.Context, sub *tubclient.Subscription) {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Changed():
		}
		for _, ev := range sub.Drain(0) {
			n.event(ev)
		}
	}
}

// last is the sentence to show at now; a waiting one takes over once the
// current one has been up for LastHold. gen grows with every change.
func (n *narrator) last(now time.Time) (sentence, uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending != nil && now.Sub(n.shown) >= LastHold {
		n.showLocked(*n.pending, now)
	}
	return n.cur, n.gen
}

func (n *narrator) showLocked(s sentence, now time.Time) {
	n.cur, n.shown, n.pending = s, now, nil
	n.gen++
}

// sayLocked offers a sentence: it shows at once when the strip is free,
// else waits, replacing a waiting one of no greater weight.
func (n *narrator) sayLocked(s sentence, now time.Time) {
	if n.cur.text == "" || now.Sub(n.shown) >= LastHold {
		n.showLocked(s, now)
		return
	}
	if n.pending == nil || s.weight >= n.pending.weight {
		n.pending = &s
	}
}

// announce narrates something the demo itself did.
func (n *narrator) announce(text string, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sayLocked(sentence{text: text, at: at, weight: weightHigh}, time.Now())
}

// poweredOff notes that the demo cut peer's power and told what follows,
// so the held connection turning suspect is not told twice.
func (n *narrator) poweredOff(peer string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.peer(peer).off = true
}

// poweredOn notes that the demo brought peer back, so its return can be
// timed from that moment.
func (n *narrator) poweredOn(peer string, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peer(peer)
	p.off, p.poweredOn = false, at
}

func (n *narrator) peer(tubid string) *peerStory {
	p := n.peers[tubid]
	if p == nil {
		p = &peerStory{}
		n.peers[tubid] = p
	}
	return p
}

// event updates the stories with one queen event and narrates the ones a
// viewer should hear about.
func (n *narrator) event(ev snapshot.Event) {
	if ev.PeerTubID == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peer(ev.PeerTubID)
	name := n.names(ev.PeerTubID)
	say := func(w weight, format string, args ...any) {
		n.sayLocked(sentence{text: fmt.Sprintf(format, args...), at: ev.Time, weight: w}, time.Now())
	}
	switch ev.Kind {
	case snapshot.KindCall:
		p.heard = ev.Time
	case snapshot.KindBrokerAttached:
		p.held, p.heard, p.suspect = ev.BrokerID, ev.Time, time.Time{}
	case snapshot.KindBrokerSuspect:
		if ev.BrokerID != p.held {
			return
		}
		p.suspect = ev.Time
		if p.off {
			return // foretold by the power cut, and told with the takeover
		}
		say(weightLow, "%s's connection turned suspect: %s; the queen still holds it", name, ev.Reason)
	case snapshot.KindBrokerDetached:
		if ev.BrokerID == p.held {
			p.held = 0
		}
		switch ev.Close {
		case snapshot.CloseReplaced, snapshot.CloseRestart, snapshot.CloseAbandoned, snapshot.CloseTubClosed:
			return // told with the decision, or the queen's own doing
		}
		p.lost, p.lostWhy = ev.Time, ev.Close
		say(weightLow, "the queen lost %s's connection (%s): %s", name, ev.Close, ev.Reason)
	case snapshot.KindClone:
		say(weightHigh, "two processes share %s's key: its incarnations alternate, so the queen flags it as a clone and refuses its offers for a while after each accept", name)
	case snapshot.KindVerdict:
		if ev.Role != snapshot.Master || ev.Accept == nil || ev.Rule == string(negotiation.RuleProbePending) {
			return
		}
		if *ev.Accept {
			n.acceptedLocked(p, name, ev, say)
		} else {
			n.refusedLocked(p, name, ev, say)
		}
	}
}

func (n *narrator) acceptedLocked(p *peerStory, name string, ev snapshot.Event, say func(weight, string, ...any)) {
	defer func() {
		p.refusals, p.locked, p.lost, p.poweredOn = 0, time.Time{}, time.Time{}, time.Time{}
	}()
	switch {
	case ev.Rule != string(negotiation.RuleNoExisting):
		// The offer displaced a connection the queen still held.
		when := "at once"
		if !p.poweredOn.IsZero() {
			when = spell(ev.Time.Sub(p.poweredOn)) + " after it powered on"
		}
		if p.refusals > 0 {
			when = "after " + spell(ev.Time.Sub(p.locked)) + " locked out"
		}
		text := fmt.Sprintf("the queen took %s back %s: %s", name, when, because(ev.Rule, ev.Detail, true))
		if !p.heard.IsZero() && ev.Time.Sub(p.heard) >= time.Second {
			text += fmt.Sprintf("; it had heard nothing on that connection for %s", spell(ev.Time.Sub(p.heard)))
			if !p.suspect.IsZero() {
				text += fmt.Sprintf(" and called it suspect %s before", spell(ev.Time.Sub(p.suspect)))
			}
		}
		say(weightHigh, "%s", text)
	case p.refusals > 0:
		why := "the connection the queen held has ended"
		if !p.lost.IsZero() {
			why = fmt.Sprintf("the connection the queen held ended (%s)", p.lostWhy)
		}
		say(weightHigh, "%s is back after %s locked out and %s: %s, so nothing stood in its way (%s)",
			name, spell(ev.Time.Sub(p.locked)), times(p.refusals, "refusal"), why, ev.Rule)
	case !p.lost.IsZero():
		say(weightLow, "%s reconnected %s after the queen lost its connection (%s)", name, spell(ev.Time.Sub(p.lost)), p.lostWhy)
	}
	// A first connection needs no telling: the table shows it.
}

func (n *narrator) refusedLocked(p *peerStory, name string, ev snapshot.Event, say func(weight, string, ...any)) {
	if p.refusals == 0 {
		p.locked = ev.Time
	}
	p.refusals++
	text := fmt.Sprintf("the queen refused %s: %s", name, because(ev.Rule, ev.Detail, false))
	if p.refusals > 1 {
		text += fmt.Sprintf("; locked out %s, %s so far", spell(ev.Time.Sub(p.locked)), times(p.refusals, "refusal"))
	}
	say(weightHigh, "%s", text)
}

// reasons say in plain words why a rule decided as it did; "%s" is where
// the rule's name goes.
var reasons = map[string]string{
	// Accepts: the held connection gives way.
	"+" + string(negotiation.RuleNewIncarnation):       "its incarnation changed (%s), so the connection it held was dead",
	"+" + string(negotiation.RuleSameSeqNum):           "its offer names the very connection the queen holds (%s), so the client has given up on it",
	"+" + string(negotiation.RuleOldMasterIncarnation): "it last heard an earlier run of the queen (%s), so the held connection is stale",
	"+" + string(negotiation.RuleOlderSeqNum):          "its offer names an older connection (%s), which this policy takes for a lost decision",
	"+" + string(negotiation.RuleLostDecision):         "its attempt id shows it never heard the queen's decision (%s), so the held connection was the lost one",
	"+" + string(negotiation.RuleProbeSilent):          "the held connection did not answer a PING (%s), so it was dead",
	"+" + string(negotiation.RuleNewestWins):           "this policy always lets the newest connection win (%s)",
	"+" + string(negotiation.RuleAgeSilent):            "the held connection had been silent past the threshold (%s)",
	"+" + string(negotiation.RuleHandleOldAged):        "its offer cannot be compared, but the held connection was old enough to give up (%s)",
	// Refusals: the held connection stays.
	"-" + string(negotiation.RuleNeverDecided):     "its offer remembers no decision while the queen holds one it made (%s), so it looks like a parallel attempt",
	"-" + string(negotiation.RuleFirstWins):        "this policy always keeps the first connection (%s), even a dead one",
	"-" + string(negotiation.RuleDropBoth):         "this policy drops both connections on a duplicate (%s), so the client must start afresh",
	"-" + string(negotiation.RuleCloneRateLimited): "two processes share its key (%s), so offers wait out a hold-off after each accept",
	"-" + string(negotiation.RuleProbeAlive):       "the held connection answered a PING (%s), so it is alive",
	"-" + string(negotiation.RuleAgeActive):        "the held connection was heard from recently (%s)",
	"-" + string(negotiation.RuleOlderSeqNum):      "its offer names an older connection than the one held (%s)",
	"-" + string(negotiation.RuleNewerSeqNum):      "its offer names a connection newer than the one held (%s)",
	"-" + string(negotiation.RuleNoIncarnation):    "its offer cannot be compared with the held connection (%s), so the queen keeps what it has",
	"-" + string(negotiation.RuleNoLastConnection): "its offer cannot be compared with the held connection (%s), so the queen keeps what it has",
	"-" + string(negotiation.RuleHandleOldYoung):   "its offer cannot be compared and the held connection is young (%s), so the queen keeps it",
	"-" + string(negotiation.RuleSameAttempt):      "it is a parallel hint of the attempt that already won (%s)",
}

// because says why a verdict went as it did, naming the rule.
func because(rule, detail string, accept bool) string {
	key := "-" + rule
	if accept {
		key = "+" + rule
	}
	if r, ok := reasons[key]; ok {
		return fmt.Sprintf(r, rule)
	}
	return fmt.Sprintf("%s (%s)", strings.TrimSuffix(detail, "."), rule)
}

// spell is a duration as a viewer reads it: "<1 ms", "3 ms", "4.2 s",
// "1:05".
func spell(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func times(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
