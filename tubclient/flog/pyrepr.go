package flog

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pyStr is Python's str() of v.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Placeholder:
		return x.Repr()
	}
	var b strings.Builder
	writeRepr(&b, v, false, 0)
	return b.String()
}

// pyRepr is Python's repr() of v; ascii escapes every non-ASCII
// character, as ascii() does.
func pyRepr(v any, ascii bool) string {
	var b strings.Builder
	writeRepr(&b, v, ascii, 0)
	return b.String()
}

// maxReprDepth stops runaway nesting; Python would print "..." for a
// recursive container.
const maxReprDepth = 64

func writeRepr(b *strings.Builder, v any, ascii bool, depth int) {
	if depth > maxReprDepth {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		b.WriteString(pyFloat(x))
	case string:
		writeStrRepr(b, x, ascii)
	case Bytes:
		writeBytesRepr(b, x)
	case List:
		writeSeq(b, "[", "]", x, ascii, depth)
	case Tuple:
		if len(x) == 1 {
			b.WriteByte('(')
			writeRepr(b, x[0], ascii, depth+1)
			b.WriteString(",)")
			return
		}
		writeSeq(b, "(", ")", x, ascii, depth)
	case Set:
		if len(x) == 0 {
			b.WriteString("set()")
			return
		}
		writeSeq(b, "{", "}", x, ascii, depth)
	case Dict:
		b.WriteByte('{')
		for i, f := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeStrRepr(b, f.Key, ascii)
			b.WriteString(": ")
			writeRepr(b, f.Value, ascii, depth+1)
		}
		b.WriteByte('}')
	case Placeholder:
		b.WriteString(x.Repr())
	default:
		b.WriteString("<?>")
	}
}

func writeSeq(b *strings.Builder, open, close string, items []any, ascii bool, depth int) {
	b.WriteString(open)
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		writeRepr(b, it, ascii, depth+1)
	}
	b.WriteString(close)
}

// pyFloat is Python's repr of a float: the shortest digits that read back
// the same, in positional form for exponents -4 to 15 (with ".0" on whole
// numbers) and scientific form with a two-digit exponent otherwise.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	neg := strings.HasPrefix(e, "-")
	if neg {
		e = e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	if exp >= -4 && exp < 16 {
		switch {
		case exp < 0:
			out = "0." + strings.Repeat("0", -exp-1) + digits
		case len(digits) <= exp+1:
			out = digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
		default:
			out = digits[:exp+1] + "." + digits[exp+1:]
		}
	} else {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		es := strconv.Itoa(exp)
		if len(es) < 2 {
			es = "0" + es
		}
		out = mant + "e" + sign + es
	}
	if neg {
		return "-" + out
	}
	return out
}

// writeStrRepr quotes s as Python 3 does: single quotes unless s holds a
// single quote and no double quote.
func writeStrRepr(b *strings.Builder, s string, ascii bool) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			// Not UTF-8: Python would hold a surrogate escape here.
			b.WriteString(`\udc`)
			b.WriteString(strconv.FormatUint(uint64(s[i]), 16))
			i++
			continue
		}
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			writeHexEscape(b, 'x', uint64(r), 2)
		case r < 0x80:
			b.WriteRune(r)
		case !ascii && unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			writeHexEscape(b, 'x', uint64(r), 2)
		case r <= 0xffff:
			writeHexEscape(b, 'u', uint64(r), 4)
		default:
			writeHexEscape(b, 'U', uint64(r), 8)
		}
	}
	b.WriteByte(q)
}

func writeBytesRepr(b *strings.Builder, p []byte) {
	q := byte('\'')
	if containsByte(p, '\'') && !containsByte(p, '"') {
		q = '"'
	}
	b.WriteString("b")
	b.WriteByte(q)
	for _, c := range p {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == q:
			b.WriteByte('\\')
			b.WriteByte(q)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c >= 0x7f:
			writeHexEscape(b, 'x', uint64(c), 2)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(q)
}

func containsByte(p []byte, c byte) bool {
	for _, x := range p {
		if x == c {
			return true
		}
	}
	return false
}

func writeHexEscape(b *strings.Builder, kind byte, v uint64, width int) {
	b.WriteByte('\\')
	b.WriteByte(kind)
	h := strconv.FormatUint(v, 16)
	for range width - len(h) {
		b.WriteByte('0')
	}
	b.WriteString(h)
}
