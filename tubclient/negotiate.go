package tubclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// NegotiationError is a failed negotiation: which phase, and why.
type NegotiationError struct {
	Phase string // "prelude", "tls", "hello", "decision"
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

// ErrDuplicate is the text a master sends when it rejects an offer.
const duplicateText = "Duplicate connection"

// Listen starts accepting connections on addr ("tcp:HOST:PORT",
// "HOST:PORT"; port 0 picks a free port) and returns the bound hint.
func (t *Tub) Listen(addr string) (Hint, error) {
	addr = strings.TrimPrefix(addr, "tcp:")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return Hint{}, err
	}
	return t.Serve(ln)
}

// Serve accepts connections from ln until the tub closes.
func (t *Tub) Serve(ln net.Listener) (Hint, error) {
	tcp, _ := ln.Addr().(*net.TCPAddr)
	var h Hint
	if tcp != nil {
		h = Hint{Host: tcp.IP.String(), Port: tcp.Port}
	}
	t.lnMu.Lock()
	if t.closed.Load() {
		t.lnMu.Unlock()
		ln.Close()
		return Hint{}, ErrClosed
	}
	t.listeners = append(t.listeners, ln)
	if tcp != nil && t.cfg.Location == nil {
		t.location = append(t.location, h)
	}
	t.lnMu.Unlock()
	if !t.spawn(func() { t.acceptLoop(ln) }) {
		ln.Close()
		return Hint{}, ErrClosed
	}
	return h, nil
}

// Location is the list of hints this tub advertises.
func (t *Tub) Location() []Hint {
	t.lnMu.Lock()
	defer t.lnMu.Unlock()
	return append([]Hint(nil), t.location...)
}

// Listening lists the listeners' addresses.
func (t *Tub) Listening() []string {
	t.lnMu.Lock()
	defer t.lnMu.Unlock()
	out := make([]string, 0, len(t.listeners))
	for _, ln := range t.listeners {
		out = append(out, "tcp:"+ln.Addr().String())
	}
	return out
}

func (t *Tub) acceptLoop(ln net.Listener) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if t.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE and friends): back off, keep serving.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			t.cfg.Logger.Warn("accept failed", "err", err)
			select {
			case <-time.After(backoff):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !t.spawn(func() { t.serveConn(wrapConn(c)) }) {
			c.Close()
			return
		}
	}
}

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

// readBlock reads one "\r\n\r\n"-terminated block, refusing more than
// limit bytes.
func readBlock(br *bufio.Reader, limit int) ([]byte, error) {
	block, err := negotiation.ReadBlock(br, limit)
	if err != nil {
		return nil, explainTimeout(err)
	}
	return block, nil
}

func explainTimeout(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("negotiation timed out: %w", err)
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
		return "", errors.New("peer presented no certificate")
	}
	return TubIDFromDER(certs[0].Raw), nil
}

// serveConn negotiates an inbound connection.
func (t *Tub) serveConn(raw *faultnet.Conn) {
	b := t.newBroker(raw, snapshot.Server)
	deadline := time.Now().Add(t.cfg.NegotiationTimeout)
	raw.SetDeadline(deadline)
	br := bufio.NewReaderSize(raw, 512)
	req, err := readBlock(br, t.cfg.MaxHeaderBytes)
	if err != nil {
		raw.Write(negotiation.ErrorResponse(err.Error()))
		t.failNegotiation(b, &NegotiationError{Phase: "prelude", Err: err})
		return
	}
	target, err := negotiation.ParseRequest(req)
	if err == nil && target != t.id.TubID {
		err = fmt.Errorf("unknown TubID %s", target)
	}
	if err != nil {
		raw.Write(negotiation.ErrorResponse(err.Error()))
		t.failNegotiation(b, &NegotiationError{Phase: "prelude", Err: err})
		return
	}
	if _, err := raw.Write(negotiation.SwitchingProtocols()); err != nil {
		t.failNegotiation(b, &NegotiationError{Phase: "prelude", Err: err})
		return
	}
	var under net.Conn = raw
	if n := br.Buffered(); n > 0 {
		ahead, _ := br.Peek(n)
		under = &prefixConn{Conn: raw, prefix: append([]byte(nil), ahead...)}
	}
	tc := tls.Server(under, t.tlsServer)
	if err := tc.HandshakeContext(t.ctx); err != nil {
		t.failNegotiation(b, &NegotiationError{Phase: "tls", Err: explainTimeout(err)})
		return
	}
	b.attachTLS(tc)
	t.helloExchange(b, "", nil)
}

