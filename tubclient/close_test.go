package tubclient

import (
	"net"
	"testing"
	"testing/synctest"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// A writer waiting on a broker whose decision never completes (attached as
// the tub closed, so never started) is released by Close.
func TestCloseReleasesWritersOfUnstartedBroker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tub, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		c, peer := net.Pipe()
		defer peer.Close()
		b := tub.newBroker(wrapConn(c), snapshot.Client)
		got := make(chan error, 1)
		go func() { got <- b.awaitReady() }()
		synctest.Wait()
		select {
		case err := <-got:
			t.Fatalf("awaitReady returned %v before the broker was ready", err)
		default:
		}
		tub.Close()
		if err := <-got; err != ErrClosed {
			t.Fatalf("awaitReady after Close = %v, want ErrClosed", err)
		}
		b.closeConn()
	})
}
