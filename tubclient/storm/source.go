package storm

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/snapshot/activity"
	"github.com/tubscope/tubscope/tubclient/snapshot/feed"
)

// ReadOnlyReason is why a storm source takes no connection actions.
const ReadOnlyReason = "a storm source is read-only: its clients follow the storm's script"

// Source is a storm seen from its clients' side, for the inspector: a
// Reporter that keeps a snapshot (one peer row per client, the queen's
// answers as the decision log, the storm strip's activity) and a bounded
// event feed of faults and outcomes. Pass it to Run (with Tee for more).
//
// The snapshot describes the target: its tubid is the header's, and its
// peers are the clients, as `inspect --logport` on the queen shows the same
// storm from the other side. Activity counts as offers the attempts the
// queen answered (accepted or refused); attempts that got no answer (a
// timeout, a refused socket) show in each client's row instead.
type Source struct {
	mu      sync.Mutex
	now     func() time.Time
	plan    Plan
	call    string
	clients []sourceClient
	hint    string // the target's first hint, the clients' remote address

	decisions []snapshot.Decision // ring, newest at decHead-1
	decHead   int
	decTotal  uint64
	recorder  *activity.Recorder

	narration snapshot.Narration
	status    string
	struck    int // the newest round whose fault has been announced

	hub      feed.Hub
	eventSeq uint64

	version uint64
	dirty   bool
	built   *snapshot.Snapshot
	builtAt time.Time
}

// sourceClient is one client's row.
type sourceClient struct {
	tubid       string
	state       snapshot.PeerState
	connected   time.Time
	attempts    int
	rejects     int
	lockedSince time.Time
	lastErr     string
	lastErrAt   time.Time
	next        time.Time
	clone       bool
	history     []snapshot.ConnectionRecord
	outcome     string // the newest round's, in words
}

const (
	sourceDecisions = 1000
	// rebuildEvery caps how often a changed snapshot is rebuilt: a storm
	// changes thousands of rows a second.
	rebuildEvery     = 200 * time.Millisecond
	maxSourceHistory = 8
)

// NewSource makes an empty storm source; Run fills it.
func NewSource() *Source {
	return &Source{now: time.Now, recorder: activity.New(0, 0, 0)}
}

var _ Reporter = (*Source)(nil)

// Subscribe hands out a bounded feed of the storm's faults and outcomes.
func (s *Source) Subscribe(capacity int) *Feed { return s.hub.Subscribe(capacity) }

// emitLocked sends an event to every feed.
func (s *Source) emitLocked(ev snapshot.Event) {
	s.eventSeq++
	ev.Seq = s.eventSeq
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	ev.TubID = s.plan.TubID
	s.hub.Publish(ev)
}

func (s *Source) name(i int) string { return fmt.Sprintf("c%d", i) }

// Planned sets up one row per client.
func (s *Source) Planned(p Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plan = p
	s.clients = make([]sourceClient, p.N)
	for i := range s.clients {
		s.clients[i].state = snapshot.PeerIdle
	}
	if len(p.Hints) > 0 {
		s.hint = strings.TrimPrefix(p.Hints[0].Hint, "tcp:")
	}
	s.narration = snapshot.Narration{Step: fmt.Sprintf("storm · %s · %d clients · setting up", p.Fault, p.N),
		Last:   fmt.Sprintf("plan: %d clients in %s, %s, window %s", p.N, plural(p.Children, "process"), plural(p.Rounds, "round"), p.Window),
		LastAt: s.now()}
	s.dirty = true
}

// Note tells the story line and the event feed.
func (s *Source) Note(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.narration.Last, s.narration.LastAt = text, s.now()
	s.emitLocked(snapshot.Event{Kind: snapshot.KindSource, Message: text})
	s.dirty = true
}

