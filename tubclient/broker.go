package tubclient

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Broker is one established connection to a peer tub. It is built by the
// state goroutine at attach from a finished negotiation; its identity
// fields never change after that. Its reader and writer goroutines own the
// socket's two directions; the counters they update are atomics.
type Broker struct {
	t    *Tub
	id   uint64
	raw  *faultnet.Conn
	conn *tls.Conn
	br   *bufio.Reader

	side             snapshot.Side
	role             snapshot.Role
	hint             string
	local, remote    string
	peer             string
	peerIncarnation  string
	ownIncarnation   string
	slaveIncarnation string
	masterInc        string // the incarnation in current-connection
	seq              uint64
	attempt          string
	tlsInfo          string
	opened, attached time.Time

	// Owned by the state goroutine.
	row       *snapshot.Broker // published row; nil when it must be rebuilt
	state     snapshot.BrokerState
	observers []func(reason string)
	ended     bool

	lastRx, lastTx atomic.Int64 // unix nanoseconds
	pings          atomic.Int32 // PINGs sent and not yet answered
	pongsRx        atomic.Uint64
	rtt            atomic.Int64
	lastPingNum    atomic.Uint64
	lastPingAt     atomic.Int64
	// pongWanted is set by the state goroutine when a PONG matters to it
	// (the broker is suspect, or a probe waits on it).
	pongWanted atomic.Bool

	out  *writer
	pb   *pbConn
	done chan struct{} // closed when the broker ends
}

// attachment is what the decision adds to a negotiation to make a broker.
type attachment struct {
	seq      uint64
	slaveInc string
	ownInc   string
	rule     string
	replaces *Broker // the established broker this one replaces, if any
	// As master, the decision block goes out first on the new writer;
	// loseDecision black-holes the socket before it.
	decision     []byte
	loseDecision bool
}

// attachLocked turns a negotiated connection into the peer's established
// broker: the one hand-over from the negotiating goroutine. The replaced
// broker ends first, so its detach is announced before this attach.
func (t *Tub) attachLocked(st *state, h *handshake, a attachment) *Broker {
	now := time.Now()
	b := &Broker{
		t: t, id: h.id, raw: h.raw, conn: h.tls, br: h.br,
		side: h.side, role: h.role, hint: h.hint, local: h.local, remote: h.remote,
		peer: h.offer.TubID, peerIncarnation: h.offer.Incarnation, ownIncarnation: a.ownInc,
		slaveIncarnation: a.slaveInc, seq: a.seq, attempt: h.attempt, tlsInfo: h.tlsInfo,
		opened: h.opened, attached: now, state: snapshot.Live, done: make(chan struct{}),
	}
	if b.role == snapshot.Master {
		b.masterInc = a.ownInc
	} else {
		b.masterInc = "none"
		if e := st.slave[b.peer]; e != nil {
			b.masterInc = e.MasterIncarnation
		}
	}
	b.lastRx.Store(now.UnixNano())
	delete(st.pending, h.id)
	if a.replaces != nil && a.replaces != b {
		why := "the master chose a newer connection"
		if b.role == snapshot.Master {
			why = fmt.Sprintf("replaced by a new connection (%s)", a.rule)
		}
		t.endLocked(st, a.replaces.id, ending{reason: snapshot.CloseReplaced, detail: why, replacedBy: b.id})
	}
	st.brokers[b.id] = b
	st.byPeer[b.peer] = b
	b.pb = newPBConn(b)
	b.out = newWriter(b)
	if a.loseDecision {
		// Dark before the reader starts: a read already blocked on the
		// socket would see the peer's FIN past the black hole.
		b.raw.BlackHole()
	}
	if a.decision != nil {
		b.out.sendFirst(a.decision)
	}
	t.peerAttached(st, b, a.rule)
	t.emitLocked(st, snapshot.Event{Kind: snapshot.KindBrokerAttached, BrokerID: b.id, PeerTubID: b.peer,
		Role: b.role, Side: b.side, Remote: b.remote, Incarnation: b.peerIncarnation,
		Current: fmt.Sprintf("%s %d", b.masterInc, b.seq), AttemptID: b.attempt})
	if a.loseDecision {
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindFault, BrokerID: b.id, PeerTubID: b.peer,
			Message: "decision lost: the socket was black-holed just before it was written"})
	}
	b.conn.SetDeadline(time.Time{})
	if !t.spawn(b.readLoop) {
		t.endLocked(st, b.id, ending{reason: snapshot.CloseTubClosed, detail: "the tub closed"})
	}
	return b
}

