package reconstruct

import (
	"strconv"
	"strings"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/flog"
)

// What Foolscap 21.7 logs, and what each line means. Messages are matched
// on their fixed text (or their format, for formatted events), never on
// rendered text, so values inside cannot confuse the match.

const (
	facilityNegotiation = "foolscap.negotiation"
	facilityListener    = "foolscap.listener"
	facilityConnection  = "foolscap.connection"
)

// kind is what one log line tells the reconstruction.
type kind int

const (
	kUnmapped kind = iota
	kNoise         // a Foolscap line that carries nothing the tables need
	kNegotiationStarted
	kInitServer
	kInitClient
	kPlaintextServer // handlePLAINTEXTServer: targetTubID='…'
	kSendHello
	kEvaluateHello
	kIAmTheMaster
	kGotOffer
	kExisting
	kOldPeer
	kUsingHandleOld
	kRule // a rule line of compareOfferAndExisting or handle_old
	kAcceptingOffer
	kRejectingOffer
	kSendDecision
	kSwitchToBanana
	kParams
	kAcceptDecision
	kMasterToldUs
	kNegotiationFailed
	kListenerAccepting
	kConnectorCreated
	kConsideringHint
	kConnectionRefused
	kConnectionLost
)

// ruleLine is a rule line's verdict in tubscope's names.
type ruleLine struct {
	rule   negotiation.Rule
	accept bool
}

// ruleMessages are compareOfferAndExisting's and handle_old's lines with
// fixed text.
var ruleMessages = map[string]ruleLine{
	"offer is from different peer incarnation than existing": {negotiation.RuleNewIncarnation, true},
	"peer doesn't remember talking to us":                    {negotiation.RuleNeverDecided, false},
	"peer remembers talking to our past life":                {negotiation.RuleOldMasterIncarnation, true},
	"peer knows about existing seqnum":                       {negotiation.RuleSameSeqNum, true},
	"peer knows about old seqnum":                            {negotiation.RuleOlderSeqNum, false},
	"the existing broker is old enough to replace":           {negotiation.RuleHandleOldAged, true},
}

const (
	formatNewerSeqNum  = "offer_master_seqnum %(offer)d > existing_seqnum %(existing)d"
	formatExisting     = "existing connection has slave_IR=%(slave_IR)s, seqnum=%(seqnum)s"
	formatIAmTheMaster = "iAmTheMaster: %(master)s"
	formatConnector    = "TubConnector created from %(fromtubid)s to %(totubid)s"
	prefixTooNew       = "the existing broker is too new ("
)

// noiseNegotiation are negotiation lines recognised and not needed.
var noiseNegotiation = []string{
	"dataReceived(", "startENCRYPTED(", "startTLS", "sendPlaintextClient", "handlePLAINTEXTClient",
	"handlePLAINTEXTServer: wantEncrypted", "handleDECIDING(", "debug_", "no current-connection in decision",
	"negotiation had internal error",
}

// noiseConnection are connector lines recognised and not needed.
var noiseConnection = []string{
	"connecting to hint", "connected to ", "abandoned attempt to", "unable to use hint",
	"failed to connect to", "connectorNegotiationComplete", "TubConnector.checkForFailure",
	"connectorFinished",
}

