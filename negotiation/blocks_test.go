package negotiation

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// Byte strings observed against Foolscap 21.7 (PROTOCOL.md §12).
const (
	goClientHello = "banana-negotiation-range: 3 3\r\ninitial-vocab-table-range: 0 0\r\nlast-connection: none 0\r\nmy-incarnation: 9226ecb833fae91a\r\nmy-tub-id: c72iyzvqhni2vdbivj26omg7z4ztwemy\r\n\r\n"
	pyServerHello = "banana-negotiation-range: 3 3\r\ninitial-vocab-table-range: 0 1\r\nmy-incarnation: a6e062d03506634c\r\nmy-tub-id: pcx5blrky5nuephai4l2n5cr5swlghbh\r\n\r\n"
	pyDecision    = "banana-decision-version: 3\r\ncurrent-connection: a6e062d03506634c 1\r\ninitial-vocab-table-index: 0 da39\r\n\r\n"
	dupErrorBlock = "banana-decision-version: 1\r\nerror: Duplicate connection\r\n\r\n"
)

func TestParseBlockWithAndWithoutTerminator(t *testing.T) {
	want := Block{"a": "1", "b-c": "x: y", "": "empty key"}
	for _, raw := range []string{
		"A: 1\r\nB-C:   x: y\r\n: empty key\r\n\r\n",
		"A: 1\r\nB-C:   x: y\r\n: empty key\r\n",
		"A: 1\r\nB-C:   x: y\r\n: empty key",
	} {
		got, err := ParseBlock([]byte(raw))
		if err != nil {
			t.Fatalf("ParseBlock(%q): %v", raw, err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("ParseBlock(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestParseBlockValueLeftStripOnly(t *testing.T) {
	got, err := ParseBlock([]byte("k:\t  v w  \r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got["k"] != "v w  " {
		t.Errorf("value = %q, want %q", got["k"], "v w  ")
	}
}

func TestParseBlockMalformed(t *testing.T) {
	oversized := "k: " + strings.Repeat("x", MaxHeaderBytes) + "\r\n\r\n"
	for _, tc := range []struct{ name, raw, wantErr string }{
		{"line without colon", "a: 1\r\nnocolon\r\n\r\n", `line 2 "nocolon" has no ':'`},
		{"oversized", oversized, "exceeds the 4096-byte header limit"},
		{"empty", "\r\n\r\n", "empty block"},
		{"blank line inside", "a: 1\r\n\r\nb: 2", "has no ':'"},
		{"invalid utf-8", "a: \xff\r\n\r\n", "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBlock([]byte(tc.raw))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseBlockLimitCountsTerminator(t *testing.T) {
	// "k: " + value + terminator fills the limit exactly.
	fits := "k: " + strings.Repeat("x", MaxHeaderBytes-3-4)
	if _, err := ParseBlock([]byte(fits)); err != nil {
		t.Errorf("block of exactly %d framed bytes rejected: %v", MaxHeaderBytes, err)
	}
	if _, err := ParseBlock([]byte(fits + "x")); err == nil {
		t.Errorf("block of %d framed bytes accepted", MaxHeaderBytes+1)
	}
}

func TestEncodeSortsAndSanitizes(t *testing.T) {
	b := Block{"zeta": "1", "alpha": "two\r\nlines", "mid": "m"}
	want := "alpha: two  lines\r\nmid: m\r\nzeta: 1\r\n\r\n"
	if got := string(b.Encode()); got != want {
		t.Errorf("Encode = %q, want %q", got, want)
	}
	if got := string(Block{}.Encode()); got != "\r\n" {
		t.Errorf("empty Encode = %q", got)
	}
}

func TestBlockRoundTripObservedBytes(t *testing.T) {
	for _, raw := range []string{goClientHello, pyServerHello, pyDecision, dupErrorBlock} {
		b, err := ParseBlock([]byte(raw))
		if err != nil {
			t.Fatalf("ParseBlock(%q): %v", raw, err)
		}
		if got := string(b.Encode()); got != raw {
			t.Errorf("round trip:\n got %q\nwant %q", got, raw)
		}
	}
}

func TestSplitBlock(t *testing.T) {
	t.Run("incomplete", func(t *testing.T) {
		block, rest, ok, err := SplitBlock([]byte("a: 1\r\nb: 2\r\n"), 0)
		if ok || err != nil || block != nil || rest != nil {
			t.Errorf("got %q %q %v %v, want need-more", block, rest, ok, err)
		}
	})
	t.Run("complete with trailing banana bytes", func(t *testing.T) {
		block, rest, ok, err := SplitBlock([]byte(pyDecision+"\x00\x88"), 0)
		if !ok || err != nil {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		if string(block) != strings.TrimSuffix(pyDecision, "\r\n\r\n") || string(rest) != "\x00\x88" {
			t.Errorf("block=%q rest=%q", block, rest)
		}
	})
	t.Run("first of two blocks", func(t *testing.T) {
		block, rest, ok, _ := SplitBlock([]byte("a: 1\r\n\r\nb: 2\r\n\r\n"), 0)
		if !ok || string(block) != "a: 1" || string(rest) != "b: 2\r\n\r\n" {
			t.Errorf("block=%q rest=%q ok=%v", block, rest, ok)
		}
	})
	t.Run("at the limit without terminator waits", func(t *testing.T) {
		_, _, ok, err := SplitBlock(bytes.Repeat([]byte("x"), MaxHeaderBytes), 0)
		if ok || err != nil {
			t.Errorf("ok=%v err=%v, want need-more", ok, err)
		}
	})
	t.Run("over the limit without terminator", func(t *testing.T) {
		_, _, ok, err := SplitBlock(bytes.Repeat([]byte("x"), MaxHeaderBytes+1), 0)
		if ok || err == nil || err.Error() != "header exceeds 4096 bytes without terminator" {
			t.Errorf("ok=%v err=%v", ok, err)
		}
	})
	t.Run("terminator past a custom limit", func(t *testing.T) {
		_, _, ok, err := SplitBlock([]byte("0123456789\r\n\r\n"), 10)
		if ok || err == nil || err.Error() != "header exceeds 10 bytes without terminator" {
			t.Errorf("ok=%v err=%v", ok, err)
		}
	})
	t.Run("terminator ending exactly at the limit", func(t *testing.T) {
		block, _, ok, err := SplitBlock([]byte("a: 1\r\n\r\nmore"), 8)
		if !ok || err != nil || string(block) != "a: 1" {
			t.Errorf("block=%q ok=%v err=%v", block, ok, err)
		}
	})
}

func FuzzParseBlock(f *testing.F) {
	for _, s := range []string{goClientHello, pyServerHello, pyDecision, dupErrorBlock, "", ":", "a\r\n\r\n", "A:\r\n\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _, _, _ = SplitBlock(raw, 64)
		b, err := ParseBlock(raw)
		if err != nil {
			return
		}
		if len(b) == 0 {
			t.Fatalf("ParseBlock(%q) succeeded with no keys", raw)
		}
		_, _ = ParseHello(b)
		_, _ = ParseDecision(b)
		_, _ = ParseRequest(raw)
		_ = ParseResponse(raw)
		enc := b.Encode()
		if hasLoneBreak(b) || len(enc) > MaxHeaderBytes {
			return
		}
		again, err := ParseBlock(enc)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", enc, err)
		}
		if !maps.Equal(b, again) {
			t.Fatalf("round trip changed %v into %v", b, again)
		}
	})
}

// hasLoneBreak reports whether a key or value holds a CR or LF, which Encode
// replaces and so cannot round-trip.
func hasLoneBreak(b Block) bool {
	for k, v := range b {
		if strings.ContainsAny(k, "\r\n") || strings.ContainsAny(v, "\r\n") {
			return true
		}
	}
	return false
}
