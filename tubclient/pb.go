package tubclient

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Bounds on what one peer can make a connection hold.
const (
	// maxQueuedCalls bounds the calls waiting for or running in their
	// target's queue; beyond it a call fails with a Violation.
	maxQueuedCalls = 1024
	// maxImports bounds the distinct references a peer may hand us on one
	// connection.
	maxImports = 1 << 16
)

// RemoteReference is a peer's object as seen through one broker.
type RemoteReference struct {
	b     *Broker
	clid  int64
	furl  string
	iface string
}

// FURL is the reference's FURL when the peer sent one.
func (r *RemoteReference) FURL() string { return r.furl }

// Interface is the RemoteInterface name the peer declared for the object.
func (r *RemoteReference) Interface() string { return r.iface }

// CLID is the object's number on its connection.
func (r *RemoteReference) CLID() int64 { return r.clid }

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

// Start sends a call without waiting for its answer; calls started one
// after another go out in that order. Wait on the result for the answer.
func (r *RemoteReference) Start(method string, args []any, kwargs map[string]any) *Call {
	return r.b.pb.start(r.clid, method, args, kwargs)
}

// CallOnly invokes method and asks for no answer (Foolscap's
// callRemoteOnly): it returns once the call is queued for the wire.
func (r *RemoteReference) CallOnly(method string, args []any, kwargs map[string]any) error {
	return r.b.pb.callOnly(r.clid, method, args, kwargs)
}

// Release tells the owner we no longer hold this reference (decref).
func (r *RemoteReference) Release(ctx context.Context) error {
	return r.b.pb.release(ctx, r.clid)
}

// OnDisconnect runs f, on a goroutine of its own, when the reference's
// connection ends, with the reason; at once if it has already ended. f
// may call the tub.
func (r *RemoteReference) OnDisconnect(f func(reason string)) {
	b := r.b
	b.t.post(func(st *state) {
		if b.ended {
			b.t.spawn(func() { f("already disconnected") })
			return
		}
		b.observers = append(b.observers, f)
	})
}

// pbConn is one broker's PB state: outstanding requests, the objects we
// exported on it, the references we received, and the calls being served.
type pbConn struct {
	b *Broker

	mu       sync.Mutex
	nextReq  int64
	pending  map[int64]chan callResult
	dead     error
	exports  map[int64]*export
	byObject map[any]int64
	nextCLID int64
	imports  map[int64]int64 // clid → times received
	queues   map[int64]*callQueue
	queued   int
}

type export struct {
	obj       Object
	sends     int64 // my-reference transmissions not yet decref'd
	furl      string
	iface     string
	announced bool // its first transmission (with interface and FURL) has gone out
}

type callResult struct {
	value any
	err   error
}

// callQueue holds one target's calls: Foolscap delivers calls in arrival
// order, so each target serves its own one at a time, off the reader.
type callQueue struct {
	calls   []queuedCall
	running bool
}

// queuedCall is a call waiting for its target, with what gives its
// message's memory back once served.
type queuedCall struct {
	c       *banana.Call
	release func()
}

func newPBConn(b *Broker) *pbConn { return &pbConn{b: b} }

// brokerCtx is what served calls run under: it ends when the broker does
// (the tub's close ends every broker). It is the broker's done channel seen
// as a context, so a broker pays nothing for it.
type brokerCtx struct{ b *Broker }

func (brokerCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c brokerCtx) Done() <-chan struct{}     { return c.b.done }
func (brokerCtx) Value(any) any               { return nil }

func (c brokerCtx) Err() error {
	select {
	case <-c.b.done:
		return context.Canceled
	default:
		return nil
	}
}

func sortedKwargs(kwargs map[string]any) []banana.KV {
	kws := make([]banana.KV, 0, len(kwargs))
	for k, v := range kwargs {
		kws = append(kws, banana.KV{Key: k, Value: v})
	}
	sort.Slice(kws, func(i, j int) bool { return kws[i].Key < kws[j].Key })
	return kws
}

