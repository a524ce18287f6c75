// Package parallel runs a batch of independent steps a bounded number at
// a time, as the storm and the benchmarks do when they set up or tear
// down thousands of tubs.
package parallel

import (
	"context"
	"sync"
)

// Each runs f(i) for i in [0, n) on at most conc goroutines and returns the
// first error, which cancels the rest; a cancelled ctx stops it too.
func Each(ctx context.Context, n, conc int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(conc, 1))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
