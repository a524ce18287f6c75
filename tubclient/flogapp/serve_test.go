package flogapp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// serve runs `tubscope serve --json` with args and returns it with the
// FURL it printed first.
func serve(t *testing.T, ctx context.Context, dir string, args ...string) (*proc, string) {
	t.Helper()
	p := startProc(t, dir, nil, append([]string{tubscopebin.Path(t), "serve", "--json"}, args...)...)
	furl, ok := p.next(ctx)
	if !ok || !strings.HasPrefix(furl, "pb://") {
		t.Fatalf("serve printed %q first, want its FURL\n%s", furl, p.stderrText())
	}
	return p, furl
}

// callEcho makes one connection and call to furl with `tubscope call`,
// which gives the server's log something to say.
func callEcho(t *testing.T, ctx context.Context, furl string) {
	t.Helper()
	if out, errOut, err := runTubscope(t, ctx, "call", furl, "echo", "hello"); err != nil || out != "\"hello\"\n" {
		t.Fatalf("tubscope call: %v %q %s", err, out, errOut)
	}
}

// Real `flogtool tail` follows `tubscope serve --logport-furlfile` (given
// the FURL file, as Foolscap's own tools take it), `flogtool dump` reads
// what it saved, and serve --json is the same stream as without a
// logport.
func TestFlogtoolTailsServe(t *testing.T) {
	pypeer.Require(t)
	ctx := testCtx(t, 90*time.Second)
	dir := t.TempDir()
	furlfile := filepath.Join(dir, "logport.furl")
	key := filepath.Join(dir, "tub.pem")
	srv, furl := serve(t, ctx, dir, "--logport-furlfile", furlfile, "--key", key)
	fi, err := os.Stat(furlfile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--logport-furlfile %v, %v: want a file of mode 0600", fi, err)
	}
	data, _ := os.ReadFile(furlfile)
	logportFURL := strings.TrimSpace(string(data))
	srv.awaitStderr(ctx, "tubscope serve: logport "+logportFURL)

	saved := filepath.Join(dir, "saved.flog")
	tail := startProc(t, dir, nil, "flogtool", "tail", "--catch-up", "--save-to", saved, furlfile)
	tail.expect(ctx, "Connected")
	callEcho(t, ctx, furl)
	tail.expect(ctx, "attached as")
	if line := tail.expect(ctx, "call echo"); !strings.Contains(line, "answered") {
		t.Errorf("flogtool tail printed %q for the call", line)
	}
	if err := tail.interrupt(ctx); err != nil {
		t.Logf("flogtool tail after SIGINT: %v", err) // twistd's exit status varies; the file is what counts
	}
	out, err := exec.CommandContext(ctx, "flogtool", "dump", saved).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "attached as") || !strings.Contains(string(out), "call echo") {
		t.Errorf("flogtool dump of what flogtool tail saved: %v\n%s", err, out)
	}

	// The JSON stream is as it was: after the FURL, only events.
	for echoed := false; !echoed; {
		l, ok := srv.next(ctx)
		if !ok {
			t.Fatal("serve --json ended")
		}
		var ev snapshot.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Kind == "" {
			t.Fatalf("serve --json printed %q: %v", l, err)
		}
		echoed = ev.Kind == snapshot.KindCall && strings.Contains(ev.Message, "echo")
	}
	if err := srv.interrupt(ctx); err != nil {
		t.Errorf("serve after SIGINT: %v", err)
	}

	// A restart keeps the logport's tubid and swissnum (the port is new).
	srv2, _ := serve(t, ctx, dir, "--logport-furlfile", furlfile, "--key", key)
	again, _ := os.ReadFile(furlfile)
	before, _ := tubclient.ParseFURL(logportFURL)
	after, err := tubclient.ParseFURL(strings.TrimSpace(string(again)))
	if err != nil || after.TubID != before.TubID || after.Swissnum != before.Swissnum {
		t.Errorf("the logport changed across restarts: %s then %s", data, again)
	}
	srv2.interrupt(ctx)
}

// A real Foolscap log gatherer (flogtool create-gatherer, run by twistd)
// receives `tubscope serve --log-gatherer`'s report, subscribes, and
// saves tubscope's events where flogtool dump reads them.
func TestFoolscapGathererReceivesServe(t *testing.T) {
	pypeer.Require(t)
	twistd, err := exec.LookPath("twistd3")
	if err != nil {
		if twistd, err = exec.LookPath("twistd"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("twistd is required under CI to run a log gatherer")
			}
			t.Skip("no twistd to run the gatherer")
		}
	}
	ctx := testCtx(t, 90*time.Second)
	base := t.TempDir()
	port := freePort(t)
	gdir := filepath.Join(base, "gatherer")
	if out, err := exec.CommandContext(ctx, "flogtool", "create-gatherer", "--quiet",
		"--location", fmt.Sprintf("tcp:127.0.0.1:%d", port),
		"--port", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port), gdir).CombinedOutput(); err != nil {
		t.Fatalf("create-gatherer: %v\n%s", err, out)
	}
	startProc(t, gdir, nil, twistd, "--nodaemon", "--pidfile=", "--logfile=twistd.log", "-ny", "gatherer.tac")
	var gfurl string
	for gfurl == "" {
		if data, err := os.ReadFile(filepath.Join(gdir, "log_gatherer.furl")); err == nil && strings.HasPrefix(string(data), "pb://") {
			gfurl = strings.TrimSpace(string(data))
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the gatherer never wrote its FURL")
		case <-time.After(100 * time.Millisecond): // twistd starts in its own time
		}
	}
	srv, furl := serve(t, ctx, base, "--log-gatherer", gfurl)
	// The gatherer subscribes without catch-up; once serve says it took
	// the report, the subscription is on its way, and a few calls make
	// sure some events come after it.
	srv.awaitStderr(ctx, "logport offered to the log gatherer "+gfurl)
	for {
		callEcho(t, ctx, furl)
		files, _ := filepath.Glob(filepath.Join(gdir, "from-*.flog"))
		for _, f := range files {
			out, _ := exec.CommandContext(ctx, "flogtool", "dump", f).CombinedOutput()
			if strings.Contains(string(out), "attached as") && strings.Contains(string(out), "call echo") {
				srv.interrupt(ctx)
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the gatherer saved no tubscope events (files %v)", files)
		case <-time.After(200 * time.Millisecond): // the gatherer writes its file as events come
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
