package reconstruct

import (
	"fmt"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// whatIf re-decides a master's offer under every tubscope policy from the
// inputs the log shows, and lists those whose verdict differs from
// Foolscap's. Liveness is the one input a Foolscap log does not carry:
// a policy that needs it is weighed only when the answer does not depend
// on it, and otherwise says what it would have had to find out.
func (r *Reconstructor) whatIf(n *nego, d snapshot.Decision, ts *tubState, t time.Time) []snapshot.Alternative {
	if n.existing == nil || d.Rule == RuleUnknown {
		// Nothing held: every policy accepts. Unknown rule: no inputs.
		return nil
	}
	in, ok := r.input(n, t)
	if !ok || in.Existing == nil {
		return nil
	}
	created := !in.Existing.Created.IsZero()
	if d.Existing != nil && !d.Existing.LastReceived.IsZero() {
		in.Existing.LastReceived = d.Existing.LastReceived
	}
	actual := negotiation.PolicyFoolscap
	if ts.handleOld {
		actual = negotiation.PolicyHandleOld
	}
	var out []snapshot.Alternative
	for _, name := range negotiation.PolicyNames() {
		if name == actual {
			continue
		}
		pol, err := negotiation.PolicyByName(name)
		if err != nil {
			continue
		}
		var v negotiation.Verdict
		switch name {
		case negotiation.PolicyHandleOld:
			if !created {
				continue // its verdict may turn on the broker's age
			}
			v = pol.Decide(in)
		case negotiation.PolicyAge:
			alt, ok := r.ageWhatIf(in, created)
			if !ok {
				continue
			}
			v = alt
		case negotiation.PolicyProbe:
			alt, ok := r.probeWhatIf(pol, in)
			if !ok {
				continue
			}
			if alt.Probe {
				if !d.Accept {
					out = append(out, snapshot.Alternative{Policy: name, Accept: false, Rule: string(alt.Rule),
						Detail: "probe would have probed the held connection before deciding: " + alt.Detail +
							"; the log does not show whether the held connection would have answered"})
				}
				continue
			}
			v = alt
		default:
			v = pol.Decide(in)
		}
		if v.Accept == d.Accept && !(v.DropExisting && name == negotiation.PolicyDropBoth) {
			continue
		}
		word := "rejected"
		if v.Accept {
			word = "accepted"
		} else if v.DropExisting {
			word = "rejected and dropped the held connection too"
		}
		out = append(out, snapshot.Alternative{Policy: name, Accept: v.Accept, Rule: string(v.Rule),
			Detail: fmt.Sprintf("%s would have %s: %s", name, word, v.Detail)})
	}
	return out
}

// ageWhatIf weighs the age policy: silence since the last byte received.
// Known silence decides; without it, a broker younger than the threshold
// cannot have been silent that long, so age keeps it.
func (r *Reconstructor) ageWhatIf(in negotiation.Input, created bool) (negotiation.Verdict, bool) {
	pol := negotiation.Age{}
	if !in.Existing.LastReceived.IsZero() {
		return pol.Decide(in), true
	}
	if !created {
		return negotiation.Verdict{}, false
	}
	if age := in.Now.Sub(in.Existing.Created); age < negotiation.DefaultAgeThreshold {
		return negotiation.Verdict{Accept: false, Rule: negotiation.RuleAgeActive,
			Detail: fmt.Sprintf("the held connection was only %s old, under the %s threshold, so it cannot have been silent that long", age.Round(time.Millisecond), negotiation.DefaultAgeThreshold)}, true
	}
	return negotiation.Verdict{}, false
}

// probeWhatIf weighs the probe policy. A probe asks the held broker for
// a PONG; with its last byte known, a broker silent past the keepalive
// would not have answered, and a recently heard one would have.
func (r *Reconstructor) probeWhatIf(pol negotiation.Policy, in negotiation.Input) (negotiation.Verdict, bool) {
	v := pol.Decide(in)
	if !v.Probe {
		return v, true
	}
	prober, ok := pol.(negotiation.Prober)
	if !ok {
		return v, true
	}
	last := in.Existing.LastReceived
	if last.IsZero() {
		return v, true // the caller says it would have probed
	}
	silence := in.Now.Sub(last)
	wait := prober.ProbeWait(0)
	if silence > r.opts.KeepaliveTimeout {
		res := prober.Resolve(in, negotiation.ProbeResult{Alive: false, Wait: wait})
		res.Detail = fmt.Sprintf("the held connection had been silent for %s", silence.Round(time.Second))
		return res, true
	}
	res := prober.Resolve(in, negotiation.ProbeResult{Alive: true, RTT: wait})
	res.Detail = fmt.Sprintf("the held connection was heard from %s before, within the %s keepalive, so it would have answered", silence.Round(time.Second), r.opts.KeepaliveTimeout)
	return res, true
}
