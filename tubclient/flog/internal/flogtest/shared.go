package flogtest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// Runs generates the master and slave scenarios once per test binary and
// shares their files between tests; Cleanup removes them.
type Runs struct {
	once   sync.Once
	dir    string
	master *MasterRun
	slave  *SlaveRun
	err    error
}

// Get returns the runs, generating them on first use. It skips the test
// when Foolscap is missing (outside CI) and fails it when generation
// failed.
func (r *Runs) Get(t testing.TB) (*MasterRun, *SlaveRun) {
	t.Helper()
	Require(t)
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if r.dir, r.err = os.MkdirTemp("", "flogtest-"); r.err != nil {
			return
		}
		if r.master, r.err = RunMaster(ctx, r.dir); r.err != nil {
			return
		}
		r.slave, r.err = RunSlave(ctx, r.dir)
	})
	if r.err != nil {
		t.Fatalf("generating logs with real Foolscap: %v", r.err)
	}
	return r.master, r.slave
}

// Cleanup removes the generated files.
func (r *Runs) Cleanup() {
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}
