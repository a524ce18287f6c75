package flog

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyPercent applies Python's printf-style operator, format % args, for
// the conversions Python has: %(name)s-style keys looked up with lookup
// (nil when the argument is not a mapping), or positional args. Any
// mismatch Python would raise on is an error.
func pyPercent(format string, lookup func(string) (any, bool), args []any) (string, error) {
	var b strings.Builder
	next := 0
	usedMapping := false
	for i := 0; i < len(format); {
		pct := strings.IndexByte(format[i:], '%')
		if pct < 0 {
			b.WriteString(format[i:])
			break
		}
		b.WriteString(format[i : i+pct])
		i += pct + 1
		if i >= len(format) {
			return "", errors.New("incomplete format")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		var spec convSpec
		var arg any
		if format[i] == '(' {
			end, depth := i+1, 1
			for ; end < len(format) && depth > 0; end++ {
				switch format[end] {
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			if depth > 0 {
				return "", errors.New("incomplete format key")
			}
			key := format[i+1 : end-1]
			i = end
			if lookup == nil {
				return "", errors.New("format requires a mapping")
			}
			v, ok := lookup(key)
			if !ok {
				return "", fmt.Errorf("no field %q", key)
			}
			arg, usedMapping = v, true
		}
		var err error
		if i, err = spec.parse(format, i); err != nil {
			return "", err
		}
		if spec.conv == '%' {
			b.WriteByte('%')
			continue
		}
		if !usedMapping {
			if lookup != nil && args == nil {
				return "", errors.New("format requires a mapping")
			}
			if next >= len(args) {
				return "", errors.New("not enough arguments for format string")
			}
			arg = args[next]
			next++
		}
		s, err := spec.apply(arg)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	if !usedMapping && next < len(args) {
		return "", errors.New("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// convSpec is one conversion after its key: flags, width, precision and
// the conversion letter.
type convSpec struct {
	minus, plus, space, alt, zero bool
	width                         int
	prec                          int // -1 when absent
	conv                          byte
}

func (c *convSpec) parse(f string, i int) (int, error) {
	c.prec = -1
flags:
	for ; i < len(f); i++ {
		switch f[i] {
		case '-':
			c.minus = true
		case '+':
			c.plus = true
		case ' ':
			c.space = true
		case '#':
			c.alt = true
		case '0':
			c.zero = true
		default:
			break flags
		}
	}
	if i < len(f) && f[i] == '*' {
		return i, errors.New("* width is not supported")
	}
	start := i
	for i < len(f) && '0' <= f[i] && f[i] <= '9' {
		i++
	}
	if i > start {
		w, err := strconv.Atoi(f[start:i])
		if err != nil || w > 1<<16 {
			return i, errors.New("width too big")
		}
		c.width = w
	}
	if i < len(f) && f[i] == '.' {
		i++
		start = i
		for i < len(f) && '0' <= f[i] && f[i] <= '9' {
			i++
		}
		p, err := strconv.Atoi("0" + f[start:i])
		if err != nil || p > 1<<16 {
			return i, errors.New("precision too big")
		}
		c.prec = p
	}
	// Length modifiers are accepted and ignored, as Python does.
	for i < len(f) && (f[i] == 'h' || f[i] == 'l' || f[i] == 'L') {
		i++
	}
	if i >= len(f) {
		return i, errors.New("incomplete format")
	}
	c.conv = f[i]
	return i + 1, nil
}

func (c *convSpec) apply(arg any) (string, error) {
	switch c.conv {
	case 's', 'r', 'a':
		var s string
		switch c.conv {
		case 's':
			s = pyStr(arg)
		case 'r':
			s = pyRepr(arg, false)
		default:
			s = pyRepr(arg, true)
		}
		if c.prec >= 0 && utf8.RuneCountInString(s) > c.prec {
			s = string([]rune(s)[:c.prec])
		}
		return c.pad(s), nil
	case 'd', 'i', 'u':
		n, err := toInt(arg, true)
		if err != nil {
			return "", err
		}
		return c.number(n, 10, ""), nil
	case 'x', 'X', 'o':
		n, err := toInt(arg, false)
		if err != nil {
			return "", err
		}
		base, prefix := 16, "0x"
		if c.conv == 'o' {
			base, prefix = 8, "0o"
		}
		s := c.number(n, base, prefix)
		if c.conv == 'X' {
			s = strings.ToUpper(s)
		}
		return s, nil
	case 'e', 'E', 'f', 'F', 'g', 'G':
		f, err := toFloat(arg)
		if err != nil {
			return "", err
		}
		return c.float(f), nil
	case 'c':
		switch x := arg.(type) {
		case string:
			if utf8.RuneCountInString(x) != 1 {
				return "", errors.New("%c requires int or char")
			}
			return c.pad(x), nil
		case int64:
			if x < 0 || x > maxRune {
				return "", errors.New("%c arg not in range")
			}
			return c.pad(string(rune(x))), nil
		}
		return "", errors.New("%c requires int or char")
	}
	return "", fmt.Errorf("unsupported format character %q", c.conv)
}

// maxRune is the largest code point %c takes.
const maxRune = 0x10ffff

// toInt converts for %d (floats truncate) and %x/%o (ints only).
func toInt(v any, floats bool) (*big.Int, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1), nil
		}
		return big.NewInt(0), nil
	case int64:
		return big.NewInt(x), nil
	case int:
		return big.NewInt(int64(x)), nil
	case *big.Int:
		return x, nil
	case float64:
		if !floats {
			return nil, errors.New("an integer is required, not float")
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("cannot convert float %s to integer", pyFloat(x))
		}
		n, _ := big.NewFloat(math.Trunc(x)).Int(nil)
		return n, nil
	}
	return nil, fmt.Errorf("a number is required, not %s", typeName(v))
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("must be real number, not %s", typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case string:
		return "str"
	case Bytes:
		return "bytes"
	case List:
		return "list"
	case Tuple:
		return "tuple"
	case Set:
		return "set"
	case Dict, Placeholder:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// number renders n in base with the sign, alternate-form prefix, width and
// zero padding Python applies.
func (c *convSpec) number(n *big.Int, base int, prefix string) string {
	digits := new(big.Int).Abs(n).Text(base)
	if c.prec > len(digits) {
		digits = strings.Repeat("0", c.prec-len(digits)) + digits
	}
	sign := ""
	switch {
	case n.Sign() < 0:
		sign = "-"
	case c.plus:
		sign = "+"
	case c.space:
		sign = " "
	}
	if c.alt && base != 10 {
		sign += prefix
	}
	return c.padNumber(sign, digits)
}

func (c *convSpec) float(f float64) string {
	sign := ""
	switch {
	case math.Signbit(f) && !math.IsNaN(f):
		sign, f = "-", -f
	case c.plus:
		sign = "+"
	case c.space:
		sign = " "
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		s := "inf"
		if math.IsNaN(f) {
			s = "nan"
		}
		if c.conv == 'E' || c.conv == 'F' || c.conv == 'G' {
			s = strings.ToUpper(s)
		}
		// Python pads non-finite values with spaces, never zeros.
		return c.pad(sign + s)
	}
	prec := c.prec
	if prec < 0 {
		prec = 6
	}
	verb := string(c.conv)
	if c.conv == 'F' {
		verb = "f"
	}
	flags := "%"
	if c.alt {
		flags = "%#"
	}
	return c.padNumber(sign, fmt.Sprintf(flags+"."+strconv.Itoa(prec)+verb, f))
}

func (c *convSpec) padNumber(sign, digits string) string {
	if c.zero && !c.minus && len(sign)+len(digits) < c.width {
		return sign + strings.Repeat("0", c.width-len(sign)-len(digits)) + digits
	}
	return c.pad(sign + digits)
}

func (c *convSpec) pad(s string) string {
	n := utf8.RuneCountInString(s)
	if n >= c.width {
		return s
	}
	fill := strings.Repeat(" ", c.width-n)
	if c.minus {
		return s + fill
	}
	return fill + s
}
