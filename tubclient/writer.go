package tubclient

import (
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// maxQueuedMessages bounds what waits for the writer. A peer that stops
// reading fills it, and the broker is closed rather than buffering without
// end.
const maxQueuedMessages = 4096

// closeGrace is how long a clean close waits for its close_notify to
// leave before the socket is closed regardless.
const closeGrace = time.Second

// writer is a broker's only writer: producers queue messages and set
// flags, and one goroutine encodes and writes whatever has gathered, so
// OPEN numbers reach the wire in order and a PING never needs a goroutine
// of its own. A producer that finds the wire free and nothing waiting
// writes its message itself, saving the hand-over; busy makes sure only
// one of them (or the loop) writes at a time. The loop runs only while
// there is work it must do, so an idle broker holds no writer goroutine.
type writer struct {
	b *Broker

	mu      sync.Mutex
	queue   []outMsg
	pongs   []uint64
	ping    uint64 // a PING is wanted, with this number; 0 when none
	first   []byte // raw bytes that must go first (the master's decision)
	fatal   string // an ERROR token to send before closing
	stop    stopMode
	busy    bool // someone holds the wire (and the encoder)
	running bool // the loop goroutine is alive

	// Owned by whoever holds busy.
	enc   banana.Encoder
	buf   []byte
	batch []outMsg
}

type stopMode uint8

const (
	running   stopMode = iota
	stopClean          // close_notify, then FIN
	stopLeave          // leave the socket open and silent (abandoned)
)

// outMsg is one PB message waiting for the writer. Values are converted
// for the wire (objects exported) by the writer, in send order.
type outMsg struct {
	call   *banana.Call // a call; its Args and Kwargs hold Go values
	answer bool         // an answer to reqID, value v
	reqID  int64
	value  any
	err    error // an error answer to reqID
	// sent learns whether a call reached the wire (nil) or not.
	sent func(error)
}

func newWriter(b *Broker) *writer { return &writer{b: b} }

// kickLocked makes sure the loop will see the work just added: it is
// running and will look again before it stops, or it is started. While
// a producer holds the wire, its release does this instead.
func (w *writer) kickLocked() {
	if w.busy || w.running {
		return
	}
	w.running = true
	if !w.b.t.spawn(w.loop) {
		// The tub is closing and starts no goroutines: a clean stop
		// closes the socket here, without the close_notify.
		w.running = false
		if w.stop == stopClean {
			w.b.raw.Close()
		}
	}
}

// sendFirst queues raw bytes to go out before anything else.
func (w *writer) sendFirst(p []byte) {
	w.mu.Lock()
	w.first = p
	w.kickLocked()
	w.mu.Unlock()
}

// enqueue adds a message; false when the broker is stopping or the queue
// is full (the broker is then closed: its peer has stopped reading). When
// the wire is free and nothing waits, the caller writes it at once.
func (w *writer) enqueue(m outMsg) bool {
	w.mu.Lock()
	if w.stop != running {
		w.mu.Unlock()
		return false
	}
	if !w.busy && w.idleLocked() {
		w.busy = true
		w.mu.Unlock()
		w.write(w.encode(w.buf[:0], m))
		w.release()
		return true
	}
	if len(w.queue) >= maxQueuedMessages {
		w.mu.Unlock()
		w.b.shut(snapshot.CloseWriteError, "the peer stopped reading: outbound queue full")
		return false
	}
	w.queue = append(w.queue, m)
	w.kickLocked()
	w.mu.Unlock()
	return true
}

// release gives the wire back and wakes the loop for whatever gathered
// meanwhile.
func (w *writer) release() {
	w.mu.Lock()
	w.busy = false
	if !w.idleLocked() {
		w.kickLocked()
	}
	w.mu.Unlock()
}

// write puts buf on the wire; a failure ends the broker (the loop then
// closes the socket). It reports whether the write succeeded.
func (w *writer) write(buf []byte) bool {
	b := w.b
	ok := true
	if len(buf) > 0 {
		b.conn.SetWriteDeadline(time.Now().Add(b.t.cfg.WriteTimeout))
		if _, err := b.conn.Write(buf); err != nil {
			b.shut(snapshot.CloseWriteError, writeFailure(err))
			ok = false
		} else {
			b.lastTx.Store(time.Now().UnixNano())
		}
	}
	// Big one-off buffers are not kept for the connection's life.
	if cap(buf) <= 64<<10 {
		w.buf = buf[:0]
	} else {
		w.buf = nil
	}
	return ok
}

// sendError queues an error answer.
func (w *writer) sendError(reqID int64, err error) {
	w.enqueue(outMsg{reqID: reqID, err: err})
}

// pong queues the answer to PING n. A peer sending PINGs faster than we
// write gets its newest numbers answered.
func (w *writer) pong(n uint64) {
	w.mu.Lock()
	if !w.busy && w.stop == running && w.idleLocked() {
		// The reader answers at once when the wire is free.
		w.busy = true
		w.mu.Unlock()
		w.write(banana.AppendPong(w.buf[:0], n))
		w.release()
		return
	}
	if len(w.pongs) >= 16 {
		w.pongs = w.pongs[1:]
	}
	w.pongs = append(w.pongs, n)
	w.kickLocked()
	w.mu.Unlock()
}

// wantPing asks for PING n; wanting one already pending just renumbers it.
func (w *writer) wantPing(n uint64) {
	w.mu.Lock()
	w.ping = n
	w.kickLocked()
	w.mu.Unlock()
}

// fatalError queues an ERROR token; the broker is being closed.
func (w *writer) fatalError(text string) {
	w.mu.Lock()
	w.fatal = text
	w.kickLocked()
	w.mu.Unlock()
}

// shutdown stops the loop: with close_notify and FIN, or leaving the
// socket as it is.
func (w *writer) shutdown(mode stopMode) {
	w.mu.Lock()
	if w.stop == running {
		w.stop = mode
	}
	w.kickLocked()
	w.mu.Unlock()
}

// loop writes what has gathered until nothing is left (it then ends, and
// the next work starts it again), or until the broker stops and it closes
// the socket.
func (w *writer) loop() {
	for {
		w.mu.Lock()
		if w.busy || w.idleLocked() {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.busy = true
		first := w.first
		w.first = nil
		pongs := w.pongs
		w.pongs = nil
		ping := w.ping
		w.ping = 0
		fatal := w.fatal
		w.fatal = ""
		stop := w.stop
		w.batch, w.queue = w.queue, w.batch[:0]
		w.mu.Unlock()

		if stop == stopLeave {
			w.failQueued(w.batch)
			return
		}
		buf := append(w.buf[:0], first...)
		for _, n := range pongs {
			buf = banana.AppendPong(buf, n)
		}
		if ping != 0 {
			buf = banana.AppendPing(buf, ping)
		}
		if stop == running {
			for _, m := range w.batch {
				buf = w.encode(buf, m)
			}
		} else {
			w.failQueued(w.batch)
		}
		clear(w.batch)
		if fatal != "" {
			buf = banana.EncodeError(buf, fatal)
		}
		if !w.write(buf) {
			w.b.raw.Close()
			return
		}
		if stop == stopClean {
			w.closeSocket()
			return
		}
		w.release()
	}
}

func (w *writer) idleLocked() bool {
	return w.stop == running && w.first == nil && len(w.pongs) == 0 && w.ping == 0 &&
		w.fatal == "" && len(w.queue) == 0
}

// closeSocket sends close_notify, giving up after closeGrace on a peer
// that does not read, then closes the socket.
func (w *writer) closeSocket() {
	raw := w.b.raw
	timer := time.AfterFunc(closeGrace, func() { raw.Close() })
	w.b.conn.Close()
	timer.Stop()
	raw.Close()
}

// failQueued tells the callers of queued calls that they never left.
func (w *writer) failQueued(ms []outMsg) {
	for _, m := range ms {
		if m.sent != nil {
			m.sent(&DeadReferenceError{Reason: "the connection closed before the call was sent"})
		}
	}
}

// encode appends one message. A value that cannot be encoded fails that
// message alone: a call's caller gets the error, an answer becomes an
// error answer, so no caller waits for ever.
func (w *writer) encode(buf []byte, m outMsg) []byte {
	p := w.b.pb
	var out []byte
	var err error
	var announced []int64
	switch {
	case m.call != nil:
		c := *m.call
		c.Args, c.Kwargs, announced = p.outboundCall(m.call.Args, m.call.Kwargs)
		out, err = w.enc.AppendCall(buf, &c)
		if m.sent != nil {
			m.sent(err)
		}
	case m.answer:
		var v any
		v, announced = p.outboundValue(m.value)
		out, err = w.enc.AppendAnswer(buf, m.reqID, v)
		if err != nil {
			out, err = w.enc.AppendError(buf, m.reqID, failureOf(&RemoteError{Type: "builtins.TypeError",
				Value: "the answer could not be serialized: " + err.Error()}))
			announced = nil
		}
	default:
		out, err = w.enc.AppendError(buf, m.reqID, failureOf(m.err))
	}
	if err != nil {
		w.b.t.cfg.Logger.Info("could not encode a message", "broker", w.b.id, "err", err)
		p.unannounce(announced)
		return buf
	}
	p.announce(announced)
	return out
}

func writeFailure(err error) string {
	return "write failed (the peer stopped reading, or the path died): " + err.Error()
}
