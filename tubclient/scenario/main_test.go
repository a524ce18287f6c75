package scenario

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if testing.Verbose() {
			printMatrix()
		}
		os.Exit(code)
	}))
}

// outcome is one cell of the scenario × policy matrix.
type outcome struct {
	recovered bool
	rule      string
	after     time.Duration
	note      string
	state     string // overrides the recovered/locked-out column when set
}

var matrix struct {
	sync.Mutex
	cells map[[2]string]outcome
}

// record notes a cell for the matrix printed by -v runs.
func record(scenario, policy string, o outcome) {
	matrix.Lock()
	defer matrix.Unlock()
	if matrix.cells == nil {
		matrix.cells = make(map[[2]string]outcome)
	}
	matrix.cells[[2]string{scenario, policy}] = o
}

func printMatrix() {
	matrix.Lock()
	defer matrix.Unlock()
	keys := make([][2]string, 0, len(matrix.cells))
	for k := range matrix.cells {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	var sb strings.Builder
	sb.WriteString("scenario outcome matrix (fake time):\n")
	for _, k := range keys {
		o := matrix.cells[k]
		state := "locked out"
		if o.recovered {
			state = fmt.Sprintf("recovered after %s", o.after.Round(10*time.Millisecond))
		}
		if o.state != "" {
			state = o.state
		}
		fmt.Fprintf(&sb, "  %-4s %-14s %-26s %-24s %s\n", k[0], k[1], state, o.rule, o.note)
	}
	fmt.Print(sb.String())
}
