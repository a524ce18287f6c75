package flogtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
)

// RawTub is the smallest tub that can put a chosen hello or a chosen
// decision in front of a real Foolscap peer: it dials, upgrades to TLS and
// exchanges blocks, and stops there. It keeps no tables; the test picks
// every value.
type RawTub struct {
	ID          *tubclient.Identity
	Incarnation string
}

// NewRawTub makes a tub whose tubid is below (master=false) or above
// (master=true) other, so the master is chosen as the test needs.
func NewRawTub(other string, master bool) (*RawTub, error) {
	for range 10000 {
		id, err := tubclient.NewIdentity()
		if err != nil {
			return nil, err
		}
		if negotiation.IsMaster(id.TubID, other) == master && id.TubID != other {
			return &RawTub{ID: id, Incarnation: NewIncarnation()}, nil
		}
	}
	return nil, errors.New("flogtest: no identity on the wanted side of " + other)
}

// NewIncarnation is a fresh 16-hex-digit incarnation.
func NewIncarnation() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Conn is one negotiated (or refused) connection to a Foolscap tub.
type Conn struct {
	TLS       *tls.Conn
	PeerHello negotiation.Hello
	// Decision is the master's answer when the Foolscap side was master.
	Decision negotiation.Decision
}

// Close ends the connection.
func (c *Conn) Close() error { return c.TLS.Close() }

// Hello is the offer this tub sends: last is its last-connection (nil
// omits it), and an empty incarnation omits my-incarnation.
func (t *RawTub) Hello(incarnation string, last *negotiation.Connection) negotiation.Hello {
	return negotiation.Hello{TubID: t.ID.TubID, Incarnation: incarnation, LastConnection: last,
		BananaMin: negotiation.BananaMin, BananaMax: negotiation.BananaMax}
}

// Offer dials addr, asks for target, sends hello and reads the Foolscap
// master's decision. An error decision is returned in Conn.Decision.Error
// with the connection already closed.
func (t *RawTub) Offer(ctx context.Context, addr, target string, hello negotiation.Hello) (*Conn, error) {
	c, r, err := t.open(ctx, addr, target, hello)
	if err != nil {
		return nil, err
	}
	block, err := readBlock(r)
	if err != nil {
		c.TLS.Close()
		return nil, fmt.Errorf("reading the decision: %w", err)
	}
	b, err := negotiation.ParseBlock(block)
	if err == nil {
		c.Decision, err = negotiation.ParseDecision(b)
	}
	if err != nil {
		c.TLS.Close()
		return nil, fmt.Errorf("decision %q: %w", block, err)
	}
	if c.Decision.Error != "" {
		c.TLS.Close()
	}
	c.TLS.SetDeadline(time.Time{})
	return c, nil
}

// Decide dials addr as the master (this tub's tubid must be the higher),
// sends hello, reads the Foolscap slave's hello and answers with decision.
func (t *RawTub) Decide(ctx context.Context, addr, target string, hello negotiation.Hello, decision negotiation.Decision) (*Conn, error) {
	c, _, err := t.open(ctx, addr, target, hello)
	if err != nil {
		return nil, err
	}
	c.Decision = decision
	if _, err := c.TLS.Write(decision.Block().Encode()); err != nil {
		c.TLS.Close()
		return nil, fmt.Errorf("sending the decision: %w", err)
	}
	c.TLS.SetDeadline(time.Time{})
	return c, nil
}

// open runs the prelude, TLS and the hello exchange.
func (t *RawTub) open(ctx context.Context, addr, target string, hello negotiation.Hello) (*Conn, *bufio.Reader, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(addr)
	if _, err := raw.Write(negotiation.Request(target, host)); err != nil {
		raw.Close()
		return nil, nil, err
	}
	// Byte by byte, so nothing of the TLS handshake is read ahead.
	resp, err := readBlock(byteReader{raw})
	if err == nil {
		err = negotiation.ParseResponse(resp)
	}
	if err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("prelude: %w", err)
	}
	cert := t.ID.Cert
	tc := tls.Client(raw, &tls.Config{
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		},
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("TLS: %w", err)
	}
	if _, err := tc.Write(hello.Block().Encode()); err != nil {
		tc.Close()
		return nil, nil, err
	}
	r := bufio.NewReader(tc)
	block, err := readBlock(r)
	if err != nil {
		tc.Close()
		return nil, nil, fmt.Errorf("reading the peer's hello: %w", err)
	}
	b, err := negotiation.ParseBlock(block)
	if err != nil {
		tc.Close()
		return nil, nil, err
	}
	peer, err := negotiation.ParseHello(b)
	if err != nil {
		tc.Close()
		return nil, nil, fmt.Errorf("peer hello %q: %w", block, err)
	}
	return &Conn{TLS: tc, PeerHello: peer}, r, nil
}

// readBlock reads one header block, up to its blank line.
func readBlock(r io.ByteReader) ([]byte, error) {
	var buf []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		buf = append(buf, c)
		if block, _, ok, err := negotiation.SplitBlock(buf, 0); err != nil {
			return nil, err
		} else if ok {
			return block, nil
		}
	}
}

type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var one [1]byte
	_, err := io.ReadFull(b.r, one[:])
	return one[0], err
}

// Settle waits until a Foolscap slave has acted on the decision Decide
// sent: an accepted connection answers a PING with a PONG once it speaks
// Banana; a refused one is closed.
func (c *Conn) Settle(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		c.TLS.SetDeadline(dl)
		defer c.TLS.SetDeadline(time.Time{})
	}
	if c.Decision.Error != "" {
		// Any end will do: EOF, close_notify or a reset.
		_, err := io.Copy(io.Discard, c.TLS)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return fmt.Errorf("the slave kept a refused connection open: %w", err)
		}
		return nil
	}
	if _, err := c.TLS.Write([]byte{0x01, 0x8e}); err != nil {
		return err
	}
	var got [2]byte
	if _, err := io.ReadFull(c.TLS, got[:]); err != nil {
		return fmt.Errorf("waiting for PONG: %w", err)
	}
	if got != [2]byte{0x01, 0x8f} {
		return fmt.Errorf("answer to PING was % x, want 01 8f", got)
	}
	return nil
}
