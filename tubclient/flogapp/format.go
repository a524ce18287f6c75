package flogapp

import (
	"fmt"
	"strings"

	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Line renders a reconstructed event as tail prints it, one line: the
// time and the tub that logged it, then for a decision the peer, role,
// the offer's incarnation and last-connection, the verdict, the rule and
// its sentence, as the decision log shows them; for a connection what
// happened to it. Kinds that only restate a decision (the offer, the
// decision sent) print nothing: ok is false.
func Line(ev *snapshot.Event) (line string, ok bool) {
	var b strings.Builder
	b.WriteString(ev.Time.Format("15:04:05.000"))
	b.WriteString(" [" + short(ev.TubID) + "] ")
	switch ev.Kind {
	case snapshot.KindVerdict, snapshot.KindDecisionReceived:
		verdict := "✗ REJECT"
		if ev.Accept != nil && *ev.Accept {
			verdict = "✓ ACCEPT"
		}
		fmt.Fprintf(&b, "%s %-6s inc %-8s last %-17s %s %s", short(ev.PeerTubID), role(ev.Role),
			orDash(short(ev.Incarnation)), lastConnection(ev.LastConnection), verdict, ev.Rule)
		if ev.Detail != "" {
			b.WriteString(": " + ev.Detail)
		}
	case snapshot.KindBrokerAttached:
		fmt.Fprintf(&b, "%s attached connection #%d as %s", short(ev.PeerTubID), ev.BrokerID, role(ev.Role))
		if ev.Current != "" {
			b.WriteString(" (current-connection " + lastConnection(ev.Current) + ")")
		}
	case snapshot.KindBrokerDetached:
		if ev.Close == snapshot.CloseReplaced {
			fmt.Fprintf(&b, "%s replaced connection #%d", short(ev.PeerTubID), ev.BrokerID)
		} else {
			fmt.Fprintf(&b, "%s lost connection #%d (%s)", short(ev.PeerTubID), ev.BrokerID, orDash(string(ev.Close)))
		}
		if ev.Reason != "" {
			b.WriteString(": " + ev.Reason)
		}
	case snapshot.KindNegotiationFailed:
		fmt.Fprintf(&b, "%s negotiation failed: %s", orDash(short(ev.PeerTubID)), ev.Err)
	case snapshot.KindIncarnation:
		fmt.Fprintf(&b, "tub %s incarnation %s", short(ev.TubID), ev.Incarnation)
		if ev.Message != "" {
			b.WriteString(": " + ev.Message)
		}
	case snapshot.KindClone:
		fmt.Fprintf(&b, "%s clone: %s", short(ev.PeerTubID), ev.Message)
	default:
		return "", false
	}
	return b.String(), true
}

// RawLine renders a raw Foolscap event as tail --all prints it: time,
// level, facility, number and parent, and the text Foolscap would show.
func RawLine(ev flog.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time().Format("15:04:05.000"))
	fmt.Fprintf(&b, " L%d [%s] #%d", int(ev.Level()), ev.Facility(), ev.Num())
	if parent, ok := ev.Parent(); ok {
		fmt.Fprintf(&b, " <-#%d", parent)
	}
	b.WriteString(" ")
	b.WriteString(strings.ReplaceAll(ev.Text(), "\n", " "))
	return b.String()
}

func role(r snapshot.Role) string { return orDash(string(r)) }

// lastConnection shortens "IR SEQ" to the IR's first 8 characters.
func lastConnection(s string) string {
	ir, seq, ok := strings.Cut(s, " ")
	if !ok {
		return orDash(s)
	}
	return short(ir) + " " + seq
}

func short(id string) string { return id[:min(8, len(id))] }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
