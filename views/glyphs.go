package views

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// asciiGlyph maps every symbol the screens draw to one ASCII cell, so a
// terminal whose locale is not UTF-8 keeps each column where it was. The
// help legend shows both forms.
var asciiGlyph = map[rune]byte{
	'●': '*', // live
	'◐': '~', // suspect
	'◌': '.', // connecting, negotiating
	'↻': '@', // backing off
	'⊘': '!', // locked out
	'✕': 'X', // refused
	'○': 'o', // idle
	'×': 'x', // clone "×2", group counts "64×"
	'▶': '>', // cursor
	'▸': '>', // collapsed group
	'▾': 'v', // expanded group
	'✓': '+', // accept
	'✗': 'x', // reject, error
	'↑': '^',
	'↓': 'v',
	'→': '>',
	'←': '<',
	'‖': '|',
	'·': '.',
	'•': '*',
	'…': '~', // cut text
	'—': '-', // none
	'–': '-',
	'“': '"',
	'”': '"',
	'─': '-',
	'│': '|',
	'└': '`',
	'├': '|',
	'≤': '<',
	'≥': '>',
	'⚠': '!',
	'▁': '_', '▂': '.', '▃': ',', '▄': '-', '▅': ':', '▆': '=', '▇': '*', '█': '#',
}

// ToASCII rewrites a rendered screen for a terminal that cannot show
// UTF-8: known glyphs become their one-cell ASCII stand-ins, anything else
// becomes '?' per cell. Escape sequences (styles) pass through untouched.
func ToASCII(s string) string {
	if isASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if a, ok := asciiGlyph[r]; ok {
			b.WriteByte(a)
			continue
		}
		b.WriteString(strings.Repeat("?", max(lipgloss.Width(string(r)), 1)))
	}
	return b.String()
}

// Glyph legend entries for the help screen: the symbol, its ASCII form
// and what it means.
type GlyphHelp struct {
	Glyph, Meaning string
}

// Legend lists the state glyphs and marks the screens use.
func Legend() []GlyphHelp {
	return []GlyphHelp{
		{peerGlyph(snapshot.PeerLive), "live: an established broker"},
		{peerGlyph(snapshot.PeerSuspect), "suspect: silent past the keepalive"},
		{peerGlyph(snapshot.PeerConnecting), "connecting / negotiating"},
		{peerGlyph(snapshot.PeerBackingOff), "backing off: waiting to retry"},
		{peerGlyph(snapshot.PeerLockedOut), "locked out: the master refuses our offers"},
		{peerGlyph(snapshot.PeerRefused), "refused: the address refused or was unreachable"},
		{peerGlyph(snapshot.PeerIdle), "idle: known, nothing dialling"},
		{"×2", "clone: two processes share the peer's key"},
		{"└", "another broker of the peer above (duplicate)"},
		{"✓ ✗", "accepted / rejected offer"},
		{"▸ ▾", "a group of repeated decisions, folded / open"},
		{"↑ ↓", "sort direction; newer rows below"},
	}
}
