package tubclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// NegotiationError is a failed negotiation: which phase, and why.
type NegotiationError struct {
	Phase string // "connect", "prelude", "tls", "hello", "decision"
	Err   error
	// Remote is the peer's own error text when it sent one
	// (e.g. "Duplicate connection").
	Remote string
}

func (e *NegotiationError) Error() string {
	if e.Remote != "" {
		return fmt.Sprintf("%s: peer said: %s", e.Phase, e.Remote)
	}
	return fmt.Sprintf("%s: %v", e.Phase, e.Err)
}

func (e *NegotiationError) Unwrap() error { return e.Err }

var (
	// ErrDuplicateConnection: the master refused the offer because it
	// already holds a connection with this peer.
	ErrDuplicateConnection = errors.New("Duplicate connection")
	// ErrNegotiationTimeout: the negotiation did not finish in time.
	ErrNegotiationTimeout = errors.New("negotiation timed out")
)

// duplicateText is what a master sends when it rejects an offer.
const duplicateText = "Duplicate connection"

// wireError is a negotiation failure whose own text may go to the peer, as
// Foolscap sends a NegotiationError's text. Anything else (socket errors,
// our own bugs) is reported to the peer as internalError.
type wireError struct{ msg string }

func (e *wireError) Error() string { return e.msg }

func wiref(format string, args ...any) error { return &wireError{fmt.Sprintf(format, args...)} }

const internalError = "internal server error, see logs"

// wireText is what the peer is told about err.
func wireText(err error) string {
	var we *wireError
	if errors.As(err, &we) {
		return we.msg
	}
	if errors.Is(err, ErrDuplicateConnection) {
		return duplicateText
	}
	if errors.Is(err, ErrNegotiationTimeout) {
		return ErrNegotiationTimeout.Error()
	}
	return internalError
}

// pending is the state goroutine's record of a connection that is still
// negotiating. The negotiating goroutine owns the socket; the state
// goroutine only closes it to abort the attempt.
type pending struct {
	id     uint64
	raw    *faultnet.Conn
	side   snapshot.Side
	hint   string
	local  string
	remote string
	opened time.Time
	peer   string // the tubid dialled, or the one the hello claimed
	// phase is how far the negotiation got; its goroutine sets it without
	// a round trip to the state goroutine.
	phase   atomic.Pointer[string]
	aborted bool
	// silent: the decision was lost on arrival and the socket must look
	// dead, so cancelling the attempt leaves it open.
	silent bool
}

// handshake is one negotiation, owned by the goroutine running it until
// the state goroutine attaches it as a broker (or ends it).
type handshake struct {
	t      *Tub
	id     uint64
	raw    *faultnet.Conn
	conn   net.Conn // raw, then TLS
	tls    *tls.Conn
	br     *bufio.Reader
	side   snapshot.Side
	hint   string
	local  string
	remote string
	opened time.Time

	target  string // the tubid dialled (client side)
	attempt string
	last    *negotiation.Connection // the last-connection our hello carries
	ownInc  string
	offer   negotiation.Hello // the peer's hello
	// offerSeen: the state goroutine has recorded the offer (it may be
	// told of it by more than one message; it records it once).
	offerSeen bool
	version   int
	role      snapshot.Role
	tlsInfo   string
	decision  negotiation.Decision // as slave: the master's decision
	rec       *pending
}

func (t *Tub) newHandshake(raw *faultnet.Conn, side snapshot.Side, hint, target string) *handshake {
	h := &handshake{t: t, id: t.nextID.Add(1), raw: raw, conn: raw, side: side, hint: hint, target: target,
		local: raw.LocalAddr().String(), remote: raw.RemoteAddr().String(), opened: time.Now()}
	p := &pending{id: h.id, raw: raw, side: side, hint: hint, local: h.local, remote: h.remote,
		opened: h.opened, peer: target}
	h.rec = p
	h.setPhase("prelude")
	t.post(func(st *state) {
		st.pending[p.id] = p
		st.changed = true
	})
	return h
}

// fail ends the negotiation through the close path and returns its error.
func (h *handshake) fail(phase string, err error) error {
	return h.end(&NegotiationError{Phase: phase, Err: err}, false)
}

