package live

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tubscope/tubscope/tubclient/flog/replay"
	"github.com/tubscope/tubscope/ui"
)

// foolscapLogs has a real Foolscap node decide five offers (two of them
// rejected, the last weird enough to file an incident) and returns its
// FLOGFILE and the incident file, both complete.
func foolscapLogs(t *testing.T, ctx context.Context) (flogfile, incident string) {
	t.Helper()
	dir := t.TempDir()
	flogfile = filepath.Join(dir, "node.flog")
	node, client, _ := foolscapNode(t, ctx, dir, "FLOGFILE="+flogfile, "FLOGLEVEL=10")
	for _, step := range []struct{ cmd, answer string }{
		{"connect", "accepted"}, {"forget", "rejected"}, {"reconnect", "accepted"}, {"stale", "rejected"}, {"future", "rejected"},
	} {
		client.send(ctx, step.cmd, step.answer)
	}
	// Noise closes the incident's trailing window at once.
	node.send(ctx, "noise 120", "ok")
	for incident == "" {
		files, _ := node.send(ctx, "incidents", "ok")["files"].([]any)
		if len(files) > 0 {
			incident = files[0].(string)
		}
	}
	client.send(ctx, "quit", "ok")
	node.send(ctx, "quit", "ok")
	<-node.done // FLOGFILE is complete once the node has exited
	return flogfile, incident
}

var cursor = regexp.MustCompile(`replay (\d\d:\d\d:\d\d\.\d\d\d)(?: \d+%)? · (\d+)/\d+ events`)

// The replay keys move the cursor: . steps to the next decision and
// pauses, > plays and pauses, - and + halve and double the speed, ! jumps to an
// incident's trigger (and says so when there is none); connection
// actions say there is nothing live to act on.
func TestReplayInTheInspector(t *testing.T) {
	ctx := testCtx(t)
	flogfile, incident := foolscapLogs(t, ctx)

	p, err := replay.Open([]string{flogfile}, replay.Options{Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := drive(t, []ui.Engine{NewReplayEngine(p)}, ui.Options{})
	frame := d.awaitText(ctx, "‖ REPLAY")
	start := cursor.FindStringSubmatch(frame)
	if start == nil || start[2] != "0" {
		t.Fatalf("the cursor at the start: %q\n%s", start, frame)
	}
	d.press(".")
	frame = d.awaitText(ctx, "no-existing")
	first := cursor.FindStringSubmatch(frame)
	if first == nil || first[2] == "0" || strings.Contains(frame, "never-decided") {
		t.Fatalf("after one step, the cursor %q and the log:\n%s", first, frame)
	}
	d.press(".")
	frame = d.awaitText(ctx, "never-decided")
	if second := cursor.FindStringSubmatch(frame); second == nil || second[1] <= first[1] && second[2] == first[2] {
		t.Errorf("the second step did not move the cursor: %q after %q", second, first)
	}
	// The whole log lasts some 60 ms: it plays for seconds at the
	// slowest speed, 1/64.
	d.press("-", "-", "-", "-", "-", "-", ">")
	d.awaitText(ctx, "▶ REPLAY ×0.015625")
	d.press("+")
	d.awaitText(ctx, "▶ REPLAY ×0.03125")
	d.press(">")
	d.awaitText(ctx, "‖ REPLAY")
	d.press("!")
	d.awaitText(ctx, "replay jump to the trigger failed: "+replay.ErrNoTrigger.Error())
	d.press("R")
	d.awaitText(ctx, "restart does not apply here: a replay of saved logs")

	q, err := replay.Open([]string{incident}, replay.Options{Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	d = drive(t, []ui.Engine{NewReplayEngine(q)}, ui.Options{})
	d.awaitText(ctx, "· trigger in ")
	d.press("!")
	d.awaitText(ctx, "· at the trigger", "newer-seqnum")
}
