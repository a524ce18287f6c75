package tubclient

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/memnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// The reconnector backs off like Foolscap's: ×e per failure up to the cap,
// and the next attempt's time is visible in snapshots and events.
func TestReconnectorBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network // nothing listens: every dial is refused
		client, err := New(Config{Dial: pn.Dialer("client"), Backoff: Backoff{Jitter: -1, Max: 10 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		sub := client.Subscribe(64)
		defer sub.Close()
		target, _ := NewIdentity()
		start := time.Now()
		r, err := client.ConnectTo(FURL{TubID: target.TubID, Hints: []Hint{{Host: "nowhere", Port: 1}}, Swissnum: "x"}.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Stop()
		e := math.E
		want := []time.Duration{time.Second, time.Duration(e * float64(time.Second)),
			time.Duration(e * e * float64(time.Second)), 10 * time.Second, 10 * time.Second}
		for i, d := range want {
			synctest.Wait()
			evs := eventsOf(sub, snapshot.KindReconnectScheduled)
			if len(evs) != 1 {
				t.Fatalf("attempt %d: %d reconnect-scheduled events", i, len(evs))
			}
			ev := evs[0]
			if diff := ev.Delay - d; diff < -time.Millisecond || diff > time.Millisecond {
				t.Fatalf("attempt %d: delay %v, want %v", i, ev.Delay, d)
			}
			if ev.Err == "" {
				t.Fatalf("attempt %d: the event does not say why it failed", i)
			}
			var rec *snapshot.Reconnector
			for _, p := range client.Snapshot().Peers {
				if p.TubID == target.TubID {
					rec = p.Reconnector
				}
			}
			if rec == nil || rec.State != snapshot.Waiting || !rec.NextAttempt.Equal(ev.At) || rec.Attempts != i+1 {
				t.Fatalf("attempt %d: snapshot reconnector %+v, event %+v", i, rec, ev)
			}
			time.Sleep(time.Until(ev.At))
		}
		if elapsed := time.Since(start); elapsed < 25*time.Second {
			t.Fatalf("five attempts took %v", elapsed)
		}
	})
}

func TestJitterSpread(t *testing.T) {
	const n = 2000
	var sum, sq float64
	for i := 0; i < n; i++ {
		d := jitter(time.Second, 0.11962656472).Seconds()
		sum += d
		sq += d * d
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean-1) > 0.02 || math.Abs(sd-0.1196) > 0.02 {
		t.Fatalf("jitter mean %.3f sd %.3f, want about 1 and 0.12", mean, sd)
	}
}
