package flog

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzJSON checks the flog line parser on hostile lines: it never panics,
// its skipping path (used for the fields an event's header does not need)
// agrees with its building path on what is valid and where a value ends,
// and it agrees with encoding/json on every line free of Python's NaN and
// Infinity.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"from":"abc","rx":{"num":1,"time":1.5,"level":20,"format":"%(x)s","x":[1,2,{"@":"UnicodeBytes"}]}}`,
		`[1, -2.5e3, "\u00e9\ud83d\ude00", true, false, null, NaN, -Infinity, Infinity]`,
		`{"a": {"b": [[], {}, [{}]]}, "c": "\"\\\/\b\f\n\r\t"}`,
		`123456789012345678901234567890`, `{"a":1,}`, `[1 2]`, `{"a" 1}`, `"\ud800"`, `-`, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := parseJSON(b)

		var p jsonParser
		p.b = b
		p.skipSpace()
		skipErr := p.skipValue()
		if skipErr == nil {
			p.skipSpace()
			if p.i != len(b) {
				skipErr = p.errorf("trailing %s", p.what())
			}
		}
		if (err == nil) != (skipErr == nil) {
			t.Fatalf("parse says %v, skip says %v, for %q", err, skipErr, b)
		}

		if bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Infinity")) || !utf8.Valid(b) {
			return
		}
		if bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > maxJSONDepth {
			return
		}
		if valid := json.Valid(b); valid != (err == nil) {
			t.Fatalf("encoding/json valid=%v, flog parser: %v, for %q", valid, err, b)
		}
	})
}