// dialHint opens one outbound connection to a hint and negotiates it up to
// (and including) the hello exchange and the decision.
//
// Every hint of one attempt offers the same last-connection, read once by
// the connector: a sibling that finished after the winner must not offer
// the winner's fresh seqnum, or the master would replace the winner with it.
func (t *Tub) dialHint(ctx context.Context, f FURL, h Hint, attempt string, last *negotiation.Connection) (*Broker, error) {
	dctx, cancel := context.WithTimeout(ctx, t.cfg.NegotiationTimeout)
	defer cancel()
	c, err := t.cfg.Dial(dctx, "tcp", h.Addr())
	if err != nil {
		return nil, &NegotiationError{Phase: "connect", Err: err}
	}
	raw := wrapConn(c)
	b := t.newBroker(raw, snapshot.Client)
	b.hint = h.String()
	deadline, _ := dctx.Deadline()
	raw.SetDeadline(deadline)
	// Cancelling the attempt (another hint won, or the tub closed) closes
	// the socket, which unblocks every read and write below. The check runs
	// on the state goroutine, so a broker attached a moment before the
	// cancel is never closed by it.
	stop := context.AfterFunc(dctx, func() {
		t.post(func(st *state) {
			if b.state == snapshot.Negotiating {
				b.closeConn()
			}
		})
	})
	defer stop()

	if _, err := raw.Write(negotiation.Request(f.TubID, h.Host)); err != nil {
		return nil, t.failNegotiation(b, &NegotiationError{Phase: "prelude", Err: err})
	}
	br := bufio.NewReaderSize(raw, 512)
	resp, err := readBlock(br, t.cfg.MaxHeaderBytes)
	if err != nil {
		return nil, t.failNegotiation(b, &NegotiationError{Phase: "prelude", Err: ctxErr(dctx, err)})
	}
	if err := negotiation.ParseResponse(resp); err != nil {
		return nil, t.failNegotiation(b, &NegotiationError{Phase: "prelude", Err: err})
	}
	var under net.Conn = raw
	if n := br.Buffered(); n > 0 {
		ahead, _ := br.Peek(n)
		under = &prefixConn{Conn: raw, prefix: append([]byte(nil), ahead...)}
	}
	tc := tls.Client(under, t.tlsClient)
	if err := tc.HandshakeContext(dctx); err != nil {
		return nil, t.failNegotiation(b, &NegotiationError{Phase: "tls", Err: ctxErr(dctx, explainTimeout(err))})
	}
	got, err := peerTubID(tc)
	if err == nil && got != f.TubID {
		err = fmt.Errorf("server certificate is tubid %s, but the FURL names %s", got, f.TubID)
	}
	if err != nil {
		return nil, t.failNegotiation(b, &NegotiationError{Phase: "tls", Err: err})
	}
	b.attachTLS(tc)
	if err := t.helloExchange(b, attempt, last); err != nil {
		return nil, ctxErr(dctx, err)
	}
	return b, nil
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
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("negotiation timed out: %w", err)
	}
	return fmt.Errorf("attempt cancelled: %w", err)
}

