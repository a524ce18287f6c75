package tubclient

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Object is something a tub exposes to remote callers.
type Object interface {
	RemoteCall(ctx context.Context, method string, args []any, kwargs map[string]any) (any, error)
}

// Interfaced is implemented by objects that declare a Foolscap
// RemoteInterface. Its name travels with the object's first my-reference
// on each connection, and Foolscap checks it where an argument is declared
// to provide that interface (a log observer must be an RILogObserver).
type Interfaced interface {
	RemoteInterfaceName() string
}

// Quiet is implemented by objects whose calls are routine traffic (a log
// observer's msg): serving them updates no event stream.
type Quiet interface {
	QuietCalls() bool
}

// Func is one remotely callable method.
type Func func(ctx context.Context, args []any, kwargs map[string]any) (any, error)

// NewObject makes an Object from named methods. Each call returns a new
// object with its own identity (it may be exported as its own CLID).
func NewObject(methods map[string]Func) Object { return &methodObject{methods: methods} }

// NewInterfaceObject is NewObject declaring the RemoteInterface iface
// (e.g. "RILogObserver.foolscap.lothar.com").
func NewInterfaceObject(iface string, methods map[string]Func) Object {
	return &methodObject{methods: methods, iface: iface}
}

type methodObject struct {
	methods map[string]Func
	iface   string
}

// RemoteInterfaceName is the declared RemoteInterface, "" for none.
func (m *methodObject) RemoteInterfaceName() string { return m.iface }

// RemoteCall dispatches to the named method; an unknown name is the
// AttributeError a Python object would raise.
func (m *methodObject) RemoteCall(ctx context.Context, method string, args []any, kwargs map[string]any) (any, error) {
	f, ok := m.methods[method]
	if !ok {
		return nil, &RemoteError{Type: "builtins.AttributeError",
			Value: fmt.Sprintf("object has no attribute 'remote_%s'", method)}
	}
	return f(ctx, args, kwargs)
}

// RemoteError is an exception raised on the other side of a call, or one
// of ours sent there.
type RemoteError struct {
	Type      string
	Value     string
	Traceback string
}

func (e *RemoteError) Error() string { return e.Type + ": " + e.Value }

// violationType is the exception Foolscap raises for a constraint
// violation; the call fails and the connection stays.
const violationType = "foolscap.tokens.Violation"

// Register publishes obj under name and returns its FURL.
func (t *Tub) Register(name string, obj Object) (string, error) {
	if name == "" || strings.ContainsAny(name, "/@,") {
		return "", fmt.Errorf("bad swissnum %q", name)
	}
	t.svcMu.Lock()
	t.services[name] = obj
	t.svcMu.Unlock()
	return t.furlFor(name), nil
}

func (t *Tub) furlFor(name string) string {
	return FURL{TubID: t.id.TubID, Hints: t.Location(), Swissnum: name}.String()
}

// baseFURL is the FURL of the first registered service, or "".
func (t *Tub) baseFURL() string {
	t.svcMu.RLock()
	names := make([]string, 0, len(t.services))
	for n := range t.services {
		names = append(names, n)
	}
	t.svcMu.RUnlock()
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return t.furlFor(names[0])
}

func (t *Tub) lookup(name string) (Object, bool) {
	t.svcMu.RLock()
	defer t.svcMu.RUnlock()
	o, ok := t.services[name]
	return o, ok
}

// nameOf finds a registered object's swissnum (objects handed out by
// calls get none, so they travel without a FURL).
func (t *Tub) nameOf(o Object) string {
	t.svcMu.RLock()
	defer t.svcMu.RUnlock()
	for n, s := range t.services {
		if sameObject(s, o) {
			return n
		}
	}
	return ""
}

// sameObject compares identities; objects of uncomparable types are
// never the same.
func sameObject(a, b Object) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