// setState changes the broker's state, and with it its row and its peer's.
func (b *Broker) setState(st *state, s snapshot.BrokerState) {
	b.state = s
	b.row = nil
	st.peer(b.peer)
}

// ID is the broker's number within its tub.
func (b *Broker) ID() uint64 { return b.id }

// PeerTubID is the remote tub.
func (b *Broker) PeerTubID() string { return b.peer }

// Done is closed when the broker ends.
func (b *Broker) Done() <-chan struct{} { return b.done }

// shut asks the state goroutine to end the broker.
func (b *Broker) shut(reason snapshot.CloseReason, detail string) {
	b.t.post(func(st *state) { b.t.endLocked(st, b.id, ending{reason: reason, detail: detail}) })
}

// readLoop reads Banana until the connection ends: PINGs are answered
// through the writer, PONGs resolve probes, messages go to PB, and no
// call's method runs here.
func (b *Broker) readLoop() {
	cfg := b.t.cfg
	dec, err := banana.NewDecoder(banana.Config{VocabTable: 0, MaxMessageCost: cfg.MaxMessageCost,
		MaxConnectionCost: cfg.MaxConnectionCost, Budget: b.t.budget})
	if err != nil {
		b.shut(snapshot.CloseProtocolError, err.Error())
		return
	}
	defer dec.Close()
	for {
		ev, ok, err := dec.Next()
		if err != nil {
			b.protocolFailure(err)
			return
		}
		if !ok {
			// Feed what the buffered reader holds; Peek(1) blocks for more.
			if _, err := b.br.Peek(1); err != nil {
				b.readFailure(err)
				return
			}
			chunk, _ := b.br.Peek(b.br.Buffered())
			b.lastRx.Store(time.Now().UnixNano())
			dec.Feed(chunk)
			b.br.Discard(len(chunk))
			continue
		}
		switch ev.Kind {
		case banana.EventPing:
			b.out.pong(ev.N)
		case banana.EventPong:
			b.gotPong(ev.N)
		case banana.EventError:
			b.shut(snapshot.ClosePeerError, "peer sent ERROR: "+ev.Text)
			return
		case banana.EventDropped:
			b.t.cfg.Logger.Info("dropped a message", "broker", b.id, "reason", ev.Text)
			if ev.Opentype == "call" && ev.ReqID != 0 {
				b.out.sendError(ev.ReqID, &RemoteError{Type: violationType, Value: ev.Text})
			}
		case banana.EventMessage:
			// The message's decoded size stays counted against the
			// connection and the tub until its call has been served.
			cost := ev.Cost
			b.pb.handle(ev.Msg, func() { dec.Release(cost) })
		}
	}
}

// gotPong records a PONG. Only a suspect broker or a held verdict needs
// the state goroutine to hear of it; routine keepalives stay here.
func (b *Broker) gotPong(n uint64) {
	b.pings.Store(0)
	b.pongsRx.Add(1)
	var rtt time.Duration
	if n == b.lastPingNum.Load() {
		rtt = time.Since(time.Unix(0, b.lastPingAt.Load()))
		b.rtt.Store(int64(rtt))
	}
	if b.pongWanted.Swap(false) {
		b.t.post(func(st *state) {
			if b.state == snapshot.Suspect {
				b.setState(st, snapshot.Live)
			}
			b.t.gotPong(st, b, rtt)
		})
	}
}

// protocolFailure tells the peer what was wrong (an ERROR token) before
// the connection ends.
func (b *Broker) protocolFailure(err error) {
	var late *banana.LateNegotiationError
	if errors.As(err, &late) {
		b.shut(snapshot.CloseProtocolError, "peer sent a negotiation block after Banana started: "+late.Error())
		return
	}
	b.out.fatalError(err.Error())
	b.shut(snapshot.CloseProtocolError, "protocol error: "+err.Error())
}

func (b *Broker) readFailure(err error) {
	switch {
	case errors.Is(err, io.EOF):
		b.shut(snapshot.ClosePeerClosed, "connection closed by peer")
	case errors.Is(err, net.ErrClosed):
		b.shut(snapshot.CloseReadError, "closed locally")
	default:
		b.shut(snapshot.CloseReadError, "read failed: "+err.Error())
	}
}

// DeadReferenceError is returned for calls on a broker that went away.
type DeadReferenceError struct{ Reason string }

func (e *DeadReferenceError) Error() string { return "connection lost: " + e.Reason }
