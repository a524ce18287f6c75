package tubclient

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The client's offer decides the group, any two settings agree on one, and
// the broker records it.
func TestKeyExchangeIsNegotiatedAndShown(t *testing.T) {
	for _, c := range []struct {
		server, client KeyExchange
		want           string
	}{
		{"", "", "TLS 1.3 X25519MLKEM768"},
		{"", KexP256, "TLS 1.3 CurveP256"},
		// The server takes the X25519 share the hybrid client sent.
		{KexP256, "", "TLS 1.3 X25519"},
		{KexP256, KexX25519, "TLS 1.3 X25519"},
		{KexX25519, KexP256, "TLS 1.3 CurveP256"},
	} {
		t.Run(string(c.server)+"-"+string(c.client), func(t *testing.T) {
			server := newTestTub(t, Config{KeyExchange: c.server})
			furl, err := server.Register("svc", echoService())
			if err != nil {
				t.Fatal(err)
			}
			client := newTestTub(t, Config{KeyExchange: c.client})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ref, err := client.GetReference(ctx, furl)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ref.Call(ctx, "ping"); err != nil {
				t.Fatal(err)
			}
			for _, tub := range []*Tub{client, server} {
				bs := tub.Snapshot().Brokers
				if len(bs) != 1 || bs[0].TLS != c.want {
					t.Errorf("brokers %+v, want one with TLS %q", bs, c.want)
				}
			}
		})
	}
}

func TestUnknownKeyExchangeIsRefused(t *testing.T) {
	_, err := New(Config{KeyExchange: "rot13"})
	if err == nil || !strings.Contains(err.Error(), `unknown key exchange "rot13"`) {
		t.Fatalf("New with a bad key exchange: %v", err)
	}
}
