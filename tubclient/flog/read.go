package flog

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Magic is the first line of every flogfile.
const Magic = "# foolscap flogfile v1\n"

// DefaultMaxLine caps one line of a saved file: longer lines are reported
// and skipped, so a corrupt file cannot make the reader hold gigabytes.
const DefaultMaxLine = 16 << 20

// Errors for files that are not flogfiles at all.
var (
	ErrNotFlog  = errors.New("not a foolscap flogfile (no \"# foolscap flogfile v1\" first line)")
	ErrPickle   = errors.New("an old pickle-based flogfile, which cannot be loaded safely (Foolscap refuses it too; use flogtool from foolscap 0.12.7 or earlier to convert it)")
	ErrFURLFile = errors.New("a FURL file, not a flogfile: tail a logport instead of replaying it")
)

// LineError is one bad line of a file. Reading goes on after it.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Header is a saved file's header line. Fields holds all of it.
type Header struct {
	Type     string // "tail", "incident", "log-file-observer" or "gatherer"
	Versions Dict   // application versions, e.g. foolscap and twisted
	PID      int64
	// Trigger is the event that made an incident file; nil otherwise.
	Trigger *Event
	Fields  Dict
}

// Header types Foolscap writes.
const (
	HeaderTail            = "tail"
	HeaderIncident        = "incident"
	HeaderLogFileObserver = "log-file-observer"
	HeaderGatherer        = "gatherer"
)

// Record is one event line of a saved file.
type Record struct {
	File   string
	Line   int
	From   string  // who sent it: a tubid prefix, or "local"
	RxTime float64 // when the saver received it, seconds since the epoch
	Event  Event
}

// Reader streams a saved flogfile, plain or bzip2 (recognised by its
// content, not its name), one line at a time.
type Reader struct {
	name    string
	src     io.Reader
	br      *bufio.Reader
	closer  io.Closer
	line    int
	maxLine int
	header  *Header
	pending *Record // the first event, read while looking for the header
	pendErr error
	fatal   error
	scratch []byte
	parser  jsonParser
	slab    []byte // events' text is carved from blocks, not allocated one by one
}

// slabSize is the block events' text is carved from; a longer event gets
// its own allocation.
const slabSize = 64 << 10

// keep copies an event's text out of the line buffer.
func (r *Reader) keep(b []byte) []byte {
	if len(b) > slabSize/4 {
		return append([]byte(nil), b...)
	}
	if len(r.slab)+len(b) > cap(r.slab) {
		r.slab = make([]byte, 0, slabSize)
	}
	start := len(r.slab)
	r.slab = append(r.slab, b...)
	return r.slab[start:len(r.slab):len(r.slab)]
}

// Open opens a saved file for reading; Close releases it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a flogfile from src; name is used in errors. It checks
// the magic line and reads the header, if the file starts with one.
func NewReader(src io.Reader, name string) (*Reader, error) {
	r := &Reader{name: name, src: src, maxLine: DefaultMaxLine}
	r.parser.intern = &interner{}
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(3)
	if bytes.Equal(head, []byte("BZh")) {
		br = bufio.NewReaderSize(bzip2.NewReader(br), 64<<10)
	}
	r.br = br
	magic, err := br.Peek(len(Magic))
	if err != nil && len(magic) < len(Magic) {
		if len(magic) == 0 && err == io.EOF {
			return nil, fmt.Errorf("%s: empty file: %w", name, ErrNotFlog)
		}
		if !bytes.HasPrefix([]byte(Magic), magic) {
			return nil, r.badMagic(magic)
		}
		if err == io.EOF {
			return nil, fmt.Errorf("%s: %w; it holds only %q", name, ErrNotFlog, magic)
		}
		return nil, fmt.Errorf("%s: %w", name, r.streamError(err))
	}
	if string(magic) != Magic {
		return nil, r.badMagic(magic)
	}
	br.Discard(len(Magic))
	r.line = 1
	// The header, when there is one, is the first line after the magic.
	var rec Record
	ok, err := r.next(&rec)
	switch {
	case err == io.EOF:
		r.pendErr = io.EOF
	case err != nil:
		var le *LineError
		if !errors.As(err, &le) {
			return nil, err
		}
		r.pendErr = err
	case ok:
		r.pending = &rec
	}
	return r, nil
}

func (r *Reader) badMagic(got []byte) error {
	switch {
	case bytes.HasPrefix(got, []byte("(dp0")):
		return fmt.Errorf("%s: %w", r.name, ErrPickle)
	case bytes.HasPrefix(got, []byte("pb:")):
		return fmt.Errorf("%s: %w", r.name, ErrFURLFile)
	}
	return fmt.Errorf("%s: %w; it starts with %q", r.name, ErrNotFlog, got)
}

// SetMaxLine changes the line cap (DefaultMaxLine when n <= 0).
func (r *Reader) SetMaxLine(n int) {
	if n <= 0 {
		n = DefaultMaxLine
	}
	r.maxLine = n
}

// Name is the file's name as given.
func (r *Reader) Name() string { return r.name }

// Header is the file's header; nil when the file has none.
func (r *Reader) Header() *Header { return r.header }

// Line is the number of the last line read (the magic line is 1).
func (r *Reader) Line() int { return r.line }

