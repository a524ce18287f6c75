package logport

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

// Status is where a watch stands, for the operator.
type Status struct {
	Connected bool
	Attempt   int       // failed attempts since the last connection
	Retry     time.Time // the next attempt, zero while connected
	Err       error     // why the last attempt failed or the connection ended
	PID       int64
	Versions  map[string]string
}

// String says it in a line, e.g. "logport lost: retrying in 4s".
func (s Status) String() string {
	if s.Connected {
		return "logport connected"
	}
	if s.Retry.IsZero() {
		return "connecting to the logport"
	}
	wait := time.Until(s.Retry).Round(time.Second)
	if s.Err != nil {
		return fmt.Sprintf("logport lost (%v): retrying in %s", s.Err, wait)
	}
	return fmt.Sprintf("logport lost: retrying in %s", wait)
}

// Watch keeps a subscription to target alive until ctx ends, reconnecting
// with Foolscap's backoff (1 s, ×e, at most an hour) and saying so through
// status. Catch-up is asked for on every connection, so what was missed
// while away shows as far as the publisher still holds it.
func Watch(ctx context.Context, tub *tubclient.Tub, target string, o SubscribeOptions, handle func(Event), status func(Status)) error {
	delay := time.Second
	attempt := 0
	for {
		furl, err := ResolveTarget(target)
		var s *Subscription
		if err == nil {
			s, err = Subscribe(ctx, tub, furl, o, handle)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			attempt, delay = 0, time.Second
			status(Status{Connected: true, PID: s.PID, Versions: s.Versions})
			<-s.Done()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			err = fmt.Errorf("connection to the publisher ended")
		} else {
			attempt++
		}
		wait := jitter(delay)
		status(Status{Attempt: attempt, Retry: time.Now().Add(wait), Err: err})
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		if attempt > 0 {
			delay = min(time.Duration(float64(delay)*math.E), time.Hour)
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return max(d+time.Duration(rand.NormFloat64()*0.1196*float64(d)), 0)
}
