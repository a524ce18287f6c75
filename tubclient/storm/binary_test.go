package storm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
)

// These tests run the real tubscope binary, built once, against real
// queens: Foolscap 21.7 servers and `tubscope serve`.

// foolscapQueen runs a Foolscap 21.7 server with its output drained.
func foolscapQueen(t *testing.T) string {
	t.Helper()
	pypeer.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := pypeer.StartServer(ctx, pypeer.ServerOptions{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			if _, err := p.Next(ctx); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-drained
		p.Stop()
	})
	return p.FURL()
}

// serveQueen runs `tubscope serve --policy policy` and returns its FURL.
func serveQueen(t *testing.T, policy string) string {
	return tubscopebin.Serve(t, 0, "--policy", policy).FURL
}

// stormJSON runs `tubscope storm --json ARGS… FURL` and returns its
// summary and outcome lines.
func stormJSON(t *testing.T, furl string, args ...string) (map[string]any, []map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append(append([]string{"storm", "--json"}, args...), furl)
	cmd := exec.CommandContext(ctx, tubscopebin.Path(t), argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("tubscope %s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	t.Logf("tubscope %s took %s; its log:\n%s", strings.Join(argv, " "), time.Since(start).Round(time.Millisecond), stderr.String())
	var summary map[string]any
	var outcomes []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		switch v["kind"] {
		case "storm-client":
			outcomes = append(outcomes, v)
		case "storm-summary":
			summary = v
		default:
			t.Fatalf("stdout line of kind %v: %s", v["kind"], l)
		}
	}
	if summary == nil {
		t.Fatalf("no summary line:\n%s", stdout.String())
	}
	return summary, outcomes
}

func wantCounts(t *testing.T, summary map[string]any, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if summary[k] != v {
			t.Errorf("summary %s = %v, want %v (summary %v)", k, summary[k], v, summary)
		}
	}
}

// The ticket's storm against a Foolscap 21.7 queen: 200 clients restart
// silently at once, and all come back without a flap.
func TestBinarySilentRestartFoolscap(t *testing.T) {
	furl := foolscapQueen(t)
	summary, outcomes := stormJSON(t, furl, "--n", "200", "--fault", "silent-restart", "--window", "60s", "--hold", "1s")
	wantCounts(t, summary, map[string]float64{"clients": 200, "back": 200, "locked_out": 0, "flaps": 0})
	if len(outcomes) != 200 || summary["call"] != "echo" {
		t.Errorf("%d outcome lines, call %v", len(outcomes), summary["call"])
	}
	if rec := summary["recovery_ms"].(map[string]any); rec["max"].(float64) <= 0 || rec["p50"].(float64) > rec["max"].(float64) {
		t.Errorf("recovery %v", rec)
	}
}

// lostDecisionArgs give a short window, and a negotiation timeout short
// enough that the lost decision's retry is refused well inside it.
var lostDecisionArgs = []string{"--n", "10", "--fault", "lost-decision", "--negotiation-timeout", "2s", "--window", "10s", "--hold", "1s"}

// A lost decision against a Foolscap master: every client comes back
// remembering nothing, is refused as a parallel attempt (never-decided) and
// is counted locked out within the window.
func TestBinaryLostDecisionFoolscap(t *testing.T) {
	furl := foolscapQueen(t)
	summary, outcomes := stormJSON(t, furl, lostDecisionArgs...)
	wantCounts(t, summary, map[string]float64{"clients": 10, "back": 0, "locked_out": 10, "flaps": 0})
	reasons := summary["rejects_by_reason"].(map[string]any)
	if reasons["Duplicate connection (offer remembered no decision)"] == nil || summary["rejects"].(float64) < 10 {
		t.Errorf("rejects %v by reason %v", summary["rejects"], reasons)
	}
	for _, o := range outcomes {
		if o["outcome"] != OutcomeLockedOut || o["locked_out_ms"].(float64) <= 0 || o["locked_out_ms"].(float64) >= 10000 {
			t.Errorf("outcome %v", o)
		}
	}
}

// The same storm against `tubscope serve --policy probe`: the probe finds
// the old connection silent, and every client is back.
func TestBinaryLostDecisionServeProbe(t *testing.T) {
	furl := serveQueen(t, "probe")
	summary, _ := stormJSON(t, furl, lostDecisionArgs...)
	wantCounts(t, summary, map[string]float64{"clients": 10, "back": 10, "locked_out": 0, "flaps": 0})
}

// Killing the storm with SIGKILL, which it cannot catch, still ends every
// client process: the kernel signals them when their parent dies.
func TestBinaryKilledParentLeavesNoChildren(t *testing.T) {
	furl := serveQueen(t, "foolscap")
	cmd := exec.Command(tubscopebin.Path(t), "storm", "--n", "40", "--window", "60s", "--fault", "lost-decision", furl)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && !strings.Contains(lines.Text(), "the storm begins") {
	}
	go io.Copy(io.Discard, stdout)
	kids := childrenOf(t, cmd.Process.Pid)
	if len(kids) == 0 {
		t.Fatal("the storm has no client processes")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// A bounded wait for the kernel's signal to land, checked every 20ms.
	deadline := time.Now().Add(20 * time.Second)
	for _, pid := range kids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("client process %d outlived its killed parent by 20s", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if ppid, _ := procStat(p); ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// procStat reads a process's parent and state from /proc (0, "" when it
// is gone).
func procStat(pid int) (ppid int, state string) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, ""
	}
	// The command name is in parentheses and may hold spaces.
	rest := string(data[bytes.LastIndexByte(data, ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 2 {
		return 0, ""
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0]
}

// alive: the process exists and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	_, state := procStat(pid)
	return state != "" && state != "Z" && state != "X"
}
