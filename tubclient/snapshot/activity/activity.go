// Package activity counts offers, verdicts and reconnections over time, so
// a storm can be seen at a glance: per-second rates, the rules that fired,
// the peers that offer most, and how long peers took to come back. It is
// pure bookkeeping, fed by whoever sees the decisions (the embedded tub, a
// reconstructed remote tub, a storm's clients); the caller passes the time.
package activity

import (
	"cmp"
	"slices"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Defaults for New.
const (
	DefaultBucket  = time.Second
	DefaultBuckets = 300 // five minutes of one-second buckets
	DefaultWindow  = time.Minute
	// recentCap bounds the offers remembered for the offenders list; a storm
	// beyond it in one window shows its newest offers.
	recentCap = 1 << 15
	// sampleCap bounds the reconnect times kept for percentiles.
	sampleCap = 4096
	// lostCap bounds the peers waited on for a reconnect time.
	lostCap = 1 << 16
)

// ReconnectBounds are the histogram's bucket edges.
var ReconnectBounds = []time.Duration{
	time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond,
	time.Second, 10 * time.Second, time.Minute, 10 * time.Minute,
}

// Recorder accumulates activity. It is not safe for concurrent use: it
// belongs to the goroutine that owns the state it describes.
type Recorder struct {
	bucket time.Duration
	window time.Duration
	n      int

	// buckets is a ring; head indexes the newest, whose start is headStart.
	buckets   []bucket
	head      int
	headStart time.Time

	// recent is a FIFO of the offers still counted in byPeer: the newest
	// recentCap, no older than the window once a snapshot has trimmed it.
	recent []offer
	first  int // index of the oldest in recent
	count  int
	byPeer map[string]*snapshot.Offender

	lost    map[string]time.Time // peer → when its broker was lost
	samples []time.Duration      // ring of reconnect times
	sHead   int
	hist    []int
	total   int
	max     time.Duration
}

type bucket struct {
	offers, rejects int
	rules           map[ruleKey]int
}

type ruleKey struct {
	rule   string
	accept bool
}

type offer struct {
	at     time.Time
	peer   string
	accept bool
}

// New makes a recorder of n buckets of width bucket, counting rules and
// offenders over window. Zero values take the defaults.
func New(bucketWidth time.Duration, n int, window time.Duration) *Recorder {
	if bucketWidth <= 0 {
		bucketWidth = DefaultBucket
	}
	if n <= 0 {
		n = DefaultBuckets
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return &Recorder{bucket: bucketWidth, window: window, n: n,
		lost: make(map[string]time.Time), byPeer: make(map[string]*snapshot.Offender),
		hist: make([]int, len(ReconnectBounds)+1)}
}

// advance rotates the ring so that the newest bucket holds at.
func (r *Recorder) advance(at time.Time) *bucket {
	if r.buckets == nil {
		// Made on first use: most recorders (a storm's clients) see few
		// offers, and some none.
		r.buckets = make([]bucket, r.n)
	}
	start := at.Truncate(r.bucket)
	if r.headStart.IsZero() {
		r.headStart = start
	}
	if start.Before(r.headStart) {
		// Late news (clocks, replays out of order) lands in the newest bucket
		// still in range, or the oldest.
		back := int(r.headStart.Sub(start) / r.bucket)
		if back >= r.n {
			back = r.n - 1
		}
		return &r.buckets[(r.head-back+r.n)%r.n]
	}
	steps := int(start.Sub(r.headStart) / r.bucket)
	if steps >= r.n {
		clear(r.buckets)
		r.head = 0
		r.headStart = start
		return &r.buckets[0]
	}
	for range steps {
		r.head = (r.head + 1) % r.n
		r.buckets[r.head] = bucket{}
	}
	r.headStart = start
	return &r.buckets[r.head]
}

// Offer records an offer decided at at: by rule, accepted or not.
func (r *Recorder) Offer(at time.Time, peer string, accept bool, rule string) {
	b := r.advance(at)
	b.offers++
	if !accept {
		b.rejects++
	}
	if b.rules == nil {
		b.rules = make(map[ruleKey]int)
	}
	b.rules[ruleKey{rule, accept}]++
	if r.count == recentCap {
		r.expireOldest()
	}
	o := offer{at: at, peer: peer, accept: accept}
	if len(r.recent) < recentCap {
		r.recent = append(r.recent, o)
	} else {
		r.recent[(r.first+r.count)%recentCap] = o
	}
	r.count++
	e := r.byPeer[peer]
	if e == nil {
		e = &snapshot.Offender{PeerTubID: peer}
		r.byPeer[peer] = e
	}
	e.Offers++
	if !accept {
		e.Rejects++
	}
}

// expireOldest takes the oldest remembered offer out of the counts.
func (r *Recorder) expireOldest() {
	o := r.recent[r.first]
	r.recent[r.first] = offer{}
	r.first = (r.first + 1) % recentCap
	r.count--
	e := r.byPeer[o.peer]
	e.Offers--
	if !o.accept {
		e.Rejects--
	}
	if e.Offers == 0 {
		delete(r.byPeer, o.peer)
	}
}

// Lost records that peer's broker went away at at; its next Attached
// measures the time to reconnect.
func (r *Recorder) Lost(at time.Time, peer string) {
	if _, ok := r.lost[peer]; ok {
		return // the first loss starts the clock
	}
	if len(r.lost) >= lostCap {
		return
	}
	r.lost[peer] = at
}

// Attached records that peer has a broker again at at.
func (r *Recorder) Attached(at time.Time, peer string) {
	since, ok := r.lost[peer]
	if !ok {
		return
	}
	delete(r.lost, peer)
	d := max(at.Sub(since), 0)
	i, _ := slices.BinarySearch(ReconnectBounds, d)
	r.hist[i]++
	r.total++
	r.max = max(r.max, d)
	if len(r.samples) < sampleCap {
		r.samples = append(r.samples, d)
	} else {
		r.samples[r.sHead] = d
		r.sHead = (r.sHead + 1) % sampleCap
	}
}

// Forget drops a peer that is no longer tracked.
func (r *Recorder) Forget(peer string) { delete(r.lost, peer) }

// Snapshot is the activity as of now, a fresh copy.
func (r *Recorder) Snapshot(now time.Time) snapshot.Activity {
	if !r.headStart.IsZero() && now.Truncate(r.bucket).After(r.headStart) {
		r.advance(now)
	}
	a := snapshot.Activity{Bucket: r.bucket, Window: r.window}
	if r.buckets != nil {
		a.Offers, a.Rejects = make([]int, r.n), make([]int, r.n)
	}
	if r.headStart.IsZero() {
		a.End = now.Truncate(r.bucket).Add(r.bucket)
	} else {
		a.End = r.headStart.Add(r.bucket)
	}
	rules := make(map[ruleKey]int)
	inWindow := int((r.window + r.bucket - 1) / r.bucket)
	for i := range len(r.buckets) {
		b := &r.buckets[(r.head+1+i)%r.n]
		a.Offers[i], a.Rejects[i] = b.offers, b.rejects
		if i >= r.n-inWindow {
			for k, c := range b.rules {
				rules[k] += c
			}
		}
	}
	for k, c := range rules {
		a.Rules = append(a.Rules, snapshot.RuleCount{Rule: k.rule, Accept: k.accept, Count: c})
	}
	slices.SortFunc(a.Rules, func(x, y snapshot.RuleCount) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return cmp.Compare(x.Rule, y.Rule)
	})
	a.Offenders = r.offenders(now)
	a.Reconnect = r.histogram()
	return a
}

const maxOffenders = 5

func (r *Recorder) offenders(now time.Time) []snapshot.Offender {
	from := now.Add(-r.window)
	for r.count > 0 && r.recent[r.first].at.Before(from) {
		r.expireOldest()
	}
	// A partial selection: only the top few are wanted from thousands.
	top := make([]snapshot.Offender, 0, maxOffenders+1)
	for _, e := range r.byPeer {
		i, _ := slices.BinarySearchFunc(top, *e, compareOffenders)
		if i >= maxOffenders {
			continue
		}
		top = slices.Insert(top, i, *e)
		if len(top) > maxOffenders {
			top = top[:maxOffenders]
		}
	}
	return top
}

// compareOffenders orders the most offers first, then the most rejects,
// then by tubid so the order is stable.
func compareOffenders(x, y snapshot.Offender) int {
	if c := cmp.Compare(y.Offers, x.Offers); c != 0 {
		return c
	}
	if c := cmp.Compare(y.Rejects, x.Rejects); c != 0 {
		return c
	}
	return cmp.Compare(x.PeerTubID, y.PeerTubID)
}

func (r *Recorder) histogram() snapshot.Histogram {
	h := snapshot.Histogram{Bounds: ReconnectBounds, Counts: slices.Clone(r.hist), Total: r.total, Max: r.max}
	if len(r.samples) > 0 {
		s := slices.Clone(r.samples)
		slices.Sort(s)
		h.P50 = s[(len(s)-1)*50/100]
		h.P99 = s[(len(s)-1)*99/100]
	}
	return h
}