// helloExchange sends our hello, reads the peer's, and runs the master or
// slave half of the decision. On success the broker is attached and its
// reader runs (in this goroutine for inbound connections).
func (t *Tub) helloExchange(b *Broker, attempt string, last *negotiation.Connection) error {
	var inc string
	_ = t.do(func(st *state) { inc = st.incarnation })
	mine := negotiation.Hello{
		TubID: t.id.TubID, Incarnation: inc, LastConnection: last,
		BananaMin: 3, BananaMax: 3, VocabMin: 0, VocabMax: 0,
	}
	if !t.cfg.NoAttemptID && b.side == snapshot.Client {
		mine.AttemptID = attempt
	}
	if t.cfg.LegacyHello {
		mine.Incarnation, mine.LastConnection, mine.AttemptID = "", nil, ""
		last = nil
	}
	b.ownIncarnation = inc
	b.attempt = attempt
	b.sentLast = formatConn(last)
	if _, err := b.writeRaw(mine.Block().Encode()); err != nil {
		return t.failNegotiation(b, &NegotiationError{Phase: "hello", Err: err})
	}
	raw, err := readBlock(b.br, t.cfg.MaxHeaderBytes)
	if err != nil {
		return t.failNegotiation(b, &NegotiationError{Phase: "hello", Err: err})
	}
	fail := func(err error) error {
		b.writeRaw(negotiation.ErrorDecision(err.Error()).Block().Encode())
		return t.failNegotiation(b, &NegotiationError{Phase: "hello", Err: err})
	}
	blk, err := negotiation.ParseBlock(raw)
	if err != nil {
		return fail(err)
	}
	theirs, err := negotiation.ParseHello(blk)
	if err != nil {
		var pe *negotiation.PeerError
		if errors.As(err, &pe) {
			return t.failNegotiation(b, &NegotiationError{Phase: "hello", Err: err, Remote: pe.Message})
		}
		return fail(err)
	}
	certID, err := peerTubID(b.tls)
	if err != nil {
		return fail(err)
	}
	if theirs.TubID != certID {
		return fail(fmt.Errorf("TubID mismatch: hello claims %s but the certificate is %s", theirs.TubID, certID))
	}
	if theirs.TubID == t.id.TubID {
		return fail(errors.New("connection to self refused"))
	}
	version, err := negotiation.Negotiate(mine, theirs)
	if err != nil {
		return fail(err)
	}
	b.peer = theirs.TubID
	b.peerIncarnation = theirs.Incarnation
	if b.side == snapshot.Server {
		b.attempt = theirs.AttemptID
	}
	t.post(func(st *state) { t.sawOffer(st, b, theirs) })

	if negotiation.IsMaster(t.id.TubID, theirs.TubID) {
		b.role = snapshot.Master
		return t.masterDecide(b, theirs, version)
	}
	b.role = snapshot.Slave
	return t.slaveAwait(b, theirs)
}

func (t *Tub) sawOffer(st *state, b *Broker, h negotiation.Hello) {
	now := time.Now()
	t.sawIncarnation(st, h.TubID, h.Incarnation, now)
	ev := snapshot.Event{Kind: snapshot.KindOfferReceived, BrokerID: b.id, PeerTubID: h.TubID,
		Side: b.side, Remote: b.remote, Incarnation: h.Incarnation, AttemptID: h.AttemptID,
		BananaRange: fmt.Sprintf("%d %d", h.BananaMin, h.BananaMax),
		VocabRange:  fmt.Sprintf("%d %d", h.VocabMin, h.VocabMax)}
	if h.LastConnection != nil {
		ev.LastConnection = h.LastConnection.String()
	}
	t.emit(ev)
}

// masterDecide asks the state goroutine for a verdict on the offer and
// sends the decision block.
func (t *Tub) masterDecide(b *Broker, offer negotiation.Hello, version int) error {
	reply := make(chan masterReply, 1)
	t.post(func(st *state) { t.decide(st, b, offer, version, reply) })
	var r masterReply
	select {
	case r = <-reply:
	case <-t.ctx.Done():
		return t.failNegotiation(b, &NegotiationError{Phase: "decision", Err: ErrClosed})
	}
	if r.err != nil {
		b.writeRaw(negotiation.ErrorDecision(r.err.Error()).Block().Encode())
		return t.failNegotiation(b, &NegotiationError{Phase: "decision", Err: r.err})
	}
	if r.lose {
		b.raw.BlackHole()
		t.emit(snapshot.Event{Kind: snapshot.KindFault, BrokerID: b.id, PeerTubID: b.peer,
			Message: "decision lost: the socket was black-holed just before it was written"})
	}
	if _, err := b.writeRaw(r.decision.Block().Encode()); err != nil {
		t.detach(b, "writing the decision failed: "+err.Error())
		return &NegotiationError{Phase: "decision", Err: err}
	}
	t.emit(snapshot.Event{Kind: snapshot.KindDecisionSent, BrokerID: b.id, PeerTubID: b.peer,
		Role: snapshot.Master, Current: r.decision.Current.String(), Accept: boolp(true)})
	t.startBroker(b)
	return nil
}

