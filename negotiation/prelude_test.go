package negotiation

import (
	"errors"
	"strings"
	"testing"
)

const (
	pyGet         = "GET /id/6gmn2fubi7xralfvxa3qca2h2qkhwmhd HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n"
	switching101  = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, PB/1.0\r\nConnection: Upgrade\r\n\r\n"
	unknownTubID  = "HTTP/1.1 500 Internal Server Error: unknown TubID aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
	pyGetTubID    = "6gmn2fubi7xralfvxa3qca2h2qkhwmhd"
	goGetWithPort = "GET /id/pcx5blrky5nuephai4l2n5cr5swlghbh HTTP/1.1\r\nHost: 127.0.0.1:45073\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n"
)

func TestRequestBytes(t *testing.T) {
	if got := string(Request(pyGetTubID, "127.0.0.1")); got != pyGet {
		t.Errorf("Request:\n got %q\nwant %q", got, pyGet)
	}
	if got := string(Request("pcx5blrky5nuephai4l2n5cr5swlghbh", "127.0.0.1:45073")); got != goGetWithPort {
		t.Errorf("Request:\n got %q\nwant %q", got, goGetWithPort)
	}
}

func TestParseRequest(t *testing.T) {
	for _, raw := range []string{pyGet, strings.TrimSuffix(pyGet, "\r\n\r\n"), "GET /id/" + pyGetTubID + " HTTP/1.0"} {
		id, err := ParseRequest([]byte(raw))
		if err != nil || id != pyGetTubID {
			t.Errorf("ParseRequest(%q) = %q, %v", raw, id, err)
		}
	}
	for _, tc := range []struct{ raw, wantErr string }{
		{"POST /id/abc HTTP/1.1\r\n\r\n", "is not a GET"},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", `path "/" does not start with /id/`},
		{"GET /id/abc\r\n\r\n", "is not \"GET <path> <version>\""},
		{"GET /id/ HTTP/1.1\r\n\r\n", "secure Tubs require encryption"},
		{"", "is not a GET"},
	} {
		_, err := ParseRequest([]byte(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseRequest(%q) err = %v, want %q", tc.raw, err, tc.wantErr)
		}
	}
	_, err := ParseRequest([]byte("GET /id/ HTTP/1.1"))
	if PeerMessage(err) != "secure Tubs require encryption" {
		t.Errorf("empty tubid error is not passed to the peer: %v", err)
	}
}

func TestSwitchingProtocols(t *testing.T) {
	if got := string(SwitchingProtocols()); got != switching101 {
		t.Errorf("101:\n got %q\nwant %q", got, switching101)
	}
}

func TestParseResponse(t *testing.T) {
	if err := ParseResponse([]byte(switching101)); err != nil {
		t.Errorf("101: %v", err)
	}
	if err := ParseResponse([]byte(strings.TrimSuffix(switching101, "\r\n\r\n"))); err != nil {
		t.Errorf("101 without terminator: %v", err)
	}
	err := ParseResponse([]byte(unknownTubID))
	pe, ok := errors.AsType[*PeerError](err)
	if !ok || pe.Message != "unknown TubID aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
		t.Errorf("500: %#v", err)
	}
	for _, tc := range []struct{ raw, wantErr string }{
		{"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", `lacks "Upgrade: TLS/1.0"`},
		{"HTTP/1.1 303 See Other\r\n\r\n", "expected 101"},
		{"HTTP/1.1\r\n\r\n", "no status code"},
		{"", "no status code"},
	} {
		err := ParseResponse([]byte(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseResponse(%q) = %v, want %q", tc.raw, err, tc.wantErr)
		}
	}
	// A bare 500 still carries what the listener said.
	err = ParseResponse([]byte("HTTP/1.1 500 Oops\r\n\r\n"))
	if pe, ok := errors.AsType[*PeerError](err); !ok || pe.Message != "Oops" {
		t.Errorf("bare 500: %#v", err)
	}
}

func TestErrorResponse(t *testing.T) {
	if got := string(ErrorResponse("unknown TubID aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); got != unknownTubID {
		t.Errorf("ErrorResponse:\n got %q\nwant %q", got, unknownTubID)
	}
	if got := string(ErrorResponse("a\r\nb")); got != "HTTP/1.1 500 Internal Server Error: a  b\r\n\r\n" {
		t.Errorf("ErrorResponse kept line breaks: %q", got)
	}
	if err := ParseResponse(ErrorResponse("secure Tubs require encryption")); err.(*PeerError).Message != "secure Tubs require encryption" {
		t.Errorf("round trip: %v", err)
	}
}
