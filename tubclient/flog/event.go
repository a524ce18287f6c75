// Package flog reads and writes Foolscap's log events ("flog"): the event
// dict as Go data, its text as Foolscap renders it, saved flogfiles
// (.flog and .flog.bz2, streamed), a flogfile writer that flogtool dump
// reads, and the conversion of events a live logport delivers over Banana.
package flog

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Level is an event's severity.
type Level int

// Foolscap's levels (foolscap/logging/levels.py).
const (
	Noisy       Level = 10
	Operational Level = 20
	Unusual     Level = 23
	Infrequent  Level = 25
	Curious     Level = 28
	Weird       Level = 30
	Scary       Level = 35
	Bad         Level = 40
)

var levelNames = map[Level]string{
	Noisy: "NOISY", Operational: "OPERATIONAL", Unusual: "UNUSUAL", Infrequent: "INFREQUENT",
	Curious: "CURIOUS", Weird: "WEIRD", Scary: "SCARY", Bad: "BAD",
}

// String is the level's Foolscap name, or "L<n>" for a level between them.
func (l Level) String() string {
	if s, ok := levelNames[l]; ok {
		return s
	}
	return "L" + strconv.Itoa(int(l))
}

// ParseLevel reads a level name (any case) or number.
func ParseLevel(s string) (Level, error) {
	up := strings.ToUpper(strings.TrimSpace(s))
	for l, name := range levelNames {
		if name == up {
			return l, nil
		}
	}
	n, err := strconv.Atoi(strings.TrimPrefix(up, "L"))
	if err != nil {
		return 0, fmt.Errorf("unknown log level %q (NOISY, OPERATIONAL, UNUSUAL, INFREQUENT, CURIOUS, WEIRD, SCARY, BAD or a number)", s)
	}
	return Level(n), nil
}

// Keys of the event dict Foolscap itself sets.
const (
	KeyNum         = "num"
	KeyLevel       = "level"
	KeyTime        = "time"
	KeyIncarnation = "incarnation"
	KeyMessage     = "message"
	KeyFormat      = "format"
	KeyArgs        = "args"
	KeyFacility    = "facility"
	KeyParent      = "parent"
	KeyUmid        = "umid"
	KeyTubID       = "tubID"
	KeyFailure     = "failure"
)

// ID names an event uniquely: its logger's incarnation and its number.
// Parents are numbers within the same logger incarnation.
type ID struct {
	Incarnation string
	Num         int64
}

func (id ID) String() string { return id.Incarnation + "#" + strconv.FormatInt(id.Num, 10) }

// Event is one flog event. Every key of the dict is kept, in order: an
// event read from a file keeps its JSON text and decodes the rest only
// when asked (a replay touches a few keys of most events), an event built
// from values keeps them. The common keys are decoded once, up front.
type Event struct {
	raw    []byte // the event object as read; nil when built from values
	fields Dict   // the fields when built from values

	num         int64
	level       Level
	time        float64
	incarnation string
	parent      int64
	hasParent   bool
	facility    string
	message     string
	format      string
}

// NewEvent checks an event dict and decodes its common keys. num and time
// are required; level defaults to OPERATIONAL as Foolscap's tail does.
// The event keeps fields; do not change them afterwards.
func NewEvent(fields Dict) (Event, error) {
	ev := Event{fields: fields, level: Operational}
	var have commonSeen
	for _, f := range fields {
		if err := ev.setCommon(f.Key, f.Value, &have); err != nil {
			return Event{}, err
		}
	}
	return ev, have.check()
}

// commonSeen tracks the required keys while decoding.
type commonSeen struct{ num, time bool }

func (c commonSeen) check() error {
	if !c.num {
		return errors.New("event has no num")
	}
	if !c.time {
		return errors.New("event has no time")
	}
	return nil
}

// setCommon decodes one of the keys every event has or often has.
func (ev *Event) setCommon(key string, v any, have *commonSeen) error {
	switch key {
	case KeyNum:
		n, ok := asInt64(v)
		if !ok {
			return fmt.Errorf("event num %s is not an integer", pyRepr(v, true))
		}
		ev.num, have.num = n, true
	case KeyLevel:
		n, ok := asInt64(v)
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Errorf("event level %s is not an integer", pyRepr(v, true))
		}
		ev.level = Level(n)
	case KeyTime:
		t, ok := asFloat(v)
		if !ok {
			return fmt.Errorf("event time %s is not a number", pyRepr(v, true))
		}
		ev.time, have.time = t, true
	case KeyIncarnation:
		ev.incarnation = incarnationOf(v)
	case KeyParent:
		if n, ok := asInt64(v); ok {
			ev.parent, ev.hasParent = n, true
		}
	case KeyFacility:
		ev.facility = textOf(v)
	case KeyMessage:
		ev.message = textOf(v)
	case KeyFormat:
		ev.format = textOf(v)
	}
	return nil
}

