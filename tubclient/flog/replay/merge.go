package replay

import (
	"errors"
	"io"

	"github.com/tubscope/tubscope/tubclient/flog"
)

// merger streams several files as one, in event-time order. Each file is
// read and parsed ahead on a goroutine of its own, a few batches deep, so
// parsing and reconstruction run side by side; memory stays bounded by
// those batches, whatever the files' size.
type merger struct {
	files []*prefetcher
	heads headHeap
	read  int
	// onError receives bad lines (and reading goes on) and the errors
	// that end a file early.
	onError func(error)
}

// Read-ahead depth: batches of this many lines, this many batches queued.
const (
	batchLines   = 256
	batchesAhead = 4
)

// item is one result of Reader.Next.
type item struct {
	rec flog.Record
	err error
}

// prefetcher reads one file ahead on its own goroutine.
type prefetcher struct {
	batches chan []item
	free    chan []item // consumed batches, back for reuse
	stop    chan struct{}
	done    chan struct{}
	cur     []item
	next    int
	ended   bool
}

func prefetch(r *flog.Reader) *prefetcher {
	f := &prefetcher{batches: make(chan []item, batchesAhead), free: make(chan []item, batchesAhead+2),
		stop: make(chan struct{}), done: make(chan struct{})}
	go f.run(r)
	return f
}

func (f *prefetcher) run(r *flog.Reader) {
	defer close(f.done)
	defer close(f.batches)
	for {
		var batch []item
		select {
		case batch = <-f.free:
		default:
			batch = make([]item, 0, batchLines)
		}
		last := false
		for len(batch) < batchLines && !last {
			rec, err := r.Next()
			batch = append(batch, item{rec, err})
			var le *flog.LineError
			last = err != nil && !errors.As(err, &le)
		}
		select {
		case f.batches <- batch:
		case <-f.stop:
			return
		}
		if last {
			return
		}
	}
}

// take returns the file's next result; ok is false once it has ended.
func (f *prefetcher) take() (item, bool) {
	for f.next >= len(f.cur) {
		if f.ended {
			return item{}, false
		}
		if f.cur != nil {
			select {
			case f.free <- f.cur[:0]:
			default:
			}
		}
		b, ok := <-f.batches
		if !ok {
			f.ended, f.cur = true, nil
			return item{}, false
		}
		f.cur, f.next = b, 0
	}
	it := f.cur[f.next]
	f.cur[f.next] = item{}
	f.next++
	return it, true
}

// close stops the read-ahead; the reader is free to close afterwards.
func (f *prefetcher) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	<-f.done
}

type head struct {
	rec  flog.Record
	file int
}

// headHeap is a min-heap by event time (then file, then line), kept by
// hand so records are never boxed into interfaces on the hot path.
type headHeap []head

func (h headHeap) less(i, j int) bool {
	a, b := h[i].rec.Event.Seconds(), h[j].rec.Event.Seconds()
	if a != b {
		return a < b
	}
	if h[i].file != h[j].file {
		return h[i].file < h[j].file
	}
	return h[i].rec.Line < h[j].rec.Line
}

func (h *headHeap) push(x head) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *headHeap) pop() head {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = head{}
	s = s[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s.less(l, small) {
			small = l
		}
		if r < len(s) && s.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		s[i], s[small] = s[small], s[i]
		i = small
	}
	*h = s
	return top
}

// newMerger starts reading every file ahead. Call close before closing
// the readers.
func newMerger(readers []*flog.Reader, onError func(error)) *merger {
	m := &merger{onError: onError}
	for _, r := range readers {
		m.files = append(m.files, prefetch(r))
	}
	for i := range m.files {
		m.fill(i)
	}
	return m
}

// close stops the read-ahead goroutines.
func (m *merger) close() {
	for _, f := range m.files {
		f.close()
	}
}

// fill puts file i's next event onto the heap, reporting bad lines on
// the way.
func (m *merger) fill(i int) {
	f := m.files[i]
	for {
		it, ok := f.take()
		if !ok {
			return
		}
		if it.err == nil {
			m.read++
			m.heads.push(head{rec: it.rec, file: i})
			return
		}
		if !errors.Is(it.err, io.EOF) {
			m.onError(it.err)
		}
	}
}

// peek is the next record in time order; ok is false at the end.
func (m *merger) peek() (flog.Record, bool) {
	if len(m.heads) == 0 {
		return flog.Record{}, false
	}
	return m.heads[0].rec, true
}

// next takes the next record.
func (m *merger) next() (flog.Record, bool) {
	if len(m.heads) == 0 {
		return flog.Record{}, false
	}
	h := m.heads.pop()
	m.fill(h.file)
	return h.rec, true
}
