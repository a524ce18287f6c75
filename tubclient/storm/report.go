package storm

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Result is what a storm measured.
type Result struct {
	Plan Plan
	// Call is the method each success called ("" for a bare getReference).
	Call    string
	Clients int
	Rounds  int // rounds that ran to their end (or were cut short)
	// Clients back in every round; clients locked out in at least one; and
	// clients whose connection, once back, was lost again without a fault.
	Back, LockedOut, Flaps int
	// Rejects counts the offers the queen refused, the clone's twins'
	// included; RejectsByReason splits them by reason, most first.
	Rejects         int
	RejectsByReason []ReasonCount
	// Failures are the other failed attempts (timeouts, refused sockets...).
	Failures        []Count
	Recovery        Percentiles // over every client-round that came back
	LockedOutFor    Percentiles // over every client-round locked out
	FlapEvents      int
	LostBeforeStorm int // connections lost while holding, before the first fault
	// StrikeSpread is how far apart a round's first and last faults struck
	// (the widest round): "all at once" takes this long across processes.
	StrikeSpread time.Duration
	Outcomes     []Outcome
	Elapsed      time.Duration
}

// Reporter hears a storm as it happens. Run calls it from one goroutine.
type Reporter interface {
	// Planned is called before anything touches the target.
	Planned(Plan)
	// Note is a line of progress worth saying: the probe, the processes.
	Note(string)
	// Client is every client event, as it arrives.
	Client(ClientEvent)
	// Progress is called once a second.
	Progress(Progress)
	// Outcome is each client's, at the end of each round.
	Outcome(Outcome)
	// Finished is called last, with the run's error if any.
	Finished(Result, error)
}

// NopReporter ignores everything; embed it to hear only some of it.
type NopReporter struct{}

func (NopReporter) Planned(Plan)           {}
func (NopReporter) Note(string)            {}
func (NopReporter) Client(ClientEvent)     {}
func (NopReporter) Progress(Progress)      {}
func (NopReporter) Outcome(Outcome)        {}
func (NopReporter) Finished(Result, error) {}

// Tee passes everything to each reporter in turn.
func Tee(rs ...Reporter) Reporter { return tee(rs) }

type tee []Reporter

func (t tee) Planned(p Plan) {
	for _, r := range t {
		r.Planned(p)
	}
}
func (t tee) Note(s string) {
	for _, r := range t {
		r.Note(s)
	}
}
func (t tee) Client(e ClientEvent) {
	for _, r := range t {
		r.Client(e)
	}
}
func (t tee) Progress(p Progress) {
	for _, r := range t {
		r.Progress(p)
	}
}
func (t tee) Outcome(o Outcome) {
	for _, r := range t {
		r.Outcome(o)
	}
}
func (t tee) Finished(res Result, err error) {
	for _, r := range t {
		r.Finished(res, err)
	}
}

// Text writes the plan, a line a second and a summary for people.
func Text(w io.Writer) Reporter { return &textReporter{w: w} }

type textReporter struct {
	NopReporter
	w io.Writer
}

func (t *textReporter) Planned(p Plan) {
	fmt.Fprintln(t.w, "storm plan:")
	for _, l := range p.Lines() {
		fmt.Fprintln(t.w, "  "+l)
	}
}

func (t *textReporter) Note(s string) { fmt.Fprintln(t.w, s) }

func (t *textReporter) Progress(p Progress) { fmt.Fprintln(t.w, ProgressLine(p)) }

func (t *textReporter) Finished(res Result, err error) {
	for _, l := range SummaryLines(res) {
		fmt.Fprintln(t.w, l)
	}
}