// textOf is a str, or UTF-8 bytes as a Python 2 peer sends them.
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Bytes:
		return string(x)
	}
	return ""
}

// parseEvent decodes the common keys of the event object at p.i and
// checks the rest without building it, leaving p.i after the object. The
// caller keeps the object's text.
func parseEvent(p *jsonParser) (Event, error) {
	ev := Event{level: Operational}
	var have commonSeen
	if err := p.openObject(); err != nil {
		return Event{}, err
	}
	for first := true; ; first = false {
		key, more, err := p.nextKey(first)
		if err != nil {
			return Event{}, err
		}
		if !more {
			break
		}
		if !isCommonBytes(key) {
			err = p.skipValue()
		} else {
			err = ev.decodeCommon(p, string(key), p.i, &have)
		}
		if err != nil {
			return Event{}, err
		}
	}
	return ev, have.check()
}

func isCommonBytes(key []byte) bool {
	switch string(key) {
	case KeyNum, KeyLevel, KeyTime, KeyIncarnation, KeyParent, KeyFacility, KeyMessage, KeyFormat:
		return true
	}
	return false
}

// decodeCommon reads one common key's value at p.i, the usual shapes
// straight from the bytes and anything else through the full parser.
func (ev *Event) decodeCommon(p *jsonParser, key string, start int, have *commonSeen) error {
	b := p.b
	switch key {
	case KeyNum, KeyLevel, KeyParent:
		if err := p.skipNumberOrValue(); err != nil {
			return err
		}
		if n, ok := parseSmallInt(b[start:p.i]); ok {
			return ev.setCommon(key, n, have)
		}
	case KeyTime:
		if err := p.skipNumberOrValue(); err != nil {
			return err
		}
		if f, err := strconv.ParseFloat(string(b[start:p.i]), 64); err == nil {
			ev.time, have.time = f, true
			return nil
		}
	case KeyFacility, KeyMessage, KeyFormat:
		if b[start] == '"' {
			s, err := p.str()
			if err != nil {
				return err
			}
			return ev.setCommon(key, s, have)
		}
		if err := p.skipValue(); err != nil {
			return err
		}
	case KeyIncarnation:
		// ["hex", null]: take the string, check the rest.
		if b[start] == '[' {
			p.i++
			p.skipSpace()
			if p.i < len(b) && b[p.i] == '"' {
				s, err := p.str()
				if err != nil {
					return err
				}
				ev.incarnation = s
				p.i = start
				return p.skipValue()
			}
			p.i = start
		}
		if err := p.skipValue(); err != nil {
			return err
		}
	default:
		return p.skipValue()
	}
	v, err := p.valueAt(b, start, p.i)
	if err != nil {
		return err
	}
	return ev.setCommon(key, v, have)
}

// skipNumberOrValue skips a number, or any other value.
func (p *jsonParser) skipNumberOrValue() error {
	if c := p.b[p.i]; c == '-' || '0' <= c && c <= '9' {
		return p.skipNumber()
	}
	return p.skipValue()
}

// Clone returns the event with memory of its own, so keeping it does not
// keep the block of events it was read with.
func (e Event) Clone() Event {
	if e.raw != nil {
		e.raw = append([]byte(nil), e.raw...)
	}
	return e
}

// Fields returns every key of the event in order. For an event read from
// a file they are decoded afresh on each call.
func (e Event) Fields() Dict {
	if e.raw == nil {
		return e.fields
	}
	v, err := parseJSON(e.raw)
	if err != nil {
		return nil // the reader checked it; cannot happen
	}
	switch x := v.(type) {
	case Dict:
		return x
	case Placeholder:
		return x.Fields
	}
	return nil
}

// incarnationOf takes the unique part of Foolscap's (unique, sequential)
// incarnation tuple, which a saved file holds as a list.
func incarnationOf(v any) string {
	var items []any
	switch x := v.(type) {
	case List:
		items = x
	case Tuple:
		items = x
	case string:
		return x
	case Bytes:
		return string(x)
	}
	if len(items) == 0 {
		return ""
	}
	switch u := items[0].(type) {
	case string:
		return u
	case Bytes:
		return string(u)
	}
	return pyStr(items[0])
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	}
	return 0, false
}

// Num is the event's number, unique within its logger incarnation.
func (e Event) Num() int64 { return e.num }

// Level is the event's severity.
func (e Event) Level() Level { return e.level }

// Seconds is the event's time in seconds since the epoch, as logged.
func (e Event) Seconds() float64 { return e.time }

// Time is the event's time; the zero time when it is not finite.
func (e Event) Time() time.Time { return SecondsToTime(e.time) }

