// Package faultnet breaks network connections on purpose, so tests, the CLI
// and the demo can watch a tub cope: black-hole a path, let one direction
// go dark after n bytes, add latency, or abort with a reset.
//
// Goroutines: a Conn starts none until Delay(Outbound, …) is first set; from
// then on one carrier goroutine delivers its held writes, and it has exited
// by the time Close or Reset returns. Path.Flap arms one runtime timer that
// runs a short function when the outage ends. Nothing else runs in the
// background.
package faultnet

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Direction is one way along a connection, seen from the wrapped end.
type Direction int

const (
	Inbound  Direction = iota // bytes the peer sends us
	Outbound                  // bytes we send the peer
)

func (d Direction) String() string {
	switch d {
	case Inbound:
		return "in"
	case Outbound:
		return "out"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

func (d Direction) valid() bool { return d == Inbound || d == Outbound }

const (
	// maxHeldBytes bounds the outbound delay line; writers wait for room
	// beyond it, as they would on a full socket buffer.
	maxHeldBytes = 1 << 20
	// flushGrace bounds how long Close waits, after the last held write is
	// due, for a peer that has stopped reading.
	flushGrace = time.Second
)

// Stats counts bytes at the fault point. Swallowed bytes were lost to a
// black-hole or a drop-out; OutHeld bytes are written but still delayed.
type Stats struct {
	In, Out                   int64
	InSwallowed, OutSwallowed int64
	OutHeld                   int64
}

// Conn is a net.Conn whose faults can be switched at run time from any
// goroutine. Faults act at the far end of the delay: a byte is checked
// against black-hole and drop-out when it is delivered, not when written.
type Conn struct {
	net.Conn

	// faulty is false only when no fault is set and nothing is held, so
	// Read and Write can pass straight through.
	faulty                    atomic.Bool
	inBytes, outBytes         atomic.Int64
	inSwallowed, outSwallowed atomic.Int64
	done                      chan struct{} // closed by Close and Reset
	aborted                   chan struct{} // closed by Reset: held writes are abandoned
	path                      *Path
	seq                       uint64

	mu              sync.Mutex
	rng             *rand.Rand
	blackholed      bool
	dropBudget      [2]int64 // bytes left before the direction goes dark; -1 when off
	delay           [2]delaySpec
	readDL, writeDL deadline
	inHeld          []byte // arrived bytes whose hold a read deadline cut short
	inHeldDue       time.Time
	line            *delayLine
	closing         bool
}

type delaySpec struct{ fixed, jitter time.Duration }

func (d delaySpec) String() string {
	if d.jitter == 0 {
		return d.fixed.String()
	}
	return d.fixed.String() + ".." + (d.fixed + d.jitter).String()
}

// deadline mirrors a socket deadline so waits inside the wrapper honour it;
// changed is closed when the deadline moves, and made only when someone waits.
type deadline struct {
	at      time.Time
	changed chan struct{}
}

func (d *deadline) setLocked(t time.Time) {
	d.at = t
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
}

// delayLine is the outbound queue the carrier goroutine drains in order.
type delayLine struct {
	writes  []heldWrite
	bytes   int
	lastDue time.Time
	err     error         // first socket error; later writes report it
	space   chan struct{} // closed and replaced each time a write leaves
	wake    chan struct{} // one slot: new work or closing
	exited  chan struct{}
}

type heldWrite struct {
	data []byte
	due  time.Time
}

// New wraps nc. rng drives delay jitter so runs can repeat; nil uses the
// global source.
func New(nc net.Conn, rng *rand.Rand) *Conn {
	return &Conn{
		Conn:       nc,
		rng:        rng,
		dropBudget: [2]int64{-1, -1},
		done:       make(chan struct{}),
		aborted:    make(chan struct{}),
	}
}

func (c *Conn) refreshLocked() {
	c.faulty.Store(c.blackholed ||
		c.dropBudget[Inbound] >= 0 || c.dropBudget[Outbound] >= 0 ||
		c.delay[Inbound] != (delaySpec{}) || c.delay[Outbound] != (delaySpec{}) ||
		c.line != nil || len(c.inHeld) > 0)
}

// BlackHole stops both directions without telling either end: writes
// succeed and vanish, reads wait and whatever arrives is discarded, the
// peer's FIN or RST included.
func (c *Conn) BlackHole() {
	c.mu.Lock()
	c.blackholed = true
	c.refreshLocked()
	c.mu.Unlock()
}

// Restore lifts a black-hole. Bytes lost meanwhile stay lost, so the
// stream resumes with a gap.
func (c *Conn) Restore() {
	c.mu.Lock()
	c.blackholed = false
	c.refreshLocked()
	c.mu.Unlock()
}

// DropAfter lets n more bytes through in dir, then discards the rest that
// way. A negative n removes the drop-out.
func (c *Conn) DropAfter(dir Direction, n int64) {
	if !dir.valid() {
		return
	}
	c.mu.Lock()
	c.dropBudget[dir] = max(n, -1)
	c.refreshLocked()
	c.mu.Unlock()
}

// Delay holds each write (Outbound) or each arrival (Inbound) back by
// fixed plus a uniform random part in [0, jitter]. Order is kept: a byte is
// never delivered before one sent earlier. Zero for both removes the delay.
func (c *Conn) Delay(dir Direction, fixed, jitter time.Duration) {
	if !dir.valid() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delay[dir] = delaySpec{max(fixed, 0), max(jitter, 0)}
	if dir == Outbound && c.line == nil && c.delay[dir] != (delaySpec{}) && !c.closing {
		c.line = &delayLine{
			space:  make(chan struct{}),
			wake:   make(chan struct{}, 1),
			exited: make(chan struct{}),
		}
		// The carrier writes to the socket now; a caller's write deadline
		// bounds only the wait for room in the line.
		_ = c.Conn.SetWriteDeadline(time.Time{})
		go c.carry(c.line)
	}
	c.refreshLocked()
}

// ClearFaults removes every fault. Held bytes are still delivered in order.
func (c *Conn) ClearFaults() {
	c.mu.Lock()
	c.blackholed = false
	c.dropBudget = [2]int64{-1, -1}
	c.delay = [2]delaySpec{}
	c.refreshLocked()
	c.mu.Unlock()
}

// Faults describes the active faults for display, "" when there are none.
func (c *Conn) Faults() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	if c.blackholed {
		parts = append(parts, "black-hole")
	}
	for _, dir := range []Direction{Inbound, Outbound} {
		switch b := c.dropBudget[dir]; {
		case b == 0:
			parts = append(parts, dir.String()+" dark")
		case b > 0:
			parts = append(parts, fmt.Sprintf("%s drop-out after %dB", dir, b))
		}
	}
	in, out := c.delay[Inbound], c.delay[Outbound]
	if in == out {
		if in != (delaySpec{}) {
			parts = append(parts, "delay "+in.String())
		}
	} else {
		if in != (delaySpec{}) {
			parts = append(parts, "in delay "+in.String())
		}
		if out != (delaySpec{}) {
			parts = append(parts, "out delay "+out.String())
		}
	}
	return strings.Join(parts, ", ")
}

// Stats returns the byte counters.
func (c *Conn) Stats() Stats {
	s := Stats{
		In:           c.inBytes.Load(),
		Out:          c.outBytes.Load(),
		InSwallowed:  c.inSwallowed.Load(),
		OutSwallowed: c.outSwallowed.Load(),
	}
	c.mu.Lock()
	if c.line != nil {
		s.OutHeld = int64(c.line.bytes)
	}
	c.mu.Unlock()
	return s
}

func (c *Conn) sampleLocked(dir Direction) time.Duration {
	d := c.delay[dir]
	if d.jitter <= 0 {
		return d.fixed
	}
	if c.rng != nil {
		return d.fixed + time.Duration(c.rng.Int64N(int64(d.jitter)+1))
	}
	return d.fixed + rand.N(d.jitter+1)
}

// pass applies black-hole and drop-out to n bytes about to be delivered in
// dir and returns how many of the leading bytes get through.
func (c *Conn) pass(dir Direction, n int) int {
	if n == 0 {
		return 0
	}
	c.mu.Lock()
	kept := n
	if c.blackholed {
		kept = 0
	} else if b := c.dropBudget[dir]; b >= 0 {
		kept = int(min(int64(n), b))
		c.dropBudget[dir] = b - int64(kept)
	}
	c.mu.Unlock()
	if lost := int64(n - kept); lost > 0 {
		if dir == Inbound {
			c.inSwallowed.Add(lost)
		} else {
			c.outSwallowed.Add(lost)
		}
	}
	return kept
}

// Read reads from the wrapped conn through the active faults.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.faulty.Load() {
		n, err := c.Conn.Read(p)
		if c.faulty.Load() {
			// A fault was switched on while this read waited: what it
			// brought must not slip past it.
			return c.lateFault(p, n, err)
		}
		c.inBytes.Add(int64(n))
		if err != nil {
			err = c.readErr(err)
		}
		return n, err
	}
	return c.readSlow(p)
}

