package tubclient

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Object is something a tub exposes to remote callers.
type Object interface {
	RemoteCall(ctx context.Context, method string, args []any, kwargs map[string]any) (any, error)
}

// Func is one remotely callable method.
type Func func(ctx context.Context, args []any, kwargs map[string]any) (any, error)

// NewObject makes an Object from named methods. Each call returns a new
// object with its own identity (it may be exported as its own CLID).
func NewObject(methods map[string]Func) Object { return &methodObject{methods} }

type methodObject struct{ methods map[string]Func }

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

// BuiltinService is what `tubscope serve` registers: echo(x) returns x,
// ping() returns "pong", ref() returns a new reference to an echo object.
func BuiltinService() Object {
	echo := func(_ context.Context, args []any, kw map[string]any) (any, error) {
		if len(args) == 1 && len(kw) == 0 {
			return args[0], nil
		}
		if v, ok := kw["x"]; ok && len(args) == 0 && len(kw) == 1 {
			return v, nil
		}
		return nil, &RemoteError{Type: "builtins.TypeError",
			Value: fmt.Sprintf("echo() takes exactly one argument (%d given)", len(args)+len(kw))}
	}
	return NewObject(map[string]Func{
		"echo": echo,
		"ping": func(context.Context, []any, map[string]any) (any, error) { return "pong", nil },
		"ref": func(context.Context, []any, map[string]any) (any, error) {
			return NewObject(map[string]Func{"echo": echo}), nil
		},
	})
}

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

// baseFURL is the FURL of the first registered service, or of the tub.
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

// RemoteReference is a peer's object as seen through one broker.
type RemoteReference struct {
	b    *Broker
	clid int64
	furl string
}

// FURL is the reference's FURL when the peer sent one.
func (r *RemoteReference) FURL() string { return r.furl }

// Broker is the connection the reference lives on.
func (r *RemoteReference) Broker() *Broker { return r.b }

// Call invokes method remotely and waits for the answer.
func (r *RemoteReference) Call(ctx context.Context, method string, args ...any) (any, error) {
	return r.b.pb.call(ctx, r.clid, method, args, nil)
}

// CallKw invokes method with keyword arguments.
func (r *RemoteReference) CallKw(ctx context.Context, method string, args []any, kwargs map[string]any) (any, error) {
	return r.b.pb.call(ctx, r.clid, method, args, kwargs)
}

// Release tells the owner we no longer hold this reference (decref).
func (r *RemoteReference) Release(ctx context.Context) error {
	return r.b.pb.release(ctx, r.clid)
}

// pbConn is one broker's PB state: outstanding requests, the objects we
// exported on it and the references we received.
type pbConn struct {
	b *Broker

	// enc and buf belong to whoever holds the broker's write lock.
	enc banana.Encoder
	buf []byte

	mu       sync.Mutex
	nextReq  int64
	pending  map[int64]chan callResult
	dead     error
	exports  map[int64]*export
	byObject map[Object]int64
	nextCLID int64
	imports  map[int64]int64 // clid → times received
}

type export struct {
	obj   Object
	sends int64 // my-reference transmissions not yet decref'd
	furl  string
}

type callResult struct {
	value any
	err   error
}

func newPBConn(b *Broker) *pbConn {
	return &pbConn{b: b, pending: make(map[int64]chan callResult)}
}

// send encodes one message and writes it; encoding and writing share the
// lock because OPEN numbers must reach the wire in order.
func (p *pbConn) send(encode func(enc *banana.Encoder, dst []byte) ([]byte, error)) error {
	if err := p.b.awaitReady(); err != nil {
		return p.deadErr(err)
	}
	p.b.wmu.Lock()
	defer p.b.wmu.Unlock()
	buf, err := encode(&p.enc, p.buf[:0])
	if err != nil {
		return err
	}
	_, err = p.b.writeLocked(buf)
	if cap(buf) <= 64<<10 {
		p.buf = buf[:0]
	} else {
		p.buf = nil
	}
	return err
}