// Incarnation is the logger's incarnation: one per process, not per tub.
func (e Event) Incarnation() string { return e.incarnation }

// ID is the event's identity.
func (e Event) ID() ID { return ID{e.incarnation, e.num} }

// Parent is the number of the event this one belongs under.
func (e Event) Parent() (int64, bool) { return e.parent, e.hasParent }

// ParentID is the parent's identity.
func (e Event) ParentID() (ID, bool) { return ID{e.incarnation, e.parent}, e.hasParent }

// Get returns the value under key.
func (e Event) Get(key string) (any, bool) {
	if e.raw == nil {
		return e.fields.Get(key)
	}
	var p jsonParser
	p.b = e.raw
	if p.openObject() != nil {
		return nil, false
	}
	for first := true; ; first = false {
		k, more, err := p.nextKey(first)
		if err != nil || !more {
			return nil, false
		}
		if string(k) == key {
			v, err := p.value()
			return v, err == nil
		}
		if p.skipValue() != nil {
			return nil, false
		}
	}
}

// String returns the value under key when it is a str (or UTF-8 bytes,
// as a Python 2 peer sends).
func (e Event) String(key string) string {
	switch key {
	case KeyMessage:
		return e.message
	case KeyFormat:
		return e.format
	case KeyFacility:
		return e.facility
	}
	v, _ := e.Get(key)
	return textOf(v)
}

// Int returns the value under key when it is an integer within int64.
func (e Event) Int(key string) (int64, bool) {
	v, ok := e.Get(key)
	if !ok {
		return 0, false
	}
	return asInt64(v)
}

// Message is the event's "message" ("" when absent).
func (e Event) Message() string { return e.message }

// Format is the event's "format" ("" when absent).
func (e Event) Format() string { return e.format }

// Facility is the event's facility, e.g. "foolscap.negotiation".
func (e Event) Facility() string { return e.facility }

// Umid is the event's unique message id, when the call site gave one.
func (e Event) Umid() string { return e.String(KeyUmid) }

// TubID is the tubid a tub's own log calls add.
func (e Event) TubID() string { return e.String(KeyTubID) }

// Failure is the event's failure: a Placeholder from a file, a converted
// Failure from Banana.
func (e Event) Failure() (any, bool) { return e.Get(KeyFailure) }

// Args are the positional arguments of a message with %-conversions.
func (e Event) Args() []any {
	v, _ := e.Get(KeyArgs)
	switch x := v.(type) {
	case List:
		return x
	case Tuple:
		return x
	}
	return nil
}

// standardKeys are not shown again when formatting fails.
var standardKeys = map[string]bool{
	KeyNum: true, KeyLevel: true, KeyTime: true, KeyIncarnation: true, KeyFacility: true,
	KeyParent: true, KeyUmid: true, KeyFormat: true, KeyMessage: true,
}

// Text renders the event as Foolscap's format_message does: a "format"
// applied to the event's own fields, else a "message" with its positional
// "args", else the message as is. It never fails: when the conversion
// does not fit the values it gives the raw text with the fields.
func (e Event) Text() string {
	if f, ok := e.Get(KeyFormat); ok {
		format := pyStr(f)
		if b, ok := f.(Bytes); ok {
			format = string(b)
		}
		fields := e.Fields()
		s, err := pyPercent(format, fields.Get, nil)
		if err != nil {
			return e.fallback(format, err)
		}
		return s
	}
	msg, hasMsg := e.Get(KeyMessage)
	text := ""
	switch x := msg.(type) {
	case string:
		text = x
	case Bytes:
		text = string(x)
	default:
		if hasMsg {
			text = pyStr(x)
		}
	}
	if _, ok := e.Get(KeyArgs); ok && hasMsg {
		s, err := pyPercent(text, nil, e.Args())
		if err != nil {
			return e.fallback(text, err)
		}
		return s
	}
	return text
}

func (e Event) fallback(raw string, err error) string {
	var b strings.Builder
	b.WriteString(raw)
	b.WriteString(" [formatting failed: ")
	b.WriteString(err.Error())
	for _, f := range e.Fields() {
		if standardKeys[f.Key] {
			continue
		}
		b.WriteString("; ")
		b.WriteString(f.Key)
		b.WriteString("=")
		b.WriteString(pyRepr(f.Value, false))
	}
	b.WriteString("]")
	return b.String()
}

// SecondsToTime converts a Python timestamp; NaN and infinities, which a
// hostile file may hold, give the zero time.
func SecondsToTime(s float64) time.Time {
	if math.IsNaN(s) || math.IsInf(s, 0) || s > 1e11 || s < -1e11 {
		return time.Time{}
	}
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
}

// TimeToSeconds is the inverse of SecondsToTime.
func TimeToSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
