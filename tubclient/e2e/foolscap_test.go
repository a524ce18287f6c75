package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Foolscap peers the flogapp tests drive: a deciding tub with a
// logport, and a client that makes chosen offers to it.
const foolscapScripts = "../flogapp/testdata"

// pyproc is a Foolscap script speaking JSON lines.
type pyproc struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan map[string]any
	done  chan struct{}
}

// requireFoolscap skips without Foolscap 21.7, unless CI is set.
func requireFoolscap(t *testing.T) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import foolscap; print(foolscap.__version__)").CombinedOutput()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("real Foolscap required in CI: %v %s", err, out)
	}
	t.Skipf("real Foolscap unavailable: %v", err)
}

func startPython(t *testing.T, env []string, script string, args ...string) *pyproc {
	t.Helper()
	requireFoolscap(t)
	path, err := filepath.Abs(filepath.Join(foolscapScripts, script))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{"-E", "-s", "-B", path}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	p := &pyproc{t: t, cmd: cmd, lines: make(chan map[string]any, 256), done: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.lines <- m
			}
		}
		cmd.Wait()
		close(p.lines)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})
	return p
}

func (p *pyproc) kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// event waits for a line whose "event" is one of events.
func (p *pyproc) event(ctx context.Context, events ...string) map[string]any {
	p.t.Helper()
	for {
		select {
		case m, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("the peer exited before %v", events)
			}
			for _, e := range events {
				if m["event"] == e {
					return m
				}
			}
		case <-ctx.Done():
			p.t.Fatalf("waiting for %v: %v", events, ctx.Err())
		}
	}
}

func (p *pyproc) send(ctx context.Context, cmd string, want ...string) map[string]any {
	p.t.Helper()
	fmt.Fprintln(p.stdin, cmd)
	return p.event(ctx, want...)
}

// foolscapNode runs a deciding Foolscap tub whose logport FURL is in
// dir/private/logport.furl, and a client whose tubid is below it (so the
// node decides), connected to it. env is added to the node's (FLOGFILE).
func foolscapNode(t *testing.T, ctx context.Context, dir string, env ...string) (node, client *pyproc, tubid string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	// Foolscap makes the keys; the higher tubid is the node's.
	nodePEM, clientPEM := filepath.Join(dir, "node.pem"), filepath.Join(dir, "client.pem")
	ids := make([]string, 2)
	for i, pem := range []string{nodePEM, clientPEM} {
		out, err := exec.Command("/usr/bin/python3", "-c",
			"import sys; from foolscap.api import Tub; sys.stdout.write(Tub(certFile=sys.argv[1]).getTubID())", pem).Output()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = string(out)
	}
	if ids[0] < ids[1] {
		nodePEM, clientPEM = clientPEM, nodePEM
		ids[0] = ids[1]
	}
	node = startPython(t, env, "decider.py", "--pem", nodePEM,
		"--logport-furlfile", filepath.Join(dir, "private", "logport.furl"), "--logdir", filepath.Join(dir, "logs", "incidents"))
	ready := node.event(ctx, "ready")
	client = startPython(t, nil, "offerer.py", "--pem", clientPEM,
		"--logport-furlfile", filepath.Join(t.TempDir(), "client.furl"), ready["furl"].(string))
	client.event(ctx, "ready")
	return node, client, ids[0]
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// foolscapLogs has a real Foolscap node decide five offers (two of them
// rejected, the last weird enough to file an incident) and returns its
// FLOGFILE and the incident file, both complete.
func foolscapLogs(t *testing.T, ctx context.Context) (flogfile, incident string) {
	t.Helper()
	dir := t.TempDir()
	flogfile = filepath.Join(dir, "node.flog")
	node, client, _ := foolscapNode(t, ctx, dir, "FLOGFILE="+flogfile, "FLOGLEVEL=10")
	for _, step := range []struct{ cmd, answer string }{
		{"connect", "accepted"}, {"forget", "rejected"}, {"reconnect", "accepted"}, {"stale", "rejected"}, {"future", "rejected"},
	} {
		client.send(ctx, step.cmd, step.answer)
	}
	// Noise closes the incident's trailing window at once.
	node.send(ctx, "noise 120", "ok")
	for incident == "" {
		files, _ := node.send(ctx, "incidents", "ok")["files"].([]any)
		if len(files) > 0 {
			incident = files[0].(string)
		}
	}
	client.send(ctx, "quit", "ok")
	node.send(ctx, "quit", "ok")
	<-node.done // FLOGFILE is complete once the node has exited
	return flogfile, incident
}

var cursor = regexp.MustCompile(`replay (\d\d:\d\d:\d\d\.\d\d\d)(?: \d+%)? · (\d+)/\d+ events`)