// end hands the connection to the close path: closed, or left open and
// silent when the path to the peer is meant to look dead.
func (h *handshake) end(ne *NegotiationError, leaveOpen bool) error {
	reason := snapshot.CloseNegotiationFailed
	if errors.Is(ne, ErrDuplicateConnection) {
		reason = snapshot.CloseRejected
	}
	e := ending{reason: reason, detail: ne.Error(), err: ne, leaveOpen: leaveOpen}
	h.t.post(func(st *state) {
		h.t.offerReceivedLocked(st, h)
		h.t.endLocked(st, h.id, e)
	})
	h.t.cfg.Logger.Debug("negotiation failed", "conn", h.id, "remote", h.remote, "err", ne)
	return ne
}

// setPhase records how far the negotiation got.
func (h *handshake) setPhase(phase string) { h.rec.phase.Store(&phase) }

// prefixConn replays bytes read ahead during the plaintext prelude before
// handing the socket to TLS.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// underTLS is the socket TLS runs on: raw, plus whatever the prelude's
// reader buffered past the block.
func underTLS(raw net.Conn, br *bufio.Reader) net.Conn {
	if n := br.Buffered(); n > 0 {
		ahead, _ := br.Peek(n)
		return &prefixConn{Conn: raw, prefix: append([]byte(nil), ahead...)}
	}
	return raw
}

// readBlock reads one "\r\n\r\n"-terminated block, refusing more than
// limit bytes. A block too long and a timeout are the peer's to hear of;
// socket errors are not.
func readBlock(br *bufio.Reader, limit int) ([]byte, error) {
	block, err := negotiation.ReadBlock(br, limit)
	var tooLong *negotiation.TooLongError
	switch {
	case err == nil:
		return block, nil
	case errors.As(err, &tooLong):
		return nil, &wireError{err.Error()}
	}
	return nil, explainTimeout(err)
}

func explainTimeout(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrNegotiationTimeout, err)
	}
	return err
}

func (t *Tub) tlsConfig(server bool) *tls.Config {
	cert := t.id.Cert
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Tubs have self-signed certificates; the peer is checked against
		// the tubid it claims (and, when dialing, the one in the FURL).
		InsecureSkipVerify:     true,
		SessionTicketsDisabled: true,
		CurvePreferences:       t.cfg.KeyExchange.CurvePreferences(server),
	}
	if server {
		cfg.Certificates = []tls.Certificate{cert}
		cfg.ClientAuth = tls.RequestClientCert
	} else {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return cfg
}

// peerTubID derives the tubid from the peer's TLS certificate.
func peerTubID(c *tls.Conn) (string, error) {
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", wiref("peer presented no certificate")
	}
	return TubIDFromDER(certs[0].Raw), nil
}

func (h *handshake) startTLS(c *tls.Conn) {
	cs := c.ConnectionState()
	h.tlsInfo = tls.VersionName(cs.Version) + " " + cs.CurveID.String()
	h.tls = c
	h.conn = c
	h.br = bufio.NewReaderSize(c, 1024)
}

// serveConn negotiates an inbound connection.
// spoke is called once the request line has arrived; release when the
// negotiation is over, whatever its outcome.
func (t *Tub) serveConn(raw *faultnet.Conn, spoke, release func()) {
	defer release()
	h := t.newHandshake(raw, snapshot.Server, "", "")
	deadline := time.Now().Add(t.cfg.NegotiationTimeout)
	raw.SetDeadline(deadline)
	br := bufio.NewReaderSize(raw, 512)
	refuse := func(err error) {
		// A 500 goes out even when the deadline has passed (a slowloris):
		// give the reply a moment of its own.
		raw.SetWriteDeadline(time.Now().Add(time.Second))
		raw.Write(negotiation.ErrorResponse(wireText(err)))
	}
	req, err := readBlock(br, t.cfg.MaxHeaderBytes)
	if err != nil {
		refuse(err)
		h.fail("prelude", err)
		return
	}
	spoke()
	target, err := negotiation.ParseRequest(req)
	if err != nil {
		err = &wireError{err.Error()}
	} else if target != t.id.TubID {
		err = wiref("unknown TubID %s", target)
	}
	if err != nil {
		refuse(err)
		h.fail("prelude", err)
		return
	}
	if _, err := raw.Write(negotiation.SwitchingProtocols()); err != nil {
		h.fail("prelude", err)
		return
	}
	h.setPhase("tls")
	tc := tls.Server(underTLS(raw, br), t.tlsServer)
	if err := tc.HandshakeContext(t.ctx); err != nil {
		h.fail("tls", explainTimeout(err))
		return
	}
	h.startTLS(tc)
	h.helloExchange()
}

