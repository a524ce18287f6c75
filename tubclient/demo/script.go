package demo

import (
	"fmt"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// The script's steps, as the narration strip names them.
const (
	stepCalm     = "1/4 calm: every client pings the queen each second"
	stepPowerCut = "2/4 power cut behind a NAT"
	stepLost     = "3/4 a lost decision (S3)"
	stepClone    = "4/4 a clone (S6): two processes, one key"
	stepManual   = "no script (--autoplay 0): faults come from the keys"
)

// scriptState is where the script stands; gen grows with every change.
type scriptState struct {
	step, next string
	nextAt     time.Time
	gen        uint64
}

func (d *Demo) setScript(step, next string, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.script = scriptState{step: step, next: next, nextAt: at, gen: d.script.gen + 1}
}

// play runs the script until the demo closes: a calm spell of first, then
// a power cut (the client stays off PowerDown), a lost decision and a
// clone, each Autoplay after the one before, and round again. Each round
// picks the clients from the last one down, so the faults move around.
func (d *Demo) play(first time.Duration) {
	gap := d.opts.Autoplay
	// wait shows the step and what comes next, and waits for it.
	wait := func(step, next string, after time.Duration) bool {
		d.setScript(step, next, time.Now().Add(after))
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-d.ctx.Done():
			return false
		}
	}
	// act runs a step's fault; a refusal (say, the operator already
	// power-cut that client) is narrated rather than hidden.
	act := func(err error) {
		if err != nil {
			d.announce(fmt.Sprintf("the script's step did not run: %v", err))
		}
	}
	names := d.Clients()
	n := len(names)
	for round := 0; ; round++ {
		pick := func(k int) int { return ((n-1-k-round)%n + n) % n }
		cut, lost, cloned := pick(0), pick(1), pick(2)
		if !wait(stepCalm, names[cut]+" loses power behind its NAT", first) {
			return
		}
		act(d.PowerCut(cut))
		if !wait(stepPowerCut, names[cut]+" powers back on with a new incarnation", d.opts.PowerDown) {
			return
		}
		if !wait(stepPowerCut, names[lost]+" restarts and the queen's decision to it is lost", gap) {
			return
		}
		act(d.LoseDecision(lost))
		if !wait(stepLost, "a second process starts with "+names[cloned]+"'s key", gap) {
			return
		}
		act(d.Clone(cloned))
		if !wait(stepClone, "the second process stops", gap) {
			return
		}
		act(d.StopClone(cloned))
		first = gap
	}
}

// Narration is the story line for queen q: the script's step, what it
// does next and when, and the sentence the queen's narrator holds. Its
// version grows whenever any of that changes.
func (d *Demo) Narration(q int) (snapshot.Narration, uint64) {
	d.mu.Lock()
	sc := d.script
	d.mu.Unlock()
	if q < 0 || q >= len(d.queens) {
		return snapshot.Narration{Step: sc.step, Next: sc.next, NextAt: sc.nextAt}, sc.gen
	}
	last, gen := d.queens[q].narr.last(time.Now())
	return snapshot.Narration{Step: sc.step, Next: sc.next, NextAt: sc.nextAt, Last: last.text, LastAt: last.at}, sc.gen + gen
}
