package banana

// Call invokes Method on the object Target (a CLID; 0 is the remote
// Broker, negative CLIDs are bound methods). ReqID 0 asks for no answer.
type Call struct {
	ReqID  int64
	Target int64
	Method string
	Args   []any
	Kwargs []KV // wire order; Foolscap sends them sorted by name
}

// Answer is the successful result of request ReqID.
type Answer struct {
	ReqID int64
	Value any
}

// ErrorMsg is the failed result of request ReqID.
type ErrorMsg struct {
	ReqID   int64
	Failure Failure
}

// Failure is a remote exception as Foolscap copies it: the qualified type
// name, str(exception), a traceback text, and the type's MRO names.
type Failure struct {
	Type      string
	Value     string
	Traceback string
	Parents   []string
}

// NewDecref builds the call that tells the owner of clid that count of its
// my-reference transmissions are no longer held.
func NewDecref(reqID, clid, count int64) *Call {
	return &Call{
		ReqID:  reqID,
		Target: 0,
		Method: "decref",
		Kwargs: []KV{{Key: "clid", Value: clid}, {Key: "count", Value: count}},
	}
}

// failureFromCopyable reads a Failure's fields, accepting bytes (what
// Foolscap sends) or unicode for each string.
func failureFromCopyable(c *Copyable) (Failure, bool) {
	var f Failure
	for _, kv := range c.State {
		var ok bool
		switch kv.Key {
		case "type":
			f.Type, ok = textOf(kv.Value)
		case "value":
			f.Value, ok = textOf(kv.Value)
		case "traceback":
			f.Traceback, ok = textOf(kv.Value)
		case "parents":
			var items []any
			switch p := kv.Value.(type) {
			case List:
				items = p
			case Tuple:
				items = p
			default:
				return f, false
			}
			f.Parents = make([]string, 0, len(items))
			for _, it := range items {
				s, ok := textOf(it)
				if !ok {
					return f, false
				}
				f.Parents = append(f.Parents, s)
			}
			ok = true
		default:
			ok = true // extra attributes carry nothing we show
		}
		if !ok {
			return f, false
		}
	}
	return f, true
}

func textOf(v any) (string, bool) {
	switch v := v.(type) {
	case []byte:
		return string(v), true
	case string:
		return v, true
	case nil:
		return "", true
	}
	return "", false
}
