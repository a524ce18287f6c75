package tubclient

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Broker is one connection to a peer tub, from the first byte of
// negotiation to its close. Fields written during negotiation are read by
// the state goroutine only after it has been handed the broker; the
// counters that change while it runs are atomics.
type Broker struct {
	t    *Tub
	id   uint64
	raw  *faultnet.Conn
	conn net.Conn // raw before TLS, then the TLS connection
	tls  *tls.Conn
	br   *bufio.Reader
	// tlsUp is tls for closers on other goroutines: a close may come from
	// the state goroutine while the handshake goroutine still sets up.
	tlsUp atomic.Pointer[tls.Conn]

	side             snapshot.Side
	role             snapshot.Role
	hint             string
	local, remote    string
	peer             string
	peerIncarnation  string
	ownIncarnation   string
	slaveIncarnation string
	seq              uint64
	attempt          string
	sentLast         string // the last-connection our hello carried
	tlsInfo          string // protocol version and key exchange, once TLS is up
	created          time.Time

	// Owned by the state goroutine.
	state     snapshot.BrokerState
	observers []func(reason string)

	lastRx, lastTx atomic.Int64 // unix nanoseconds
	pings          atomic.Int32 // PINGs sent and not yet answered
	rtt            atomic.Int64
	pingNum        atomic.Uint64
	lastPingNum    atomic.Uint64
	lastPingAt     atomic.Int64

	wmu  sync.Mutex
	wbuf []byte // PING scratch, under wmu
	// pongWanted is set by the state goroutine when a PONG matters to it
	// (the broker is suspect, or a probe waits on it).
	pongWanted atomic.Bool
	closing    atomic.Bool
	done       chan struct{} // closed when the broker is detached
	// ready is closed once Banana may flow: the master has written its
	// decision (or the slave has read it). The broker is attached a moment
	// earlier, and nothing else may reach the wire before the decision.
	ready chan struct{}

	pb *pbConn
}

func (t *Tub) newBroker(raw *faultnet.Conn, side snapshot.Side) *Broker {
	now := time.Now()
	b := &Broker{
		t: t, id: t.nextID.Add(1), raw: raw, conn: raw, side: side,
		local: raw.LocalAddr().String(), remote: raw.RemoteAddr().String(),
		created: now, state: snapshot.Negotiating, done: make(chan struct{}), ready: make(chan struct{}),
	}
	b.lastRx.Store(now.UnixNano())
	t.post(func(st *state) { st.brokers[b.id] = b })
	return b
}

func (b *Broker) attachTLS(c *tls.Conn) {
	cs := c.ConnectionState()
	b.tlsInfo = tls.VersionName(cs.Version) + " " + cs.CurveID.String()
	b.tls = c
	b.tlsUp.Store(c)
	b.conn = c
	b.br = bufio.NewReaderSize(c, 1024)
}

// ID is the broker's number within its tub.
func (b *Broker) ID() uint64 { return b.id }

// PeerTubID is the remote tub.
func (b *Broker) PeerTubID() string { return b.peer }

// Done is closed when the broker is detached.
func (b *Broker) Done() <-chan struct{} { return b.done }

// writeRaw writes bytes under the write lock with the write timeout.
func (b *Broker) writeRaw(p []byte) (int, error) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return b.writeLocked(p)
}

func (b *Broker) writeLocked(p []byte) (int, error) {
	if b.closing.Load() {
		return 0, net.ErrClosed
	}
	b.conn.SetWriteDeadline(time.Now().Add(b.t.cfg.WriteTimeout))
	n, err := b.conn.Write(p)
	if n > 0 {
		b.lastTx.Store(time.Now().UnixNano())
	}
	return n, err
}

// closeConn shuts the socket: TLS close_notify when TLS is up, then FIN.
// The close_notify write may wait on a peer that stopped reading, so it
// runs off the caller's goroutine (often the tub's state goroutine).
func (b *Broker) closeConn() {
	if !b.closing.CompareAndSwap(false, true) {
		return
	}
	tc := b.tlsUp.Load()
	if tc == nil || !b.t.spawn(func() {
		tc.Close()
		b.raw.Close()
	}) {
		b.raw.Close()
	}
}

// startBroker runs the Banana reader for an attached broker.
func (t *Tub) startBroker(b *Broker) {
	b.conn.SetDeadline(time.Time{})
	close(b.ready)
	if !t.spawn(b.readLoop) {
		b.closeConn()
	}
}

// attachLocked makes b the established broker for its peer.
func (t *Tub) attachLocked(st *state, b *Broker) {
	b.state = snapshot.Live
	st.brokers[b.id] = b
	st.byPeer[b.peer] = b
	b.pb = newPBConn(b)
	t.emit(snapshot.Event{Kind: snapshot.KindBrokerAttached, BrokerID: b.id, PeerTubID: b.peer,
		Role: b.role, Side: b.side, Remote: b.remote, Incarnation: b.peerIncarnation,
		Current: fmt.Sprintf("%s %d", b.masterIncarnation(st), b.seq), AttemptID: b.attempt})
}

