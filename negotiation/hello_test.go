package negotiation

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustBlock(t testing.TB, raw string) Block {
	t.Helper()
	b, err := ParseBlock([]byte(raw))
	if err != nil {
		t.Fatalf("ParseBlock(%q): %v", raw, err)
	}
	return b
}

func TestGoHelloBytes(t *testing.T) {
	h := Hello{
		TubID:          "c72iyzvqhni2vdbivj26omg7z4ztwemy",
		Incarnation:    "9226ecb833fae91a",
		LastConnection: &Connection{MasterIncarnation: NoMasterIncarnation},
		BananaMin:      3, BananaMax: 3,
	}
	if got := string(h.Block().Encode()); got != goClientHello {
		t.Errorf("Go client hello:\n got %q\nwant %q", got, goClientHello)
	}
	parsed, err := ParseHello(mustBlock(t, goClientHello))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, h) {
		t.Errorf("ParseHello = %+v, want %+v", parsed, h)
	}

	// The server side omits last-connection.
	h.LastConnection = nil
	want := strings.Replace(goClientHello, "last-connection: none 0\r\n", "", 1)
	if got := string(h.Block().Encode()); got != want {
		t.Errorf("Go server hello:\n got %q\nwant %q", got, want)
	}
}

func TestParsePythonServerHello(t *testing.T) {
	h, err := ParseHello(mustBlock(t, pyServerHello))
	if err != nil {
		t.Fatal(err)
	}
	want := Hello{TubID: "pcx5blrky5nuephai4l2n5cr5swlghbh", Incarnation: "a6e062d03506634c", BananaMin: 3, BananaMax: 3, VocabMin: 0, VocabMax: 1}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %+v, want %+v", h, want)
	}
}

func TestHelloOptionalKeys(t *testing.T) {
	h := Hello{TubID: strings.Repeat("a", 32), BananaMin: 3, BananaMax: 3, AttemptID: "0123456789abcdef",
		LastConnection: &Connection{MasterIncarnation: "a6e062d03506634c", SeqNum: 7}}
	b := h.Block()
	if b[KeyThisConnection] != "0123456789abcdef" || b[KeyLastConnection] != "a6e062d03506634c 7" {
		t.Errorf("block = %v", b)
	}
	if _, ok := b[KeyIncarnation]; ok {
		t.Errorf("empty incarnation was sent: %v", b)
	}
	back, err := ParseHello(b)
	if err != nil || !reflect.DeepEqual(back, h) {
		t.Errorf("round trip = %+v, %v; want %+v", back, err, h)
	}

	// An absent vocab range means "0 0".
	delete(b, KeyVocabRange)
	back, err = ParseHello(b)
	if err != nil || back.VocabMin != 0 || back.VocabMax != 0 {
		t.Errorf("default vocab range: %+v, %v", back, err)
	}
}

