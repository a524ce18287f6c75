package storm

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// EventKind names what happened to a client.
type EventKind string

const (
	EventUp    EventKind = "up"    // its first connection and call, before the storm
	EventFault EventKind = "fault" // the round's fault struck it
	EventFail  EventKind = "fail"  // an attempt failed
	EventBack  EventKind = "back"  // an attempt succeeded
	EventLost  EventKind = "lost"  // a connection it held ended without a fault
)

// ClientEvent is one thing that happened to one client (or its twin),
// as its process reported it.
type ClientEvent struct {
	Kind   EventKind
	Client int
	Round  int // 0 before the first fault
	Time   time.Time
	TubID  string
	Twin   bool   // the clone's twin, not the client
	Reason Reason // EventFail
	Err    string // EventFail: the error in full
	Next   time.Time
	// Recovery is EventBack's time since the client's fault, when this is
	// its first success of the round.
	Recovery time.Duration
	// Flap: EventLost of a client that had come back this round.
	Flap bool
	// Sent is what the attempt's offer carried, when the queen decided it.
	Sent *Sent
}

// Outcome is how one client fared in one round.
type Outcome struct {
	Kind     string `json:"kind"` // "storm-client"
	Round    int    `json:"round"`
	Client   int    `json:"client"`
	TubID    string `json:"tubid"`
	Outcome  string `json:"outcome"` // "back" or "locked-out"
	Recovery time.Duration
	// LockedOutFor runs from the client's first refused offer (or, if the
	// queen never refused it, its fault) to the end of its window.
	LockedOutFor time.Duration
	Attempts     int
	Rejects      int
	Reasons      map[string]int
	Flaps        int
	Connected    bool // holding a connection when the round ended
	LastError    string
}

// Outcome values.
const (
	OutcomeBack      = "back"
	OutcomeLockedOut = "locked-out"
)

// Percentiles summarise durations: nearest-rank p50 and p99, and the max.
type Percentiles struct {
	N             int
	P50, P99, Max time.Duration
}

func percentiles(ds []time.Duration) Percentiles {
	p := Percentiles{N: len(ds)}
	if len(ds) == 0 {
		return p
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) time.Duration { return s[max(int(math.Ceil(q*float64(len(s))))-1, 0)] }
	p.P50, p.P99, p.Max = rank(0.50), rank(0.99), s[len(s)-1]
	return p
}

// Count is one reason and how often it was seen.
type Count struct {
	Key string
	N   int
}

// ReasonCount is one reason for refusals and how many there were.
type ReasonCount struct {
	Reason Reason
	N      int
}

func sortedCounts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// Progress is the storm at one instant, for the once-a-second line.
type Progress struct {
	Elapsed time.Duration
	Setup   bool // still connecting the clients
	Round   int
	Rounds  int
	Clients int
	Up      int // during setup: clients connected
	// This round: came back; refused since their fault (or past their
	// window); still trying; not struck yet (a --rate storm).
	Back, LockedOut, Retrying, Waiting int
	LongestLockout                     time.Duration
	Rejects                            int // the whole run's refusals
	RejectsByReason                    []Count
	Flaps                              int // this round
}

// clientState is the parent's account of one client.
type clientState struct {
	tubid     string
	up        bool
	faultAt   time.Time // zero until this round's fault struck
	backAt    time.Time // the first success after the fault
	lockStart time.Time // the first refusal since the fault (or the last success)
	connected bool
	attempts  int
	rejects   int
	flaps     int
	reasons   map[string]int
	lastErr   string
	// Over the rounds.
	lockedOutRounds, backRounds, flapRounds int
}

// tally follows every client through the children's reports and decides
// the rounds' outcomes.
type tally struct {
	n               int
	rounds          int
	window, hold    time.Duration
	spread          time.Duration // how long after its order a round's last fault strikes
	clients         []clientState
	round           int
	orderAt         time.Time
	roundOpen       bool
	rejects         int
	reasons         map[string]int // refusals by Reason.Key
	reasonOf        map[string]Reason
	failures        map[string]int // other failed attempts
	flapEvents      int
	lostBeforeStorm int
	outcomes        []Outcome
	recoveries      []time.Duration
	lockouts        []time.Duration
	strikeSpread    time.Duration // the widest round's first to last fault
}

