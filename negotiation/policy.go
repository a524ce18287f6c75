package negotiation

import (
	"fmt"
	"slices"
	"time"
)

// Rules, named once and shared by every policy that applies them. A rule
// names the condition that decided; Verdict.Accept says which way.
const (
	RuleNoExisting           Rule = "no-existing"
	RuleNoIncarnation        Rule = "no-incarnation"
	RuleNoLastConnection     Rule = "no-last-connection"
	RuleHandleOldAged        Rule = "handle-old-aged"
	RuleHandleOldYoung       Rule = "handle-old-young"
	RuleNewIncarnation       Rule = "new-incarnation"
	RuleSameAttempt          Rule = "same-attempt"
	RuleLostDecision         Rule = "lost-decision"
	RuleNeverDecided         Rule = "never-decided"
	RuleOldMasterIncarnation Rule = "old-master-incarnation"
	RuleSameSeqNum           Rule = "same-seqnum"
	RuleOlderSeqNum          Rule = "older-seqnum"
	RuleNewerSeqNum          Rule = "newer-seqnum"
	RuleFirstWins            Rule = "first-wins"
	RuleNewestWins           Rule = "newest-wins"
	RuleDropBoth             Rule = "drop-both"
	RuleAgeSilent            Rule = "age-silent"
	RuleAgeActive            Rule = "age-active"
	RuleProbePending         Rule = "probe-pending"
	RuleProbeAlive           Rule = "probe-alive"
	RuleProbeSilent          Rule = "probe-silent"
)

// Policy names, in the order Cycle walks them.
const (
	PolicyFoolscap   = "foolscap"
	PolicyHandleOld  = "handle-old"
	PolicyAttemptID  = "attempt-id"
	PolicyProbe      = "probe"
	PolicyAge        = "age"
	PolicyNewestWins = "newest-wins"
	PolicyFirstWins  = "first-wins"
	PolicyDropBoth   = "drop-both"
)

// DefaultAgeThreshold is the 60 s age heuristic of Foolscap's
// handle-old-duplicate-connections, also used by the age policy.
const DefaultAgeThreshold = 60 * time.Second

var policyOrder = [...]string{
	PolicyFoolscap, PolicyHandleOld, PolicyAttemptID, PolicyProbe,
	PolicyAge, PolicyNewestWins, PolicyFirstWins, PolicyDropBoth,
}

// PolicyNames lists every policy name in cycling order, foolscap first.
func PolicyNames() []string {
	return slices.Clone(policyOrder[:])
}

// Cycle returns the policy name after current, wrapping round; an unknown
// name starts the cycle again at foolscap.
func Cycle(current string) string {
	i := slices.Index(policyOrder[:], current)
	return policyOrder[(i+1)%len(policyOrder)]
}

// PolicyByName builds the named policy with its default settings.
func PolicyByName(name string) (Policy, error) {
	switch name {
	case PolicyFoolscap:
		return Foolscap{}, nil
	case PolicyHandleOld:
		return HandleOld{}, nil
	case PolicyAttemptID:
		return AttemptID{}, nil
	case PolicyProbe:
		return Probe{}, nil
	case PolicyAge:
		return Age{}, nil
	case PolicyNewestWins:
		return NewestWins{}, nil
	case PolicyFirstWins:
		return FirstWins{}, nil
	case PolicyDropBoth:
		return DropBoth{}, nil
	}
	return nil, fmt.Errorf("unknown policy %q (known: %v)", name, policyOrder)
}

func accept(rule Rule, format string, args ...any) Verdict {
	return Verdict{Accept: true, Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

func reject(rule Rule, format string, args ...any) Verdict {
	return Verdict{Accept: false, Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// noExisting is every policy's first rule: with nothing to replace there is
// nothing to decide.
func noExisting(in Input) (Verdict, bool) {
	if in.Existing != nil {
		return Verdict{}, false
	}
	return accept(RuleNoExisting, "no established broker for tubid %s, so the offer is accepted", in.Offer.TubID), true
}

// brokerAge is how long the existing broker has lived at in.Now.
func brokerAge(in Input) time.Duration {
	return in.Now.Sub(in.Existing.Created)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// policySentences say in one line what each policy does with a duplicate
// offer, for the inspector's help and its policy key.
var policySentences = map[string]string{
	PolicyFoolscap:   "Foolscap 21.7: a new incarnation or a seqnum the peer already saw replaces the broker; a parallel or late offer is refused",
	PolicyHandleOld:  "as foolscap, but an offer without incarnation or last-connection replaces a broker at least 60 s old",
	PolicyAttemptID:  "as foolscap, but a lost first decision is retried by a new attempt id and accepted; hints of one attempt are refused",
	PolicyProbe:      "as foolscap, but before refusing it PINGs the old broker: silence replaces it, a PONG keeps it",
	PolicyAge:        "replaces the broker once it has been silent for 60 s, refuses otherwise",
	PolicyNewestWins: "the newest offer always replaces the broker (parallel hints can flap)",
	PolicyFirstWins:  "the first connection always wins: a silently dead broker locks the peer out until TCP gives up",
	PolicyDropBoth:   "a duplicate drops both the offer and the broker, so both sides start afresh",
}

// Describe says in one line what the named policy does; "" for a name it
// does not know.
func Describe(name string) string { return policySentences[name] }
