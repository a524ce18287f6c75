package negotiation

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestVocabHashes(t *testing.T) {
	for idx, want := range map[int]string{0: "da39", 1: "bb33"} {
		if got, ok := VocabHash(idx); !ok || got != want {
			t.Errorf("VocabHash(%d) = %q, %v; want %q", idx, got, ok, want)
		}
	}
	if _, ok := VocabHash(2); ok {
		t.Error("VocabHash(2) exists")
	}
	words, _ := VocabTable(1)
	if len(words) != 25 || words[13] != "answer" || words[15] != "my-reference" || words[8] != "unicode" {
		t.Errorf("table 1 = %v", words)
	}
	words[0] = "changed"
	if again, _ := VocabTable(1); again[0] != "none" {
		t.Error("VocabTable hands out the shared table")
	}
}

func TestDecisionBytes(t *testing.T) {
	d := AcceptDecision(3, Connection{MasterIncarnation: "a6e062d03506634c", SeqNum: 1})
	if got := string(d.Block().Encode()); got != pyDecision {
		t.Errorf("decision:\n got %q\nwant %q", got, pyDecision)
	}
	parsed, err := ParseDecision(mustBlock(t, pyDecision))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, d) {
		t.Errorf("ParseDecision = %+v, want %+v", parsed, d)
	}
	if err := CheckVocab(parsed); err != nil {
		t.Errorf("CheckVocab: %v", err)
	}
}

func TestErrorDecisionBytes(t *testing.T) {
	d := ErrorDecision(DuplicateConnectionMessage)
	if got := string(d.Block().Encode()); got != dupErrorBlock {
		t.Errorf("error block:\n got %q\nwant %q", got, dupErrorBlock)
	}
	parsed, err := ParseDecision(mustBlock(t, dupErrorBlock))
	if err != nil || parsed.Error != "Duplicate connection" || parsed.BananaVersion != 1 {
		t.Errorf("ParseDecision = %+v, %v", parsed, err)
	}
	if got := ErrorDecision("two\r\nlines").Error; got != "two  lines" {
		t.Errorf("ErrorDecision kept line breaks: %q", got)
	}
}

func TestParseDecisionVocab(t *testing.T) {
	d, err := ParseDecision(Block{KeyDecisionVersion: "3"})
	if err != nil || d.VocabIndex != 0 || d.Current != nil {
		t.Fatalf("no vocab key: %+v, %v", d, err)
	}
	if got := d.Block()[KeyVocabIndex]; got != "0 da39" {
		t.Errorf("absent vocab re-encodes as %q", got)
	}
	d, err = ParseDecision(Block{KeyDecisionVersion: "3", KeyVocabIndex: "1 bb33"})
	if err != nil || d.VocabIndex != 1 || d.VocabHash != "bb33" {
		t.Fatalf("1 bb33: %+v, %v", d, err)
	}
	if err := CheckVocab(d); err != nil {
		t.Errorf("CheckVocab(1 bb33): %v", err)
	}
	d.VocabHash = "ffff"
	err = CheckVocab(d)
	if err == nil || err.Error() != "Our hash for vocab-table-index 1 (bb33) does not match your hash (ffff)" {
		t.Errorf("CheckVocab(1 ffff) = %v", err)
	}
	if err := CheckVocab(Decision{VocabIndex: 0, VocabHash: "ffff"}); err != nil {
		t.Errorf("table 0 hash is checked: %v", err)
	}
	if err := CheckVocab(Decision{VocabIndex: 7, VocabHash: "abcd"}); err == nil {
		t.Error("unknown table 7 accepted")
	}
}

func TestParseDecisionErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       Block
		wantErr string
	}{
		{"no version", Block{KeyVocabIndex: "0 da39"}, "No banana-decision-version value"},
		{"empty version", Block{KeyDecisionVersion: ""}, "No banana-decision-version value"},
		{"bad version", Block{KeyDecisionVersion: "three"}, `"three" is not a positive integer`},
		{"version 1 without error", Block{KeyDecisionVersion: "1"}, "cannot handle banana-decision-version 1"},
		{"bad current seqnum", Block{KeyDecisionVersion: "3", KeyCurrent: "a6e062d03506634c x"}, `bad seqnum "x"`},
		{"bad vocab index", Block{KeyDecisionVersion: "3", KeyVocabIndex: "x da39"}, `bad index "x"`},
		{"one-field vocab index", Block{KeyDecisionVersion: "3", KeyVocabIndex: "0"}, "is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDecision(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	_, err := ParseDecision(Block{})
	if _, ok := errors.AsType[*NegotiationError](err); !ok {
		t.Errorf("missing version error %T is not passed to the peer", err)
	}
}
