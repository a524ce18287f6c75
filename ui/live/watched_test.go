package live

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/demo"
	"github.com/tubscope/tubscope/tubclient/flogapp"
	"github.com/tubscope/tubscope/tubclient/headless"
	"github.com/tubscope/tubscope/tubclient/logport"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/ui"
)

// node is a tub with a logport, its FURL in NODEDIR/private/logport.furl
// as a Tahoe-LAFS node keeps it.
type node struct {
	dir  string
	tub  *tubclient.Tub
	port *logport.Publisher
}

func startNode(t *testing.T, dir string) *node {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	tub, err := tubclient.New(tubclient.Config{KeyFile: filepath.Join(dir, "node.pem")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tub.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p, err := logport.NewPublisher(tub, logport.PublisherOptions{FURLFile: filepath.Join(dir, "private", "logport.furl")})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dir: dir, tub: tub, port: p}
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	n.port.Close()
	n.tub.Close()
}

// The inspector with a watched node beside the inspected tub: the fleet
// line names both, the watched one is switched to with ], its header
// names it, connection actions on it say why they do not apply, and
// when the node goes away its status says the logport is being retried.
func TestWatchedSourceInTheInspector(t *testing.T) {
	ctx := testCtx(t)
	dir := filepath.Join(t.TempDir(), "storage1")
	n := startNode(t, dir)
	tub, err := NewInspectTub(InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tub.Close()
	watched, stop, err := watchAll(ctx, []string{dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	d := drive(t, append([]ui.Engine{NewEngine(tub)}, watched...), ui.Options{})

	fleet := regexp.MustCompile(`1 tubscope: 0 peers · 0 rej/min │ 2 storage1: 0 peers · 0 rej/min`)
	d.await(ctx, "the fleet line naming both tubs, the watched one connected", fleet.MatchString)
	d.press("]")
	d.awaitText(ctx, "[storage1]")
	d.press("R")
	d.awaitText(ctx, "restart does not apply here: "+flogapp.WatchedReadOnly)
	d.press("p")
	d.awaitText(ctx, "cycle-policy does not apply here: "+flogapp.WatchedReadOnly)

	n.stop()
	frame := d.await(ctx, "the lost logport retried", func(f string) bool {
		return strings.Contains(f, "2 storage1: 0 peers · 0 rej/min · logport lost") && strings.Contains(f, "retrying in")
	})
	if !strings.Contains(frame, "storage1: logport lost") {
		t.Errorf("the status line does not tell the loss:\n%s", frame)
	}
	// Back on the inspected tub, actions apply again.
	d.press("[")
	d.press("p")
	d.awaitText(ctx, "policy → ")
}

// A target that names nothing is refused before the screen opens.
func TestInspectRefusesABadLogportTarget(t *testing.T) {
	dir := t.TempDir()
	for _, target := range []string{filepath.Join(dir, "missing"), dir, "pb://nonsense"} {
		if _, _, err := watchAll(testCtx(t), []string{target}, ""); err == nil || !strings.HasPrefix(err.Error(), "--logport: ") {
			t.Errorf("watchAll(%q) = %v", target, err)
		}
	}
	if err := (&WatchedEngine{}).Do(ui.Action{Kind: ui.ActDrop}); err == nil || !strings.Contains(err.Error(), flogapp.WatchedReadOnly) {
		t.Errorf("a watched engine's Do: %v", err)
	}
}

// A real Foolscap node watched through its node directory: the verdict
// it gave a duplicate offer shows in the watched tub's decision log.
func TestWatchedFoolscapNodeInTheInspector(t *testing.T) {
	ctx := testCtx(t)
	dir := filepath.Join(t.TempDir(), "introducer")
	_, client, nodeID := foolscapNode(t, ctx, dir)
	watched, stop, err := watchAll(ctx, []string{dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	d := drive(t, watched, ui.Options{})
	client.send(ctx, "connect", "accepted")
	client.send(ctx, "forget", "rejected")
	frame := d.awaitText(ctx, "ACCEPT", "no-existing", "REJECT", "never-decided")
	if !strings.Contains(frame, "tub "+nodeID[:8]) {
		t.Errorf("the header does not name the deciding tub %s:\n%s", nodeID[:8], frame)
	}
}

// The demo's queen publishes its logport when asked: another tubscope
// watching it sees the queen's events (its own, not Foolscap's, so none
// is reconstructed into a decision) and reads it as connected.
func TestDemoQueenLogport(t *testing.T) {
	ctx := testCtx(t)
	d, _ := startDemo(t, ctx, demo.Options{Clients: 1})
	dir := filepath.Join(t.TempDir(), "queen")
	os.MkdirAll(dir, 0o700)
	lp, err := startLogport(d.Queen(), headless.LogportOptions{FURLFile: filepath.Join(dir, "logport.furl")})
	if err != nil {
		t.Fatal(err)
	}
	defer lp.close()
	watched, stop, err := watchAll(ctx, []string{dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	e := watched[0]
	f := subscribe(t, e)
	waitSnap(t, ctx, e, f, "the queen's logport connected", func(s snapshot.Snapshot) bool {
		return s.Source.Status == "" && s.Source.Name == "queen"
	})
	if lp.l.Subscribers() != 1 {
		t.Errorf("%d subscribers to the queen's logport", lp.l.Subscribers())
	}
}
