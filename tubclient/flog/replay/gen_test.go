package replay

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tubscope/tubscope/tubclient/flog"
)

// readEvents reads a whole file.
func readEvents(t testing.TB, path string) (*flog.Header, []flog.Event) {
	t.Helper()
	r, err := flog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []flog.Event
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Header(), out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Event)
	}
}

// generator streams a flogfile of limit bytes made of a real log repeated:
// each copy renumbered, two seconds later, and offered by another peer,
// so nothing repeats and the peers keep coming. Nothing is stored.
type generator struct {
	template []flog.Dict
	swap     [][]int // per template event: the fields holding the client's tubid
	client   string
	limit    int64
	produced int64
	cycle    int64
	span     int64 // num range of one copy
	buf      bytes.Buffer
	w        *flog.Writer
	events   int64
}

func newGenerator(t testing.TB, header *flog.Header, template []flog.Event, client string, limit int64) *generator {
	g := &generator{client: client, limit: limit}
	var err error
	if g.w, err = flog.NewWriter(&g.buf, header.Type, header.Fields); err != nil {
		t.Fatal(err)
	}
	for _, ev := range template {
		g.template = append(g.template, ev.Fields())
		var idx []int
		for i, f := range ev.Fields() {
			if s, ok := f.Value.(string); ok && strings.Contains(s, client[:4]) {
				idx = append(idx, i)
			}
		}
		g.swap = append(g.swap, idx)
		g.span = max(g.span, ev.Num()+1)
	}
	g.w.Flush()
	return g
}

func (g *generator) Read(p []byte) (int, error) {
	for g.buf.Len() == 0 {
		if g.produced >= g.limit {
			return 0, io.EOF
		}
		g.fill()
	}
	n, _ := g.buf.Read(p)
	g.produced += int64(n)
	return n, nil
}

func (g *generator) fill() {
	peer := tubIDFor(g.cycle)
	numShift := g.cycle * g.span
	timeShift := float64(g.cycle) * 2
	for i, tf := range g.template {
		fields := make(flog.Dict, len(tf))
		copy(fields, tf)
		for j, f := range fields {
			switch f.Key {
			case flog.KeyNum, flog.KeyParent:
				if n, ok := f.Value.(int64); ok {
					fields[j].Value = n + numShift
				}
			case flog.KeyTime:
				fields[j].Value = f.Value.(float64) + timeShift
			}
		}
		for _, j := range g.swap[i] {
			s := strings.ReplaceAll(fields[j].Value.(string), g.client, peer)
			fields[j].Value = strings.ReplaceAll(s, "connection to "+g.client[:4], "connection to "+peer[:4])
		}
		out, err := flog.NewEvent(fields)
		if err != nil {
			panic(err)
		}
		g.w.Write("local", out.Seconds(), out)
		g.events++
	}
	g.w.Flush()
	g.cycle++
}

func tubIDFor(i int64) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaazzzz")
	for j := 0; i > 0; j++ {
		b[j] = alphabet[i%32]
		i /= 32
	}
	return string(b)
}
