package negotiation

import (
	"bytes"
	"fmt"
	"strings"
)

const switchingProtocols = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, PB/1.0\r\nConnection: Upgrade\r\n\r\n"

// Request is the plaintext GET a connector sends before TLS starts. Line
// breaks in its arguments become spaces, so it is always one block.
func Request(targetTubID, host string) []byte {
	return []byte("GET /id/" + oneLine(targetTubID) + " HTTP/1.1\r\nHost: " + oneLine(host) +
		"\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n")
}

// ParseRequest reads the listener side of the prelude and returns the tubid
// the connector asked for. Like Foolscap it looks only at the request line.
func ParseRequest(block []byte) (tubid string, err error) {
	first, _, _ := bytes.Cut(block, []byte(lineEnd))
	line := string(first)
	if !strings.HasPrefix(line, "GET ") {
		return "", fmt.Errorf("prelude request line %q is not a GET", line)
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return "", fmt.Errorf("prelude request line %q is not \"GET <path> <version>\"", line)
	}
	path, ok := strings.CutPrefix(f[1], "/id/")
	if !ok {
		return "", fmt.Errorf("prelude path %q does not start with /id/", f[1])
	}
	if path == "" {
		return "", &NegotiationError{Message: "secure Tubs require encryption"}
	}
	return path, nil
}

// SwitchingProtocols is the listener's reply when it hosts the asked tubid.
func SwitchingProtocols() []byte {
	return []byte(switchingProtocols)
}

// ParseResponse checks the listener's reply: status 101 and a TLS upgrade
// header. A 500 comes back as *PeerError carrying the listener's message.
func ParseResponse(block []byte) error {
	first, _, _ := bytes.Cut(block, []byte(lineEnd))
	line := string(first)
	f := strings.Fields(line)
	if len(f) < 2 {
		return fmt.Errorf("prelude status line %q has no status code", line)
	}
	switch f[1] {
	case "101":
		if !bytes.Contains(block, []byte("Upgrade: TLS/1.0")) {
			return fmt.Errorf("prelude reply %q lacks \"Upgrade: TLS/1.0\"", block)
		}
		return nil
	case "500":
		// Foolscap appends its message to the reason phrase after ": ".
		_, msg, found := strings.Cut(line, ": ")
		if !found {
			_, msg, _ = strings.Cut(line, " 500 ")
		}
		return &PeerError{Message: msg}
	default:
		return fmt.Errorf("prelude status line %q, expected 101 Switching Protocols", line)
	}
}

// ErrorResponse is the listener's refusal while still in plaintext.
func ErrorResponse(msg string) []byte {
	return []byte("HTTP/1.1 500 Internal Server Error: " + oneLine(msg) + "\r\n\r\n")
}