// dialHint opens one outbound connection to a hint and negotiates it up to
// (and including) the decision; on success the broker is attached.
//
// Every hint of one attempt offers the same last-connection, read once by
// the dial: a sibling that finished after the winner must not offer the
// winner's fresh seqnum, or the master would replace the winner with it.
func (t *Tub) dialHint(ctx context.Context, f FURL, hint Hint, attempt string, last *negotiation.Connection) (*Broker, error) {
	c, err := t.cfg.Dial(ctx, "tcp", hint.Addr())
	if err != nil {
		return nil, &NegotiationError{Phase: "connect", Err: ctxErr(ctx, err)}
	}
	raw := wrapConn(c)
	h := t.newHandshake(raw, snapshot.Client, hint.String(), f.TubID)
	h.attempt, h.last = attempt, last
	if deadline, ok := ctx.Deadline(); ok {
		raw.SetDeadline(deadline)
	}
	// Cancelling the attempt (another hint won, or the tub closed) aborts
	// the socket, which unblocks every read and write below. The state
	// goroutine does it, so a connection attached a moment before the
	// cancel is never closed by it.
	stop := context.AfterFunc(ctx, func() {
		t.post(func(st *state) { abortPending(st, h.id) })
	})
	defer stop()

	if _, err := raw.Write(negotiation.Request(f.TubID, hint.Host)); err != nil {
		return nil, h.fail("prelude", ctxErr(ctx, err))
	}
	br := bufio.NewReaderSize(raw, 512)
	resp, err := readBlock(br, t.cfg.MaxHeaderBytes)
	if err != nil {
		return nil, h.fail("prelude", ctxErr(ctx, err))
	}
	if err := negotiation.ParseResponse(resp); err != nil {
		return nil, h.fail("prelude", err)
	}
	h.setPhase("tls")
	tc := tls.Client(underTLS(raw, br), t.tlsClient)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, h.fail("tls", ctxErr(ctx, explainTimeout(err)))
	}
	got, err := peerTubID(tc)
	if err == nil && got != f.TubID {
		err = wiref("server certificate is tubid %s, but the FURL names %s", got, f.TubID)
	}
	if err != nil {
		return nil, h.fail("tls", err)
	}
	h.startTLS(tc)
	b, err := h.helloExchange()
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	return b, nil
}

// abortPending closes a negotiating socket so its goroutine stops; that
// goroutine then reports the failure through the close path.
func abortPending(st *state, id uint64) {
	if p := st.pending[id]; p != nil && !p.aborted && !p.silent {
		p.aborted = true
		p.raw.Close()
	}
}

// ctxErr prefers the context's reason (cancelled, timed out) over the
// socket error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	var ne *NegotiationError
	if errors.As(err, &ne) && ne.Remote != "" {
		return err
	}
	if errors.Is(err, ErrNegotiationTimeout) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrNegotiationTimeout, err)
	}
	return fmt.Errorf("attempt cancelled: %w", err)
}

// helloExchange sends our hello, reads the peer's, and runs the master or
// slave half of the decision. On success the connection has been handed to
// the state goroutine and attached; this goroutine touches it no more.
func (h *handshake) helloExchange() (*Broker, error) {
	t := h.t
	h.setPhase("hello")
	h.ownInc = *t.incarnation.Load()
	mine := negotiation.Hello{
		TubID: t.id.TubID, Incarnation: h.ownInc, LastConnection: h.last,
		BananaMin: 3, BananaMax: 3, VocabMin: 0, VocabMax: 0,
	}
	if !t.cfg.NoAttemptID && h.side == snapshot.Client {
		mine.AttemptID = h.attempt
	}
	if t.cfg.LegacyHello {
		mine.Incarnation, mine.LastConnection, mine.AttemptID = "", nil, ""
		h.last = nil
	}
	if _, err := h.conn.Write(mine.Block().Encode()); err != nil {
		return nil, h.fail("hello", err)
	}
	raw, err := readBlock(h.br, t.cfg.MaxHeaderBytes)
	if err != nil {
		return nil, h.fail("hello", err)
	}
	refuse := func(err error) (*Broker, error) {
		h.conn.Write(negotiation.ErrorDecision(wireText(err)).Block().Encode())
		return nil, h.fail("hello", err)
	}
	blk, err := negotiation.ParseBlock(raw)
	if err != nil {
		return refuse(&wireError{err.Error()})
	}
	theirs, err := negotiation.ParseHello(blk)
	if err != nil {
		var pe *negotiation.PeerError
		if errors.As(err, &pe) {
			return nil, h.end(&NegotiationError{Phase: "hello", Err: err, Remote: pe.Message}, false)
		}
		return refuse(&wireError{err.Error()})
	}
	certID, err := peerTubID(h.tls)
	if err != nil {
		return refuse(err)
	}
	if theirs.TubID != certID {
		return refuse(wiref("TubID mismatch: hello claims %s but the certificate is %s", theirs.TubID, certID))
	}
	if theirs.TubID == t.id.TubID {
		return refuse(wiref("connection to self refused"))
	}
	version, err := negotiation.Negotiate(mine, theirs)
	if err != nil {
		return refuse(&wireError{err.Error()})
	}
	h.offer, h.version = theirs, version
	if h.side == snapshot.Server {
		h.attempt = theirs.AttemptID
	}
	if negotiation.IsMaster(t.id.TubID, theirs.TubID) {
		h.role = snapshot.Master
	} else {
		h.role = snapshot.Slave
	}
	// The offer is recorded by the next message to the state goroutine:
	// the decision, or the failure that ends the negotiation.
	if h.role == snapshot.Master {
		return h.masterDecide()
	}
	return h.slaveAwait()
}