func newTally(o Options) *tally {
	return &tally{n: o.N, rounds: o.Rounds, window: o.Window, hold: o.Hold, spread: o.faultSpread(),
		clients: make([]clientState, o.N), reasons: map[string]int{}, reasonOf: map[string]Reason{}, failures: map[string]int{}}
}

// strikeGrace is how late a fault's report may arrive before the client
// is taken to have been struck on time and heard nothing since.
const strikeGrace = 5 * time.Second

// apply takes one report into account and returns it as an event.
func (t *tally) apply(r report) (ClientEvent, error) {
	if r.C < 0 || r.C >= t.n {
		return ClientEvent{}, fmt.Errorf("a report names client %d of %d", r.C, t.n)
	}
	c := &t.clients[r.C]
	ev := ClientEvent{Client: r.C, Round: r.R, Time: r.time(), TubID: r.TubID, Twin: r.Twin, Sent: r.Sent}
	if r.Next != 0 {
		ev.Next = time.Unix(0, r.Next)
	}
	current := r.R == t.round && t.roundOpen
	switch r.K {
	case repUp:
		ev.Kind = EventUp
		c.up, c.connected, c.tubid = true, true, r.TubID
	case repFault:
		ev.Kind = EventFault
		if current {
			c.faultAt, c.connected, c.tubid = ev.Time, false, r.TubID
		}
	case repFail:
		ev.Kind = EventFail
		ev.Reason = Reason{Refused: r.Refused, Text: r.Reason, Offer: r.Offer, Rule: r.Rule}
		ev.Err = r.Err
		if r.Refused {
			t.rejects++
			t.reasons[ev.Reason.Key()]++
			t.reasonOf[ev.Reason.Key()] = ev.Reason
		} else {
			t.failures[ev.Reason.Key()]++
		}
		if r.Twin || !current {
			break
		}
		c.attempts++
		c.lastErr = r.Err
		if r.Refused {
			c.rejects++
			if c.reasons == nil {
				c.reasons = map[string]int{}
			}
			c.reasons[ev.Reason.Key()]++
			if c.lockStart.IsZero() {
				c.lockStart = ev.Time
			}
		}
	case repBack:
		ev.Kind = EventBack
		if r.Twin || !current {
			break
		}
		c.attempts++
		c.connected = true
		c.lockStart = time.Time{}
		if c.backAt.IsZero() && !c.faultAt.IsZero() {
			c.backAt = ev.Time
			ev.Recovery = ev.Time.Sub(c.faultAt)
		}
	case repLost:
		ev.Kind = EventLost
		if r.Twin {
			break
		}
		c.connected = false
		switch {
		case r.R == 0:
			t.lostBeforeStorm++
		case current && !c.backAt.IsZero():
			ev.Flap = true
			c.flaps++
			t.flapEvents++
		}
	default:
		return ev, fmt.Errorf("unknown report %q", r.K)
	}
	return ev, nil
}

// startRound opens round r, whose faults strike from at on.
func (t *tally) startRound(r int, at time.Time) {
	t.round, t.orderAt, t.roundOpen = r, at, true
	for i := range t.clients {
		c := &t.clients[i]
		c.faultAt, c.backAt, c.lockStart = time.Time{}, time.Time{}, time.Time{}
		c.attempts, c.rejects, c.flaps, c.reasons, c.lastErr = 0, 0, 0, nil, ""
	}
}

// faultTime is when client i's fault struck, or is taken to have struck
// once its report is overdue; zero while it may still come.
func (t *tally) faultTime(i int, now time.Time) time.Time {
	c := &t.clients[i]
	if !c.faultAt.IsZero() {
		return c.faultAt
	}
	due := t.orderAt
	if t.spread > 0 && t.n > 1 {
		due = due.Add(time.Duration(float64(t.spread) * float64(i) / float64(t.n-1)))
	}
	if now.After(due.Add(strikeGrace)) {
		return due
	}
	return time.Time{}
}