// classify names what ev is. It looks only at the facility and the
// message's fixed text.
func classify(ev flog.Event) kind {
	fac := ev.Facility()
	if format := ev.Format(); format != "" {
		switch {
		case fac == facilityNegotiation && format == formatIAmTheMaster:
			return kIAmTheMaster
		case fac == facilityNegotiation && format == formatExisting:
			return kExisting
		case fac == facilityNegotiation && format == formatNewerSeqNum:
			return kRule
		case fac == facilityConnection && format == formatConnector:
			return kConnectorCreated
		}
		return kUnmapped
	}
	msg := ev.Message()
	switch fac {
	case facilityNegotiation:
		if _, ok := ruleMessages[msg]; ok {
			return kRule
		}
		switch {
		case msg == "Negotiation started":
			return kNegotiationStarted
		case msg == "initServer":
			return kInitServer
		case strings.HasPrefix(msg, "initClient: "):
			return kInitClient
		case strings.HasPrefix(msg, "handlePLAINTEXTServer: targetTubID="):
			return kPlaintextServer
		case strings.HasPrefix(msg, "Negotiate.sendHello ("):
			return kSendHello
		case strings.HasPrefix(msg, "evaluateHello("):
			return kEvaluateHello
		case msg == "got offer for an existing connection":
			return kGotOffer
		case strings.HasPrefix(msg, "pre-0.2.0 peer detected"):
			return kOldPeer
		case msg == "using handle-old-duplicate-connections":
			return kUsingHandleOld
		case strings.HasPrefix(msg, prefixTooNew):
			return kRule
		case msg == "accepting new offer, dropping existing connection":
			return kAcceptingOffer
		case msg == "rejecting the offer: we already have one":
			return kRejectingOffer
		case strings.HasPrefix(msg, "Negotiation.sendDecision: "):
			return kSendDecision
		case strings.HasPrefix(msg, "Negotiate.switchToBanana("):
			return kSwitchToBanana
		case strings.HasPrefix(msg, "params: "):
			return kParams
		case strings.HasPrefix(msg, "Banana.acceptDecision: got "):
			return kAcceptDecision
		case strings.HasPrefix(msg, "master told us to use a new connection"):
			return kMasterToldUs
		case strings.HasPrefix(msg, "negotiationFailed"):
			return kNegotiationFailed
		}
		for _, p := range noiseNegotiation {
			if strings.HasPrefix(msg, p) {
				return kNoise
			}
		}
	case facilityListener:
		if strings.Contains(msg, "> accepting connection from ") {
			return kListenerAccepting
		}
	case facilityConnection:
		switch {
		case strings.HasPrefix(msg, "connection to ") && strings.HasSuffix(msg, " lost"):
			return kConnectionLost
		case strings.HasPrefix(msg, "considering hint: "):
			return kConsideringHint
		case strings.HasPrefix(msg, "connection refused for "):
			return kConnectionRefused
		}
		for _, p := range noiseConnection {
			if strings.HasPrefix(msg, p) {
				return kNoise
			}
		}
	}
	return kUnmapped
}

// ruleOf reads a rule line: the fixed ones, newer-seqnum with its two
// seqnums, and handle-old's young verdict with the broker's age and the
// threshold in whole seconds.
func ruleOf(ev flog.Event) (rl ruleLine, offer, existing int64, age, threshold int64, ok bool) {
	if ev.Format() == formatNewerSeqNum {
		offer, _ = ev.Int("offer")
		existing, _ = ev.Int("existing")
		return ruleLine{negotiation.RuleNewerSeqNum, false}, offer, existing, 0, 0, true
	}
	msg := ev.Message()
	if rl, ok := ruleMessages[msg]; ok {
		return rl, 0, 0, -1, -1, true
	}
	if rest, found := strings.CutPrefix(msg, prefixTooNew); found {
		nums, _, _ := strings.Cut(rest, ")")
		a, t, _ := strings.Cut(nums, "<")
		age, err1 := strconv.ParseInt(a, 10, 64)
		threshold, err2 := strconv.ParseInt(t, 10, 64)
		if err1 != nil || err2 != nil {
			age, threshold = -1, -1
		}
		return ruleLine{negotiation.RuleHandleOldYoung, false}, 0, 0, age, threshold, true
	}
	return ruleLine{}, 0, 0, 0, 0, false
}

// helloDict reads the dict after the first ": " in sendHello,
// evaluateHello ("offer="), sendDecision, acceptDecision and params.
func helloDict(msg string) map[string]string {
	i := strings.IndexByte(msg, '{')
	if i < 0 {
		return nil
	}
	d, err := parsePyDict(msg[i:])
	if err != nil {
		return nil
	}
	return d
}

// isClientFlag reads "(isClient=True)" from a negotiation line.
func isClientFlag(msg string) (client, ok bool) {
	switch {
	case strings.Contains(msg, "isClient=True"):
		return true, true
	case strings.Contains(msg, "isClient=False"):
		return false, true
	}
	return false, false
}

// listenerTub reads the tubid from "<Listener at … with tub TUBID>".
func listenerTub(msg string) string {
	_, rest, ok := strings.Cut(msg, " with tub ")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ">")
	if !negotiation.ValidTubID(id) {
		return ""
	}
	return id
}

// peerAddr renders the listener's addr field, a (host, port) pair.
func peerAddr(ev flog.Event) string {
	v, ok := ev.Get("addr")
	if !ok {
		return ""
	}
	var items []any
	switch x := v.(type) {
	case flog.List:
		items = x
	case flog.Tuple:
		items = x
	}
	if len(items) != 2 {
		return ""
	}
	host, _ := items[0].(string)
	port, _ := items[1].(int64)
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.FormatInt(port, 10)
	}
	return host + ":" + strconv.FormatInt(port, 10)
}