// lateFault applies black-hole and drop-out to a read that began before
// they were set.
func (c *Conn) lateFault(p []byte, n int, err error) (int, error) {
	if err != nil && n == 0 && c.peerEndUnseen(err) {
		return 0, c.await(nil, time.Time{}, &c.readDL, "read")
	}
	kept := c.pass(Inbound, n)
	c.inBytes.Add(int64(kept))
	if kept == 0 && err == nil {
		return c.readSlow(p)
	}
	if err != nil {
		err = c.readErr(err)
	}
	return kept, err
}

func (c *Conn) readSlow(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		c.mu.Lock()
		heldDue, hasHeld := c.inHeldDue, len(c.inHeld) > 0
		c.mu.Unlock()
		var n int
		var err error
		if hasHeld {
			if werr := c.await(nil, heldDue, &c.readDL, "read"); werr != nil {
				return 0, werr
			}
			c.mu.Lock()
			n = copy(p, c.inHeld)
			c.inHeld = c.inHeld[n:]
			if len(c.inHeld) == 0 {
				c.inHeld = nil
				c.refreshLocked()
			}
			c.mu.Unlock()
		} else {
			n, err = c.Conn.Read(p)
			if err != nil && n == 0 && c.peerEndUnseen(err) {
				// The peer's FIN or RST cannot cross a dead path: keep the
				// socket looking alive until our deadline or our Close.
				return 0, c.await(nil, time.Time{}, &c.readDL, "read")
			}
			if n > 0 {
				c.mu.Lock()
				hold := c.sampleLocked(Inbound)
				c.mu.Unlock()
				if hold > 0 {
					due := time.Now().Add(hold)
					if werr := c.await(nil, due, &c.readDL, "read"); werr != nil {
						// Keep the arrival for the next Read, as a socket would.
						c.mu.Lock()
						c.inHeld, c.inHeldDue = bytes.Clone(p[:n]), due
						c.refreshLocked()
						c.mu.Unlock()
						return 0, werr
					}
				}
			}
		}
		kept := c.pass(Inbound, n)
		c.inBytes.Add(int64(kept))
		if kept > 0 || err != nil {
			if err != nil {
				err = c.readErr(err)
			}
			return kept, err
		}
	}
}