func (b *Broker) masterIncarnation(st *state) string {
	if b.role == snapshot.Master {
		return b.ownIncarnation
	}
	if e := st.slave[b.peer]; e != nil {
		return e.MasterIncarnation
	}
	return "none"
}

// detach drops a broker from any goroutine.
func (t *Tub) detach(b *Broker, reason string) {
	t.post(func(st *state) { t.detachLocked(st, b, reason) })
}

// detachLocked closes b, removes it from the tables, fails its pending
// calls and runs its disconnect observers, all before returning, so a
// replacement's attach is announced only after the old one is gone.
func (t *Tub) detachLocked(st *state, b *Broker, reason string) {
	if b.state == snapshot.Closed {
		return
	}
	wasAttached := b.state != snapshot.Negotiating
	b.state = snapshot.Closed
	b.closeConn()
	delete(st.brokers, b.id)
	// A negotiating broker's peer fields belong to its own goroutine.
	if wasAttached && st.byPeer[b.peer] == b {
		delete(st.byPeer, b.peer)
	}
	for _, p := range st.probes[b] {
		p.timer.Stop()
		p.finish(st, negotiation.ProbeResult{Alive: false, Wait: time.Since(p.start)})
	}
	delete(st.probes, b)
	close(b.done)
	if b.pb != nil {
		b.pb.fail(&DeadReferenceError{Reason: reason})
	}
	if !wasAttached {
		return
	}
	t.emit(snapshot.Event{Kind: snapshot.KindBrokerDetached, BrokerID: b.id, PeerTubID: b.peer,
		Role: b.role, Side: b.side, Remote: b.remote, Reason: reason})
	for _, f := range b.observers {
		f(reason)
	}
	b.observers = nil
}

// DeadReferenceError is returned for calls on a broker that went away.
type DeadReferenceError struct{ Reason string }

func (e *DeadReferenceError) Error() string { return "connection lost: " + e.Reason }

