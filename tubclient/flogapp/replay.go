package flogapp

import (
	"context"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tubscope/tubscope/tubclient/flog/replay"
)

// ReplayJSON replays files headless as fast as they read and writes every
// reconstructed verdict as one JSON object per line (replay.WriteJSON),
// until the files end, ctx ends, SIGINT or SIGTERM. Bad lines go to errw
// as "file:line: why" and the replay goes on; the error is the first file
// that could not be opened or read to its end.
func ReplayJSON(ctx context.Context, files []string, w, errw io.Writer) error {
	// Garbage collection is about 40% of the work at Go's default: events
	// die young here, so a larger heap target buys throughput cheaply. The
	// reconstruction's caps bound the live heap (some 60 MB at 10,000
	// peers); the soft limit keeps the larger target from multiplying a
	// larger one. An operator's GOGC or GOMEMLIMIT wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return replay.WriteJSON(ctx, files, w, errw)
}
