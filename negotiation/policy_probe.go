package negotiation

import "time"

// Probe defaults.
const (
	DefaultProbeFloor      = 250 * time.Millisecond
	DefaultProbeMultiplier = 4
	DefaultProbeMax        = 2 * time.Second
)

// Probe follows Foolscap 21.7 but, where Foolscap would keep the broker,
// first PINGs it: a live broker keeps its place, a silent one is replaced.
// This closes the lockout after a lost decision without flapping parallel
// hint connections, which find the broker alive.
type Probe struct {
	Floor      time.Duration // shortest wait for a PONG; default 250 ms
	Multiplier int           // wait in units of the broker's last RTT; default 4
	Max        time.Duration // longest wait; default 2 s
}

func (Probe) Name() string { return PolicyProbe }

func (p Probe) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	fv := foolscapRules(in, 0)
	if fv.Accept || !probedRule(fv.Rule) {
		return fv
	}
	return Verdict{Probe: true, Rule: RuleProbePending, Detail: "Foolscap rule " + string(fv.Rule) + " would keep the broker (" + fv.Detail + "), so it is probed for liveness first"}
}

// probedRule lists the Foolscap rejections a probe may overturn: each keeps a
// broker that might be dead.
func probedRule(r Rule) bool {
	switch r {
	case RuleNeverDecided, RuleOlderSeqNum, RuleNewerSeqNum, RuleNoIncarnation, RuleNoLastConnection:
		return true
	}
	return false
}

// ProbeWait is max(Floor, Multiplier × lastRTT), capped at Max.
func (p Probe) ProbeWait(lastRTT time.Duration) time.Duration {
	floor := orDefault(p.Floor, DefaultProbeFloor)
	ceiling := orDefault(p.Max, DefaultProbeMax)
	mult := p.Multiplier
	if mult <= 0 {
		mult = DefaultProbeMultiplier
	}
	wait := floor
	if lastRTT > 0 {
		// Compare by division so a huge RTT cannot overflow.
		if lastRTT > ceiling/time.Duration(mult) {
			wait = ceiling
		} else {
			wait = max(wait, time.Duration(mult)*lastRTT)
		}
	}
	return min(wait, ceiling)
}

// Resolve turns the probe's outcome into the final verdict for in.
func (p Probe) Resolve(in Input, r ProbeResult) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	fv := foolscapRules(in, 0)
	if fv.Accept || !probedRule(fv.Rule) {
		return fv
	}
	if r.Alive {
		return reject(RuleProbeAlive, "the broker answered the probe in %s, so Foolscap rule %s stands and the offer is rejected", r.RTT, fv.Rule)
	}
	return accept(RuleProbeSilent, "the broker did not answer the probe within %s, so it is presumed dead and the offer replaces it despite Foolscap rule %s", r.Wait, fv.Rule)
}

var _ Prober = Probe{}
