package negotiation

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// A line as long as the reader's buffer reaches ReadBlock in two pieces;
// a last piece of "\r\n" or "\n" ends that line, not the block.
func TestReadBlockLongLineOnBufferEdge(t *testing.T) {
	for _, lineLen := range []int{15, 16, 17, 511, 512} {
		for _, bufSize := range []int{16, 512} {
			line := "Host: " + strings.Repeat("h", lineLen-len("Host: "))
			req := "GET /id/x HTTP/1.1\r\n" + line + "\r\nUpgrade: TLS/1.0\r\n\r\n"
			br := bufio.NewReaderSize(strings.NewReader(req+"tls"), bufSize)
			block, err := ReadBlock(br, 0)
			if err != nil || string(block) != req {
				t.Errorf("line of %d, buffer of %d: %q, %v", lineLen, bufSize, block, err)
			}
			if rest, _ := io.ReadAll(br); string(rest) != "tls" {
				t.Errorf("line of %d, buffer of %d: %q left after the block", lineLen, bufSize, rest)
			}
		}
	}
}

func TestReadBlockEnds(t *testing.T) {
	for _, tc := range []struct{ in, block, err string }{
		{"a: b\r\n\r\n", "a: b\r\n\r\n", ""},
		{"a: b\n\n", "a: b\n\n", ""},
		{"\r\n", "\r\n", ""},
		{"", "", "connection closed before a header"},
		{"a: b\r\n", "", "connection closed mid-header"},
		{strings.Repeat("x", MaxHeaderBytes-2) + "\r\n", "", "connection closed mid-header"},
		{strings.Repeat("x", MaxHeaderBytes-3) + "\r\n\r\n", "", "header exceeds 4096 bytes without a blank line"},
		{strings.Repeat("x", MaxHeaderBytes+1), "", "header exceeds 4096 bytes without a blank line"},
	} {
		block, err := ReadBlock(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tc.in)), 16), MaxHeaderBytes)
		if string(block) != tc.block || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("ReadBlock(%.20q…) = %q, %v; want %q, %q", tc.in, block, err, tc.block, tc.err)
		}
	}
	// A block of exactly the limit is accepted.
	full := strings.Repeat("x", MaxHeaderBytes-4) + "\r\n\r\n"
	if block, err := ReadBlock(bufio.NewReader(strings.NewReader(full)), MaxHeaderBytes); err != nil || len(block) != MaxHeaderBytes {
		t.Errorf("block of exactly the limit: %d bytes, %v", len(block), err)
	}
	// Read errors come back as they are, for the caller to explain.
	boom := errors.New("boom")
	if _, err := ReadBlock(bufio.NewReader(iotest.ErrReader(boom)), 0); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}
