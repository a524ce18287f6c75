// Package pyvalue renders values received over PB for people: in Python's
// notation, as Foolscap users read them, or as plain JSON data.
package pyvalue

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/banana"
)

// Format renders v as Python would print it: None, True, b"bytes",
// (tuples), {sets}, dicts in wire order, references by FURL.
func Format(v any) string {
	var sb strings.Builder
	format(&sb, v)
	return sb.String()
}

func format(sb *strings.Builder, v any) {
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
			format(sb, e.Key)
			sb.WriteString(": ")
			format(sb, e.Value)
		}
		sb.WriteString("}")
	case *tubclient.RemoteReference:
		fmt.Fprintf(sb, "<RemoteReference clid=%d %s>", x.CLID(), x.FURL())
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
		format(sb, e)
	}
	sb.WriteString(close)
}

// JSON converts v to data encoding/json writes faithfully: lists, tuples
// and sets become arrays; dicts objects (keys rendered as text); bytes
// {"bytes": base64}, so they stay distinct from text; big integers and
// non-finite floats strings; references {"furl": …, "clid": …}.
func JSON(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case *big.Int:
		return x.String()
	case []byte:
		return map[string]any{"bytes": base64.StdEncoding.EncodeToString(x)}
	case []any:
		return jsonSeq(x)
	case banana.List:
		return jsonSeq(x)
	case banana.Tuple:
		return jsonSeq(x)
	case banana.Set:
		return jsonSeq(x)
	case banana.Dict:
		out := make(map[string]any, len(x))
		for _, e := range x {
			out[keyText(e.Key)] = JSON(e.Value)
		}
		return out
	case *tubclient.RemoteReference:
		return map[string]any{"furl": x.FURL(), "clid": x.CLID()}
	}
	return fmt.Sprint(v)
}

func jsonSeq(items []any) []any {
	out := make([]any, len(items))
	for i, e := range items {
		out[i] = JSON(e)
	}
	return out
}

func keyText(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return Format(k)
}