// ProgressLine is the once-a-second line.
func ProgressLine(p Progress) string {
	el := fmt.Sprintf("%5.0fs", p.Elapsed.Seconds())
	if p.Setup || p.Round == 0 {
		return fmt.Sprintf("%s  setting up: %d of %d clients connected", el, p.Up, p.Clients)
	}
	line := fmt.Sprintf("%s  round %d/%d  back %d/%d · locked out %d", el, p.Round, p.Rounds, p.Back, p.Clients, p.LockedOut)
	if p.LockedOut > 0 {
		line += fmt.Sprintf(" (longest %s)", p.LongestLockout.Round(100*time.Millisecond))
	}
	line += fmt.Sprintf(" · retrying %d", p.Retrying)
	if p.Waiting > 0 {
		line += fmt.Sprintf(" · not struck yet %d", p.Waiting)
	}
	line += fmt.Sprintf(" · rejects %d", p.Rejects)
	if len(p.RejectsByReason) > 0 {
		line += " (" + countsText(p.RejectsByReason, 3) + ")"
	}
	return line + fmt.Sprintf(" · flaps %d", p.Flaps)
}

func countsText(cs []Count, most int) string {
	var parts []string
	for i, c := range cs {
		if i == most {
			parts = append(parts, fmt.Sprintf("+%d more", len(cs)-most))
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", c.Key, c.N))
	}
	return strings.Join(parts, ", ")
}

// SummaryLines is the end-of-run summary for people.
func SummaryLines(res Result) []string {
	p := res.Plan
	call := "a bare getReference"
	if res.Call != "" {
		call = res.Call
	}
	lines := []string{
		fmt.Sprintf("storm summary: %s, %d clients, %s of %d, each success %s, window %s",
			p.Fault, res.Clients, plural(res.Rounds, "round"), p.Rounds, call, p.Window),
		fmt.Sprintf("  back        %d of %d clients (every round)", res.Back, res.Clients),
		fmt.Sprintf("  locked out  %d", res.LockedOut),
	}
	if res.LockedOutFor.N > 0 {
		lines[len(lines)-1] += fmt.Sprintf(" (in %d client-rounds; for p50 %s · max %s, each until its window closed or the run ended)",
			res.LockedOutFor.N, ms(res.LockedOutFor.P50), ms(res.LockedOutFor.Max))
	}
	if res.Recovery.N > 0 {
		lines = append(lines, fmt.Sprintf("  recovery    p50 %s · p99 %s · max %s (%d client-rounds, from each fault to the first successful call)",
			ms(res.Recovery.P50), ms(res.Recovery.P99), ms(res.Recovery.Max), res.Recovery.N))
	} else {
		lines = append(lines, "  recovery    no client came back")
	}
	lines = append(lines, fmt.Sprintf("  rejects     %d, by the queen's text (all a slave receives) and what the offer carried", res.Rejects))
	for _, c := range res.RejectsByReason {
		l := fmt.Sprintf("              %6d  %s", c.N, c.Reason.Key())
		if c.Reason.Rule != "" {
			l += fmt.Sprintf(": a Foolscap 21.7 queen refuses that only by %s", c.Reason.Rule)
		}
		lines = append(lines, l)
	}
	lines = append(lines, fmt.Sprintf("  flaps       %s (%s lost again after coming back, without a fault)",
		plural(res.Flaps, "client"), plural(res.FlapEvents, "connection")))
	if len(res.Failures) > 0 {
		lines = append(lines, "  failures    attempts that got no decision: "+countsText(res.Failures, 6))
	}
	if res.LostBeforeStorm > 0 {
		lines = append(lines, fmt.Sprintf("  note        %d connections were lost before the first fault", res.LostBeforeStorm))
	}
	if res.Rounds > 0 {
		lines = append(lines, fmt.Sprintf("  struck      each round's faults within %s of each other", ms(res.StrikeSpread)))
	}
	lines = append(lines, fmt.Sprintf("  elapsed     %s", res.Elapsed.Round(time.Millisecond)))
	return lines
}

func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// JSON writes one JSON object per client outcome and a final summary to
// out, and the plan, notes and the once-a-second line to log (for people).
func JSON(out, log io.Writer) Reporter { return &jsonReporter{out: out, log: Text(log)} }

type jsonReporter struct {
	NopReporter
	out io.Writer
	log Reporter
}

func (j *jsonReporter) Planned(p Plan)      { j.log.Planned(p) }
func (j *jsonReporter) Note(s string)       { j.log.Note(s) }
func (j *jsonReporter) Progress(p Progress) { j.log.Progress(p) }

func (j *jsonReporter) Outcome(o Outcome) { j.write(outcomeJSON(o)) }

func (j *jsonReporter) Finished(res Result, err error) { j.write(SummaryJSON(res, err)) }

func (j *jsonReporter) write(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		j.out.Write(append(b, '\n'))
	}
}

