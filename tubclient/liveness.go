package tubclient

import (
	"fmt"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// tickInterval is how often keepalive and disconnect timers are checked.
func (t *Tub) tickInterval() time.Duration {
	d := t.cfg.KeepaliveTimeout
	if dt := t.cfg.DisconnectTimeout; dt > 0 && (d <= 0 || dt < d) {
		d = dt
	}
	if d <= 0 {
		return 0
	}
	d /= 4
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// checkLiveness sends keepalive PINGs, marks silent brokers suspect and
// ends those past the disconnect timeout.
func (t *Tub) checkLiveness(st *state) {
	now := time.Now()
	for _, id := range sortedIDs(st.brokers) {
		b := st.brokers[id]
		idle := now.Sub(time.Unix(0, b.lastRx.Load()))
		if dt := t.cfg.DisconnectTimeout; dt > 0 && idle > dt {
			t.endLocked(st, b.id, ending{reason: snapshot.CloseDisconnectTimeout,
				detail: fmt.Sprintf("disconnect timeout: nothing received for %s", idle.Round(time.Millisecond))})
			continue
		}
		ka := t.cfg.KeepaliveTimeout
		if ka <= 0 || idle <= ka {
			if b.state == snapshot.Suspect {
				b.setState(st, snapshot.Live)
			}
			continue
		}
		if b.state == snapshot.Live && b.pings.Load() > 0 {
			b.setState(st, snapshot.Suspect)
			b.pongWanted.Store(true)
			t.emitLocked(st, snapshot.Event{Kind: snapshot.KindBrokerSuspect, BrokerID: b.id, PeerTubID: b.peer,
				Reason: fmt.Sprintf("nothing received for %s, keepalive PING unanswered", idle.Round(time.Millisecond))})
		}
		if b.pings.Load() == 0 || now.Sub(time.Unix(0, b.lastTx.Load())) > ka {
			b.sendPing(now)
		}
	}
}

// sendPing asks the writer for a numbered PING; a PING already waiting is
// renumbered rather than doubled.
func (b *Broker) sendPing(now time.Time) uint64 {
	n := b.lastPingNum.Add(1)
	b.pings.Add(1)
	b.lastPingAt.Store(now.UnixNano())
	b.out.wantPing(n)
	return n
}

// pendingProbe is a held verdict waiting for the existing broker's PONG.
type pendingProbe struct {
	start  time.Time
	timer  *time.Timer
	finish func(st *state, r negotiation.ProbeResult)
}

// probe PINGs b and calls finish on the state goroutine with what it saw.
func (t *Tub) probe(st *state, b *Broker, wait time.Duration, finish func(*state, negotiation.ProbeResult)) {
	p := &pendingProbe{start: time.Now(), finish: finish}
	b.pongWanted.Store(true)
	b.sendPing(p.start)
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