func (p *pbConn) call(ctx context.Context, clid int64, method string, args []any, kwargs map[string]any) (any, error) {
	return p.start(clid, method, args, kwargs).Wait(ctx)
}

// start queues a call for the writer and returns at once: calls started
// one after another reach the wire in that order.
func (p *pbConn) start(clid int64, method string, args []any, kwargs map[string]any) *Call {
	c := &Call{p: p, ch: make(chan callResult, 1)}
	p.mu.Lock()
	if p.dead != nil {
		c.ch <- callResult{err: p.dead}
		p.mu.Unlock()
		return c
	}
	p.nextReq++
	c.req = p.nextReq
	if p.pending == nil {
		p.pending = make(map[int64]chan callResult)
	}
	p.pending[c.req] = c.ch
	p.mu.Unlock()
	m := &banana.Call{ReqID: c.req, Target: clid, Method: method, Args: args, Kwargs: sortedKwargs(kwargs)}
	queued := p.b.out.enqueue(outMsg{call: m, sent: func(err error) {
		if err != nil {
			p.resolve(c.req, callResult{err: err})
		}
	}})
	if !queued {
		p.resolve(c.req, callResult{err: p.deadErr(&DeadReferenceError{Reason: "the connection is closing"})})
	}
	return c
}

// Call is a call on its way: its answer arrives on Wait.
type Call struct {
	p   *pbConn
	req int64
	ch  chan callResult
}

// Wait returns the answer, or ctx's error (the call is then forgotten:
// a late answer is dropped).
func (c *Call) Wait(ctx context.Context) (any, error) {
	select {
	case r := <-c.ch:
		return r.value, r.err
	case <-ctx.Done():
		c.p.forget(c.req)
		return nil, ctx.Err()
	}
}