// Client applies one client event to its row, the log and the activity.
func (s *Source) Client(ev ClientEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Client < 0 || ev.Client >= len(s.clients) {
		return
	}
	s.dirty = true
	c := &s.clients[ev.Client]
	if ev.TubID != "" && !ev.Twin {
		c.tubid = ev.TubID
	}
	// The activity follows the client by its tubid now (a twin shares it;
	// a new key replaces it at the fault).
	peer := c.tubid
	switch ev.Kind {
	case EventUp:
		c.state, c.connected = snapshot.PeerLive, ev.Time
		s.attachedLocked(c, ev, "first connection")
	case EventFault:
		if ev.Round > s.struck {
			s.struck = ev.Round
			s.emitLocked(snapshot.Event{Kind: snapshot.KindFault, Time: ev.Time, Message: fmt.Sprintf("round %d: %s strikes (%s)",
				ev.Round, s.plan.Fault, s.plan.Fault.Describe())})
			s.narration.Last, s.narration.LastAt = fmt.Sprintf("round %d: %s struck", ev.Round, s.plan.Fault), ev.Time
		}
		s.endedLocked(c, ev.Time, snapshot.CloseAbandoned, "the storm's fault: "+string(s.plan.Fault))
		c.state, c.connected, c.lockedSince = snapshot.PeerConnecting, time.Time{}, time.Time{}
		c.clone = c.clone || s.plan.Fault == Clone
		s.recorder.Lost(ev.Time, peer)
	case EventFail:
		if ev.Twin {
			if ev.Reason.Refused {
				s.recorder.Offer(ev.Time, peer, false, reasonRule(ev.Reason))
			}
			break
		}
		c.attempts++
		c.lastErr, c.lastErrAt, c.next = ev.Err, ev.Time, ev.Next
		c.state = snapshot.PeerBackingOff
		if ev.Reason.Refused {
			c.rejects++
			if c.lockedSince.IsZero() {
				c.lockedSince = ev.Time
			}
			c.state = snapshot.PeerLockedOut
			s.recorder.Offer(ev.Time, peer, false, reasonRule(ev.Reason))
			s.logLocked(withSent(snapshot.Decision{Time: ev.Time, PeerTubID: peer, Role: snapshot.Slave, Rule: string(negotiation.RuleMasterRejected),
				Error: ev.Reason.Text, Detail: refusalDetail(s.name(ev.Client), ev.Reason)}, ev.Sent))
		}
	case EventBack:
		if ev.Sent != nil { // a new connection was decided, not an old one reused
			s.recorder.Offer(ev.Time, peer, true, "accepted")
		}
		if ev.Twin {
			break
		}
		c.state, c.connected, c.next = snapshot.PeerLive, ev.Time, time.Time{}
		c.attempts, c.rejects, c.lockedSince = 0, 0, time.Time{}
		s.recorder.Attached(ev.Time, peer)
		detail := "called successfully"
		if ev.Recovery > 0 {
			detail = fmt.Sprintf("back %s after its fault", ms(ev.Recovery))
		}
		s.attachedLocked(c, ev, detail)
		if ev.Sent != nil {
			s.logLocked(withSent(snapshot.Decision{Time: ev.Time, PeerTubID: peer, Role: snapshot.Slave, Accept: true,
				Rule: string(negotiation.RuleMasterAccepted), Detail: s.name(ev.Client) + " " + detail}, ev.Sent))
		}
	case EventLost:
		if ev.Twin {
			break
		}
		why := "its connection ended without a fault"
		if ev.Flap {
			why = "its connection ended again after it came back (a flap)"
			s.emitLocked(snapshot.Event{Kind: snapshot.KindBrokerDetached, Time: ev.Time, PeerTubID: peer,
				BrokerID: uint64(ev.Client) + 1, Close: snapshot.ClosePeerClosed, Reason: s.name(ev.Client) + ": " + why})
		}
		s.endedLocked(c, ev.Time, snapshot.ClosePeerClosed, why)
		c.state, c.connected = snapshot.PeerBackingOff, time.Time{}
		s.recorder.Lost(ev.Time, peer)
	}
}

