package tubclient

import (
	"fmt"
	"net"
	"net/netip"
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

// SkippedHint is a location hint tubscope cannot dial: one that Foolscap
// hands to a connection plugin (Tor, I2P, ...) rather than to plain TCP.
// Foolscap skips hints it has no handler for, and so does tubscope.
type SkippedHint struct {
	Hint string // as written in the FURL
	Type string // the part before the first ':', e.g. "tor"
	Pos  int    // index among all of the FURL's hints, so String keeps their order
	Why  string // e.g. "needs a Tor connection handler, which tubscope does not have"
}

// FURL is a reference to one object on one tub.
type FURL struct {
	TubID string
	// Hints are the TCP hints, in FURL order: the locations a dialler tries.
	Hints []Hint
	// Skipped are the other hints, kept so String writes the FURL back whole.
	Skipped  []SkippedHint
	Swissnum string
}

// String writes the FURL with every hint, TCP and skipped, in its original
// order; TCP hints take the tcp: form.
func (f FURL) String() string {
	hs := make([]string, 0, len(f.Hints)+len(f.Skipped))
	i, j := 0, 0
	for i < len(f.Hints) || j < len(f.Skipped) {
		if j < len(f.Skipped) && (i == len(f.Hints) || f.Skipped[j].Pos <= len(hs)) {
			hs = append(hs, f.Skipped[j].Hint)
			j++
		} else {
			hs = append(hs, f.Hints[i].String())
			i++
		}
	}
	return "pb://" + f.TubID + "@" + strings.Join(hs, ",") + "/" + f.Swissnum
}

// NoUsableHintError says why a FURL gives tubscope nowhere to dial.
type NoUsableHintError struct {
	TubID   string
	Skipped []SkippedHint // empty when the FURL has no hints at all
}

func (e *NoUsableHintError) Error() string {
	tub := e.TubID
	if len(tub) > 8 {
		tub = tub[:8] + "…"
	}
	if len(e.Skipped) == 0 {
		return fmt.Sprintf("no location hints in FURL for tub %s: it can be reached only over a connection it makes itself", tub)
	}
	whys := make([]string, len(e.Skipped))
	for i, s := range e.Skipped {
		whys[i] = s.Hint + " " + s.Why
	}
	return fmt.Sprintf("no usable location hint in FURL for tub %s: %s", tub, strings.Join(whys, "; "))
}

// Usable returns a *NoUsableHintError when f has no TCP hint to dial,
// naming each hint it has and what that hint would need.
func (f FURL) Usable() error {
	if len(f.Hints) > 0 {
		return nil
	}
	return &NoUsableHintError{TubID: f.TubID, Skipped: f.Skipped}
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
// TCP hints go to Hints; hints for connection plugins tubscope lacks go to
// Skipped; a malformed TCP hint is an error.
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
	for pos, raw := range strings.Split(hintPart, ",") {
		if kind := pluginHintType(raw); kind != "" {
			f.Skipped = append(f.Skipped, SkippedHint{Hint: raw, Type: kind, Pos: pos, Why: missingHandler(kind)})
			continue
		}
		h, err := parseTCPHint(raw)
		if err != nil {
			return bad("hint", "%v", err)
		}
		f.Hints = append(f.Hints, h)
	}
	return f, nil
}

// ParseHint reads one TCP hint: "host:port", "tcp:host:port" or
// "tcp:[v6]:port". A hint for a connection plugin (tor:, i2p:, ...) is an
// error that says what it would need.
func ParseHint(raw string) (Hint, error) {
	if kind := pluginHintType(raw); kind != "" {
		return Hint{}, fmt.Errorf("hint %q %s", raw, missingHandler(kind))
	}
	return parseTCPHint(raw)
}

// pluginHintType returns the TYPE of a TYPE:... hint that belongs to a
// connection plugin, or "" for what Foolscap 21.7 reads as TCP. Foolscap
// first takes "host:port" (a DNS name or dotted quad, then digits) as
// old-style TCP, then looks up the plugin named before the first ':'.
// Plugin hints are told to carry a second ':' or a '=' (tor:HOST:PORT,
// systemd:fd=3); i2p's own one-field form is known by name. Anything else
// with one field after a word reads as a mistyped host:port and is parsed
// as TCP, so it fails with a precise error instead of vanishing.
func pluginHintType(raw string) string {
	kind, rest, ok := strings.Cut(raw, ":")
	if !ok || kind == "tcp" || !isHintType(kind) {
		return ""
	}
	if isDNSName(kind) && isDigits(rest) {
		return "" // old-style host:port
	}
	if kind == "tor" || kind == "i2p" || strings.ContainsAny(rest, ":=") {
		return kind
	}
	return ""
}

// missingHandler is the reason a plugin hint is skipped.
func missingHandler(kind string) string {
	switch kind {
	case "tor":
		return "needs a Tor connection handler, which tubscope does not have"
	case "i2p":
		return "needs an I2P connection handler, which tubscope does not have"
	}
	return fmt.Sprintf("needs a connection handler for hint type %q, which tubscope does not have", kind)
}

// parseTCPHint reads "host:port", "tcp:host:port" or "tcp:[v6]:port", with
// a host Foolscap's TCP handler accepts: a DNS name, a dotted quad or a
// bracketed IPv6 address (with an optional %zone).
func parseTCPHint(raw string) (Hint, error) {
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
	bracketed := strings.HasPrefix(body, "[")
	if strings.Contains(host, ":") && !bracketed {
		return Hint{}, fmt.Errorf("hint %q: IPv6 addresses must be in brackets", raw)
	}
	if bracketed && !isIPv6Literal(host) || !bracketed && !isDNSName(host) {
		return Hint{}, fmt.Errorf("hint %q: host %q is not a DNS name, IPv4 address or bracketed IPv6 address", raw, host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || !isDigits(portStr) || port < 1 || port > 65535 {
		return Hint{}, fmt.Errorf("hint %q: port %q is not 1-65535", raw, portStr)
	}
	return Hint{Host: host, Port: port}, nil
}

// isHintType reports whether s can name a hint type: letters and digits,
// as Foolscap's hint grammar has it.
func isHintType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isDNSName matches Foolscap's DNS_NAME_RESTR (which covers dotted quads).
func isDNSName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// isIPv6Literal accepts what goes between the brackets of an IPv6 hint:
// an IPv6 address (IPv4-mapped allowed) and an optional %zone of letters,
// digits and dots.
func isIPv6Literal(s string) bool {
	addr, zone, hasZone := strings.Cut(s, "%")
	if hasZone && (zone == "" || strings.ContainsFunc(zone, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.')
	})) {
		return false
	}
	ip, err := netip.ParseAddr(addr)
	return err == nil && ip.Is6() && strings.Contains(addr, ":")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
