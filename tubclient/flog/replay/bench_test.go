package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/internal/flogtest"
	"github.com/tubscope/tubscope/tubclient/flog/reconstruct"
)

// benchFile writes size bytes generated from the master log to a file.
func benchFile(b *testing.B, size int64) (path string, events int64) {
	b.Helper()
	m, _ := runs.Get(b)
	header, template := readEvents(b, m.FlogFile)
	gen := newGenerator(b, header, template, m.Client, size)
	path = filepath.Join(b.TempDir(), "bench.flog")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, gen); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, gen.events
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplay is headless replay (WriteJSON) of a 32 MB file made of
// real Foolscap negotiation logs.
func BenchmarkReplay(b *testing.B) {
	path, events := benchFile(b, 32<<20)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if err := WriteJSON(context.Background(), []string{path}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(events)/float64(b.N), "cpu-ns/event")
}

// BenchmarkReplayVsFlogtoolDump replays a 32 MB file and has flogtool
// dump (which renders every event) print the same file, and reports
// both rates and their ratio, in wall time and in CPU time. The machine
// may be shared, so CPU time is the steadier figure. "render" is this
// package's own dump-like pass: read, Text() every event, print a line.
func BenchmarkReplayVsFlogtoolDump(b *testing.B) {
	flogtest.Require(b)
	path, events := benchFile(b, 32<<20)
	ctx := context.Background()

	dump := func(file string) (wall, cpu time.Duration) {
		cmd := exec.CommandContext(ctx, flogtest.Flogtool, "dump", file)
		cmd.Stdout = io.Discard
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("flogtool dump: %v", err)
		}
		return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	dumpWall, dumpCPU := dump(path)
	// Python and Twisted take a while to start: time dump on a file of
	// one event too, to tell the per-event rate from the start-up.
	one := filepath.Join(b.TempDir(), "one.flog")
	m, _ := runs.Get(b)
	h, evs := readEvents(b, m.FlogFile)
	f, _ := os.Create(one)
	w, _ := flog.NewWriter(f, h.Type, h.Fields)
	w.Write("local", evs[0].Seconds(), evs[0])
	w.Flush()
	f.Close()
	startWall, startCPU := dump(one)

	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if err := WriteJSON(ctx, []string{path}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	replayWall := b.Elapsed() / time.Duration(b.N)
	replayCPU := (cpuTime() - cpu0) / time.Duration(b.N)
	b.StopTimer()

	cpu1 := cpuTime()
	start := time.Now()
	rendered := renderAll(b, path)
	renderWall, renderCPU := time.Since(start), cpuTime()-cpu1
	if rendered != events {
		b.Fatalf("rendered %d events of %d", rendered, events)
	}

	rate := func(d time.Duration) float64 { return float64(events) / d.Seconds() }
	b.ReportMetric(rate(replayWall), "replay-events/s")
	b.ReportMetric(rate(dumpWall), "flogtool-events/s")
	b.ReportMetric(dumpWall.Seconds()/replayWall.Seconds(), "x-wall")
	b.ReportMetric(dumpCPU.Seconds()/replayCPU.Seconds(), "x-cpu")
	b.ReportMetric(dumpCPU.Seconds()/renderCPU.Seconds(), "x-cpu-render")
	b.ReportMetric((dumpWall-startWall).Seconds()/replayWall.Seconds(), "x-wall-after-startup")
	b.Logf("%d events: replay %v wall %v cpu; flogtool dump %v wall %v cpu (start-up alone %v wall %v cpu); render %v wall %v cpu",
		events, replayWall, replayCPU, dumpWall, dumpCPU, startWall, startCPU, renderWall, renderCPU)
}

// renderAll reads a file and renders every event as flogtool dump does.
func renderAll(b *testing.B, path string) int64 {
	r, err := flog.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var n int64
	line := make([]byte, 0, 512)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		ev := rec.Event
		line = append(line[:0], rec.From...)
		line = append(line, '#')
		line = strconv.AppendInt(line, ev.Num(), 10)
		line = append(line, ' ')
		line = ev.Time().AppendFormat(line, "15:04:05.000")
		line = append(line, ": "...)
		line = append(line, ev.Text()...)
		io.Discard.Write(line)
		n++
	}
}

// BenchmarkReplay1GB streams a 1 GB generated file through the replay,
// never storing it, and reports the peak heap: with the default caps
// (the file brings a new peer every 130 kB, so 10000 peers are held by
// the end) and with a 200-peer cap.
func BenchmarkReplay1GB(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts reconstruct.Options
	}{{"default-caps", reconstruct.Options{}}, {"200-peers", reconstruct.Options{MaxPeers: 200}}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				events, peak, took := replayGenerated(b, 1<<30, tc.opts)
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(events)/took.Seconds(), "events/s")
				b.Logf("1 GB: %d events in %v, peak heap %s", events, took, fmt.Sprintf("%.1f MiB", float64(peak)/(1<<20)))
			}
		})
	}
}