// Write writes to the wrapped conn through the active faults.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.faulty.Load() {
		n, err := c.Conn.Write(p)
		c.outBytes.Add(int64(n))
		if err != nil {
			err = c.writeErr(err)
		}
		return n, err
	}
	return c.writeSlow(p)
}

func (c *Conn) writeSlow(p []byte) (int, error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return 0, c.opErr("write", net.ErrClosed)
	}
	line := c.line
	if line == nil {
		c.mu.Unlock()
		return c.send(p)
	}
	if dl := c.writeDL.at; !dl.IsZero() && !time.Now().Before(dl) {
		c.mu.Unlock()
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	if len(p) == 0 {
		c.mu.Unlock()
		return 0, nil
	}
	for line.err == nil && line.bytes > 0 && line.bytes+len(p) > maxHeldBytes {
		space := line.space
		c.mu.Unlock()
		if err := c.await(space, time.Time{}, &c.writeDL, "write"); err != nil {
			return 0, err
		}
		c.mu.Lock()
	}
	if line.err != nil {
		err := line.err
		c.mu.Unlock()
		return 0, err
	}
	// The carrier delivers in queue order, so a shorter draw waits behind
	// an earlier write instead of overtaking it.
	due := time.Now().Add(c.sampleLocked(Outbound))
	line.lastDue = later(line.lastDue, due)
	line.writes = append(line.writes, heldWrite{data: bytes.Clone(p), due: due})
	line.bytes += len(p)
	c.mu.Unlock()
	select {
	case line.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// send delivers p to the socket through black-hole and drop-out; swallowed
// bytes count as written.
func (c *Conn) send(p []byte) (int, error) {
	kept := c.pass(Outbound, len(p))
	if kept == 0 {
		return len(p), nil
	}
	n, err := c.Conn.Write(p[:kept])
	c.outBytes.Add(int64(n))
	if err != nil {
		return n, c.writeErr(err)
	}
	return len(p), nil
}

// carry is the delay line's goroutine: it delivers held writes when due and
// returns once the Conn is closing and the line is empty, or on Reset.
func (c *Conn) carry(line *delayLine) {
	defer close(line.exited)
	for {
		c.mu.Lock()
		for len(line.writes) == 0 {
			closing := c.closing
			c.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-line.wake:
			case <-c.aborted:
				return
			}
			c.mu.Lock()
		}
		w := line.writes[0]
		c.mu.Unlock()
		if wait := time.Until(w.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.aborted:
				t.Stop()
				return
			}
		}
		_, err := c.send(w.data)
		c.mu.Lock()
		line.writes[0] = heldWrite{}
		line.writes = line.writes[1:]
		line.bytes -= len(w.data)
		if err != nil && line.err == nil {
			line.err = err
		}
		if line.err != nil {
			line.writes, line.bytes = nil, 0 // nothing more can reach the peer
		}
		close(line.space)
		line.space = make(chan struct{})
		c.mu.Unlock()
	}
}

