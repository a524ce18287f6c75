package banana

import (
	"fmt"
	"sync/atomic"
)

// A message's cost is the memory its decoded Go values take, estimated as it
// is decoded so that a message is refused before it is built:
//
//	valueCost per value: an INT, FLOAT, STRING or finished sequence. It is
//	  the interface slot the value takes in its parent (16 B), the slot it
//	  held in the decoder's scratch slice while its parent was open (16 B,
//	  more while that slice grows), and the box of a non-small scalar or of
//	  a string or slice header (0–24 B).
//	openCost more per OPEN: its entry in the back-reference table.
//	the body length of every STRING, LONGINT and LONGNEG.
//
// Opentype names and the number inside a back-reference produce no value and
// cost nothing, so a back-reference costs one value however large the object
// it names: shared objects count once. TestValueCostMatchesAllocation checks
// these figures against what decoding really allocates.
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