// attachedLocked starts a connection record in the client's history.
func (s *Source) attachedLocked(c *sourceClient, ev ClientEvent, rule string) {
	rec := snapshot.ConnectionRecord{BrokerID: uint64(ev.Client) + 1, Side: snapshot.Client, Role: snapshot.Slave,
		Remote: s.hint, Opened: ev.Time, Attached: ev.Time, Rule: rule}
	c.history = append(c.history, rec)
	if len(c.history) > maxSourceHistory {
		c.history = append([]snapshot.ConnectionRecord(nil), c.history[len(c.history)-maxSourceHistory:]...)
	}
}

// endedLocked closes the client's open connection record, if any.
func (s *Source) endedLocked(c *sourceClient, at time.Time, why snapshot.CloseReason, detail string) {
	if n := len(c.history); n > 0 && c.history[n-1].Closed.IsZero() {
		h := append([]snapshot.ConnectionRecord(nil), c.history...)
		h[n-1].Closed, h[n-1].End, h[n-1].Detail = at, why, detail
		c.history = h
	}
}

func (s *Source) logLocked(d snapshot.Decision) {
	s.decTotal++
	d.Seq = s.decTotal
	if len(s.decisions) < sourceDecisions {
		s.decisions = append(s.decisions, d)
		return
	}
	s.decisions[s.decHead] = d
	s.decHead = (s.decHead + 1) % len(s.decisions)
}

// withSent fills in what the decided offer carried.
func withSent(d snapshot.Decision, sent *Sent) snapshot.Decision {
	if sent != nil {
		d.OfferIncarnation, d.OfferLast, d.OfferAttemptID = sent.Incarnation, sent.Last, sent.AttemptID
	}
	return d
}

// reasonRule is what a refusal is counted under in the storm strip: the
// queen's text and what the offer carried, never a rule the client
// cannot see.
func reasonRule(r Reason) string { return r.Key() }

func refusalDetail(name string, r Reason) string {
	d := fmt.Sprintf("the queen refused %s's offer: %q", name, r.Text)
	if r.Rule != "" {
		d += fmt.Sprintf("; the %s, which a Foolscap 21.7 queen refuses only by %s (a slave never sees the master's rule)", r.Offer, r.Rule)
	}
	return d
}

// Progress moves the story line along.
func (s *Source) Progress(p Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Setup || p.Round == 0 {
		s.narration.Step = fmt.Sprintf("storm · %s · setting up: %d of %d clients connected", s.plan.Fault, p.Up, p.Clients)
	} else {
		s.narration.Step = fmt.Sprintf("storm · %s · round %d/%d · back %d/%d · locked out %d · retrying %d · flaps %d",
			s.plan.Fault, p.Round, p.Rounds, p.Back, p.Clients, p.LockedOut, p.Retrying, p.Flaps)
	}
	s.dirty = true
}

// Outcome reports locked-out clients, and the round once its last
// client's outcome is in.
func (s *Source) Outcome(o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Client >= 0 && o.Client < len(s.clients) {
		text := fmt.Sprintf("round %d: back %s after its fault", o.Round, ms(o.Recovery))
		if o.Outcome == OutcomeLockedOut {
			text = fmt.Sprintf("round %d: locked out for %s", o.Round, ms(o.LockedOutFor))
		}
		if o.Rejects > 0 {
			text += fmt.Sprintf(", %d refused offers", o.Rejects)
		}
		if o.Flaps > 0 {
			text += fmt.Sprintf(", %d flaps", o.Flaps)
		}
		s.clients[o.Client].outcome = text
	}
	if o.Outcome == OutcomeLockedOut {
		s.emitLocked(snapshot.Event{Kind: snapshot.KindSource, PeerTubID: o.TubID, Message: fmt.Sprintf(
			"round %d: %s locked out for %s (%d refused offers)", o.Round, s.name(o.Client), ms(o.LockedOutFor), o.Rejects)})
	}
	if o.Client == len(s.clients)-1 {
		s.narration.Next, s.narration.NextAt = "", time.Time{}
	}
	s.dirty = true
}

