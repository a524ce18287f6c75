package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestSizingUnderOpenFileLimits(t *testing.T) {
	for _, c := range []struct {
		name                 string
		size                 rowSize
		n, perChild          int
		children, measurable bool
		header               string
	}{
		// 1024 keeps 256 back: 768 descriptors, 4 per in-process client.
		{"storm in process, scaled", sizeStorm(200, 1024, false), 192, 192, false, true, "N=192 of 200 asked"},
		{"storm in children", sizeStorm(200, 1024, true), 200, 384, true, true, "N=200"},
		{"storm too big even in children", sizeStorm(2000, 1024, true), 768, 384, true, false, "N=2000 asked, not measured (768 fit)"},
		{"storm that fits", sizeStorm(2000, 1<<20, false), 2000, 2000, false, true, "N=2000"},
		{"storm, limit unknown", sizeStorm(2000, 0, false), 2000, 2000, false, true, "N=2000"},
		{"idle in process", sizeIdle(100, 1024, false), 100, 0, false, true, "idle=100"},
		{"idle too big in process", sizeIdle(1000, 1024, false), 384, 0, false, false, "idle=1000 asked, not measured (384 fit)"},
		{"idle in a child, scaled", sizeIdle(1000, 1024, true), 768, 0, true, true, "idle=768 of 1000 asked"},
		{"idle that fits with a child at hand", sizeIdle(100, 1024, true), 100, 0, false, true, "idle=100"},
		{"a tiny limit", sizeStorm(40, 64, false), 12, 12, false, false, "N=40 asked, not measured (12 fit)"},
	} {
		s := c.size
		if s.n != c.n || s.children != c.children || s.measurable() != c.measurable || (c.perChild != 0 && s.perChild != c.perChild) {
			t.Errorf("%s: n %d children %v per child %d measurable %v; want %d %v %d %v",
				c.name, s.n, s.children, s.perChild, s.measurable(), c.n, c.children, c.perChild, c.measurable)
		}
		name := "N"
		if s.row == RowIdle {
			name = "idle"
		}
		if got := s.header(name); got != c.header {
			t.Errorf("%s: header %q, want %q", c.name, got, c.header)
		}
		if note := s.note(); s.scaled() != (note != "") || (s.scaled() && !strings.Contains(note, fmt.Sprintf("ulimit -n %d", s.need))) {
			t.Errorf("%s: note %q", c.name, note)
		}
	}
	if err := (notMeasuredError{sizeStorm(2000, 1024, true)}).Error(); !strings.Contains(err, "RLIMIT_NOFILE 1024 fits 768 of the 2000 asked") {
		t.Errorf("not measured: %q", err)
	}
}

// lowLimitEnv makes the test binary, started under `ulimit -n 1024`, size
// the bench as Run does and run its storm and idle rows.
const lowLimitEnv = "TUBSCOPE_BENCH_LOW_LIMIT"

// runLowLimitRows is the child's side: it prints the table and exits 3
// when the idle row was refused as too small, 1 on any other failure.
func runLowLimitRows() int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := newRunner(Options{Quick: true, NoFoolscap: true})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	code := 0
	if err := r.storm(ctx); err != nil {
		fmt.Println("storm:", err)
		code = 1
	}
	if err := r.idle(ctx); err != nil {
		fmt.Println("idle:", err)
		if _, small := err.(notMeasuredError); small && code == 0 {
			code = 3
		} else {
			code = 1
		}
	}
	r.table.WriteTo(os.Stdout)
	return code
}

// Under an open-file limit of 1024 the quick bench's storm shrinks from
// 200 to the 192 clients that fit and every one of them comes back (no
// false gap from clients that could not open a socket), while its
// 1000-connection idle row is refused as not measurable.
func TestBenchRowsUnderALowOpenFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("a 192-client storm")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to set the limit with")
	}
	cmd := exec.Command(sh, "-c", `ulimit -n 1024 && exec "$0" -test.run='^$'`, os.Args[0])
	cmd.Env = append(os.Environ(), lowLimitEnv+"=1")
	out, err := cmd.CombinedOutput()
	text := string(out)
	t.Log("\n" + text)
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 3 {
		t.Fatalf("child exited %v, want 3 (the idle row refused, all else well)", err)
	}
	for _, want := range []string{
		"RLIMIT_NOFILE=1024", "N=192 of 200 asked", "idle=1000 asked, not measured (384 fit)",
		"192 clients back", "ulimit -n 1824", "idle: not measured: RLIMIT_NOFILE 1024 fits 384 of the 1000 asked",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(text, "never came back") {
		t.Error("storm clients failed under the limit they were sized to")
	}
}