type masterReply struct {
	decision negotiation.Decision
	err      error
	lose     bool // black-hole the socket before the decision leaves
}

// slaveAwait reads the master's decision and hands it to the state goroutine.
func (t *Tub) slaveAwait(b *Broker, offer negotiation.Hello) error {
	raw, err := readBlock(b.br, t.cfg.MaxHeaderBytes)
	if err != nil {
		return t.failNegotiation(b, &NegotiationError{Phase: "decision", Err: err})
	}
	blk, err := negotiation.ParseBlock(raw)
	if err != nil {
		return t.failNegotiation(b, &NegotiationError{Phase: "decision", Err: err})
	}
	d, err := negotiation.ParseDecision(blk)
	if err != nil {
		return t.failNegotiation(b, &NegotiationError{Phase: "decision", Err: err})
	}
	if d.Error == "" {
		if err := negotiation.CheckVocab(d); err != nil {
			return t.failNegotiation(b, &NegotiationError{Phase: "decision", Err: err})
		}
	}
	errc := make(chan error, 1)
	t.post(func(st *state) { errc <- t.acceptDecision(st, b, d) })
	select {
	case err = <-errc:
	case <-t.ctx.Done():
		err = ErrClosed
	}
	if errors.Is(err, errDecisionLost) {
		return t.missDecision(b)
	}
	if err != nil {
		ne := &NegotiationError{Phase: "decision", Err: err}
		if d.Error != "" {
			ne.Remote = d.Error
		}
		return t.failNegotiation(b, ne)
	}
	t.startBroker(b)
	return nil
}

// missDecision plays the master's accepting decision lost on the way in:
// the path goes dark both ways, so the slave waits out its negotiation
// timeout as if nothing had arrived, and its socket is left open so that
// no FIN reaches the master either. The master holds a broker that is
// dead, and the next offer remembers no decision: the S3 lockout.
func (t *Tub) missDecision(b *Broker) error {
	b.closing.Store(true) // no close_notify or FIN from here on, even when the attempt is cancelled
	b.raw.BlackHole()
	t.emit(snapshot.Event{Kind: snapshot.KindFault, BrokerID: b.id, PeerTubID: b.peer,
		Message: "decision lost: the path went dark as the master's decision arrived"})
	// Closing the tub must not wait out the deadline.
	stop := context.AfterFunc(t.ctx, func() { b.raw.Close() })
	defer stop()
	var one [1]byte
	var err error
	for err == nil {
		_, err = b.raw.Read(one[:]) // black-holed: returns at the deadline or on close
	}
	return t.endNegotiation(b, &NegotiationError{Phase: "decision", Err: explainTimeout(err)}, true)
}

// failNegotiation closes a connection that did not become a broker and
// reports why.
func (t *Tub) failNegotiation(b *Broker, err *NegotiationError) error {
	return t.endNegotiation(b, err, false)
}

// endNegotiation ends a connection that did not become a broker: closed,
// or left open and silent when the path to the peer is dead.
func (t *Tub) endNegotiation(b *Broker, err *NegotiationError, leaveOpen bool) error {
	if !leaveOpen {
		b.closeConn()
	}
	ev := snapshot.Event{Kind: snapshot.KindNegotiationFailed, BrokerID: b.id, PeerTubID: b.peer,
		Side: b.side, Remote: b.remote, Err: err.Error(), Reason: err.Phase}
	t.post(func(st *state) {
		delete(st.brokers, b.id)
		if leaveOpen {
			st.keepZombie(b.raw)
		}
	})
	t.emit(ev)
	t.cfg.Logger.Debug("negotiation failed", "broker", b.id, "remote", b.remote, "err", err)
	return err
}

func boolp(v bool) *bool { return &v }

// formatConn renders a last-connection as its hello line carries it, ""
// when absent.
func formatConn(c *negotiation.Connection) string {
	if c == nil {
		return ""
	}
	return c.String()
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