func (p *pbConn) call(ctx context.Context, clid int64, method string, args []any, kwargs map[string]any) (any, error) {
	ch := make(chan callResult, 1)
	p.mu.Lock()
	if p.dead != nil {
		p.mu.Unlock()
		return nil, p.dead
	}
	p.nextReq++
	req := p.nextReq
	p.pending[req] = ch
	wireArgs := make([]any, len(args))
	for i, a := range args {
		wireArgs[i] = p.outbound(a)
	}
	kws := make([]banana.KV, 0, len(kwargs))
	for k, v := range kwargs {
		kws = append(kws, banana.KV{Key: k, Value: p.outbound(v)})
	}
	p.mu.Unlock()
	sort.Slice(kws, func(i, j int) bool { return kws[i].Key < kws[j].Key })
	c := &banana.Call{ReqID: req, Target: clid, Method: method, Args: wireArgs, Kwargs: kws}
	if err := p.send(func(enc *banana.Encoder, dst []byte) ([]byte, error) { return enc.AppendCall(dst, c) }); err != nil {
		p.forget(req)
		return nil, err
	}
	select {
	case r := <-ch:
		return r.value, r.err
	case <-ctx.Done():
		p.forget(req)
		return nil, ctx.Err()
	}
}

func (p *pbConn) forget(req int64) {
	p.mu.Lock()
	delete(p.pending, req)
	p.mu.Unlock()
}

func (p *pbConn) release(ctx context.Context, clid int64) error {
	p.mu.Lock()
	n := p.imports[clid]
	delete(p.imports, clid)
	p.mu.Unlock()
	if n == 0 {
		return nil
	}
	_, err := p.call(ctx, 0, "decref", nil, map[string]any{"clid": clid, "count": n})
	return err
}

// fail ends every outstanding call with err.
func (p *pbConn) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead == nil {
		p.dead = err
	}
	for req, ch := range p.pending {
		ch <- callResult{err: err}
		delete(p.pending, req)
	}
}

// outbound converts a Go value for the wire: our objects become
// my-reference, the peer's references on this broker your-reference, Go
// maps dicts. Called with p.mu held.
func (p *pbConn) outbound(v any) any {
	switch x := v.(type) {
	case Object:
		return p.exportLocked(x)
	case *RemoteReference:
		if x.b == p.b {
			return banana.YourReference{CLID: x.clid}
		}
		return x.furl
	case []any:
		out := make(banana.List, len(x))
		for i, e := range x {
			out[i] = p.outbound(e)
		}
		return out
	case banana.List:
		return banana.List(p.outbound([]any(x)).(banana.List))
	case banana.Tuple:
		return banana.Tuple(p.outbound([]any(x)).(banana.List))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := make(banana.Dict, len(keys))
		for i, k := range keys {
			d[i] = banana.DictEntry{Key: k, Value: p.outbound(x[k])}
		}
		return d
	case banana.Dict:
		d := make(banana.Dict, len(x))
		for i, e := range x {
			d[i] = banana.DictEntry{Key: p.outbound(e.Key), Value: p.outbound(e.Value)}
		}
		return d
	}
	return v
}

