package logport

import (
	"time"

	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Foolscap's log levels.
const (
	Noisy       = 10
	Operational = 20
	Unusual     = 23
	Curious     = 25
	Infrequent  = 27
	Weird       = 30
	Scary       = 35
	Bad         = 40
)

// eventForm is how one kind of tubscope event reads as a Foolscap log
// event: its facility, its level and its format over the event's fields.
type eventForm struct {
	facility string
	level    int
	format   string
}

var forms = map[snapshot.Kind]eventForm{
	snapshot.KindOfferReceived:      {"tubscope.negotiation", Noisy, "offer from %(peer)s: incarnation %(offer_incarnation)s, last-connection %(last_connection)s"},
	snapshot.KindVerdict:            {"tubscope.negotiation", Operational, "%(role)s %(verdict)s offer from %(peer)s (%(rule)s): %(detail)s"},
	snapshot.KindDecisionReceived:   {"tubscope.negotiation", Operational, "%(role)s %(verdict)s by the master of %(peer)s (%(rule)s): %(detail)s"},
	snapshot.KindDecisionSent:       {"tubscope.negotiation", Noisy, "decision sent to %(peer)s: %(current_connection)s"},
	snapshot.KindNegotiationFailed:  {"tubscope.negotiation", Unusual, "negotiation with %(peer)s from %(remote)s failed (%(close)s): %(error)s"},
	snapshot.KindBrokerAttached:     {"tubscope.connection", Operational, "connection %(broker)d to %(peer)s attached as %(role)s (%(current_connection)s)"},
	snapshot.KindBrokerDetached:     {"tubscope.connection", Operational, "connection %(broker)d to %(peer)s ended (%(close)s): %(reason)s"},
	snapshot.KindBrokerSuspect:      {"tubscope.connection", Unusual, "connection %(broker)d to %(peer)s is suspect: %(reason)s"},
	snapshot.KindReconnectScheduled: {"tubscope.connection", Operational, "reconnecting to %(peer)s in %(delay)s: %(error)s"},
	snapshot.KindIncarnation:        {"tubscope.tub", Operational, "%(message)s (incarnation %(offer_incarnation)s)"},
	snapshot.KindPolicy:             {"tubscope.tub", Operational, "%(message)s"},
	snapshot.KindFault:              {"tubscope.fault", Curious, "%(peer)s: %(message)s"},
	snapshot.KindCall:               {"tubscope.pb", Noisy, "call %(message)s from %(peer)s %(outcome)s"},
	snapshot.KindClone:              {"tubscope.negotiation", Weird, "clone of %(peer)s: %(message)s"},
	snapshot.KindPeerEvicted:        {"tubscope.tub", Noisy, "%(message)s"},
	snapshot.KindRefused:            {"tubscope.listener", Unusual, "refused a connection from %(remote)s: %(reason)s"},
}

// levelOf weighs an event: refusals are unusual, and a verdict Foolscap
// itself calls weird (an offer claiming a seqnum we never gave) is weird
// here too, which makes it an incident's trigger.
func levelOf(ev snapshot.Event, f eventForm) int {
	switch ev.Kind {
	case snapshot.KindVerdict, snapshot.KindDecisionReceived:
		if ev.Rule == "newer-seqnum" {
			return Weird
		}
		if ev.Accept != nil && !*ev.Accept {
			return Unusual
		}
	case snapshot.KindBrokerDetached:
		switch ev.Close {
		case snapshot.CloseProtocolError, snapshot.CloseWriteError, snapshot.CloseOverBudget:
			return Unusual
		}
	}
	return f.level
}

// eventDict turns a tubscope event into a Foolscap log event: num, time,
// level, facility, the logger's incarnation (Foolscap's (hex, None) pair),
// a format, and every field a format may name, so Foolscap's formatting
// never fails (empty ones read "-"). An offer's incarnation is
// offer_incarnation, since incarnation is the logger's.
func eventDict(ev snapshot.Event, num int64, incarnation string) banana.Dict {
	f, ok := forms[ev.Kind]
	if !ok {
		f = eventForm{"tubscope", Operational, "%(kind)s %(message)s"}
	}
	d := banana.Dict{
		{Key: "num", Value: num},
		{Key: "time", Value: float64(ev.Time.UnixNano()) / 1e9},
		{Key: "level", Value: int64(levelOf(ev, f))},
		{Key: "facility", Value: f.facility},
		{Key: "incarnation", Value: banana.Tuple{incarnation, nil}},
		{Key: "format", Value: f.format},
		{Key: "kind", Value: string(ev.Kind)},
		{Key: "tubID", Value: ev.TubID},
	}
	add := func(k string, v any) { d = append(d, banana.DictEntry{Key: k, Value: v}) }
	str := func(k, v string) {
		if v == "" {
			v = "-"
		}
		add(k, v)
	}
	str("peer", ev.PeerTubID)
	str("role", string(ev.Role))
	str("side", string(ev.Side))
	str("remote", ev.Remote)
	str("offer_incarnation", ev.Incarnation)
	str("last_connection", ev.LastConnection)
	str("attempt_id", ev.AttemptID)
	str("rule", ev.Rule)
	str("detail", ev.Detail)
	str("current_connection", ev.Current)
	str("reason", ev.Reason)
	str("close", string(ev.Close))
	str("error", ev.Err)
	str("message", ev.Message)
	add("broker", int64(ev.BrokerID))
	verdict := "-"
	if ev.Accept != nil {
		add("accept", *ev.Accept)
		verdict = "accepted"
		if !*ev.Accept {
			verdict = "rejected"
		}
	}
	add("verdict", verdict)
	outcome := "answered"
	if ev.Err != "" {
		outcome = "failed: " + ev.Err
	}
	add("outcome", outcome)
	add("delay", ev.Delay.Round(time.Millisecond).String())
	add("seq", int64(ev.Seq))
	return d
}
