package banana

// Go forms of Banana values. Decoding produces: nil (none), bool, int64 or
// *big.Int (outside int64), float64, string (unicode), []byte (bare STRING
// or VOCAB used as a value), List, Tuple, Dict, Set, Copyable,
// MyReference, YourReference, TheirReference and, for a back-reference to
// a sequence still being decoded (a cycle), Reference.

// List is a Python list.
type List []any

// Tuple is a Python tuple.
type Tuple []any

// Set is a Python set; immutable-set decodes to it too.
type Set []any

// DictEntry is one key/value pair of a Dict.
type DictEntry struct {
	Key   any
	Value any
}

// Dict is a Python dict in wire order. Keys may be any value.
type Dict []DictEntry

// KV is a named value: a keyword argument or a copyable attribute. Names
// travel as bare STRINGs.
type KV struct {
	Key   string
	Value any
}

// Copyable is a pass-by-copy object: its class name and its attributes in
// wire order.
type Copyable struct {
	Class string
	State []KV
}

// MyReference is the sender's own object. Interface and FURL accompany
// only its first transmission on a connection; when FURL is set the
// interface name is sent too (as "" if empty), when both are empty only
// the CLID is sent.
type MyReference struct {
	CLID      int64 // negative for bound methods
	Interface string
	FURL      string
}

// YourReference hands the receiver back one of its own objects.
type YourReference struct {
	CLID int64
}

// TheirReference is a gift of a third party's object.
type TheirReference struct {
	GiftID int64
	FURL   string
}

// Reference is a back-reference to the sequence with this OPEN number in
// the same top-level message. Encoding one emits it as is; decoding yields
// it only when the target is still open (a cycle). Other back-references
// decode to the earlier value itself, the same Go value (a List shares its
// backing array), and the Encoder sends a container it meets twice as a
// back-reference, so shared values stay shared both ways.
type Reference int64
