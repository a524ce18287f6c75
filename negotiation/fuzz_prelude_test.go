package negotiation

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"errors"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseRequest feeds the listener's prelude parser the GETs Foolscap
// 21.7 and tubscope send (PROTOCOL.md §12) and their mutations. An accepted
// request's tubid must come back from Request's own bytes; Request must
// always frame one block that ParseRequest accepts for any host and for
// any tubid without whitespace (the one the connector dials).
func FuzzParseRequest(f *testing.F) {
	for _, raw := range []string{
		goGetWithPort,
		pyGet,
		strings.TrimSuffix(pyGet, "\r\n\r\n"),
		"GET /id/" + pyGetTubID + " HTTP/1.0\r\n\r\n",
		"GET /id/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET /id/abc\r\n\r\n",
		"POST /id/abc HTTP/1.1\r\n\r\n",
		"GET  /id/" + pyGetTubID + "\tHTTP/1.1\r\n\r\n",
		"GET /id/" + pyGetTubID + " HTTP/1.1\nHost: 127.0.0.1\n\n",
		"GET /id/\xc2\xa0 HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
		"",
	} {
		f.Add([]byte(raw), pyGetTubID, "127.0.0.1")
	}
	f.Add([]byte(pyGet), "", "127.0.0.1:45073")
	f.Add([]byte(goGetWithPort), "a b", "evil\r\nUpgrade: none\r\n\r\n")
	f.Add([]byte(goGetWithPort), "x\u2028y", "[::1]:7")
	f.Fuzz(func(t *testing.T, raw []byte, tubid, host string) {
		if id, err := ParseRequest(raw); err == nil {
			first, _, _ := bytes.Cut(raw, []byte("\r\n"))
			if f := strings.Fields(string(first)); len(f) != 3 || f[0] != "GET" || f[1] != "/id/"+id || id == "" {
				t.Fatalf("accepted %q with tubid %q", first, id)
			}
			if again, err := ParseRequest(Request(id, host)); err != nil || again != id {
				t.Fatalf("tubid %q from %q does not come back through Request: %q, %v", id, first, again, err)
			}
		}

		req := Request(tubid, host)
		if i := bytes.Index(req, []byte(terminator)); i != len(req)-len(terminator) {
			t.Fatalf("Request(%q, %q) = %q: the block ends at byte %d of %d", tubid, host, req, i+len(terminator), len(req))
		}
		id, err := ParseRequest(req)
		if tubid != "" && !strings.ContainsFunc(tubid, unicode.IsSpace) && (err != nil || id != tubid) {
			t.Fatalf("Request(%q, %q) parses as %q, %v", tubid, host, id, err)
		}
		if tubid == "" && PeerMessage(err) != "secure Tubs require encryption" {
			t.Fatalf("Request with no tubid: %v", err)
		}
		// What a connector really sends: a tubid from some certificate.
		sum := sha1.Sum([]byte(tubid))
		real := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
		if id, err := ParseRequest(Request(real, host)); err != nil || id != real {
			t.Fatalf("Request(%q, %q) parses as %q, %v", real, host, id, err)
		}
	})
}

// FuzzParseResponse feeds the connector's reply parser. Acceptance means a
// 101 status with a TLS upgrade; a 500 carries the listener's message, and
// ErrorResponse's message arrives word for word (line breaks as spaces).
func FuzzParseResponse(f *testing.F) {
	for _, raw := range []string{
		switching101,
		strings.TrimSuffix(switching101, "\r\n\r\n"),
		unknownTubID,
		"HTTP/1.1 500 Oops\r\n\r\n",
		"HTTP/1.1 500\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 101\r\nX: Upgrade: TLS/1.0\r\n\r\n",
		"HTTP/1.1 303 See Other\r\nLocation: pb://x\r\n\r\n",
		"HTTP/1.1\r\n\r\n",
		"\x00\x01 101",
		"",
	} {
		f.Add([]byte(raw), "unknown TubID aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	}
	f.Add([]byte(switching101), "a\r\nb: c")
	f.Add([]byte(switching101), ": 500 : ")
	f.Fuzz(func(t *testing.T, raw []byte, msg string) {
		err := ParseResponse(raw)
		first, _, _ := bytes.Cut(raw, []byte("\r\n"))
		fields := strings.Fields(string(first))
		if pe, ok := errors.AsType[*PeerError](err); ok {
			if len(fields) < 2 || fields[1] != "500" || !strings.Contains(string(first), pe.Message) {
				t.Fatalf("PeerError %q from status line %q", pe.Message, first)
			}
		} else if err == nil && (len(fields) < 2 || fields[1] != "101" || !bytes.Contains(raw, []byte("Upgrade: TLS/1.0"))) {
			t.Fatalf("accepted %q", raw)
		}

		got := ParseResponse(ErrorResponse(msg))
		if pe, ok := errors.AsType[*PeerError](got); !ok || pe.Message != oneLine(msg) {
			t.Fatalf("ErrorResponse(%q) parses as %v, want the message %q", msg, got, oneLine(msg))
		}
		if err := ParseResponse(SwitchingProtocols()); err != nil {
			t.Fatal(err)
		}
	})
}