// tickInterval is how often keepalive and disconnect timers are checked.
func (t *Tub) tickInterval() time.Duration {
	d := t.cfg.KeepaliveTimeout
	if dt := t.cfg.DisconnectTimeout; dt > 0 && (d == 0 || dt < d) {
		d = dt
	}
	if d == 0 {
		return 0
	}
	d /= 4
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// checkLiveness sends keepalive PINGs, marks silent brokers suspect and
// drops those past the disconnect timeout.
func (t *Tub) checkLiveness(st *state) {
	now := time.Now()
	for _, b := range st.brokers {
		if b.state != snapshot.Live && b.state != snapshot.Suspect {
			continue
		}
		idle := now.Sub(time.Unix(0, b.lastRx.Load()))
		if dt := t.cfg.DisconnectTimeout; dt > 0 && idle > dt {
			t.detachLocked(st, b, fmt.Sprintf("disconnect timeout: nothing received for %s", idle.Round(time.Millisecond)))
			continue
		}
		ka := t.cfg.KeepaliveTimeout
		if ka <= 0 || idle <= ka {
			if b.state == snapshot.Suspect {
				b.state = snapshot.Live
			}
			continue
		}
		if b.state == snapshot.Live && b.pings.Load() > 0 {
			b.state = snapshot.Suspect
			b.pongWanted.Store(true)
			t.emit(snapshot.Event{Kind: snapshot.KindBrokerSuspect, BrokerID: b.id, PeerTubID: b.peer,
				Reason: fmt.Sprintf("nothing received for %s, keepalive PING unanswered", idle.Round(time.Millisecond))})
		}
		if b.pings.Load() == 0 || now.Sub(time.Unix(0, b.lastTx.Load())) > ka {
			t.sendPing(b)
		}
	}
}

// sendPing writes a numbered PING without blocking the caller.
func (t *Tub) sendPing(b *Broker) uint64 {
	n := b.pingNum.Add(1)
	b.pings.Add(1)
	sent := time.Now()
	b.pingSentAt(n, sent)
	t.spawn(func() {
		if err := b.writePing(n); err != nil {
			return
		}
		t.emit(snapshot.Event{Kind: snapshot.KindPing, BrokerID: b.id, PeerTubID: b.peer, Number: n, Time: sent})
	})
	return n
}

// pendingProbe is a held verdict waiting for the existing broker's PONG.
type pendingProbe struct {
	num    uint64
	start  time.Time
	timer  *time.Timer
	finish func(st *state, r negotiation.ProbeResult)
}

// probe PINGs b and calls finish on the state goroutine with what it saw.
func (t *Tub) probe(st *state, b *Broker, wait time.Duration, finish func(*state, negotiation.ProbeResult)) {
	p := &pendingProbe{start: time.Now(), finish: finish}
	b.pongWanted.Store(true)
	p.num = t.sendPing(b)
	p.timer = time.AfterFunc(wait, func() {
		t.post(func(st *state) {
			if t.removeProbe(st, b, p) {
				finish(st, negotiation.ProbeResult{Alive: false, Wait: time.Since(p.start)})
			}
		})
	})
	st.probes[b] = append(st.probes[b], p)
}

func (t *Tub) removeProbe(st *state, b *Broker, p *pendingProbe) bool {
	ps := st.probes[b]
	for i, q := range ps {
		if q == p {
			st.probes[b] = append(ps[:i:i], ps[i+1:]...)
			if len(st.probes[b]) == 0 {
				delete(st.probes, b)
			}
			return true
		}
	}
	return false
}

// gotPong resolves probes waiting on b (any PONG proves the path is alive).
func (t *Tub) gotPong(st *state, b *Broker, rtt time.Duration) {
	ps := st.probes[b]
	delete(st.probes, b)
	for _, p := range ps {
		p.timer.Stop()
		p.finish(st, negotiation.ProbeResult{Alive: true, RTT: rtt, Wait: time.Since(p.start)})
	}
}

var errBrokerGone = errors.New("connection closed during negotiation")

// pingSentAt remembers when PING n left, for the PONG's round trip.
func (b *Broker) pingSentAt(n uint64, at time.Time) {
	b.lastPingNum.Store(n)
	b.lastPingAt.Store(at.UnixNano())
}

// awaitReady blocks Banana writers until the decision has been exchanged.
// A closing tub releases them too: a broker attached just as the tub
// closed may never be started, and its writer would hold up Close.
func (b *Broker) awaitReady() error {
	select {
	case <-b.ready:
		return nil
	case <-b.done:
		return net.ErrClosed
	case <-b.t.ctx.Done():
		return ErrClosed
	}
}

func (b *Broker) writePing(n uint64) error {
	if err := b.awaitReady(); err != nil {
		return err
	}
	b.wmu.Lock()
	defer b.wmu.Unlock()
	b.wbuf = banana.AppendPing(b.wbuf[:0], n)
	_, err := b.writeLocked(b.wbuf)
	return err
}

// readLoop reads Banana from an attached broker until it closes: PINGs are
// answered at once, PONGs resolve probes, messages go to PB.
func (b *Broker) readLoop() {
	t := b.t
	dec, err := banana.NewDecoder(banana.Config{VocabTable: 0})
	if err != nil {
		t.detach(b, err.Error())
		return
	}
	defer dec.Close()
	var pong [16]byte
	for {
		ev, ok, err := dec.Next()
		if err != nil {
			t.detach(b, b.protocolFailure(err))
			return
		}
		if !ok {
			// Feed what the buffered reader holds; Peek(1) blocks for more.
			if _, err := b.br.Peek(1); err != nil {
				t.detach(b, b.readFailure(err))
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
			if _, err := b.writeRaw(banana.AppendPong(pong[:0], ev.N)); err != nil {
				t.detach(b, b.readFailure(err))
				return
			}
		case banana.EventPong:
			b.pings.Store(0)
			var rtt time.Duration
			if ev.N == b.lastPingNum.Load() {
				rtt = time.Since(time.Unix(0, b.lastPingAt.Load()))
				b.rtt.Store(int64(rtt))
			}
			// Only a suspect broker or a held verdict needs the state
			// goroutine to hear of the PONG; routine keepalives stay local.
			if b.pongWanted.Swap(false) {
				t.post(func(st *state) {
					if b.state == snapshot.Suspect {
						b.state = snapshot.Live
					}
					t.gotPong(st, b, rtt)
				})
			}
			t.emit(snapshot.Event{Kind: snapshot.KindPong, BrokerID: b.id, PeerTubID: b.peer, Number: ev.N, RTT: rtt})
		case banana.EventError:
			t.detach(b, "peer sent ERROR: "+ev.Text)
			return
		case banana.EventDropped:
			t.cfg.Logger.Info("dropped a message", "broker", b.id, "reason", ev.Text)
			if ev.Opentype == "call" && ev.ReqID != 0 {
				f := failureOf(&RemoteError{Type: "foolscap.tokens.Violation", Value: ev.Text})
				_ = b.pb.send(func(enc *banana.Encoder, dst []byte) ([]byte, error) { return enc.AppendError(dst, ev.ReqID, f) })
			}
		case banana.EventMessage:
			// handle serves a call before it returns, so its decoded size can go back
			b.pb.handle(ev.Msg)
			dec.Release(ev.Cost)
		}
	}
}

// protocolFailure tells the peer what was wrong (an ERROR token) before
// the connection is dropped, and returns the reason for the event log.
func (b *Broker) protocolFailure(err error) string {
	var late *banana.LateNegotiationError
	if errors.As(err, &late) {
		return "peer sent a negotiation block after Banana started: " + late.Error()
	}
	var buf []byte
	_, _ = b.writeRaw(banana.EncodeError(buf, err.Error()))
	return "protocol error: " + err.Error()
}

func (b *Broker) readFailure(err error) string {
	switch {
	case b.closing.Load():
		return "closed locally"
	case errors.Is(err, io.EOF):
		return "connection closed by peer"
	}
	return "read failed: " + err.Error()
}
