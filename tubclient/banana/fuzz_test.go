package banana

import (
	"reflect"
	"testing"
)

// FuzzDecoder checks that arbitrary input never panics and that how the
// stream is split into reads does not change what is decoded.
func FuzzDecoder(f *testing.F) {
	var enc Encoder
	seed := func(b []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(3), false)
	}
	seed(enc.AppendCall(nil, &Call{ReqID: 1, Method: "getReferenceByName", Kwargs: []KV{{Key: "name", Value: []byte("swiss")}}}))
	seed(enc.AppendAnswer(nil, 1, MyReference{CLID: 1, FURL: "pb://a@b:1/c"}))
	seed(enc.AppendAnswer(nil, 2, List{Dict{{Key: "k", Value: Set{1.5, true}}}, Tuple{nil, []byte("x")}, Reference(5)}))
	seed(enc.AppendAnswer(nil, 3, Copyable{Class: "c", State: []KV{{Key: "a", Value: YourReference{CLID: 2}}}}))
	seed(enc.AppendError(nil, 4, &Failure{Type: "T", Value: "V", Parents: []string{"T"}}))
	seed(AppendPing(EncodeError(nil, "bye"), 300), nil)
	seed([]byte("banana-decision-version: 1\r\nerror: Duplicate connection\r\n\r\n"), nil)
	f.Add([]byte("\x00\x88\x0d\x87\x01\x81\x01\x88\x0f\x87\x01\x81\x01\x89\x00\x89"), uint8(1), true)

	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, vocab1 bool) {
		cfg := Config{MaxStringLength: 4096, MaxDepth: 16, MaxMessageBytes: 1 << 16}
		if vocab1 {
			cfg.VocabTable = 1
		}
		whole, wholeErr := decodeAll(t, cfg, data)

		d := newDecoder(t, cfg)
		var split []Event
		var splitErr error
		step := int(chunk%17) + 1
		for i := 0; i < len(data) && splitErr == nil; i += step {
			d.Feed(data[i:min(i+step, len(data))])
			var evs []Event
			evs, splitErr = drain(d)
			split = append(split, evs...)
			if d.Buffered() > cfg.MaxStringLength+2*maxHeaderLen+step+maxNegotiationBlock {
				t.Fatalf("buffer grew to %d", d.Buffered())
			}
		}
		if (wholeErr == nil) != (splitErr == nil) ||
			(wholeErr != nil && wholeErr.Error() != splitErr.Error()) {
			t.Fatalf("errors differ: whole %v, split %v", wholeErr, splitErr)
		}
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("events differ:\nwhole %#v\nsplit %#v", whole, split)
		}
	})
}
