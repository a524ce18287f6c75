package flog

// Values in an event are plain Go values, one type per Python kind, so
// both a JSON line from a saved file and a Banana-decoded dict from a live
// logport come out the same:
//
//	nil          None (JSON null)
//	bool         True/False
//	int64        int
//	*big.Int     int beyond 64 bits
//	float64      float, NaN and ±Inf included
//	string       str
//	Bytes        bytes (only from Banana; a saved file holds a placeholder)
//	List, Tuple  list, tuple (a saved file turns tuples into lists)
//	Set          set and frozenset (only from Banana)
//	Dict         dict, keys in their order
//	Placeholder  what Foolscap's JSON encoder writes for what JSON cannot
//	             hold: {"@": "UnJSONable", "repr": …}, {"@": "Failure", …}

// Bytes is a Python bytes value.
type Bytes []byte

// List is a Python list.
type List []any

// Tuple is a Python tuple.
type Tuple []any

// Set is a Python set.
type Set []any

// Field is one key and value of a Dict.
type Field struct {
	Key   string
	Value any
}

// Dict is a Python dict with string keys, in insertion order, which is
// also the order Foolscap's JSON encoder writes them.
type Dict []Field

// Get returns the value under key.
func (d Dict) Get(key string) (any, bool) {
	for i := range d {
		if d[i].Key == key {
			return d[i].Value, true
		}
	}
	return nil, false
}

// String returns the value under key when it is a string.
func (d Dict) String(key string) string {
	v, _ := d.Get(key)
	s, _ := v.(string)
	return s
}

// Placeholder kinds Foolscap's JSON encoder writes.
const (
	PlaceholderUnJSONable       = "UnJSONable"
	PlaceholderUnreprable       = "Unreprable"
	PlaceholderReallyUnreprable = "ReallyUnreprable"
	PlaceholderFailure          = "Failure"
)

// Placeholder stands for a value JSON could not hold: Kind is its "@"
// field and Fields all of its fields, "@" included, as written.
type Placeholder struct {
	Kind   string
	Fields Dict
}

// Repr is the Python repr Foolscap saved for the value ("" when it has
// none): the "repr" field, or for a Failure its "str".
func (p Placeholder) Repr() string {
	if p.Kind == PlaceholderFailure {
		if s := p.Fields.String("str"); s != "" {
			return s
		}
	}
	if s := p.Fields.String("repr"); s != "" {
		return s
	}
	if s := p.Fields.String("exception_repr"); s != "" {
		return "<unreprable: " + s + ">"
	}
	return "<" + p.Kind + ">"
}

// placeholderKind reports whether d is one of Foolscap's placeholders.
func placeholderKind(d Dict) (string, bool) {
	if len(d) == 0 || d[0].Key != "@" {
		// Foolscap writes "@" first; anywhere else it is application data.
		return "", false
	}
	kind, ok := d[0].Value.(string)
	if !ok {
		return "", false
	}
	switch kind {
	case PlaceholderUnJSONable, PlaceholderUnreprable, PlaceholderReallyUnreprable, PlaceholderFailure:
		return kind, true
	}
	return "", false
}

// unjsonable is the placeholder Foolscap writes for a value with repr r.
func unjsonable(r string) Placeholder {
	return Placeholder{Kind: PlaceholderUnJSONable, Fields: Dict{
		{"@", PlaceholderUnJSONable},
		{"message", "log.msg() was given an object that could not be encoded into JSON. I've replaced it with this UnJSONable object. The object's repr is in .repr"},
		{"repr", r},
	}}
}
