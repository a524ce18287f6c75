package reconstruct

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Foolscap logs hellos, decisions and connection parameters as the repr
// of a Python dict, e.g. {'my-tub-id': 'abc…', 'current-seqnum': 2}.
// parsePyDict reads that much of Python's literal syntax: a flat dict
// whose keys are str and whose values are str, bytes, int, bool or None,
// rendered as strings ("" for None).

var errNotDict = errors.New("not a Python dict literal")

func parsePyDict(s string) (map[string]string, error) {
	p := pyLit{s: strings.TrimSpace(s)}
	if !p.eat('{') {
		return nil, errNotDict
	}
	out := make(map[string]string, 8)
	p.space()
	if p.eat('}') {
		return out, nil
	}
	for {
		p.space()
		k, err := p.scalar()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(':') {
			return nil, errNotDict
		}
		p.space()
		v, err := p.scalar()
		if err != nil {
			return nil, err
		}
		out[k] = v
		p.space()
		if p.eat('}') {
			return out, nil
		}
		if !p.eat(',') {
			return nil, errNotDict
		}
	}
}

type pyLit struct {
	s string
	i int
}

func (p *pyLit) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLit) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *pyLit) scalar() (string, error) {
	if p.i >= len(p.s) {
		return "", errNotDict
	}
	switch c := p.s[p.i]; {
	case c == '\'' || c == '"':
		return p.quoted()
	case c == 'b' && p.i+1 < len(p.s) && (p.s[p.i+1] == '\'' || p.s[p.i+1] == '"'):
		p.i++
		return p.quoted()
	case c == '-' || '0' <= c && c <= '9':
		start := p.i
		p.i++
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
		}
		return p.s[start:p.i], nil
	}
	for _, word := range []string{"True", "False", "None"} {
		if strings.HasPrefix(p.s[p.i:], word) {
			p.i += len(word)
			if word == "None" {
				return "", nil
			}
			return word, nil
		}
	}
	return "", errNotDict
}

// quoted reads a str or bytes literal with Python's escapes.
func (p *pyLit) quoted() (string, error) {
	q := p.s[p.i]
	p.i++
	// Without escapes the literal is a substring of the message as is.
	for j := p.i; j < len(p.s); j++ {
		if p.s[j] == q {
			v := p.s[p.i:j]
			p.i = j + 1
			return v, nil
		}
		if p.s[j] == '\\' {
			break
		}
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			e := p.s[p.i]
			p.i++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if p.i+n > len(p.s) {
					return "", errNotDict
				}
				r, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
				if err != nil {
					return "", errNotDict
				}
				p.i += n
				if r > utf8.MaxRune {
					r = utf8.RuneError
				}
				b.WriteRune(rune(r))
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", errNotDict
}
