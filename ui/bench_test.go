package ui

import (
	"slices"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

func benchModel(b *testing.B, e *fakeEngine) Model {
	b.Helper()
	m := newModel([]Engine{e}, Options{}, utf8Env)
	m.now = t0
	next, _ := m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	return next.(Model)
}

// BenchmarkTick10kSameVersion is the UI's per-tick cost with 10,000
// peers when nothing changed: load the snapshot pointer, find the
// version unchanged, render the visible window.
func BenchmarkTick10kSameVersion(b *testing.B) {
	e := newFakeEngine(testSnapshot(10_000, 1000))
	m := benchModel(b, e)
	b.ReportAllocs()
	cpuPerOp(b, func() {
		next, _ := m.Update(tickMsg(t0))
		m = next.(Model)
		_ = m.View()
	})
}

// BenchmarkTick10kNewVersion is the same with a new snapshot version
// every tick (a storm): the rows are regrouped and re-sorted once, the
// log refolded, then the window rendered.
func BenchmarkTick10kNewVersion(b *testing.B) {
	e := newFakeEngine(testSnapshot(10_000, 1000))
	m := benchModel(b, e)
	snaps := []*snapshot.Snapshot{clone(e.current()), clone(e.current())}
	b.ReportAllocs()
	i := 0
	cpuPerOp(b, func() {
		e.publish(snaps[i%2])
		i++
		next, _ := m.Update(tickMsg(t0))
		m = next.(Model)
		_ = m.View()
	})
}

// stormSnapshot is a 64-client storm in progress: every peer reconnects,
// the log fills with alike decisions, some peers are locked out.
func stormSnapshot(peers, decisions int) *snapshot.Snapshot {
	s := testSnapshot(peers, 0)
	for i := range s.Peers {
		if i%5 == 0 {
			s.Peers[i].State, s.Peers[i].BrokerID = snapshot.PeerLockedOut, 0
			s.Peers[i].LockedOutSince, s.Peers[i].NextAttempt = t0.Add(-time.Duration(i)*time.Second), t0.Add(time.Second)
			s.Peers[i].LastError = "the master refused our offer: Duplicate connection"
		}
	}
	for i := range decisions {
		p := s.Peers[i%len(s.Peers)]
		s.Decisions = append(s.Decisions, snapshot.Decision{Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond),
			PeerTubID: p.TubID, Role: snapshot.Master, Accept: i%7 != 0, Rule: "new-incarnation", Detail: "the peer restarted"})
	}
	s.DecisionsTotal = uint64(decisions)
	s.Activity.Bucket = time.Second
	s.Activity.Offers = make([]int, 300)
	s.Activity.Rejects = make([]int, 300)
	for i := range 300 {
		s.Activity.Offers[i], s.Activity.Rejects[i] = (i*37)%64, (i*11)%20
	}
	return s
}

// keyLatency measures Update+View for each key of a sequence while the
// engine publishes a new snapshot between keys, and reports p50 and p99.
func keyLatency(b *testing.B, s *snapshot.Snapshot) {
	e := newFakeEngine(s)
	m := benchModel(b, e)
	snaps := []*snapshot.Snapshot{clone(s), clone(s)}
	keys := []tea.KeyMsg{keyMsg("j"), keyMsg("j"), keyMsg("k"), keyMsg("tab"), keyMsg("k"), keyMsg("tab"), keyMsg("tab"), keyMsg("o")}
	defer lockThread()()
	var lat, cpu []time.Duration
	i := 0
	for b.Loop() {
		if i%4 == 0 {
			// The storm goes on: a new version arrives with a batch.
			e.publish(snaps[i/4%2])
			next, _ := m.Update(eventsMsg{events: burst(8)})
			m = next.(Model)
		}
		k := keys[i%len(keys)]
		i++
		start, startCPU := time.Now(), threadCPU()
		next, _ := m.Update(k)
		m = next.(Model)
		_ = m.View()
		lat = append(lat, time.Since(start))
		cpu = append(cpu, threadCPU()-startCPU)
	}
	slices.Sort(lat)
	slices.Sort(cpu)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	if haveThreadCPU {
		b.ReportMetric(float64(cpu[len(cpu)/2].Microseconds()), "p50-cpu-µs")
		b.ReportMetric(float64(cpu[len(cpu)*99/100].Microseconds()), "p99-cpu-µs")
	}
}

// BenchmarkKeyLatencyStorm64 is key latency during a 64-client storm.
func BenchmarkKeyLatencyStorm64(b *testing.B) { keyLatency(b, stormSnapshot(61, 1000)) }

// BenchmarkKeyLatency10k is key latency with a 10,000-row table.
func BenchmarkKeyLatency10k(b *testing.B) { keyLatency(b, stormSnapshot(10_000, 1000)) }

// cpuPerOp reports the thread CPU time per iteration beside ns/op.
func cpuPerOp(b *testing.B, body func()) {
	defer lockThread()()
	start := threadCPU()
	n := 0
	for b.Loop() {
		body()
		n++
	}
	if haveThreadCPU && n > 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
	}
}