// Close closes the file Open opened.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Next returns the next event. A *LineError reports one bad line and
// reading may go on; io.EOF ends the file; any other error (a truncated
// or corrupt bzip2 stream, a failing disk) ends it too. Events share
// memory in blocks of recent events: Clone one to keep it for long.
func (r *Reader) Next() (Record, error) {
	if r.pending != nil {
		rec := *r.pending
		r.pending = nil
		return rec, nil
	}
	if r.pendErr != nil {
		err := r.pendErr
		r.pendErr = nil
		return Record{}, err
	}
	var rec Record
	for {
		ok, err := r.next(&rec)
		if err != nil {
			return Record{}, err
		}
		if ok {
			return rec, nil
		}
	}
}

// next reads one line into rec: an event (ok), a header (not ok, nil
// error), or an error.
func (r *Reader) next(rec *Record) (ok bool, err error) {
	if r.fatal != nil {
		return false, r.fatal
	}
	line, err := r.readLine()
	if err != nil {
		return false, err
	}
	line = bytes.TrimRight(line, "\r\n \t")
	if len(line) == 0 {
		return false, r.lineError(errors.New("empty line"))
	}
	*rec = Record{}
	hdr, err := r.parseLine(line, rec)
	if err != nil {
		return false, r.lineError(err)
	}
	if hdr != nil {
		if r.header == nil {
			r.header = hdr
		}
		return false, nil
	}
	rec.File, rec.Line = r.name, r.line
	return true, nil
}

// parseLine reads a {"from", "rx_time", "d"} line, or a {"header"} line.
// The whole line is checked; only the event's common keys are decoded.
func (r *Reader) parseLine(line []byte, rec *Record) (hdr *Header, err error) {
	p := &r.parser
	p.b, p.i, p.depth = line, 0, 0
	p.skipSpace()
	haveEvent := false
	if err := p.openObject(); err != nil {
		return nil, err
	}
	for first := true; ; first = false {
		key, more, err := p.nextKey(first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		start := p.i
		switch string(key) {
		case "header":
			if err := p.skipValue(); err != nil {
				return nil, err
			}
			v, err := p.valueAt(line, start, p.i)
			if err != nil {
				return nil, err
			}
			hd, ok := v.(Dict)
			if !ok {
				return nil, errors.New("header is not an object")
			}
			h, err := parseHeader(hd)
			if err != nil {
				return nil, err
			}
			hdr = &h
		case "from":
			if line[start] != '"' {
				err = p.skipValue()
			} else {
				rec.From, err = p.str()
			}
		case "rx_time":
			if err = p.skipNumberOrValue(); err == nil {
				rec.RxTime, _ = strconv.ParseFloat(string(line[start:p.i]), 64)
			}
		case "d":
			if line[start] != '{' {
				return nil, errors.New(`the event ("d") is not an object`)
			}
			var ev Event
			if ev, err = parseEvent(p); err == nil {
				ev.raw = r.keep(line[start:p.i])
				rec.Event, haveEvent = ev, true
			}
		default:
			err = p.skipValue()
		}
		if err != nil {
			return nil, err
		}
	}
	p.skipSpace()
	if p.i != len(line) {
		return nil, p.errorf("unexpected %s after the object", p.what())
	}
	if hdr == nil && !haveEvent {
		return nil, errors.New(`no event ("d" object) in the line`)
	}
	return hdr, nil
}

func parseHeader(d Dict) (Header, error) {
	h := Header{Fields: d, Type: d.String("type")}
	if v, ok := d.Get("versions"); ok {
		h.Versions, _ = v.(Dict)
	}
	if v, ok := d.Get("pid"); ok {
		h.PID, _ = asInt64(v)
	}
	if v, ok := d.Get("trigger"); ok {
		td, ok := v.(Dict)
		if !ok {
			return h, errors.New("incident trigger is not an event object")
		}
		ev, err := NewEvent(td)
		if err != nil {
			return h, fmt.Errorf("incident trigger: %w", err)
		}
		h.Trigger = &ev
	}
	return h, nil
}

func (r *Reader) lineError(err error) error {
	return &LineError{File: r.name, Line: r.line, Err: err}
}

// readLine returns the next line; it is valid until the next call. A line
// over the cap is skipped to its end and reported.
func (r *Reader) readLine() ([]byte, error) {
	frag, err := r.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(frag) > 0) {
		r.line++
		return frag, nil
	}
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != bufio.ErrBufferFull {
		return nil, r.fail(err)
	}
	r.scratch = append(r.scratch[:0], frag...)
	for {
		frag, err = r.br.ReadSlice('\n')
		if len(r.scratch)+len(frag) > r.maxLine {
			r.line++
			n := len(r.scratch) + len(frag)
			r.scratch = nil // let a huge buffer go
			for err == bufio.ErrBufferFull {
				frag, err = r.br.ReadSlice('\n')
				n += len(frag)
			}
			if err != nil && err != io.EOF {
				return nil, r.fail(err)
			}
			return nil, r.lineError(fmt.Errorf("line longer than %d bytes (at least %d), skipped", r.maxLine, n))
		}
		r.scratch = append(r.scratch, frag...)
		switch err {
		case nil, io.EOF:
			r.line++
			line := r.scratch
			if cap(r.scratch) > 1<<20 {
				r.scratch = nil // keep memory bounded after one long line
			}
			return line, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, r.fail(err)
		}
	}
}

// fail records an error that ends the stream.
func (r *Reader) fail(err error) error {
	r.fatal = fmt.Errorf("%s: after line %d: %w", r.name, r.line, r.streamError(err))
	return r.fatal
}

func (r *Reader) streamError(err error) error {
	var se bzip2.StructuralError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("truncated bzip2 stream: %w", err)
	case errors.As(err, &se):
		return fmt.Errorf("corrupt bzip2 stream: %w", err)
	}
	return err
}