type outcomeLine struct {
	Kind        string         `json:"kind"`
	Round       int            `json:"round"`
	Client      int            `json:"client"`
	TubID       string         `json:"tubid"`
	Outcome     string         `json:"outcome"`
	RecoveryMS  *float64       `json:"recovery_ms,omitempty"`
	LockedOutMS *float64       `json:"locked_out_ms,omitempty"`
	Attempts    int            `json:"attempts"`
	Rejects     int            `json:"rejects"`
	Reasons     map[string]int `json:"reasons,omitempty"`
	Flaps       int            `json:"flaps"`
	Connected   bool           `json:"connected"`
	LastError   string         `json:"last_error,omitempty"`
}

func outcomeJSON(o Outcome) outcomeLine {
	l := outcomeLine{Kind: o.Kind, Round: o.Round, Client: o.Client, TubID: o.TubID, Outcome: o.Outcome,
		Attempts: o.Attempts, Rejects: o.Rejects, Reasons: o.Reasons, Flaps: o.Flaps, Connected: o.Connected, LastError: o.LastError}
	if o.Outcome == OutcomeBack {
		v := millis(o.Recovery)
		l.RecoveryMS = &v
	} else {
		v := millis(o.LockedOutFor)
		l.LockedOutMS = &v
	}
	return l
}

// msPercentiles are Percentiles in milliseconds.
type msPercentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func msOf(p Percentiles) msPercentiles {
	return msPercentiles{P50: millis(p.P50), P99: millis(p.P99), Max: millis(p.Max)}
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// Summary is the final JSON line. Its first fields are fixed:
// {"kind":"storm-summary","clients":N,"back":N,"locked_out":N,"flaps":N,
// "rejects":N,"recovery_ms":{"p50":…,"p99":…,"max":…}}; more follow.
type Summary struct {
	Kind            string         `json:"kind"`
	Clients         int            `json:"clients"`
	Back            int            `json:"back"`
	LockedOut       int            `json:"locked_out"`
	Flaps           int            `json:"flaps"`
	Rejects         int            `json:"rejects"`
	RecoveryMS      msPercentiles  `json:"recovery_ms"`
	Recovered       int            `json:"recovered"` // client-rounds in the percentiles
	LockedOutMS     msPercentiles  `json:"locked_out_ms"`
	Fault           string         `json:"fault"`
	Rounds          int            `json:"rounds"`
	Target          string         `json:"target"`
	Call            string         `json:"call"`
	WindowMS        float64        `json:"window_ms"`
	RejectsByReason map[string]int `json:"rejects_by_reason"`
	Failures        map[string]int `json:"failures"`
	FlapEvents      int            `json:"flap_events"`
	StrikeSpreadMS  float64        `json:"strike_spread_ms"`
	ElapsedMS       float64        `json:"elapsed_ms"`
	Error           string         `json:"error,omitempty"`
}

// SummaryJSON is the final line's value for a result.
func SummaryJSON(res Result, err error) Summary {
	s := Summary{Kind: "storm-summary", Clients: res.Clients, Back: res.Back, LockedOut: res.LockedOut, Flaps: res.Flaps,
		Rejects: res.Rejects, RecoveryMS: msOf(res.Recovery), Recovered: res.Recovery.N, LockedOutMS: msOf(res.LockedOutFor),
		Fault: string(res.Plan.Fault), Rounds: res.Rounds, Target: res.Plan.Target, Call: res.Call,
		WindowMS: millis(res.Plan.Window), RejectsByReason: map[string]int{}, Failures: map[string]int{},
		FlapEvents: res.FlapEvents, StrikeSpreadMS: millis(res.StrikeSpread), ElapsedMS: millis(res.Elapsed)}
	for _, c := range res.RejectsByReason {
		s.RejectsByReason[c.Reason.Key()] = c.N
	}
	for _, c := range res.Failures {
		s.Failures[c.Key] = c.N
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}