// masterDecide asks the state goroutine for a verdict. On accept the
// state goroutine attaches the connection and its writer sends the
// decision first; on reject this goroutine sends the error block.
func (h *handshake) masterDecide() (*Broker, error) {
	t := h.t
	reply := make(chan decideReply, 1)
	t.post(func(st *state) {
		t.offerReceivedLocked(st, h)
		t.decide(st, h, reply)
	})
	var r decideReply
	select {
	case r = <-reply:
	case <-t.ctx.Done():
		return nil, h.fail("decision", ErrClosed)
	}
	if r.err != nil {
		h.conn.Write(negotiation.ErrorDecision(wireText(r.err)).Block().Encode())
		return nil, h.fail("decision", r.err)
	}
	return r.b, nil
}

type decideReply struct {
	b   *Broker
	err error
}

// slaveAwait reads the master's decision and hands it to the state goroutine.
func (h *handshake) slaveAwait() (*Broker, error) {
	t := h.t
	h.setPhase("decision")
	raw, err := readBlock(h.br, t.cfg.MaxHeaderBytes)
	if err != nil {
		return nil, h.fail("decision", err)
	}
	blk, err := negotiation.ParseBlock(raw)
	if err != nil {
		return nil, h.fail("decision", err)
	}
	d, err := negotiation.ParseDecision(blk)
	if err != nil {
		return nil, h.fail("decision", err)
	}
	if d.Error == "" {
		if err := negotiation.CheckVocab(d); err != nil {
			return nil, h.fail("decision", err)
		}
	}
	h.decision = d
	reply := make(chan decideReply, 1)
	t.post(func(st *state) {
		t.offerReceivedLocked(st, h)
		t.acceptDecision(st, h, reply)
	})
	var r decideReply
	select {
	case r = <-reply:
	case <-t.ctx.Done():
		r.err = ErrClosed
	}
	switch {
	case errors.Is(r.err, errDecisionLost):
		return nil, h.missDecision()
	case r.err != nil:
		ne := &NegotiationError{Phase: "decision", Err: r.err}
		if d.Error != "" {
			ne.Remote = d.Error
			if d.Error == duplicateText {
				ne.Err = ErrDuplicateConnection
			}
		}
		return nil, h.end(ne, false)
	}
	return r.b, nil
}

// missDecision plays the master's accepting decision lost on the way in:
// the path goes dark both ways, so the slave waits out its negotiation
// timeout as if nothing had arrived, and its socket is left open so that
// no FIN reaches the master either. The master holds a broker that is
// dead, and the next offer remembers no decision: the S3 lockout.
func (h *handshake) missDecision() error {
	t := h.t
	h.raw.BlackHole()
	t.post(func(st *state) {
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindFault, BrokerID: h.id, PeerTubID: h.offer.TubID,
			Message: "decision lost: the path went dark as the master's decision arrived"})
	})
	// Closing the tub must not wait out the deadline.
	stop := context.AfterFunc(t.ctx, func() { h.raw.Close() })
	defer stop()
	var one [1]byte
	var err error
	for err == nil {
		_, err = h.raw.Read(one[:]) // black-holed: returns at the deadline or on close
	}
	return h.end(&NegotiationError{Phase: "decision", Err: explainTimeout(err)}, true)
}

// wrapConn puts every socket behind a fault switch so any connection can be
// black-holed or reset on demand; conns already wrapped (the demo's
// fault-injecting paths) are used as they are.
func wrapConn(c net.Conn) *faultnet.Conn {
	if fc, ok := c.(*faultnet.Conn); ok {
		return fc
	}
	return faultnet.New(c, nil)
}
