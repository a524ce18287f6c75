package tubclient

import (
	"testing"
	"testing/synctest"

	"github.com/tubscope/tubscope/tubclient/banana"
)

// pbSeeds are messages a peer may send: the calls Foolscap makes, answers
// carrying references, and the attacks (the reference bomb, references to
// clids that do not exist, a list header promising millions of items).
func pbSeeds(t testing.TB) [][]byte {
	var enc banana.Encoder
	var seeds [][]byte
	add := func(b []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	add(enc.AppendCall(nil, &banana.Call{ReqID: 1, Target: 0, Method: "getReferenceByName",
		Kwargs: []banana.KV{{Key: "name", Value: []byte("svc")}}}))
	add(enc.AppendCall(nil, &banana.Call{ReqID: 2, Target: 1, Method: "echo", Args: []any{bomb(24)}}))
	add(enc.AppendCall(nil, &banana.Call{ReqID: 3, Target: 1, Method: "echo",
		Args: []any{banana.MyReference{CLID: -3}}}))
	add(enc.AppendCall(nil, &banana.Call{ReqID: 4, Target: 1, Method: "echo",
		Args: []any{banana.YourReference{CLID: 99}}}))
	add(enc.AppendCall(nil, &banana.Call{ReqID: 5, Target: 1, Method: "ref"}))
	add(enc.AppendCall(nil, &banana.Call{ReqID: 0, Target: 0, Method: "decref",
		Kwargs: []banana.KV{{Key: "clid", Value: int64(1)}, {Key: "count", Value: int64(1)}}}))
	add(enc.AppendAnswer(nil, 1, banana.MyReference{CLID: 7, Interface: "RIx", FURL: "pb://x@tcp:h:1/s"}))
	add(enc.AppendError(nil, 2, &banana.Failure{Type: "builtins.ValueError", Value: "boom"}))
	add(enc.AppendCall(nil, &banana.Call{ReqID: 6, Target: 77, Method: "nope",
		Args: []any{banana.Dict{{Key: "k", Value: banana.Set{int64(1), "s"}}}}}))
	// OPEN list with no end, then a huge STRING header.
	seeds = append(seeds, []byte("\x00\x88\x04\x82list\x7f\x7f\x7f\x07\x82"))
	return seeds
}

// fuzzBroker is a broker with no socket: the reader's input comes from the
// fuzzer and the writer's queue is encoded by hand.
func fuzzBroker(t *testing.T) (*Tub, *Broker) {
	tub, err := New(Config{MaxMessageCost: 1 << 20, MaxConnectionCost: 4 << 20, MaxTubCost: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tub.Close() })
	tub.Register("svc", echoService())
	b := &Broker{t: tub, id: 1, peer: "fuzzpeerfuzzpeerfuzzpeerfuzzpeer", done: make(chan struct{})}
	b.pb = newPBConn(b)
	b.out = newWriter(b)
	b.out.busy = true // no socket: everything queues, and the test encodes it
	// The peer's clid 1 is the echo service, as after getReferenceByName.
	b.pb.outboundValue(echoService())
	return tub, b
}

// FuzzPBMessages feeds arbitrary Banana to the PB layer above the decoder:
// value conversion, call dispatch off the reader, the Broker's own
// methods, and the answers' conversion and encoding. It must not panic,
// must answer or drop every call, and must give back every byte of
// budget.
func FuzzPBMessages(f *testing.F) {
	for _, s := range pbSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			tub, b := fuzzBroker(t)
			dec, err := banana.NewDecoder(banana.Config{MaxMessageCost: tub.cfg.MaxMessageCost,
				MaxConnectionCost: tub.cfg.MaxConnectionCost, Budget: tub.budget})
			if err != nil {
				t.Fatal(err)
			}
			dec.Feed(data)
			for {
				ev, ok, err := dec.Next()
				if err != nil || !ok {
					break
				}
				switch ev.Kind {
				case banana.EventMessage:
					cost := ev.Cost
					b.pb.handle(ev.Msg, func() { dec.Release(cost) })
				case banana.EventDropped:
					if ev.Opentype == "call" && ev.ReqID != 0 {
						b.out.sendError(ev.ReqID, &RemoteError{Type: violationType, Value: ev.Text})
					}
				}
			}
			synctest.Wait()
			var w banana.Encoder
			b.out.mu.Lock()
			queued := b.out.queue
			b.out.queue = nil
			b.out.mu.Unlock()
			b.out.enc = w
			for _, m := range queued {
				b.out.encode(nil, m)
			}
			b.pb.mu.Lock()
			left := b.pb.queued
			b.pb.mu.Unlock()
			if left != 0 {
				t.Fatalf("%d calls still queued after every target drained", left)
			}
			dec.Close()
			if n := tub.budget.InUse(); n != 0 {
				t.Fatalf("%d bytes of the tub's budget not given back", n)
			}
		})
	})
}
