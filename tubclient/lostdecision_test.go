package tubclient

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/internal/memnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// A slave that loses the decision on arrival waits out its negotiation
// timeout and says so; the master, told nothing, keeps its broker live.
// Closing the slave mid-wait does not wait for the deadline.
func TestLostOnArrival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network
		server, err := New(Config{Location: []Hint{{Host: "server", Port: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		if _, err := server.Serve(pn.Listen("server:1")); err != nil {
			t.Fatal(err)
		}
		furl, _ := server.Register("svc", echoService())
		id, err := IdentityWhere(func(id string) bool { return negotiation.IsMaster(server.TubID(), id) })
		if err != nil {
			t.Fatal(err)
		}
		const timeout = 30 * time.Second
		client, err := New(Config{Identity: id, Dial: pn.Dialer("client"), NegotiationTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		sub := client.Subscribe(256)
		defer sub.Close()
		if err := client.LoseNextDecision(server.TubID()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = client.GetReference(context.Background(), furl)
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("GetReference = %v, want a negotiation timeout", err)
		}
		if waited := time.Since(start); waited != timeout {
			t.Errorf("gave up after %s, want the negotiation timeout %s", waited, timeout)
		}
		synctest.Wait()
		if faults := eventsOf(sub, snapshot.KindFault); len(faults) != 2 || !strings.Contains(faults[1].Message, "decision lost") {
			t.Errorf("fault events %+v, want the arming and the loss", faults)
		}
		if ds := client.Snapshot().Decisions; len(ds) != 1 || ds[0].Rule != string(negotiation.RuleDecisionLost) || ds[0].Current == "" {
			t.Errorf("slave's decision log %+v, want one decision-lost row naming the connection", ds)
		}
		if bs := server.Snapshot().Brokers; len(bs) != 1 || bs[0].State != snapshot.Live {
			t.Fatalf("master's brokers %+v, want the dead connection still live", bs)
		}

		// Again, once the master has let the dead broker go, and close the
		// client while it waits.
		if err := server.DropBroker(server.Snapshot().Brokers[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := client.LoseNextDecision(""); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := client.GetReference(context.Background(), furl)
			done <- err
		}()
		synctest.Wait()
		if faults := eventsOf(sub, snapshot.KindFault); len(faults) != 2 || !strings.Contains(faults[1].Message, "decision lost") {
			t.Fatalf("fault events %+v, want the second arming and loss", faults)
		}
		start = time.Now()
		client.Close()
		if err := <-done; err == nil {
			t.Error("GetReference succeeded on a closed tub")
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("the lost attempt outlived Close by %s, waiting for its deadline", took)
		}
	})
}
