package flogapp

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
)

// BenchmarkTailFoolscapPublisher runs `tubscope tail --all --json` on a
// real Foolscap logport that publishes as fast as Foolscap can without
// dropping (chatter.py holds back while its queue for the subscriber is
// over half full). One op is one event, logged by Foolscap and printed by
// tail; every one must arrive, in order. events/s is the rate sustained
// end to end, which Foolscap's ten calls in flight bound.
func BenchmarkTailFoolscapPublisher(b *testing.B) {
	ctx := testCtx(b, 10*time.Minute)
	dir := b.TempDir()
	chatter := python(b, dir, nil, "chatter.py", "--logport-furlfile", filepath.Join(dir, "logport.furl"))
	ready := chatter.event(ctx, "ready")
	tail := startProc(b, dir, nil, tubscopebin.Path(b), "tail", "--all", "--json", ready["logport_furl"].(string))
	tail.expect(ctx, `{"header"`)
	b.ResetTimer()
	start := time.Now()
	chatter.send(fmt.Sprintf("burst %d", b.N))
	for want := 0; want < b.N; want++ {
		var ev rawEvent
		if err := json.Unmarshal([]byte(tail.expect(ctx, `"facility":"flogapp.chatter"`)), &ev); err != nil {
			b.Fatal(err)
		}
		if ev.Text != fmt.Sprintf("chatter %d", want) {
			b.Fatalf("event %q where chatter %d was due: events were lost", ev.Text, want)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sent := chatter.event(ctx, "sent")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/sent["seconds"].(float64), "logged/s")
	if err := tail.interrupt(ctx); err != nil || strings.Contains(tail.stderrText(), "dropped") {
		b.Errorf("tail: %v %s", err, tail.stderrText())
	}
}
