package storm

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
)

// Reason is why one attempt failed, as its client saw it.
type Reason struct {
	// Refused: the queen answered the offer with an error decision; Text is
	// then the queen's own words (NegotiationError.Remote).
	Refused bool
	// Text is the queen's text, or for other failures a short class:
	// "negotiation timed out", "connection refused", ...
	Text string
	// Offer says what the refused offer carried as last-connection, in
	// words, for a duplicate refusal: that is all a slave can add to the
	// master's text, which is the same for every duplicate rule.
	Offer string
	// Rule is the one Foolscap 21.7 rule that refuses such an offer. A
	// queen with other rules (tubscope's probe or clone limits) refuses
	// with the same text, so it names what a Foolscap queen decided, and
	// is only a reading for any other.
	Rule string
}

// Key is how reasons are counted: the queen's text, and what the offer
// carried.
func (r Reason) Key() string {
	if r.Offer != "" {
		return r.Text + " (" + r.Offer + ")"
	}
	return r.Text
}

// duplicateText is what Foolscap (and tubscope) send when a master
// refuses an offer because it holds a connection with the peer.
const duplicateText = "Duplicate connection"

// readRefusal describes a duplicate offer that carried offered as its
// last-connection ("" when none) and names the Foolscap 21.7 rule that
// refuses it: under Foolscap's order an offer from a new incarnation is
// accepted, so a refused one matched the held connection's incarnation,
// and then only these rules refuse.
func readRefusal(text, offered string) (offer, rule string) {
	if text != duplicateText {
		return "", ""
	}
	switch {
	case offered == "":
		return "offer had no last-connection", string(negotiation.RuleNoLastConnection)
	case strings.HasPrefix(offered, negotiation.NoMasterIncarnation+" "):
		return "offer remembered no decision", string(negotiation.RuleNeverDecided)
	}
	return "offer named an earlier connection", string(negotiation.RuleOlderSeqNum)
}

// classify names an attempt's failure. offered is the last-connection the
// attempt's offer carried, when it got as far as a decision.
func classify(err error, offered string) Reason {
	var ne *tubclient.NegotiationError
	if errors.As(err, &ne) && ne.Remote != "" {
		offer, rule := readRefusal(ne.Remote, offered)
		return Reason{Refused: true, Text: ne.Remote, Offer: offer, Rule: rule}
	}
	var re *tubclient.RemoteError
	var dead *tubclient.DeadReferenceError
	var op *net.OpError
	switch {
	case errors.Is(err, tubclient.ErrNegotiationTimeout):
		return Reason{Text: "negotiation timed out"}
	case errors.Is(err, context.DeadlineExceeded):
		return Reason{Text: "attempt timed out"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return Reason{Text: "connection refused"}
	case errors.Is(err, syscall.ECONNRESET):
		return Reason{Text: "connection reset"}
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return Reason{Text: "no local address or port left"}
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return Reason{Text: "out of open files"}
	case errors.As(err, &dead):
		return Reason{Text: "connection lost during the call"}
	case errors.As(err, &re):
		return Reason{Text: "remote error: " + re.Type}
	case errors.Is(err, ErrPublicTarget):
		return Reason{Text: "refused to dial a public address"}
	case errors.As(err, &op) && op.Op == "dial":
		return Reason{Text: "unreachable"}
	case errors.As(err, &ne):
		return Reason{Text: "negotiation failed in " + ne.Phase}
	}
	return Reason{Text: "other"}
}
