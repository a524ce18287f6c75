package banana

import (
	"fmt"
	"sync/atomic"
)

// A message's cost is the memory its decoded Go values take, estimated as it
// is decoded so that a message is refused before it is built:
//
//	valueCost per value (an INT, FLOAT, STRING or sequence): the interface
//	  slot it takes in its parent (16 B), its slot in the scratch slice the
//	  parent's items gather in, which grows by doubling (16–32 B), and the
//	  box of a non-small scalar or a string header (0–16 B).
//	openCost more per OPEN: its back-reference table slot (16–32 B).
//	the body length of every STRING, LONGINT and LONGNEG.
//
// Opentype names and the number inside a back-reference produce no value and
// cost nothing, so a back-reference costs one value however large the object
// it names: shared objects count once. TestValueCostMatchesAllocation holds
// the model to what decoding allocates; per element of a 12,288-element
// list (Go 1.26, amd64), allocated against cost: small INT 59/64, large INT
// or FLOAT 67/64, bytes "x" 91/65, unicode "x" 134/161, empty list 126/96,
// [0] 142/160, {0: 0} 158/224, back-reference 102/96.
const (
	valueCost = 64
	openCost  = 32
)

// reserveStep is how much a decoder takes from a shared Budget at a time,
// so a message costs a few atomic operations rather than one per token.
const reserveStep = 16 << 10

// Budget is a limit on decoded bytes shared by every Decoder of one tub.
// Decoders reserve from it while they decode a message and hand the
// reservation on with the message (Event.Cost); it comes back when the
// caller passes the message to Decoder.Release. Safe for concurrent use.
type Budget struct {
	limit int64
	inUse atomic.Int64
}

// NewBudget returns a Budget allowing limit bytes in use at once.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: limit}
}

// Limit reports the budget's size.
func (b *Budget) Limit() int64 { return b.limit }

// InUse reports how many bytes are reserved now.
func (b *Budget) InUse() int64 { return b.inUse.Load() }

// Reserve takes n bytes if that stays within the limit, and reports whether
// it did.
func (b *Budget) Reserve(n int64) bool {
	if n < 0 {
		panic("banana: Budget.Reserve of a negative amount")
	}
	for {
		cur := b.inUse.Load()
		if cur+n > b.limit || cur+n < cur {
			return false
		}
		if b.inUse.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// Release gives back n bytes taken by Reserve. Releasing more than is in
// use is a bug in the caller, as with a negative sync.WaitGroup counter.
func (b *Budget) Release(n int64) {
	if n < 0 || b.inUse.Add(-n) < 0 {
		panic("banana: Budget.Release of more than was reserved")
	}
}

// BudgetError is the fatal error a Decoder returns when the messages it
// has delivered and not yet seen released, plus the one it is decoding,
// would take more than Config.MaxConnectionCost. The connection should
// close, naming Scope in its reason.
type BudgetError struct {
	Scope   string // "connection"
	Limit   int64  // the configured limit
	Held    int64  // decoded by earlier messages and not released
	Message int64  // the message in progress, including the token that broke the limit
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("banana: %s decoding budget exceeded: %d bytes held by unreleased messages + %d in this message > limit %d",
		e.Scope, e.Held, e.Message, e.Limit)
}