func (p *pbConn) callOnly(clid int64, method string, args []any, kwargs map[string]any) error {
	p.mu.Lock()
	dead := p.dead
	p.mu.Unlock()
	if dead != nil {
		return dead
	}
	c := &banana.Call{ReqID: 0, Target: clid, Method: method, Args: args, Kwargs: sortedKwargs(kwargs)}
	if !p.b.out.enqueue(outMsg{call: c}) {
		return p.deadErr(&DeadReferenceError{Reason: "the connection is closing"})
	}
	return nil
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

// fail ends every outstanding call with err and stops serving.
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

// deadErr is the error for a call on a broker that is gone.
func (p *pbConn) deadErr(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead != nil {
		return p.dead
	}
	return err
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

// outboundCall converts a call's arguments for the wire; see outboundValue.
func (p *pbConn) outboundCall(args []any, kwargs []banana.KV) ([]any, []banana.KV, []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.newOutbound()
	outArgs := make([]any, len(args))
	for i, a := range args {
		outArgs[i] = c.value(a)
	}
	outKw := make([]banana.KV, len(kwargs))
	for i, kv := range kwargs {
		outKw[i] = banana.KV{Key: kv.Key, Value: c.value(kv.Value)}
	}
	return outArgs, outKw, c.refs
}

// outboundValue converts a Go value for the wire: our objects become
// my-reference, the peer's references on this broker your-reference, Go
// maps dicts. It also lists the exports the message refers to; the writer
// announces them once the message is encoded, or takes them back.
func (p *pbConn) outboundValue(v any) (any, []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.newOutbound()
	out := c.value(v)
	return out, c.refs
}

// outboundConv converts one message's values. A container met twice is
// converted once and stays shared, so the encoder sends the second as a
// back-reference, as Foolscap does, instead of expanding it.
type outboundConv struct {
	p     *pbConn
	refs  []int64
	first map[int64]bool
	done  map[unsafe.Pointer]any
}

func (p *pbConn) newOutbound() *outboundConv {
	return &outboundConv{p: p, first: make(map[int64]bool), done: make(map[unsafe.Pointer]any)}
}

// seq converts items into a List of the wire's kind, once per backing array.
func (c *outboundConv) seq(items []any, wrap func(banana.List) any) any {
	if len(items) == 0 {
		return wrap(banana.List{})
	}
	key := unsafe.Pointer(&items[0])
	if v, ok := c.done[key]; ok {
		return v
	}
	out := make(banana.List, len(items))
	v := wrap(out)
	c.done[key] = v // before the items: a value may contain itself
	for i, e := range items {
		out[i] = c.value(e)
	}
	return v
}

func (c *outboundConv) value(v any) any {
	switch x := v.(type) {
	case Object:
		return c.p.exportLocked(x, &c.refs, c.first)
	case *RemoteReference:
		if x.b == c.p.b {
			return banana.YourReference{CLID: x.clid}
		}
		return x.furl
	case []any:
		return c.seq(x, func(l banana.List) any { return l })
	case banana.List:
		return c.seq(x, func(l banana.List) any { return l })
	case banana.Tuple:
		return c.seq(x, func(l banana.List) any { return banana.Tuple(l) })
	case banana.Set:
		return c.seq(x, func(l banana.List) any { return banana.Set(l) })
	case map[string]any:
		key := reflect.ValueOf(x).UnsafePointer()
		if v, ok := c.done[key]; ok {
			return v
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := make(banana.Dict, len(keys))
		c.done[key] = d
		for i, k := range keys {
			d[i] = banana.DictEntry{Key: k, Value: c.value(x[k])}
		}
		return d
	case banana.Dict:
		if len(x) == 0 {
			return banana.Dict{}
		}
		key := unsafe.Pointer(&x[0])
		if v, ok := c.done[key]; ok {
			return v
		}
		d := make(banana.Dict, len(x))
		c.done[key] = d
		for i, e := range x {
			d[i] = banana.DictEntry{Key: c.value(e.Key), Value: c.value(e.Value)}
		}
		return d
	}
	return v
}

// objectKey is a map key for o's identity, or nil when o's type is not
// comparable (such objects are exported afresh each time).
func objectKey(o Object) any {
	if !reflect.TypeOf(o).Comparable() {
		return nil
	}
	return o
}

// exportLocked assigns (or reuses) a CLID. The interface name and FURL go
// only with an object's first transmission on this connection.
func (p *pbConn) exportLocked(o Object, refs *[]int64, first map[int64]bool) banana.MyReference {
	key := objectKey(o)
	clid, ok := int64(0), false
	if key != nil {
		clid, ok = p.byObject[key]
	}
	if !ok {
		if p.exports == nil {
			p.exports = make(map[int64]*export)
			p.byObject = make(map[any]int64)
		}
		p.nextCLID++
		clid = p.nextCLID
		e := &export{obj: o}
		if in, ok := o.(Interfaced); ok {
			e.iface = in.RemoteInterfaceName()
		}
		if name := p.b.t.nameOf(o); name != "" {
			e.furl = p.b.t.furlFor(name)
		}
		p.exports[clid] = e
		if key != nil {
			p.byObject[key] = clid
		}
	}
	e := p.exports[clid]
	e.sends++
	*refs = append(*refs, clid)
	if e.announced || first[clid] {
		return banana.MyReference{CLID: clid}
	}
	first[clid] = true
	return banana.MyReference{CLID: clid, Interface: e.iface, FURL: e.furl}
}

// announce records that a message referring to these exports went out.
func (p *pbConn) announce(clids []int64) {
	if len(clids) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, clid := range clids {
		if e := p.exports[clid]; e != nil {
			e.announced = true
		}
	}
}

// unannounce takes back the references of a message that was not sent.
func (p *pbConn) unannounce(clids []int64) {
	if len(clids) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, clid := range clids {
		e := p.exports[clid]
		if e == nil {
			continue
		}
		e.sends--
		if e.sends <= 0 && !e.announced {
			p.retireLocked(clid, e)
		}
	}
}

func (p *pbConn) retireLocked(clid int64, e *export) {
	delete(p.exports, clid)
	if key := objectKey(e.obj); key != nil && p.byObject[key] == clid {
		delete(p.byObject, key)
	}
}

// inbound converts a received value in place: my-reference becomes a
// RemoteReference on this broker, your-reference our own object. A value
// shared by back-references is converted once and stays shared; nothing
// is copied per reference.
func (p *pbConn) inbound(v any) (any, error) {
	c := inboundConv{p: p, seen: make(map[unsafe.Pointer]bool)}
	return c.value(v)
}

type inboundConv struct {
	p    *pbConn
	seen map[unsafe.Pointer]bool // sequences already converted
}

func (c *inboundConv) once(ptr unsafe.Pointer) bool {
	if ptr == nil || c.seen[ptr] {
		return false
	}
	c.seen[ptr] = true
	return true
}

func (c *inboundConv) items(xs []any) error {
	if len(xs) == 0 || !c.once(unsafe.Pointer(&xs[0])) {
		return nil
	}
	for i, e := range xs {
		v, err := c.value(e)
		if err != nil {
			return err
		}
		xs[i] = v
	}
	return nil
}

func (c *inboundConv) value(v any) (any, error) {
	p := c.p
	switch x := v.(type) {
	case banana.MyReference:
		p.mu.Lock()
		if p.imports == nil {
			p.imports = make(map[int64]int64)
		}
		if _, ok := p.imports[x.CLID]; !ok && len(p.imports) >= maxImports {
			p.mu.Unlock()
			return nil, fmt.Errorf("more than %d references received on one connection", maxImports)
		}
		p.imports[x.CLID]++
		p.mu.Unlock()
		return &RemoteReference{b: p.b, clid: x.CLID, furl: x.FURL, iface: x.Interface}, nil
	case banana.YourReference:
		p.mu.Lock()
		e := p.exports[x.CLID]
		p.mu.Unlock()
		if e == nil {
			return nil, fmt.Errorf("your-reference to unknown clid %d", x.CLID)
		}
		return e.obj, nil
	case banana.List:
		return []any(x), c.items(x)
	case banana.Tuple:
		return x, c.items(x)
	case banana.Set:
		return x, c.items(x)
	case banana.Dict:
		if len(x) == 0 || !c.once(unsafe.Pointer(&x[0])) {
			return x, nil
		}
		for i := range x {
			k, err := c.value(x[i].Key)
			if err != nil {
				return nil, err
			}
			val, err := c.value(x[i].Value)
			if err != nil {
				return nil, err
			}
			x[i] = banana.DictEntry{Key: k, Value: val}
		}
		return x, nil
	}
	return v, nil
}

// handle processes one top-level message, on the reader goroutine. Only
// work that cannot block happens here: answers resolve their waiters and
// the Broker's own methods answer at once; every other call goes to its
// target's queue.
// release gives the message's memory back; it is called once the message
// has been dealt with.
func (p *pbConn) handle(msg any, release func()) {
	switch m := msg.(type) {
	case *banana.Call:
		if m.Target == 0 {
			p.serve(m)
			release()
			return
		}
		p.dispatch(queuedCall{m, release})
		return
	case *banana.Answer:
		v, err := p.inbound(m.Value)
		p.resolve(m.ReqID, callResult{value: v, err: err})
	case *banana.ErrorMsg:
		f := m.Failure
		p.resolve(m.ReqID, callResult{err: &RemoteError{Type: f.Type, Value: f.Value, Traceback: f.Traceback}})
	}
	release()
}

// dispatch queues a call behind its target's earlier calls.
func (p *pbConn) dispatch(qc queuedCall) {
	c := qc.c
	p.mu.Lock()
	if p.queued >= maxQueuedCalls {
		p.mu.Unlock()
		qc.release()
		if c.ReqID != 0 {
			p.b.out.sendError(c.ReqID, &RemoteError{Type: violationType,
				Value: fmt.Sprintf("more than %d calls in progress on this connection", maxQueuedCalls)})
		}
		return
	}
	if p.queues == nil {
		p.queues = make(map[int64]*callQueue)
	}
	q := p.queues[c.Target]
	if q == nil {
		q = &callQueue{}
		p.queues[c.Target] = q
	}
	q.calls = append(q.calls, qc)
	p.queued++
	start := !q.running
	q.running = true
	p.mu.Unlock()
	if start && !p.b.t.spawn(func() { p.drain(c.Target, q) }) {
		p.mu.Lock()
		p.dropQueueLocked(c.Target, q)
		p.mu.Unlock()
	}
}

// dropQueueLocked forgets a target's waiting calls (the broker or the tub
// is going away) and gives their memory back.
func (p *pbConn) dropQueueLocked(target int64, q *callQueue) {
	for _, qc := range q.calls {
		qc.release()
	}
	p.queued -= len(q.calls)
	q.calls, q.running = nil, false
	delete(p.queues, target)
	if len(p.queues) == 0 {
		p.queues = nil // a map keeps its buckets after its last delete
	}
}

// drain serves one target's calls in order until its queue is empty.
func (p *pbConn) drain(target int64, q *callQueue) {
	for {
		p.mu.Lock()
		if len(q.calls) == 0 || p.dead != nil {
			p.dropQueueLocked(target, q)
			p.mu.Unlock()
			return
		}
		qc := q.calls[0]
		q.calls[0] = queuedCall{}
		q.calls = q.calls[1:]
		p.mu.Unlock()
		p.serve(qc.c)
		qc.release()
		p.mu.Lock()
		p.queued--
		p.mu.Unlock()
	}
}

// serve runs one call and queues its answer.
func (p *pbConn) serve(c *banana.Call) {
	result, quiet, err := p.invoke(c)
	if !quiet || err != nil {
		ev := snapshot.Event{Kind: snapshot.KindCall, BrokerID: p.b.id, PeerTubID: p.b.peer, Message: c.Method}
		if err != nil {
			ev.Err = err.Error()
		}
		p.b.t.post(func(st *state) { p.b.t.emitLocked(st, ev) })
	}
	if c.ReqID == 0 {
		return
	}
	if err != nil {
		p.b.out.sendError(c.ReqID, err)
		return
	}
	p.b.out.enqueue(outMsg{answer: true, reqID: c.ReqID, value: result})
}

func (p *pbConn) invoke(c *banana.Call) (result any, quiet bool, err error) {
	args := make([]any, len(c.Args))
	for i, a := range c.Args {
		v, err := p.inbound(a)
		if err != nil {
			return nil, false, &RemoteError{Type: violationType, Value: err.Error()}
		}
		args[i] = v
	}
	kwargs := make(map[string]any, len(c.Kwargs))
	for _, kv := range c.Kwargs {
		v, err := p.inbound(kv.Value)
		if err != nil {
			return nil, false, &RemoteError{Type: violationType, Value: err.Error()}
		}
		kwargs[kv.Key] = v
	}
	if c.Target == 0 {
		v, err := p.brokerMethod(c.Method, kwargs, args)
		return v, false, err
	}
	p.mu.Lock()
	e := p.exports[c.Target]
	p.mu.Unlock()
	if e == nil {
		return nil, false, &RemoteError{Type: "builtins.KeyError", Value: fmt.Sprintf("unknown clid %d", c.Target)}
	}
	if q, ok := e.obj.(Quiet); ok {
		quiet = q.QuietCalls()
	}
	v, err := e.obj.RemoteCall(brokerCtx{p.b}, c.Method, args, kwargs)
	return v, quiet, err
}

// brokerMethod serves CLID 0, the remote Broker: getReferenceByName,
// decref and decgift. None of them blocks.
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
				p.retireLocked(clid, e)
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