// roundOver reports whether every client is back or past its window, and
// the flaps have had their watch: the hold since the last came back, or
// every window.
func (t *tally) roundOver(now time.Time) bool {
	if !t.roundOpen {
		return true
	}
	var lastBack, lastWindow time.Time
	for i := range t.clients {
		c := &t.clients[i]
		f := t.faultTime(i, now)
		if f.IsZero() {
			return false
		}
		end := f.Add(t.window)
		if c.backAt.IsZero() && now.Before(end) {
			return false
		}
		if c.backAt.After(lastBack) {
			lastBack = c.backAt
		}
		if end.After(lastWindow) {
			lastWindow = end
		}
	}
	return !now.Before(lastBack.Add(t.hold)) || !now.Before(lastWindow)
}

// finishRound closes the round and returns every client's outcome. A
// client whose window has not closed yet (the run is being cut short)
// counts as locked out as of now.
func (t *tally) finishRound(now time.Time) []Outcome {
	t.roundOpen = false
	var first, last time.Time
	for i := range t.clients {
		if f := t.clients[i].faultAt; !f.IsZero() {
			if first.IsZero() || f.Before(first) {
				first = f
			}
			if f.After(last) {
				last = f
			}
		}
	}
	t.strikeSpread = max(t.strikeSpread, last.Sub(first))
	out := make([]Outcome, len(t.clients))
	for i := range t.clients {
		c := &t.clients[i]
		o := Outcome{Kind: "storm-client", Round: t.round, Client: i, TubID: c.tubid, Attempts: c.attempts,
			Rejects: c.rejects, Reasons: c.reasons, Flaps: c.flaps, Connected: c.connected, LastError: c.lastErr}
		f := t.faultTime(i, now)
		if f.IsZero() {
			f = now
		}
		end := f.Add(t.window)
		if !c.backAt.IsZero() && !c.backAt.After(end) {
			o.Outcome, o.Recovery = OutcomeBack, c.backAt.Sub(f)
			c.backRounds++
			t.recoveries = append(t.recoveries, o.Recovery)
		} else {
			o.Outcome = OutcomeLockedOut
			since := c.lockStart
			if since.IsZero() || since.Before(f) {
				since = f
			}
			stop := end
			if now.Before(end) {
				stop = now
			}
			o.LockedOutFor = max(stop.Sub(since), 0)
			c.lockedOutRounds++
			t.lockouts = append(t.lockouts, o.LockedOutFor)
		}
		if c.flaps > 0 {
			c.flapRounds++
		}
		out[i] = o
	}
	t.outcomes = append(t.outcomes, out...)
	return out
}

// progress is the storm as of now.
func (t *tally) progress(now time.Time, setup bool) Progress {
	p := Progress{Setup: setup, Round: t.round, Rounds: t.rounds, Clients: t.n, Rejects: t.rejects,
		RejectsByReason: sortedCounts(t.reasons)}
	for i := range t.clients {
		c := &t.clients[i]
		if c.up {
			p.Up++
		}
		if setup || t.round == 0 {
			continue
		}
		p.Flaps += c.flaps
		f := t.faultTime(i, now)
		switch {
		case !c.backAt.IsZero():
			p.Back++
		case f.IsZero() && c.faultAt.IsZero():
			p.Waiting++
		case !c.lockStart.IsZero() || now.After(f.Add(t.window)):
			p.LockedOut++
			since := c.lockStart
			if since.IsZero() {
				since = f
			}
			p.LongestLockout = max(p.LongestLockout, now.Sub(since))
		default:
			p.Retrying++
		}
	}
	return p
}

// result sums the run up.
func (t *tally) result(res *Result) {
	res.Rounds = 0
	for i := range t.clients {
		c := &t.clients[i]
		if c.lockedOutRounds > 0 {
			res.LockedOut++
		} else if c.backRounds > 0 {
			res.Back++
		}
		if c.flapRounds > 0 {
			res.Flaps++
		}
	}
	if len(t.outcomes) > 0 {
		res.Rounds = t.outcomes[len(t.outcomes)-1].Round
	}
	res.Rejects = t.rejects
	res.Recovery = percentiles(t.recoveries)
	res.LockedOutFor = percentiles(t.lockouts)
	for _, c := range sortedCounts(t.reasons) {
		res.RejectsByReason = append(res.RejectsByReason, ReasonCount{Reason: t.reasonOf[c.Key], N: c.N})
	}
	res.Failures = sortedCounts(t.failures)
	res.FlapEvents = t.flapEvents
	res.LostBeforeStorm = t.lostBeforeStorm
	res.StrikeSpread = t.strikeSpread
	res.Outcomes = t.outcomes
}
