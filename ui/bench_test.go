package ui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

func benchModel(b *testing.B, brokers, decisions int) Model {
	b.Helper()
	e := newFakeEngine(testSnapshot(brokers, decisions))
	m := New(e, Options{})
	m.now = t0
	next, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return next.(Model)
}

// BenchmarkAbsorbEvents is the event rate the model keeps up with when
// every batch of drainMax events costs one Update and one frame, with
// 1,000 brokers on screen. (The fake engine's Snapshot does not copy; a
// real engine's deep copy adds to this.)
func BenchmarkAbsorbEvents(b *testing.B) {
	m := benchModel(b, 1000, 1000)
	batch := eventsMsg{events: burst(drainMax)}
	b.ReportAllocs()
	for b.Loop() {
		next, _ := m.Update(batch)
		m = next.(Model)
		_ = m.View()
	}
	b.ReportMetric(float64(b.N*drainMax)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkViewFrame10k is one full frame with 10,000 brokers.
func BenchmarkViewFrame10k(b *testing.B) {
	m := benchModel(b, 10_000, 1000)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}
