package headless

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/logport"
)

// notes collects what StartLogport tells the operator.
type notes struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newNotes() *notes { return &notes{added: make(chan struct{}, 64)} }

func (n *notes) note(s string) {
	n.mu.Lock()
	n.lines = append(n.lines, s)
	n.mu.Unlock()
	n.added <- struct{}{}
}

// await waits for a note containing want.
func (n *notes) await(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	for {
		n.mu.Lock()
		for _, l := range n.lines {
			if strings.Contains(l, want) {
				n.mu.Unlock()
				return
			}
		}
		got := strings.Join(n.lines, "\n")
		n.mu.Unlock()
		select {
		case <-n.added:
		case <-ctx.Done():
			t.Fatalf("no note with %q; notes:\n%s", want, got)
		}
	}
}

func listeningTub(t *testing.T) *tubclient.Tub {
	t.Helper()
	tub, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tub.Close() })
	if _, err := tub.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return tub
}

// Without either option there is no logport; with a FURL file it is
// published, said, and subscribable; a tub that does not listen cannot
// publish one a FURL would reach.
func TestStartLogport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := newNotes()
	tub := listeningTub(t)
	if l, err := StartLogport(tub, LogportOptions{}, n.note); l != nil || err != nil {
		t.Fatalf("no options: %v, %v", l, err)
	}
	furlfile := filepath.Join(t.TempDir(), "logport.furl")
	l, err := StartLogport(tub, LogportOptions{FURLFile: furlfile}, n.note)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n.await(t, ctx, "logport "+l.FURL()+" (written to "+furlfile+")")
	if data, err := os.ReadFile(furlfile); err != nil || strings.TrimSpace(string(data)) != l.FURL() {
		t.Fatalf("FURL file %q, %v", data, err)
	}
	client := listeningTub(t)
	sub, err := logport.Subscribe(ctx, client, l.FURL(), logport.SubscribeOptions{}, func(logport.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Versions["tubscope"] == "" || sub.Versions["go"] == "" {
		t.Errorf("versions %v", sub.Versions)
	}

	quiet, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	if _, err := StartLogport(quiet, LogportOptions{FURLFile: furlfile}, n.note); err == nil || !strings.Contains(err.Error(), "does not listen") {
		t.Errorf("a logport FURL file for a tub that does not listen: %v", err)
	}
	if _, err := StartLogport(tub, LogportOptions{Gatherer: "http://gatherer"}, n.note); err == nil || !strings.HasPrefix(err.Error(), "--log-gatherer: ") {
		t.Errorf("a gatherer that is no FURL: %v", err)
	}
}

// A gatherer out of reach is retried, and each failure says when the
// next attempt comes; Close stops the retrying at once.
func TestStartLogportRetriesTheGatherer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	id, err := tubclient.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	gatherer := "pb://" + id.TubID + "@tcp:" + addr + "/gatherer"
	n := newNotes()
	l, err := StartLogport(listeningTub(t), LogportOptions{Gatherer: gatherer}, n.note)
	if err != nil {
		t.Fatal(err)
	}
	n.await(t, ctx, "log gatherer "+gatherer+": ")
	n.await(t, ctx, "retrying in 1s")
	done := make(chan struct{})
	go func() {
		l.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close waited out the gatherer's backoff")
	}
}
