package views

import (
	"strings"

	"github.com/charmbracelet/lipgloss"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Theme is every style the screens use. Colour only ever reinforces a glyph
// or a word, so PlainTheme (and NO_COLOR terminals) lose nothing.
type Theme struct {
	Header   lipgloss.Style // the top status line
	Title    lipgloss.Style // pane and section titles
	Heading  lipgloss.Style // column headings
	Border   lipgloss.Style // rules and separators
	Selected lipgloss.Style // the cursor row
	Dim      lipgloss.Style // secondary text: ids, ages, absent values
	Key      lipgloss.Style // key names in help
	Match    lipgloss.Style // a search hit

	Accept lipgloss.Style
	Reject lipgloss.Style
	Warn   lipgloss.Style // clone flags, dropped events, countdowns

	Live        lipgloss.Style
	Suspect     lipgloss.Style // whole rows of suspect brokers
	Negotiating lipgloss.Style
	Paused      lipgloss.Style
	LockedOut   lipgloss.Style // whole rows of locked-out peers
	Narration   lipgloss.Style // the demo's story strip
}

// DefaultTheme is the coloured theme. Text colours adapt to the terminal's
// background; the header is white on a mid blue, which reads the same on
// dark and light terminals whether or not the background was detected.
func DefaultTheme() Theme {
	c := func(light, dark string) lipgloss.AdaptiveColor {
		return lipgloss.AdaptiveColor{Light: light, Dark: dark}
	}
	green, red, yellow := c("#00875f", "#5fd787"), c("#d70000", "#ff5f5f"), c("#af5f00", "#ffd75f")
	blue, grey := c("#005fd7", "#87afff"), c("#6c6c6c", "#9e9e9e")
	return Theme{
		Header:      lipgloss.NewStyle().Background(lipgloss.Color("#005f87")).Foreground(lipgloss.Color("#ffffff")),
		Title:       lipgloss.NewStyle().Bold(true).Foreground(blue),
		Heading:     lipgloss.NewStyle().Bold(true).Foreground(grey),
		Border:      lipgloss.NewStyle().Foreground(grey),
		Selected:    lipgloss.NewStyle().Reverse(true),
		Dim:         lipgloss.NewStyle().Foreground(grey),
		Key:         lipgloss.NewStyle().Bold(true).Foreground(blue),
		Match:       lipgloss.NewStyle().Underline(true).Bold(true),
		Accept:      lipgloss.NewStyle().Bold(true).Foreground(green),
		Reject:      lipgloss.NewStyle().Bold(true).Foreground(red),
		Warn:        lipgloss.NewStyle().Bold(true).Foreground(yellow),
		Live:        lipgloss.NewStyle().Foreground(green),
		Suspect:     lipgloss.NewStyle().Foreground(yellow),
		Negotiating: lipgloss.NewStyle().Foreground(blue),
		Paused:      lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#ffd75f")),
		LockedOut:   lipgloss.NewStyle().Foreground(red),
		Narration:   lipgloss.NewStyle().Bold(true),
	}
}

// PlainTheme uses no colour at all (NO_COLOR): attributes only, so the
// cursor row and headings still stand out.
func PlainTheme() Theme {
	n := lipgloss.NewStyle
	return Theme{
		Header:      n().Reverse(true),
		Title:       n().Bold(true),
		Heading:     n().Bold(true),
		Border:      n(),
		Selected:    n().Reverse(true),
		Dim:         n(),
		Key:         n().Bold(true),
		Match:       n().Underline(true),
		Accept:      n().Bold(true),
		Reject:      n().Bold(true),
		Warn:        n().Bold(true),
		Live:        n(),
		Suspect:     n().Bold(true),
		Negotiating: n(),
		Paused:      n().Bold(true),
		LockedOut:   n().Bold(true),
		Narration:   n().Bold(true),
	}
}

// stateGlyph is the symbol that tells broker states apart without colour.
func stateGlyph(s snapshot.BrokerState) string {
	switch s {
	case snapshot.Live:
		return "●"
	case snapshot.Suspect:
		return "◐"
	case snapshot.Negotiating:
		return "◌"
	default:
		return "?"
	}
}

// stateLabel is glyph and word, e.g. "◐ suspect".
func stateLabel(s snapshot.BrokerState) string {
	if s == "" {
		return "? unknown"
	}
	return stateGlyph(s) + " " + string(s)
}

// peerGlyph is the symbol for where this tub stands with a peer.
func peerGlyph(s snapshot.PeerState) string {
	switch s {
	case snapshot.PeerLive:
		return "●"
	case snapshot.PeerSuspect:
		return "◐"
	case snapshot.PeerConnecting:
		return "◌"
	case snapshot.PeerBackingOff:
		return "↻"
	case snapshot.PeerLockedOut:
		return "⊘"
	case snapshot.PeerRefused:
		return "✕"
	case snapshot.PeerIdle:
		return "○"
	default:
		return "?"
	}
}

// peerLabel is glyph and word, e.g. "⊘ locked-out".
func peerLabel(s snapshot.PeerState) string {
	if s == "" {
		return "? unknown"
	}
	return peerGlyph(s) + " " + string(s)
}

func (th Theme) peerStyle(s snapshot.PeerState) lipgloss.Style {
	switch s {
	case snapshot.PeerLive:
		return th.Live
	case snapshot.PeerSuspect, snapshot.PeerBackingOff:
		return th.Suspect
	case snapshot.PeerConnecting:
		return th.Negotiating
	case snapshot.PeerLockedOut, snapshot.PeerRefused:
		return th.Reject
	default:
		return th.Dim
	}
}

// roleLetter is M when this tub is master on the connection, S when slave.
func roleLetter(r snapshot.Role) string {
	switch r {
	case snapshot.Master:
		return "M"
	case snapshot.Slave:
		return "S"
	default:
		return "?"
	}
}

// sideWord is "out" when we dialed, "in" when they did.
func sideWord(s snapshot.Side) string {
	switch s {
	case snapshot.Client:
		return "out"
	case snapshot.Server:
		return "in"
	default:
		return "?"
	}
}

// paint is a style reduced to the escape sequences around a text, so the
// cells of a table are styled by concatenation instead of a full Render
// each (which was most of a frame's cost). Only for styles without
// padding, margins or widths: colours and attributes.
type paint struct{ pre, post string }

func paintOf(st lipgloss.Style) paint {
	r := st.Render("X")
	i := strings.IndexByte(r, 'X')
	if i < 0 {
		return paint{}
	}
	return paint{r[:i], r[i+1:]}
}

func (p paint) on(text string) string {
	if p.pre == "" && p.post == "" {
		return text
	}
	return p.pre + text + p.post
}