func TestParseHelloErrors(t *testing.T) {
	good := func() Block { return mustBlock(t, goClientHello) }
	for _, tc := range []struct {
		name    string
		edit    func(Block)
		wantErr string
	}{
		{"bad tubid", func(b Block) { b[KeyTubID] = "PCX5blrky5nuephai4l2n5cr5swlghbh" }, `"PCX5blrky5nuephai4l2n5cr5swlghbh" is not 32 lowercase base32`},
		{"short tubid", func(b Block) { b[KeyTubID] = "abc" }, `"abc"`},
		{"tubid with 8", func(b Block) { b[KeyTubID] = strings.Repeat("8", 32) }, "base32"},
		{"missing tubid", func(b Block) { delete(b, KeyTubID) }, `tubid ""`},
		{"bad seqnum", func(b Block) { b[KeyLastConnection] = "none x1" }, `bad seqnum "x1"`},
		{"negative seqnum", func(b Block) { b[KeyLastConnection] = "abc -1" }, `bad seqnum "-1"`},
		{"one-field last-connection", func(b Block) { b[KeyLastConnection] = "none" }, "is not"},
		{"bad banana range", func(b Block) { b[KeyBananaRange] = "3" }, "banana-negotiation-range"},
		{"inverted banana range", func(b Block) { b[KeyBananaRange] = "4 3" }, "min above max"},
		{"bad vocab range", func(b Block) { b[KeyVocabRange] = "0 x" }, "initial-vocab-table-range"},
		{"missing banana range", func(b Block) { delete(b, KeyBananaRange) }, "No valid banana-negotiation sequence seen"},
		{"legacy banana version", func(b Block) { delete(b, KeyBananaRange); b[KeyBananaLegacy] = "1" }, "legacy banana-negotiation-version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.edit(b)
			_, err := ParseHello(b)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseHelloPeerError(t *testing.T) {
	_, err := ParseHello(Block{"error": "internal server error, see logs", KeyBananaRange: "3 3"})
	pe, ok := errors.AsType[*PeerError](err)
	if !ok || pe.Message != "internal server error, see logs" {
		t.Fatalf("err = %#v, want *PeerError", err)
	}
}

func TestPeerMessage(t *testing.T) {
	_, err := ParseHello(Block{})
	if got := PeerMessage(err); got != "No valid banana-negotiation sequence seen" {
		t.Errorf("PeerMessage(missing range) = %q", got)
	}
	_, err = ParseHello(Block{KeyBananaRange: "3 3", KeyTubID: "bad"})
	if got := PeerMessage(err); got != InternalErrorMessage {
		t.Errorf("PeerMessage(bad tubid) = %q", got)
	}
}

func TestConnectionStringAndParse(t *testing.T) {
	for _, tc := range []struct {
		c    Connection
		text string
	}{
		{Connection{MasterIncarnation: "none"}, "none 0"},
		{Connection{}, "none 0"},
		{Connection{MasterIncarnation: "a6e062d03506634c", SeqNum: 18446744073709551615}, "a6e062d03506634c 18446744073709551615"},
	} {
		if got := tc.c.String(); got != tc.text {
			t.Errorf("%+v.String() = %q, want %q", tc.c, got, tc.text)
		}
	}
	c, err := ParseConnection("  a6e062d03506634c   12 ")
	if err != nil || c != (Connection{"a6e062d03506634c", 12}) {
		t.Errorf("ParseConnection = %+v, %v", c, err)
	}
	if _, err := ParseConnection("x 18446744073709551616"); err == nil {
		t.Error("seqnum overflow accepted")
	}
	if _, err := ParseConnection("x 1 2"); err == nil {
		t.Error("three fields accepted")
	}
}

func TestNegotiate(t *testing.T) {
	mine := Hello{BananaMin: 3, BananaMax: 3}
	for _, tc := range []struct {
		lo, hi  int
		want    int
		wantErr string
	}{
		{3, 3, 3, ""},
		{2, 5, 3, ""},
		{1, 2, 0, "I can't handle banana version 2"},
		{4, 6, 0, "You can't handle banana version 3"},
	} {
		v, err := Negotiate(mine, Hello{BananaMin: tc.lo, BananaMax: tc.hi})
		if tc.wantErr == "" {
			if err != nil || v != tc.want {
				t.Errorf("Negotiate(%d-%d) = %d, %v; want %d", tc.lo, tc.hi, v, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Negotiate(%d-%d) err = %v, want %q", tc.lo, tc.hi, err, tc.wantErr)
		}
		if _, ok := errors.AsType[*NegotiationError](err); !ok {
			t.Errorf("Negotiate error %T is not passed to the peer", err)
		}
	}
}

func TestIsMaster(t *testing.T) {
	py, goHigh, goLow := "pcx5blrky5nuephai4l2n5cr5swlghbh", "zzzz5blrky5nuephai4l2n5cr5swlghb", "c72iyzvqhni2vdbivj26omg7z4ztwemy"
	if !IsMaster(goHigh, py) || IsMaster(py, goHigh) {
		t.Error("larger tubid must be master")
	}
	if IsMaster(goLow, py) || !IsMaster(py, goLow) {
		t.Error("smaller tubid must be slave")
	}
	if IsMaster(py, py) {
		t.Error("equal tubids must not be master")
	}
}

func BenchmarkParseHello(b *testing.B) {
	raw := []byte(goClientHello)
	for b.Loop() {
		blk, err := ParseBlock(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseHello(blk); err != nil {
			b.Fatal(err)
		}
	}
}
