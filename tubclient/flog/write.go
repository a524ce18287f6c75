package flog

import (
	"bufio"
	"io"
)

// Writer writes a flogfile v1 as Foolscap does: the magic line, one
// header line, then one {"from", "rx_time", "d"} line per event. Files it
// writes are read by flogtool dump and by Reader. It is not safe for
// concurrent use.
type Writer struct {
	w   *bufio.Writer
	buf []byte
	err error
}

// NewWriter writes the magic line and a header of the given type (one of
// the Header* constants) with its fields; "type" goes first as Foolscap
// writes it, and a "type" among fields is ignored.
func NewWriter(w io.Writer, headerType string, fields Dict) (*Writer, error) {
	fw := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	h := make(Dict, 0, len(fields)+1)
	h = append(h, Field{"type", headerType})
	for _, f := range fields {
		if f.Key != "type" {
			h = append(h, f)
		}
	}
	fw.buf = append(fw.buf[:0], Magic...)
	fw.buf = append(fw.buf, `{"header": `...)
	fw.buf = appendJSONDict(fw.buf, h, 0)
	fw.buf = append(fw.buf, "}\n"...)
	if _, err := fw.w.Write(fw.buf); err != nil {
		return nil, err
	}
	return fw, nil
}

// TailHeader is the header flogtool tail --save-to writes: the remote
// application's versions and pid.
func TailHeader(versions Dict, pid int64) Dict {
	h := Dict{{"versions", versions}}
	if pid != 0 {
		h = append(h, Field{"pid", pid})
	}
	return h
}

// Write appends one event as received from from (a tubid prefix, or
// "local") at rxTime seconds since the epoch.
func (w *Writer) Write(from string, rxTime float64, ev Event) error {
	if w.err != nil {
		return w.err
	}
	b := append(w.buf[:0], `{"from": `...)
	b = appendJSONString(b, from)
	b = append(b, `, "rx_time": `...)
	b = appendJSON(b, rxTime, 0)
	b = append(b, `, "d": `...)
	if ev.raw != nil {
		// Read from a file: written back exactly as it was.
		b = append(b, ev.raw...)
	} else {
		b = appendJSONDict(b, ev.fields, 0)
	}
	b = append(b, "}\n"...)
	w.buf = b
	_, w.err = w.w.Write(b)
	return w.err
}

// Flush writes buffered lines through.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}
