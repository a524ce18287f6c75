package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/reconstruct"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// WriteJSON replays files headless, as fast as they read, and writes
// each reconstructed verdict to w as one JSON object per line, in the
// shape of serve --json's events: "kind":"verdict" for the tub's own
// decisions as master, "kind":"decision-received" for those it received
// as slave. Bad lines go to errw as "file:line: why" and the replay goes
// on. The error is the first file that could not be opened or read to
// its end (the others are still replayed), or ctx's.
func WriteJSON(ctx context.Context, files []string, w, errw io.Writer) error {
	// The verdict lines carry no what-if, so none is worked out.
	return writeJSON(ctx, files, w, errw, reconstruct.Options{NoWhatIf: true})
}

func writeJSON(ctx context.Context, files []string, w, errw io.Writer, opts reconstruct.Options) error {
	var first error
	note := func(err error) {
		fmt.Fprintln(errw, err)
		var le *flog.LineError
		if !errors.As(err, &le) && first == nil {
			first = err
		}
	}
	var readers []*flog.Reader
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	for _, f := range files {
		r, err := flog.Open(f)
		if err != nil {
			note(err)
			continue
		}
		readers = append(readers, r)
	}
	if err := writeJSONFrom(ctx, readers, w, note, opts); err != nil {
		return err
	}
	return first
}

// verdictJSON is an event as serve --json writes it: a time the event
// does not have is left out rather than written as year 1 (omitempty
// never omits a struct), and the shadowing fields keep "time" last.
type verdictJSON struct {
	snapshot.Event
	Time time.Time `json:"time,omitzero"`
	At   time.Time `json:"at,omitzero"`
}

// writeJSONFrom replays readers (merged by time) to w; note receives bad
// lines and files that end early.
func writeJSONFrom(ctx context.Context, readers []*flog.Reader, w io.Writer, note func(error), opts reconstruct.Options) error {
	out := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(out)
	write := func(evs []snapshot.Event) error {
		for i := range evs {
			if k := evs[i].Kind; k != snapshot.KindVerdict && k != snapshot.KindDecisionReceived {
				continue
			}
			if err := enc.Encode(verdictJSON{Event: evs[i], Time: evs[i].Time, At: evs[i].At}); err != nil {
				return err
			}
		}
		return nil
	}
	m := newMerger(readers, note)
	defer m.close()
	rc := reconstruct.New(opts)
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				out.Flush()
				return err
			}
		}
		rec, ok := m.next()
		if !ok {
			break
		}
		if err := write(rc.Apply(rec.Event)); err != nil {
			return err
		}
	}
	if err := write(rc.Flush()); err != nil {
		return err
	}
	return out.Flush()
}
