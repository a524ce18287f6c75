package negotiation

import (
	"fmt"
	"strconv"
	"strings"
)

// Hello and decision keys.
const (
	KeyBananaRange     = "banana-negotiation-range"
	KeyBananaLegacy    = "banana-negotiation-version"
	KeyVocabRange      = "initial-vocab-table-range"
	KeyTubID           = "my-tub-id"
	KeyIncarnation     = "my-incarnation"
	KeyLastConnection  = "last-connection"
	KeyThisConnection  = "this-connection"
	KeyError           = "error"
	KeyDecisionVersion = "banana-decision-version"
	KeyCurrent         = "current-connection"
	KeyVocabIndex      = "initial-vocab-table-index"
)

// The banana versions this tub speaks: 3 adds PING/PONG, and Foolscap 21.7
// offers exactly "3 3".
const (
	BananaMin = 3
	BananaMax = 3
)

// NoMasterIncarnation is the master-IR a slave reports when it has never
// received a decision from that master.
const NoMasterIncarnation = "none"

// TubIDLength is the length of a tubid: base32 of a 20-byte SHA-1.
const TubIDLength = 32

// ValidTubID reports whether s looks like a tubid: 32 chars of [a-z2-7].
func ValidTubID(s string) bool {
	if len(s) != TubIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

func checkTubID(s string) error {
	if !ValidTubID(s) {
		return fmt.Errorf("tubid %q is not 32 lowercase base32 characters", s)
	}
	return nil
}

// String renders the connection as "<master-IR> <seqnum>", with "none" for
// an empty master incarnation.
func (c Connection) String() string {
	ir := c.MasterIncarnation
	if ir == "" {
		ir = NoMasterIncarnation
	}
	return ir + " " + strconv.FormatUint(c.SeqNum, 10)
}

// ParseConnection parses a last-connection or current-connection value.
func ParseConnection(s string) (Connection, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Connection{}, fmt.Errorf("connection %q is not \"<master-incarnation> <seqnum>\"", s)
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return Connection{}, fmt.Errorf("connection %q has bad seqnum %q", s, f[1])
	}
	return Connection{MasterIncarnation: f[0], SeqNum: seq}, nil
}

// parseRange parses "min max" as two non-negative ints with min <= max.
func parseRange(key, s string) (lo, hi int, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%s %q is not \"<min> <max>\"", key, s)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo < 0 || hi < 0 {
		return 0, 0, fmt.Errorf("%s %q is not two non-negative integers", key, s)
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("%s %q has min above max", key, s)
	}
	return lo, hi, nil
}

// ParseHello reads a peer's offer. A block with an "error" key is the peer
// aborting and comes back as *PeerError.
func ParseHello(b Block) (Hello, error) {
	if msg, ok := b[KeyError]; ok {
		return Hello{}, &PeerError{Message: msg}
	}
	rng, ok := b[KeyBananaRange]
	if !ok {
		if _, legacy := b[KeyBananaLegacy]; legacy {
			return Hello{}, &NegotiationError{Message: "peer sent the legacy banana-negotiation-version of foolscap 0.0.5 or earlier, which cannot interoperate; upgrade the peer"}
		}
		return Hello{}, &NegotiationError{Message: "No valid banana-negotiation sequence seen"}
	}
	var h Hello
	var err error
	if h.BananaMin, h.BananaMax, err = parseRange(KeyBananaRange, rng); err != nil {
		return Hello{}, err
	}
	vocab, ok := b[KeyVocabRange]
	if !ok {
		vocab = "0 0"
	}
	if h.VocabMin, h.VocabMax, err = parseRange(KeyVocabRange, vocab); err != nil {
		return Hello{}, err
	}
	h.TubID = b[KeyTubID]
	if err := checkTubID(h.TubID); err != nil {
		return Hello{}, fmt.Errorf("hello %s: %w", KeyTubID, err)
	}
	h.Incarnation = b[KeyIncarnation]
	if lc, ok := b[KeyLastConnection]; ok {
		c, err := ParseConnection(lc)
		if err != nil {
			return Hello{}, fmt.Errorf("hello %s: %w", KeyLastConnection, err)
		}
		h.LastConnection = &c
	}
	h.AttemptID = b[KeyThisConnection]
	return h, nil
}

// Block is the hello as sent on the wire. Empty optional fields are omitted.
func (h Hello) Block() Block {
	b := Block{
		KeyBananaRange: fmt.Sprintf("%d %d", h.BananaMin, h.BananaMax),
		KeyVocabRange:  fmt.Sprintf("%d %d", h.VocabMin, h.VocabMax),
		KeyTubID:       h.TubID,
	}
	if h.Incarnation != "" {
		b[KeyIncarnation] = h.Incarnation
	}
	if h.LastConnection != nil {
		b[KeyLastConnection] = h.LastConnection.String()
	}
	if h.AttemptID != "" {
		b[KeyThisConnection] = h.AttemptID
	}
	return b
}

// Negotiate picks the highest banana version both hellos allow.
func Negotiate(mine, theirs Hello) (bananaVersion int, err error) {
	return bestOverlap(mine.BananaMin, mine.BananaMax, theirs.BananaMin, theirs.BananaMax, "banana version")
}

// bestOverlap is the highest value inside both inclusive ranges.
func bestOverlap(myMin, myMax, theirMin, theirMax int, what string) (int, error) {
	best := min(myMax, theirMax)
	if best < myMin {
		return 0, &NegotiationError{Message: fmt.Sprintf("I can't handle %s %d (I speak %d to %d)", what, best, myMin, myMax)}
	}
	if best < theirMin {
		return 0, &NegotiationError{Message: fmt.Sprintf("You can't handle %s %d (you speak %d to %d)", what, best, theirMin, theirMax)}
	}
	return best, nil
}

// IsMaster reports whether this tub decides: the larger tubid string is the
// master, and equal tubids leave both sides slave as in Foolscap 21.7.
func IsMaster(myTubID, peerTubID string) bool {
	return myTubID > peerTubID
}