// Finished puts the summary in the story line and the feed.
func (s *Source) Finished(res Result, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call = res.Call
	sum := fmt.Sprintf("done: %d of %d back, %d locked out, %d flaps, %d rejects", res.Back, res.Clients, res.LockedOut, res.Flaps, res.Rejects)
	if res.Recovery.N > 0 {
		sum += fmt.Sprintf(", recovery p50 %s p99 %s max %s", ms(res.Recovery.P50), ms(res.Recovery.P99), ms(res.Recovery.Max))
	}
	s.narration.Step = "storm · " + string(s.plan.Fault) + " · " + sum
	s.narration.Last, s.narration.LastAt = sum, s.now()
	if err != nil {
		s.status = "storm failed: " + err.Error()
		s.narration.Last = s.status
	}
	if s.status == "" {
		s.status = "storm over: its clients are closed"
	}
	// The clients are closed: each row keeps its outcome, not a state
	// that would go on counting.
	now := s.now()
	for i := range s.clients {
		c := &s.clients[i]
		s.endedLocked(c, now, snapshot.CloseTubClosed, "the storm ended")
		c.state, c.connected, c.lockedSince, c.next = snapshot.PeerIdle, time.Time{}, time.Time{}, time.Time{}
		if c.outcome != "" {
			c.lastErr, c.lastErrAt = c.outcome, now
		}
	}
	s.emitLocked(snapshot.Event{Kind: snapshot.KindSource, Message: s.narration.Last})
	s.dirty = true
}

// Snapshot is the storm as of at most rebuildEvery ago.
func (s *Source) Snapshot() *snapshot.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.built != nil && (!s.dirty || now.Sub(s.builtAt) < rebuildEvery) {
		return s.built
	}
	s.version++
	s.dirty = false
	s.builtAt = now
	snap := &snapshot.Snapshot{
		Version: s.version,
		Source: snapshot.Source{Name: "storm " + string(s.plan.Fault), Kind: snapshot.SourceStorm, ReadOnly: ReadOnlyReason,
			Status: s.status},
		Taken:    now,
		TubID:    s.plan.TubID,
		FURL:     s.plan.Target,
		Peers:    make([]snapshot.Peer, 0, len(s.clients)),
		Activity: s.recorder.Snapshot(now),
	}
	narr := s.narration
	snap.Narration = &narr
	for i := range s.clients {
		c := &s.clients[i]
		tubid := c.tubid
		if tubid == "" {
			tubid = s.name(i) // not connected yet: no identity reported
		}
		p := snapshot.Peer{TubID: tubid, Nickname: s.name(i), State: c.state, Connected: c.connected, Clone: c.clone,
			LastError: c.lastErr, LastErrorAt: c.lastErrAt, Attempts: c.attempts, Rejects: c.rejects,
			LockedOutSince: c.lockedSince, NextAttempt: c.next, History: c.history}
		if c.state == snapshot.PeerLive {
			p.BrokerID = uint64(i) + 1
			snap.Brokers = append(snap.Brokers, snapshot.Broker{ID: p.BrokerID, PeerTubID: tubid, Nickname: p.Nickname,
				Role: snapshot.Slave, Side: snapshot.Client, State: snapshot.Live, RemoteAddr: s.hint, Created: c.connected})
		}
		if c.state == snapshot.PeerBackingOff && !c.next.After(now) {
			p.NextAttempt = time.Time{}
		}
		snap.Peers = append(snap.Peers, p)
	}
	snap.DecisionsTotal = s.decTotal
	snap.Decisions = make([]snapshot.Decision, 0, len(s.decisions))
	snap.Decisions = append(snap.Decisions, s.decisions[s.decHead:]...)
	snap.Decisions = append(snap.Decisions, s.decisions[:s.decHead]...)
	s.built = snap
	return snap
}
