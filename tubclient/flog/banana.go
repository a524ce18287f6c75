package flog

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/tubscope/tubscope/tubclient/banana"
)

// FromBanana converts an event dict as a live logport delivers it (the
// argument of RILogObserver.msg, decoded by package banana) into an Event.
// Keys may be str or bytes (a Python 2 publisher sends bytes); values keep
// their Python kind, so Text renders them as Foolscap would. Anything
// that is not a dict, or lacks num or time, is an error.
func FromBanana(v any) (Event, error) {
	d, ok := v.(banana.Dict)
	if !ok {
		return Event{}, fmt.Errorf("log event is %s, not a dict", bananaKind(v))
	}
	fields, err := convertDict(d, 0)
	if err != nil {
		return Event{}, err
	}
	return NewEvent(fields)
}

// ValueFromBanana converts one Banana-decoded value (a header's versions,
// a trigger) to this package's value types.
func ValueFromBanana(v any) (any, error) { return convert(v, 0) }

func convertDict(d banana.Dict, depth int) (Dict, error) {
	out := make(Dict, 0, len(d))
	for _, e := range d {
		k, err := keyString(e.Key)
		if err != nil {
			return nil, err
		}
		v, err := convert(e.Value, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, Field{k, v})
	}
	return out, nil
}

// keyString is a dict key as str: bytes keys are decoded (Foolscap's own
// tail does the same), other keys take their Python str().
func keyString(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case nil, bool, int64, *big.Int, float64:
		return pyStr(x), nil
	case banana.Tuple:
		items, err := convertList(x, 1)
		if err != nil {
			return "", err
		}
		return pyRepr(Tuple(items), false), nil
	}
	return "", fmt.Errorf("dict key of kind %s", bananaKind(k))
}

func convert(v any, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("values nested too deep")
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
	case []byte:
		return Bytes(x), nil
	case banana.List:
		items, err := convertList(x, depth)
		return List(items), err
	case banana.Tuple:
		items, err := convertList(x, depth)
		return Tuple(items), err
	case banana.Set:
		items, err := convertList(x, depth)
		return Set(items), err
	case banana.Dict:
		return convertDict(x, depth)
	case banana.Copyable:
		return convertCopyable(x, depth)
	case banana.MyReference:
		return unjsonable(fmt.Sprintf("<RemoteReference at clid %d>", x.CLID)), nil
	case banana.YourReference:
		return unjsonable(fmt.Sprintf("<Referenceable at clid %d>", x.CLID)), nil
	case banana.TheirReference:
		return unjsonable(fmt.Sprintf("<gift %d of %s>", x.GiftID, x.FURL)), nil
	case banana.Reference:
		// A cycle back to a container still being built: Python's repr
		// shows it as an ellipsis too.
		return unjsonable("[...]"), nil
	}
	return nil, fmt.Errorf("value of kind %s", bananaKind(v))
}

func convertList(items []any, depth int) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		v, err := convert(it, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// failureClasses are the copyable names a Failure travels under.
var failureClasses = map[string]bool{
	"twisted.python.failure.Failure": true,
	"foolscap.call.CopiedFailure":    true,
}

// convertCopyable turns a Failure into the placeholder Foolscap would
// save for it, and any other copyable into an UnJSONable with its repr.
func convertCopyable(c banana.Copyable, depth int) (any, error) {
	state := make(Dict, 0, len(c.State))
	for _, kv := range c.State {
		v, err := convert(kv.Value, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", c.Class, kv.Key, err)
		}
		state = append(state, Field{kv.Key, v})
	}
	if !failureClasses[c.Class] {
		return unjsonable("<" + c.Class + " " + pyRepr(state, false) + ">"), nil
	}
	typ, value, tb := pyStr(valueOr(state, "type")), pyStr(valueOr(state, "value")), pyStr(valueOr(state, "traceback"))
	return Placeholder{Kind: PlaceholderFailure, Fields: Dict{
		{"@", PlaceholderFailure},
		{"str", "[CopiedFailure instance: Traceback from remote host -- " + tb + "]"},
		{"repr", "<foolscap.call.CopiedFailure " + typ + ": " + value + ">"},
		{"traceback", tb},
	}}, nil
}

func valueOr(d Dict, key string) any {
	v, ok := d.Get(key)
	if !ok {
		return ""
	}
	if b, ok := v.(Bytes); ok {
		return string(b)
	}
	return v
}

func bananaKind(v any) string {
	if v == nil {
		return "None"
	}
	s := fmt.Sprintf("%T", v)
	return strings.TrimPrefix(s, "banana.")
}
