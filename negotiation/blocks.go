package negotiation

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

const (
	lineEnd    = "\r\n"
	terminator = "\r\n\r\n"
)

// ParseBlock parses one "key: value" block. raw may end with the blank
// terminator line or stop before it. Each line splits at its first ':'; the
// key is lowercased and the value left-stripped, as Foolscap does.
func ParseBlock(raw []byte) (Block, error) {
	body := raw
	switch {
	case bytes.HasSuffix(body, []byte(terminator)):
		body = body[:len(body)-len(terminator)]
	case bytes.HasSuffix(body, []byte(lineEnd)):
		body = body[:len(body)-len(lineEnd)]
	}
	// The limit covers the block as framed on the wire, terminator included.
	if len(body)+len(terminator) > MaxHeaderBytes {
		return nil, fmt.Errorf("block of %d bytes exceeds the %d-byte header limit", len(body)+len(terminator), MaxHeaderBytes)
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("empty block")
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("block is not valid UTF-8")
	}
	b := Block{}
	for i, line := range bytes.Split(body, []byte(lineEnd)) {
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return nil, fmt.Errorf("block line %d %q has no ':'", i+1, line)
		}
		key := asciiLower(line[:colon])
		b[key] = string(bytes.TrimLeft(line[colon+1:], " \t\r\n\v\f"))
	}
	return b, nil
}

// asciiLower lowercases ASCII letters only, like Python's bytes.lower.
func asciiLower(p []byte) string {
	out := make([]byte, len(p))
	for i, c := range p {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

// Encode writes the block with sorted keys and the blank terminator line.
// CR and LF inside keys or values become spaces so the framing cannot break.
func (b Block) Encode() []byte {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		buf.WriteString(oneLine(k))
		buf.WriteString(": ")
		buf.WriteString(oneLine(b[k]))
		buf.WriteString(lineEnd)
	}
	buf.WriteString(lineEnd)
	return buf.Bytes()
}

// oneLine replaces line breaks with spaces, as Foolscap does for error texts.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// SplitBlock finds the first complete block in buf. block excludes the
// terminator; rest is everything after it. ok is false when more bytes are
// needed. A buffer longer than limit (MaxHeaderBytes when limit <= 0) with no
// terminator inside the limit is an error, as in Foolscap.
func SplitBlock(buf []byte, limit int) (block, rest []byte, ok bool, err error) {
	if limit <= 0 {
		limit = MaxHeaderBytes
	}
	window := buf
	if len(window) > limit {
		window = window[:limit]
	}
	if i := bytes.Index(window, []byte(terminator)); i >= 0 {
		return buf[:i], buf[i+len(terminator):], true, nil
	}
	if len(buf) > limit {
		return nil, nil, false, fmt.Errorf("header exceeds %d bytes without terminator", limit)
	}
	return nil, nil, false, nil
}

// TooLongError is a block that ran past its limit without a blank line.
type TooLongError struct{ Limit int }

func (e *TooLongError) Error() string {
	return fmt.Sprintf("header exceeds %d bytes without a blank line", e.Limit)
}

// ReadBlock reads one block from br, up to and including the blank line
// that ends it ("\r\n", or a bare "\n"), refusing more than limit bytes
// (MaxHeaderBytes when limit <= 0). A line longer than br's buffer arrives
// in pieces; only a whole line can be the blank one, so a long line whose
// last piece is its "\r\n" does not end the block. Bytes after the block
// stay in br. Errors other than the limit and EOF come back as br's own.
func ReadBlock(br *bufio.Reader, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = MaxHeaderBytes
	}
	var buf []byte
	lineStart := 0
	for {
		piece, err := br.ReadSlice('\n')
		if len(buf)+len(piece) > limit {
			return nil, &TooLongError{Limit: limit}
		}
		buf = append(buf, piece...)
		switch {
		case err == nil:
			if line := buf[lineStart:]; string(line) == "\r\n" || string(line) == "\n" {
				return buf, nil
			}
			lineStart = len(buf)
		case errors.Is(err, bufio.ErrBufferFull):
			// The same line goes on in the next piece.
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, errors.New("connection closed before a header")
			}
			return nil, errors.New("connection closed mid-header")
		default:
			return nil, err
		}
	}
}