// exportLocked assigns (or reuses) a CLID; the interface name and FURL go
// only with an object's first transmission on this connection.
func (p *pbConn) exportLocked(o Object) banana.MyReference {
	if clid, ok := p.byObject[o]; ok {
		p.exports[clid].sends++
		return banana.MyReference{CLID: clid}
	}
	if p.exports == nil {
		p.exports = make(map[int64]*export)
		p.byObject = make(map[Object]int64)
	}
	p.nextCLID++
	clid := p.nextCLID
	e := &export{obj: o, sends: 1}
	p.exports[clid] = e
	p.byObject[o] = clid
	ref := banana.MyReference{CLID: clid}
	if name := p.b.t.nameOf(o); name != "" {
		e.furl = p.b.t.furlFor(name)
		ref.FURL = e.furl
	}
	return ref
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

// inbound converts a received value: my-reference becomes a
// RemoteReference on this broker, your-reference our own object.
func (p *pbConn) inbound(v any) (any, error) {
	switch x := v.(type) {
	case banana.MyReference:
		p.mu.Lock()
		if p.imports == nil {
			p.imports = make(map[int64]int64)
		}
		p.imports[x.CLID]++
		p.mu.Unlock()
		return &RemoteReference{b: p.b, clid: x.CLID, furl: x.FURL}, nil
	case banana.YourReference:
		p.mu.Lock()
		e := p.exports[x.CLID]
		p.mu.Unlock()
		if e == nil {
			return nil, fmt.Errorf("your-reference to unknown clid %d", x.CLID)
		}
		return e.obj, nil
	case banana.List:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = p.inbound(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case banana.Tuple:
		out, err := p.inbound(banana.List(x))
		if err != nil {
			return nil, err
		}
		return banana.Tuple(out.([]any)), nil
	case banana.Dict:
		d := make(banana.Dict, len(x))
		for i, e := range x {
			k, err := p.inbound(e.Key)
			if err != nil {
				return nil, err
			}
			val, err := p.inbound(e.Value)
			if err != nil {
				return nil, err
			}
			d[i] = banana.DictEntry{Key: k, Value: val}
		}
		return d, nil
	}
	return v, nil
}

// handle processes one top-level message from the peer, in the reader
// goroutine: calls are answered in arrival order.
func (p *pbConn) handle(msg any) {
	switch m := msg.(type) {
	case *banana.Call:
		p.serveCall(m)
	case *banana.Answer:
		v, err := p.inbound(m.Value)
		p.resolve(m.ReqID, callResult{value: v, err: err})
	case *banana.ErrorMsg:
		f := m.Failure
		p.resolve(m.ReqID, callResult{err: &RemoteError{Type: f.Type, Value: f.Value, Traceback: f.Traceback}})
	}
}

func (p *pbConn) resolve(req int64, r callResult) {
	p.mu.Lock()
	ch := p.pending[req]
	delete(p.pending, req)
	p.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

const callTimeout = 30 * time.Second

func (p *pbConn) serveCall(c *banana.Call) {
	ctx, cancel := context.WithTimeout(p.b.t.ctx, callTimeout)
	defer cancel()
	result, err := p.dispatch(ctx, c)
	ev := snapshot.Event{Kind: snapshot.KindCall, BrokerID: p.b.id, PeerTubID: p.b.peer, Message: c.Method}
	if err != nil {
		ev.Err = err.Error()
	}
	p.b.t.emit(ev)
	if c.ReqID == 0 {
		return
	}
	if err != nil {
		f := failureOf(err)
		_ = p.send(func(enc *banana.Encoder, dst []byte) ([]byte, error) { return enc.AppendError(dst, c.ReqID, f) })
		return
	}
	_ = p.send(func(enc *banana.Encoder, dst []byte) ([]byte, error) {
		p.mu.Lock()
		v := p.outbound(result)
		p.mu.Unlock()
		return enc.AppendAnswer(dst, c.ReqID, v)
	})
}

func (p *pbConn) dispatch(ctx context.Context, c *banana.Call) (any, error) {
	args := make([]any, len(c.Args))
	for i, a := range c.Args {
		v, err := p.inbound(a)
		if err != nil {
			return nil, &RemoteError{Type: "foolscap.tokens.Violation", Value: err.Error()}
		}
		args[i] = v
	}
	kwargs := make(map[string]any, len(c.Kwargs))
	for _, kv := range c.Kwargs {
		v, err := p.inbound(kv.Value)
		if err != nil {
			return nil, &RemoteError{Type: "foolscap.tokens.Violation", Value: err.Error()}
		}
		kwargs[kv.Key] = v
	}
	if c.Target == 0 {
		return p.brokerMethod(c.Method, kwargs, args)
	}
	p.mu.Lock()
	e := p.exports[c.Target]
	p.mu.Unlock()
	if e == nil {
		return nil, &RemoteError{Type: "builtins.KeyError", Value: fmt.Sprintf("unknown clid %d", c.Target)}
	}
	return e.obj.RemoteCall(ctx, c.Method, args, kwargs)
}

// brokerMethod serves CLID 0, the remote Broker: getReferenceByName,
// decref and decgift.
func (p *pbConn) brokerMethod(method string, kwargs map[string]any, args []any) (any, error) {
	arg := func(name string, pos int) any {
		if v, ok := kwargs[name]; ok {
			return v
		}
		if pos < len(args) {
			return args[pos]
		}
		return nil
	}
	switch method {
	case "getReferenceByName":
		name, _ := textValue(arg("name", 0))
		obj, ok := p.b.t.lookup(name)
		if !ok {
			prefix := name
			if len(prefix) > 2 {
				prefix = prefix[:2]
			}
			return nil, &RemoteError{Type: "builtins.KeyError",
				Value: fmt.Sprintf("unable to find reference for name starting with '%s'", prefix)}
		}
		return obj, nil
	case "decref":
		clid, _ := arg("clid", 0).(int64)
		count, _ := arg("count", 1).(int64)
		p.mu.Lock()
		if e := p.exports[clid]; e != nil {
			e.sends -= count
			if e.sends <= 0 {
				delete(p.exports, clid)
				delete(p.byObject, e.obj)
			}
		}
		p.mu.Unlock()
		return nil, nil
	case "decgift":
		return nil, nil
	}
	return nil, &RemoteError{Type: "builtins.AttributeError",
		Value: fmt.Sprintf("'Broker' object has no attribute 'remote_%s'", method)}
}

func (p *pbConn) getReferenceByName(ctx context.Context, name string) (*RemoteReference, error) {
	v, err := p.call(ctx, 0, "getReferenceByName", nil, map[string]any{"name": []byte(name)})
	if err != nil {
		return nil, err
	}
	ref, ok := v.(*RemoteReference)
	if !ok {
		return nil, fmt.Errorf("getReferenceByName answered %T, not a reference", v)
	}
	return ref, nil
}

func textValue(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

func failureOf(err error) *banana.Failure {
	var re *RemoteError
	if !errors.As(err, &re) {
		re = &RemoteError{Type: "builtins.RuntimeError", Value: err.Error()}
	}
	tb := re.Traceback
	if tb == "" {
		tb = "Traceback unavailable\n"
	}
	return &banana.Failure{Type: re.Type, Value: re.Value, Traceback: tb,
		Parents: []string{re.Type, "builtins.Exception", "builtins.BaseException", "builtins.object"}}
}

// FormatValue renders a call result for people: JSON-like, bytes as
// b"...", references by FURL.
func FormatValue(v any) string {
	var sb strings.Builder
	formatValue(&sb, v)
	return sb.String()
}

func formatValue(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		sb.WriteString("None")
	case bool:
		if x {
			sb.WriteString("True")
		} else {
			sb.WriteString("False")
		}
	case string:
		fmt.Fprintf(sb, "%q", x)
	case []byte:
		fmt.Fprintf(sb, "b%q", x)
	case []any:
		formatSeq(sb, "[", "]", x)
	case banana.List:
		formatSeq(sb, "[", "]", x)
	case banana.Tuple:
		formatSeq(sb, "(", ")", x)
	case banana.Set:
		formatSeq(sb, "{", "}", x)
	case banana.Dict:
		sb.WriteString("{")
		for i, e := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			formatValue(sb, e.Key)
			sb.WriteString(": ")
			formatValue(sb, e.Value)
		}
		sb.WriteString("}")
	case *RemoteReference:
		fmt.Fprintf(sb, "<RemoteReference clid=%d %s>", x.clid, x.furl)
	default:
		fmt.Fprintf(sb, "%v", x)
	}
}

func formatSeq(sb *strings.Builder, open, close string, items []any) {
	sb.WriteString(open)
	for i, e := range items {
		if i > 0 {
			sb.WriteString(", ")
		}
		formatValue(sb, e)
	}
	sb.WriteString(close)
}

// OnDisconnect runs f (on the tub's state goroutine; keep it short) when
// the reference's connection goes away, with the reason. It runs at once
// if the connection is already gone.
func (r *RemoteReference) OnDisconnect(f func(reason string)) {
	b := r.b
	b.t.post(func(st *state) {
		if b.state == brokerClosed {
			f("already disconnected")
			return
		}
		b.observers = append(b.observers, f)
	})
}

// deadErr is the error for a call on a broker that is gone.
func (p *pbConn) deadErr(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead != nil {
		return p.dead
	}
	return err
}
