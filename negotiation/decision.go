package negotiation

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// errorDecisionVersion is the banana-decision-version Foolscap writes on
// error blocks, whatever version it speaks.
const errorDecisionVersion = 1

// vocabTables are Foolscap's initial vocab tables by index. Table 1 holds
// every opentype Foolscap 0.0.6 used.
var vocabTables = [...][]string{
	0: {},
	1: {
		"none", "boolean", "reference", "dict", "list", "tuple", "set",
		"immutable-set", "unicode", "set-vocab", "add-vocab", "call",
		"arguments", "answer", "error", "my-reference", "your-reference",
		"their-reference", "copyable", "instance", "module", "class",
		"method", "function", "attrdict",
	},
}

// VocabTable returns a copy of initial vocab table index, or false when
// there is no such table.
func VocabTable(index int) ([]string, bool) {
	if index < 0 || index >= len(vocabTables) {
		return nil, false
	}
	return append([]string(nil), vocabTables[index]...), true
}

// VocabHash is the first 4 hex chars of SHA-1 over the table's words joined
// with NUL, which both sides compare to agree on the table's contents.
func VocabHash(index int) (string, bool) {
	words, ok := VocabTable(index)
	if !ok {
		return "", false
	}
	sum := sha1.Sum([]byte(strings.Join(words, "\x00")))
	return hex.EncodeToString(sum[:])[:4], true
}

// ParseDecision reads the master's decision. An error block (any version,
// usually 1) fills Decision.Error and is not itself a parse error; a normal
// decision must name a banana version this tub speaks.
func ParseDecision(b Block) (Decision, error) {
	vs, ok := b[KeyDecisionVersion]
	if !ok || vs == "" {
		return Decision{}, &NegotiationError{Message: "No banana-decision-version value"}
	}
	v, err := strconv.Atoi(strings.TrimSpace(vs))
	if err != nil || v < 1 {
		return Decision{}, fmt.Errorf("%s %q is not a positive integer", KeyDecisionVersion, vs)
	}
	if msg, ok := b[KeyError]; ok {
		return Decision{BananaVersion: v, Error: msg}, nil
	}
	if v < BananaMin || v > BananaMax {
		return Decision{}, &NegotiationError{Message: fmt.Sprintf("I cannot handle banana-decision-version %d", v)}
	}
	d := Decision{BananaVersion: v}
	if cur, ok := b[KeyCurrent]; ok && cur != "" {
		c, err := ParseConnection(cur)
		if err != nil {
			return Decision{}, fmt.Errorf("decision %s: %w", KeyCurrent, err)
		}
		d.Current = &c
	}
	// An absent or empty index means table 0.
	if vi := b[KeyVocabIndex]; vi != "" {
		f := strings.Fields(vi)
		if len(f) != 2 {
			return Decision{}, fmt.Errorf("%s %q is not \"<index> <hash>\"", KeyVocabIndex, vi)
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil || idx < 0 {
			return Decision{}, fmt.Errorf("%s %q has bad index %q", KeyVocabIndex, vi, f[0])
		}
		d.VocabIndex, d.VocabHash = idx, f[1]
	}
	return d, nil
}

// Block is the decision as sent on the wire. An error decision carries only
// its version and message.
func (d Decision) Block() Block {
	if d.Error != "" {
		v := d.BananaVersion
		if v == 0 {
			v = errorDecisionVersion
		}
		return Block{KeyDecisionVersion: strconv.Itoa(v), KeyError: d.Error}
	}
	b := Block{KeyDecisionVersion: strconv.Itoa(d.BananaVersion)}
	if d.Current != nil {
		b[KeyCurrent] = d.Current.String()
	}
	hash := d.VocabHash
	if hash == "" {
		hash, _ = VocabHash(d.VocabIndex)
	}
	b[KeyVocabIndex] = strconv.Itoa(d.VocabIndex) + " " + hash
	return b
}

// AcceptDecision is the decision a Go master sends when it accepts an offer:
// always vocab table 0, so the peer sends opentypes as plain strings.
func AcceptDecision(version int, current Connection) Decision {
	hash, _ := VocabHash(0)
	return Decision{BananaVersion: version, Current: &current, VocabIndex: 0, VocabHash: hash}
}

// ErrorDecision is the error block a side sends once its hello is out.
func ErrorDecision(msg string) Decision {
	return Decision{BananaVersion: errorDecisionVersion, Error: oneLine(msg)}
}

// CheckVocab is the slave's check of the master's vocab choice. Table 0 needs
// no check (Foolscap skips it); a higher table's hash must match ours.
func CheckVocab(d Decision) error {
	if d.VocabIndex == 0 {
		return nil
	}
	ours, ok := VocabHash(d.VocabIndex)
	if !ok {
		return &NegotiationError{Message: fmt.Sprintf("I can't handle initial vocab table index %d", d.VocabIndex)}
	}
	if ours != d.VocabHash {
		return &NegotiationError{Message: fmt.Sprintf("Our hash for vocab-table-index %d (%s) does not match your hash (%s)", d.VocabIndex, ours, d.VocabHash)}
	}
	return nil
}
