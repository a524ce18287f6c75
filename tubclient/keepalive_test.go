package tubclient

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/memnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// pipePair starts a server and a client tub on an in-memory network and
// connects them; it must run inside a synctest bubble.
func pipePair(t *testing.T, serverCfg, clientCfg Config) (server, client *Tub, ref *RemoteReference) {
	t.Helper()
	var pn memnet.Network
	serverCfg.Location = []Hint{{Host: "server", Port: 1}}
	server, err := New(serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	if _, err := server.Serve(pn.Listen("server:1")); err != nil {
		t.Fatal(err)
	}
	furl, _ := server.Register("svc", echoService())
	clientCfg.Dial = pn.Dialer("client")
	client, err = New(clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ref, err = client.GetReference(context.Background(), furl)
	if err != nil {
		t.Fatal(err)
	}
	return server, client, ref
}

func eventsOf(sub *Subscription, kind snapshot.Kind) []snapshot.Event {
	var out []snapshot.Event
	for _, ev := range sub.Drain(0) {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func TestKeepalivePingsIdleBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, _, _ := pipePair(t, Config{KeepaliveTimeout: 10 * time.Second}, Config{KeepaliveTimeout: -1})
		sub := server.Subscribe(64)
		defer sub.Close()
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if b := server.Snapshot().Brokers[0]; b.PingsSent != 0 {
			t.Fatalf("PING before the keepalive: %+v", b)
		}
		time.Sleep(4 * time.Second) // past 10 s idle, plus a check interval
		synctest.Wait()
		for _, ev := range sub.Drain(0) {
			if ev.Kind == snapshot.KindBrokerSuspect {
				t.Fatalf("a peer that answers was marked suspect: %+v", ev)
			}
		}
		b := server.Snapshot().Brokers[0]
		if b.State != snapshot.Live || b.PingsSent != 1 || b.PongsReceived != 1 || b.PingsOutstanding != 0 {
			t.Fatalf("want one PING answered by a PONG, and the broker live: %+v", b)
		}
	})
}

func TestSilentPeerSuspectThenDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client, ref := pipePair(t,
			Config{KeepaliveTimeout: 10 * time.Second, DisconnectTimeout: 30 * time.Second}, Config{KeepaliveTimeout: -1})
		sub := server.Subscribe(256)
		defer sub.Close()
		// The client's socket goes dark: no bytes either way, no FIN.
		if err := client.BlackHoleBroker(ref.Broker().ID()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if s := eventsOf(sub, snapshot.KindBrokerSuspect); len(s) != 1 {
			t.Fatalf("want one suspect event after 15 s of silence, got %+v", s)
		}
		if b := server.Snapshot().Brokers[0]; b.State != snapshot.Suspect || b.PingsOutstanding == 0 {
			t.Fatalf("broker: %+v", b)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		d := eventsOf(sub, snapshot.KindBrokerDetached)
		if len(d) != 1 || !strings.Contains(d[0].Reason, "disconnect timeout") {
			t.Fatalf("want a disconnect-timeout detach, got %+v", d)
		}
		if n := len(server.Snapshot().Brokers); n != 0 {
			t.Fatalf("%d brokers left", n)
		}
	})
}
