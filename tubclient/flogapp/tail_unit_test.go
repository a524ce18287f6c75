package flogapp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/logport"
	"github.com/tubscope/tubscope/tubclient/service"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Tail in process against tubscope's own logport: the JSON header first,
// every raw event with --all, the saved file readable with its header,
// and a clean return once ctx ends.
func TestTailSavesAndStops(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	node, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	if _, err := node.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p, err := logport.NewPublisher(node, logport.PublisherOptions{Versions: map[string]string{"tubscope": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	svc, err := node.Register("svc", service.Builtin())
	if err != nil {
		t.Fatal(err)
	}

	saved := filepath.Join(t.TempDir(), "tail.flog")
	tctx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	var errw strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- Tail(tctx, TailOptions{Target: p.FURL(), JSON: true, All: true, SaveTo: saved}, pw, &errw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("tail printed nothing")
	}
	var h tailHeader
	if err := json.Unmarshal(lines.Bytes(), &h); err != nil || h.Header.Type != "tail" || h.Header.Versions["tubscope"] != "test" ||
		h.Header.TubID != node.TubID() || h.Header.PID == 0 {
		t.Fatalf("header %s: %v", lines.Text(), err)
	}

	client, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ref, err := client.GetReference(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Call(ctx, "echo", "x"); err != nil {
		t.Fatal(err)
	}
	for {
		if !lines.Scan() {
			t.Fatalf("tail ended before the call showed: %v", lines.Err())
		}
		var raw rawEvent
		if err := json.Unmarshal(lines.Bytes(), &raw); err != nil {
			t.Fatalf("%s: %v", lines.Text(), err)
		}
		if raw.Kind == "flog" && strings.HasPrefix(raw.Text, "call echo from ") {
			break
		}
	}
	stop()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatalf("tail returned %v (stderr %q)", err, errw.String())
	}

	r, err := flog.Open(saved)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if hd := r.Header(); hd == nil || hd.Type != flog.HeaderTail || hd.PID == 0 {
		t.Fatalf("saved header %+v", r.Header())
	}
	calls := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.From != node.TubID()[:8] {
			t.Errorf("saved from %q, want the publisher's tubid prefix", rec.From)
		}
		if strings.HasPrefix(rec.Event.Text(), "call echo from ") {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("the saved file holds %d echo calls, want 1", calls)
	}
}

// A logport that goes away ends tail with an error that says so.
func TestTailReportsALostLogport(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	node, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p, err := logport.NewPublisher(node, logport.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Tail(ctx, TailOptions{Target: p.FURL()}, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "tubscope tail: connected to the logport of tub "+node.TubID()[:8]) {
		t.Fatalf("first line %q", lines.Text())
	}
	go io.Copy(io.Discard, pr)
	p.Close()
	node.Close()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "the connection to the logport was lost") {
		t.Errorf("tail after the node went away: %v", err)
	}
	if err := Tail(ctx, TailOptions{Target: filepath.Join(t.TempDir(), "nowhere")}, io.Discard, io.Discard); err == nil {
		t.Error("tail of a target that does not exist succeeded")
	}
}

// Line words each kind of reconstructed event as the decision log does.
func TestLine(t *testing.T) {
	no, yes := false, true
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	tub, peer := "vzf5jlyopwivrtqpbxv6cjrmuwzyuwg4", "smvn653h7mwgzsfxnxvqhcehecednna2"
	for _, c := range []struct {
		ev   snapshot.Event
		want string
	}{
		{snapshot.Event{Time: at, Kind: snapshot.KindVerdict, TubID: tub, PeerTubID: peer, Role: snapshot.Master,
			Incarnation: "5b018f47ce1b572e", LastConnection: "dd822cab2a2da5f6 1", Accept: &no, Rule: "older-seqnum",
			Detail: "offer seqnum 1 is older than the broker's 2"},
			"03:04:05.006 [vzf5jlyo] smvn653h master inc 5b018f47 last dd822cab 1        ✗ REJECT older-seqnum: offer seqnum 1 is older than the broker's 2"},
		{snapshot.Event{Time: at, Kind: snapshot.KindDecisionReceived, TubID: peer, PeerTubID: tub, Role: snapshot.Slave,
			Incarnation: "5b018f47ce1b572e", Accept: &yes, Rule: "master-accepted"},
			"03:04:05.006 [smvn653h] vzf5jlyo slave  inc 5b018f47 last -                 ✓ ACCEPT master-accepted"},
		{snapshot.Event{Time: at, Kind: snapshot.KindBrokerAttached, TubID: tub, PeerTubID: peer, BrokerID: 3, Role: snapshot.Master,
			Current: "dd822cab2a2da5f6 2"},
			"03:04:05.006 [vzf5jlyo] smvn653h attached connection #3 as master (current-connection dd822cab 2)"},
		{snapshot.Event{Time: at, Kind: snapshot.KindBrokerDetached, TubID: tub, PeerTubID: peer, BrokerID: 2,
			Close: snapshot.CloseReplaced, Reason: "replaced by a new connection"},
			"03:04:05.006 [vzf5jlyo] smvn653h replaced connection #2: replaced by a new connection"},
		{snapshot.Event{Time: at, Kind: snapshot.KindBrokerDetached, TubID: tub, PeerTubID: peer, BrokerID: 3,
			Close: snapshot.ClosePeerClosed},
			"03:04:05.006 [vzf5jlyo] smvn653h lost connection #3 (peer-closed)"},
		{snapshot.Event{Time: at, Kind: snapshot.KindNegotiationFailed, TubID: tub, Err: "timeout"},
			"03:04:05.006 [vzf5jlyo] - negotiation failed: timeout"},
	} {
		if got, ok := Line(&c.ev); !ok || got != c.want {
			t.Errorf("Line(%s) =\n %q, want\n %q", c.ev.Kind, got, c.want)
		}
	}
	for _, k := range []snapshot.Kind{snapshot.KindOfferReceived, snapshot.KindDecisionSent, snapshot.KindPeerEvicted} {
		if _, ok := Line(&snapshot.Event{Kind: k}); ok {
			t.Errorf("Line(%s) printed a line: it restates a decision", k)
		}
	}
}
