package negotiation

import (
	"fmt"
	"time"
)

// RuleCloneRateLimited refuses offers from a tubid that two processes share.
const RuleCloneRateLimited Rule = "clone-rate-limited"

// CloneGuard is applied before any policy when the peer has been seen
// alternating between incarnations: two processes share its key, and each
// one's offer would replace the other's connection forever. While the last
// accepted offer is younger than holdoff, the new offer is refused; the
// bool reports whether the guard decided.
func CloneGuard(in Input, lastAccept time.Time, holdoff time.Duration) (Verdict, bool) {
	if in.Existing == nil || holdoff <= 0 || lastAccept.IsZero() {
		return Verdict{}, false
	}
	age := in.Now.Sub(lastAccept)
	if age >= holdoff {
		return Verdict{}, false
	}
	return Verdict{Accept: false, Rule: RuleCloneRateLimited, Detail: fmt.Sprintf(
		"tubid is shared by two processes (incarnation %s alternates with another); last accept %s ago is within the %s hold-off",
		in.Offer.Incarnation, age.Round(time.Millisecond), holdoff)}, true
}