// await blocks until ready is closed or the time at (if non-zero) is
// reached. It gives up with the error a socket op would return when the
// deadline dl passes or the Conn is closed.
func (c *Conn) await(ready <-chan struct{}, at time.Time, dl *deadline, op string) error {
	for {
		c.mu.Lock()
		limit := dl.at
		if dl.changed == nil {
			dl.changed = make(chan struct{})
		}
		changed := dl.changed
		c.mu.Unlock()

		now := time.Now()
		if !at.IsZero() && !now.Before(at) {
			return nil
		}
		if !limit.IsZero() && !now.Before(limit) {
			return c.opErr(op, os.ErrDeadlineExceeded)
		}
		next := at
		if !limit.IsZero() && (next.IsZero() || limit.Before(next)) {
			next = limit
		}
		var timer *time.Timer
		var fired <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(next.Sub(now))
			fired = timer.C
		}
		var err error
		woke := false
		select {
		case <-ready:
			woke = true
		case <-c.done:
			err = c.opErr(op, net.ErrClosed)
		case <-changed:
		case <-fired:
		}
		if timer != nil {
			timer.Stop()
		}
		if woke || err != nil {
			return err
		}
	}
}

// SetDeadline sets both deadlines; see SetReadDeadline and SetWriteDeadline.
func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline bounds Reads, including time spent holding a delayed
// arrival.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDL.setLocked(t)
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline bounds Writes. Once an outbound delay has been set it
// bounds only the wait for room in the delay line.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeDL.setLocked(t)
	if c.line != nil {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// Close closes the connection normally (FIN). Held outbound bytes are
// delivered first, so Close may wait up to the longest delay drawn; a peer
// that stops reading is given flushGrace more before the rest is dropped.
func (c *Conn) Close() error { return c.shut(false) }

// Reset aborts the connection: on TCP the peer gets a RST (ECONNRESET)
// instead of FIN, and held outbound bytes are abandoned.
func (c *Conn) Reset() error { return c.shut(true) }

func (c *Conn) shut(abort bool) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closing = true
	line := c.line
	c.mu.Unlock()
	close(c.done)
	if abort {
		close(c.aborted)
		if l, ok := c.Conn.(interface{ SetLinger(sec int) error }); ok {
			_ = l.SetLinger(0)
		}
	}
	if line != nil && !abort {
		select {
		case line.wake <- struct{}{}:
		default:
		}
		c.mu.Lock()
		last := line.lastDue
		c.mu.Unlock()
		_ = c.Conn.SetWriteDeadline(later(time.Now(), last).Add(flushGrace))
		<-line.exited
	}
	err := c.Conn.Close()
	if line != nil {
		<-line.exited
	}
	if c.path != nil {
		c.path.forget(c)
	}
	return err
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (c *Conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Conn) opErr(op string, err error) error {
	e := &net.OpError{Op: op, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	if a := c.LocalAddr(); a != nil {
		e.Net = a.Network()
	}
	return e
}

// readErr and writeErr make a closed Conn report net.ErrClosed whatever
// the wrapped conn says (net.Pipe says io.ErrClosedPipe).
func (c *Conn) readErr(err error) error {
	if c.closed() && !errors.Is(err, net.ErrClosed) {
		return c.opErr("read", net.ErrClosed)
	}
	return err
}

func (c *Conn) writeErr(err error) error {
	if c.closed() && !errors.Is(err, net.ErrClosed) {
		return c.opErr("write", net.ErrClosed)
	}
	return err
}

// peerEndUnseen reports whether err is the peer ending the connection while
// inbound traffic is dark, so that the end must not be delivered.
func (c *Conn) peerEndUnseen(err error) bool {
	if c.closed() {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blackholed || c.dropBudget[Inbound] == 0
}
