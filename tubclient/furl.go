package tubclient

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Hint is one TCP location where a tub may be reached.
type Hint struct {
	Host string
	Port int
}

// Addr is the hint as a dialable "host:port" (IPv6 bracketed).
func (h Hint) Addr() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// String writes the hint in the tcp: form Foolscap 21.7 prints.
func (h Hint) String() string { return "tcp:" + h.Addr() }

// FURL is a reference to one object on one tub.
type FURL struct {
	TubID    string
	Hints    []Hint
	Unusable []string
	Swissnum string
}

func (f FURL) String() string {
	hs := make([]string, len(f.Hints))
	for i, h := range f.Hints {
		hs[i] = h.String()
	}
	return "pb://" + f.TubID + "@" + strings.Join(hs, ",") + "/" + f.Swissnum
}

// FURLError names the part of a FURL that is wrong.
type FURLError struct {
	FURL string
	Part string // "scheme", "tubid", "hint", "swissnum"
	Msg  string
}

func (e *FURLError) Error() string {
	return fmt.Sprintf("bad FURL %q: %s: %s", e.FURL, e.Part, e.Msg)
}

// ParseFURL parses pb://TUBID@HINT[,HINT...]/SWISSNUM. Only the first 32
// characters of the tubid part count (the rest is reserved, as in Foolscap).
func ParseFURL(s string) (FURL, error) {
	bad := func(part, format string, args ...any) (FURL, error) {
		return FURL{}, &FURLError{FURL: s, Part: part, Msg: fmt.Sprintf(format, args...)}
	}
	rest, ok := strings.CutPrefix(s, "pb://")
	if !ok {
		return bad("scheme", "must start with pb://")
	}
	tubPart, rest, ok := strings.Cut(rest, "@")
	if !ok {
		return bad("tubid", "missing '@' after the tubid")
	}
	if len(tubPart) < 32 {
		return bad("tubid", "%q is shorter than 32 characters", tubPart)
	}
	tubid := tubPart[:32]
	if !ValidTubID(tubid) {
		return bad("tubid", "%q is not lowercase base32", tubid)
	}
	hintPart, swiss, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("swissnum", "missing '/' before the swissnum")
	}
	if swiss == "" {
		return bad("swissnum", "empty")
	}
	f := FURL{TubID: tubid, Swissnum: swiss}
	if hintPart == "" {
		return f, nil
	}
	for _, raw := range strings.Split(hintPart, ",") {
		h, err := ParseHint(raw)
		if err != nil {
			return bad("hint", "%v", err)
		}
		f.Hints = append(f.Hints, h)
	}
	return f, nil
}

// ParseHint reads "host:port", "tcp:host:port" or "tcp:[v6]:port".
func ParseHint(raw string) (Hint, error) {
	if raw == "" {
		return Hint{}, fmt.Errorf("empty hint")
	}
	body := strings.TrimPrefix(raw, "tcp:")
	if strings.HasPrefix(body, "tcp:") {
		return Hint{}, fmt.Errorf("hint %q: repeated tcp: prefix", raw)
	}
	host, portStr, err := net.SplitHostPort(body)
	if err != nil {
		return Hint{}, fmt.Errorf("hint %q: want host:port or tcp:host:port", raw)
	}
	if host == "" {
		return Hint{}, fmt.Errorf("hint %q: empty host", raw)
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(body, "[") {
		return Hint{}, fmt.Errorf("hint %q: IPv6 addresses must be in brackets", raw)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return Hint{}, fmt.Errorf("hint %q: port %q is not 1-65535", raw, portStr)
	}
	return Hint{Host: host, Port: port}, nil
}

// ValidTubID reports whether s has a tubid's shape: 32 chars of [a-z2-7].
func ValidTubID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
