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
	// die young here, so a larger heap target buys throughput cheaply.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return replay.WriteJSON(ctx, files, w, errw)
}
