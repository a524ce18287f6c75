package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEndInspectLogportInTmux runs `tubscope inspect --logport
// NODEDIR` in a real terminal against a real Foolscap node: the watched
// node is on the fleet line, its decision on a duplicate offer shows once
// switched to, and when the node dies its status says the logport is
// being retried.
func TestEndToEndInspectLogportInTmux(t *testing.T) {
	requireTmux(t)
	requireFoolscap(t)
	deadline := time.Now().Add(90 * time.Second)
	ctx := testCtx(t)
	dir := filepath.Join(t.TempDir(), "introducer")
	node, client, nodeID := foolscapNode(t, ctx, dir)
	s := startTubscope(t, 160, 48, "inspect --logport "+dir+" --export-dir "+t.TempDir())
	s.await(deadline, "the watched node on the fleet line", func(screen string) bool {
		return strings.Contains(screen, "2 introducer: 0 peers")
	})
	client.send(ctx, "connect", "accepted")
	client.send(ctx, "forget", "rejected")
	s.send("]")
	screen := s.await(deadline, "the node's verdicts", func(screen string) bool {
		return strings.Contains(screen, "[introducer]") && strings.Contains(screen, "REJECT  never-decided")
	})
	if !strings.Contains(screen, "tub "+nodeID[:8]) {
		t.Errorf("the header does not name the node's tub %s:\n%s", nodeID[:8], screen)
	}
	s.send("x") // the client's connection is selected
	s.await(deadline, "the drop refused", func(screen string) bool {
		return strings.Contains(screen, "drop does not apply here: a watched tub: tubscope only reads its log")
	})
	node.kill()
	s.await(deadline, "the lost logport retried", func(screen string) bool {
		return strings.Contains(screen, "logport lost") && strings.Contains(screen, "retrying in")
	})
	s.quit(deadline)
}

// TestEndToEndReplayInTmux replays a file a real Foolscap node wrote, at
// the slowest speed: . pauses and steps the cursor from one decision to
// the next.
func TestEndToEndReplayInTmux(t *testing.T) {
	requireTmux(t)
	requireFoolscap(t)
	deadline := time.Now().Add(90 * time.Second)
	flogfile, _ := foolscapLogs(t, testCtx(t))
	s := startTubscope(t, 160, 48, "replay --speed 0.015625 --export-dir "+t.TempDir()+" "+flogfile)
	s.await(deadline, "the replay playing", func(screen string) bool {
		return strings.Contains(screen, "▶ REPLAY ×0.015625")
	})
	var at []string
	for _, rule := range []string{"no-existing", "never-decided"} {
		s.send(".")
		screen := s.await(deadline, "a step to "+rule, func(screen string) bool {
			return strings.Contains(screen, "‖ REPLAY") && strings.Contains(screen, rule) && cursor.MatchString(screen)
		})
		at = append(at, cursor.FindStringSubmatch(screen)[1])
	}
	if at[1] <= at[0] {
		t.Errorf("the second step left the cursor at %s, after %s", at[1], at[0])
	}
	s.quit(deadline)
}
