package banana

import (
	"encoding/hex"
	"strings"
	"testing"
)

// wire builds bytes from the notation used in PROTOCOL.md: hex pairs and
// "quoted" literal text, separated by spaces or '|'.
func wire(t testing.TB, spec string) []byte {
	t.Helper()
	var out []byte
	for len(spec) > 0 {
		switch c := spec[0]; {
		case c == ' ' || c == '|' || c == '\n' || c == '\t':
			spec = spec[1:]
		case c == '"':
			end := strings.IndexByte(spec[1:], '"')
			if end < 0 {
				t.Fatalf("wire: unterminated quote in %q", spec)
			}
			out = append(out, spec[1:1+end]...)
			spec = spec[end+2:]
		default:
			if len(spec) < 2 {
				t.Fatalf("wire: odd hex at %q", spec)
			}
			b, err := hex.DecodeString(spec[:2])
			if err != nil {
				t.Fatalf("wire: %v", err)
			}
			out = append(out, b...)
			spec = spec[2:]
		}
	}
	return out
}

func newDecoder(t testing.TB, cfg Config) *Decoder {
	t.Helper()
	d, err := NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// decodeAll feeds data in one piece and collects events until input runs
// out or an error stops the decoder.
func decodeAll(t testing.TB, cfg Config, data []byte) ([]Event, error) {
	t.Helper()
	d := newDecoder(t, cfg)
	d.Feed(data)
	return drain(d)
}

func drain(d *Decoder) ([]Event, error) {
	var evs []Event
	for {
		ev, ok, err := d.Next()
		if err != nil {
			return evs, err
		}
		if !ok {
			return evs, nil
		}
		evs = append(evs, ev)
	}
}

// decodeBytewise feeds one byte at a time, exercising every partial-token path.
func decodeBytewise(t testing.TB, cfg Config, data []byte) ([]Event, error) {
	t.Helper()
	d := newDecoder(t, cfg)
	var evs []Event
	for i := range data {
		d.Feed(data[i : i+1])
		more, err := drain(d)
		evs = append(evs, more...)
		if err != nil {
			return evs, err
		}
	}
	return evs, nil
}

// oneMessage decodes data that must hold exactly one top-level message.
func oneMessage(t testing.TB, cfg Config, data []byte) any {
	t.Helper()
	evs, err := decodeAll(t, cfg, data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(evs) != 1 || evs[0].Kind != EventMessage {
		t.Fatalf("want one message, got %+v", evs)
	}
	return evs[0].Msg
}

// scratchBytes is what the decoder holds between tokens: input buffer,
// item slices of every stack slot and the back-reference table.
func (d *Decoder) scratchBytes() int {
	n := cap(d.buf) + 16*cap(d.refs)
	for _, f := range d.stack[:cap(d.stack)] {
		n += 16 * cap(f.items)
	}
	return n
}
