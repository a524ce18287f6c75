package tubclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Bad input gets a clear error on the wire or in the event log, a closed
// connection, and nothing lost for other peers.

func dialRaw(t *testing.T, tub *Tub) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", tub.Location()[0].Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads until the server closes, which it must.
func readAll(t *testing.T, c io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("server did not close the connection: %v", err)
	}
	return string(b)
}

func failedEvent(t *testing.T, sub *Subscription) snapshot.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return waitEvent(t, ctx, sub, func(ev snapshot.Event) bool { return ev.Kind == snapshot.KindNegotiationFailed })
}

// stillServes checks that a well-behaved client is unaffected.
func stillServes(t *testing.T, furl string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := newTestTub(t, Config{})
	ref, err := client.GetReference(ctx, furl)
	if err != nil {
		t.Fatalf("a good client failed after bad input: %v", err)
	}
	if got, err := ref.Call(ctx, "echo", "ok"); err != nil || got != "ok" {
		t.Fatalf("echo = %v, %v", got, err)
	}
}

func TestBadPrelude(t *testing.T) {
	cases := []struct {
		name, send, wantWire, wantEvent string
	}{
		{"oversized", "GET /id/" + strings.Repeat("a", 5000), "500 Internal Server Error: header exceeds 4096", "header exceeds 4096"},
		{"unknown tubid", "GET /id/" + strings.Repeat("a", 32) + " HTTP/1.1\r\n\r\n", "500 Internal Server Error: unknown TubID aaaa", "unknown TubID"},
		{"not GET", "POST /id/x HTTP/1.1\r\n\r\n", "500 Internal Server Error", "prelude"},
		{"junk", "\x16\x03\x01\x00\x00\r\n\r\n", "500 Internal Server Error", "prelude"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tub := newTestTub(t, Config{})
			furl, _ := tub.Register("svc", echoService())
			sub := tub.Subscribe(64)
			defer sub.Close()
			c := dialRaw(t, tub)
			io.WriteString(c, tc.send)
			if got := readAll(t, c); !strings.Contains(got, tc.wantWire) {
				t.Fatalf("wire reply %q, want %q", got, tc.wantWire)
			}
			if ev := failedEvent(t, sub); !strings.Contains(ev.Err, tc.wantEvent) {
				t.Fatalf("event error %q, want %q", ev.Err, tc.wantEvent)
			}
			stillServes(t, furl)
		})
	}
}

// tlsToTub does the prelude and TLS with identity id, returning a reader
// positioned after TLS.
func tlsToTub(t *testing.T, tub *Tub, id *Identity) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c := dialRaw(t, tub)
	io.WriteString(c, string(negotiation.Request(tub.TubID(), "127.0.0.1")))
	br := bufio.NewReader(c)
	if _, err := readBlock(br, 4096); err != nil {
		t.Fatal(err)
	}
	cert := id.Cert
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, bufio.NewReader(tc)
}

func TestBadHello(t *testing.T) {
	liar, _ := NewIdentity()
	other, _ := NewIdentity()
	cases := []struct {
		name, hello, want string
	}{
		{"no colon", "banana-negotiation-range 3 3\r\n\r\n", "has no ':'"},
		{"wrong tubid", "banana-negotiation-range: 3 3\r\nmy-incarnation: 0123456789abcdef\r\nmy-tub-id: " + other.TubID + "\r\n\r\n", "TubID mismatch"},
		{"no banana range", "my-incarnation: 0123456789abcdef\r\nmy-tub-id: " + liar.TubID + "\r\n\r\n", "banana-negotiation"},
		{"oversized", "x: " + strings.Repeat("y", 5000) + "\r\n\r\n", "header exceeds 4096"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tub := newTestTub(t, Config{})
			furl, _ := tub.Register("svc", echoService())
			sub := tub.Subscribe(64)
			defer sub.Close()
			conn, br := tlsToTub(t, tub, liar)
			io.WriteString(conn, tc.hello)
			if _, err := readBlock(br, 4096); err != nil { // the tub's own hello
				t.Fatal(err)
			}
			rest := readAll(t, br)
			ev := failedEvent(t, sub)
			if !strings.Contains(ev.Err, tc.want) {
				t.Fatalf("event error %q, want %q", ev.Err, tc.want)
			}
			if tc.name != "oversized" && !strings.Contains(rest, "error: ") {
				t.Fatalf("no error block on the wire: %q", rest)
			}
			stillServes(t, furl)
		})
	}
}

func TestJunkBanana(t *testing.T) {
	tub := newTestTub(t, Config{})
	furl, _ := tub.Register("svc", echoService())
	sub := tub.Subscribe(256)
	defer sub.Close()
	id, _ := IdentityWhere(func(s string) bool { return s < tub.TubID() })
	conn, br := tlsToTub(t, tub, id)
	h := negotiation.Hello{TubID: id.TubID, Incarnation: "0123456789abcdef", BananaMin: 3, BananaMax: 3,
		LastConnection: &negotiation.Connection{MasterIncarnation: "none"}}
	conn.Write(h.Block().Encode())
	for i := 0; i < 2; i++ { // the tub's hello, then its decision
		if _, err := readBlock(br, 4096); err != nil {
			t.Fatal(err)
		}
	}
	conn.Write([]byte{0x05, 0x81}) // a bare INT at top level
	rest := readAll(t, br)
	if !strings.Contains(rest, "top-level must be OPEN") || rest[1] != 0x8d {
		t.Fatalf("want an ERROR token naming the violation, got %q", rest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev := waitEvent(t, ctx, sub, func(ev snapshot.Event) bool { return ev.Kind == snapshot.KindBrokerDetached })
	if !strings.Contains(ev.Reason, "protocol error") {
		t.Fatalf("detach reason %q", ev.Reason)
	}
	stillServes(t, furl)
}

func TestSlowPeerTimesOut(t *testing.T) {
	tub := newTestTub(t, Config{NegotiationTimeout: 200 * time.Millisecond})
	furl, _ := tub.Register("svc", echoService())
	sub := tub.Subscribe(64)
	defer sub.Close()
	c := dialRaw(t, tub)
	io.WriteString(c, "GET /id/") // and then nothing
	readAll(t, c)
	if ev := failedEvent(t, sub); !strings.Contains(ev.Err, "timed out") {
		t.Fatalf("event error %q, want a timeout", ev.Err)
	}
	stillServes(t, furl)
}

func TestClientRejectsWrongServer(t *testing.T) {
	server := newTestTub(t, Config{})
	furl, _ := server.Register("svc", echoService())
	impostor, _ := NewIdentity()
	f, _ := ParseFURL(furl)
	// The FURL names another tubid at the same address: GET is refused.
	f.TubID = impostor.TubID
	client := newTestTub(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.GetReference(ctx, f.String())
	if err == nil || !strings.Contains(err.Error(), "unknown TubID") {
		t.Fatalf("err = %v, want the server's unknown TubID", err)
	}
}
