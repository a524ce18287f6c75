package logport

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/service"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTub(t *testing.T, listen bool) *tubclient.Tub {
	t.Helper()
	tub, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tub.Close() })
	if listen {
		if _, err := tub.Listen("tcp:127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	return tub
}

// child is a subprocess whose stdout is read line by line.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startChild(t *testing.T, dir string, argv ...string) *child {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// Python buffers a pipe's output; lines must arrive as printed.
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 4096)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", filepath.Base(argv[len(argv)-1]), stderr.String())
		}
	})
	return c
}

// expect waits for a line containing want.
func (c *child) expect(t *testing.T, ctx context.Context, want string) string {
	t.Helper()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("output ended before a line with %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-ctx.Done():
			t.Fatalf("no line with %q: %v", want, ctx.Err())
		}
	}
}

// foolscapLogport runs a Foolscap tub with a logport and returns it with
// its logport FURL.
func foolscapLogport(t *testing.T, ctx context.Context) (*child, string) {
	t.Helper()
	pypeer.Require(t)
	script, _ := filepath.Abs("testdata/logport_peer.py")
	furlfile := filepath.Join(t.TempDir(), "logport.furl")
	c := startChild(t, t.TempDir(), pypeer.Python, "-E", "-s", "-B", script, "--furlfile", furlfile)
	var hello struct{ FURL string }
	if err := json.Unmarshal([]byte(c.expect(t, ctx, `"furl"`)), &hello); err != nil {
		t.Fatal(err)
	}
	return c, hello.FURL
}

// Subscribing to a real Foolscap logport: our observer carries the
// RILogObserver name Foolscap checks, catch-up arrives, live events
// arrive in order, and after unsubscribing no more come.
func TestSubscribeToFoolscapLogport(t *testing.T) {
	ctx := testCtx(t)
	peer, furl := foolscapLogport(t, ctx)
	fmt.Fprintln(peer.stdin, "log 20")
	peer.expect(t, ctx, `"logged"`)
	tub := newTub(t, false)
	var mu sync.Mutex
	var got []Event
	arrived := make(chan struct{}, 1)
	sctx, cancel := context.WithCancel(ctx)
	s, err := Subscribe(sctx, tub, furl, SubscribeOptions{CatchUp: true}, func(e Event) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.PID == 0 || s.Versions["foolscap"] == "" {
		t.Errorf("pid %d, versions %v: want the publisher's", s.PID, s.Versions)
	}
	fmt.Fprintln(peer.stdin, "log 30")
	count := func(prefix string) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range got {
			if strings.HasPrefix(text(dictValue(e, "format")), "test event") && fmt.Sprint(dictValue(e, "n")) == prefix {
				n++
			}
		}
		return n
	}
	for count("20") < 20 || count("30") < 30 {
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatalf("caught up %d of 20 and got %d of 30 live events", count("20"), count("30"))
		}
	}
	mu.Lock()
	var last int64 = -1
	for _, e := range got {
		n, _ := dictValue(e, "num").(int64)
		if n <= last {
			t.Fatalf("event num %d after %d: out of order", n, last)
		}
		last = n
	}
	mu.Unlock()
	cancel()
	<-s.Done()
	before := len(got)
	fmt.Fprintln(peer.stdin, "log 10")
	peer.expect(t, ctx, `"logged"`)
	// The publisher has logged them; had we still been subscribed, they
	// would be on their way. A round trip to it makes sure they would have
	// arrived.
	ref, err := tub.GetReference(ctx, furl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Call(ctx, "get_pid"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != before {
		t.Fatalf("%d events arrived after unsubscribing", len(got)-before)
	}
}

func dictValue(d banana.Dict, key string) any {
	for _, e := range d {
		if text(e.Key) == key {
			return e.Value
		}
	}
	return nil
}

// ResolveTarget takes a FURL, a file holding one, or a node directory.
func TestResolveTarget(t *testing.T) {
	id, _ := tubclient.NewIdentity()
	furl := "pb://" + id.TubID + "@tcp:127.0.0.1:1/swiss"
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "node", "private"), 0o700)
	os.WriteFile(filepath.Join(dir, "node", "private", "logport.furl"), []byte(furl+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "plain.furl"), []byte(furl), 0o600)
	os.WriteFile(filepath.Join(dir, "junk"), []byte("hello"), 0o600)
	for _, c := range []struct{ target, want, err string }{
		{furl, furl, ""},
		{filepath.Join(dir, "plain.furl"), furl, ""},
		{filepath.Join(dir, "node"), furl, ""},
		{filepath.Join(dir, "junk"), "", "does not hold a FURL"},
		{dir, "", "neither logport.furl nor private/logport.furl"},
		{filepath.Join(dir, "missing"), "", "neither a FURL nor a file"},
	} {
		got, err := ResolveTarget(c.target)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error with %q", c.target, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v", c.target, got, err)
		}
	}
}

// provoke makes a tub log negotiation events: a client connects and calls.
func provoke(t *testing.T, ctx context.Context, tub *tubclient.Tub) {
	t.Helper()
	furl, err := tub.Register("svc", service.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	client := newTub(t, false)
	ref, err := client.GetReference(ctx, furl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Call(ctx, "echo", "hi"); err != nil {
		t.Fatal(err)
	}
}

// Real `flogtool tail` follows tubscope's logport, and `flogtool dump`
// reads what it saved.
func TestFlogtoolTailsAndDumpsTubscope(t *testing.T) {
	pypeer.Require(t)
	ctx := testCtx(t)
	tub := newTub(t, true)
	furlfile := filepath.Join(t.TempDir(), "logport.furl")
	p, err := NewPublisher(tub, PublisherOptions{FURLFile: furlfile})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if fi, err := os.Stat(furlfile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("furlfile %v, %v: want mode 0600", fi, err)
	}
	saved := filepath.Join(t.TempDir(), "tail.flog")
	tail := startChild(t, t.TempDir(), "flogtool", "tail", "--catch-up", "--save-to", saved, p.FURL())
	tail.expect(t, ctx, "Connected")
	provoke(t, ctx, tub)

	// Which side decides depends on the two random tubids.
	line := tail.expect(t, ctx, " accepted ")
	if !strings.Contains(line, "(no-existing)") && !strings.Contains(line, "(master-accepted)") {
		t.Errorf("flogtool tail printed %q", line)
	}
	tail.expect(t, ctx, "attached as")
	syscall.Kill(-tail.cmd.Process.Pid, syscall.SIGINT)
	tail.cmd.Wait()
	out, err := exec.Command("flogtool", "dump", saved).CombinedOutput()
	if err != nil {
		t.Fatalf("flogtool dump: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), " accepted ") || !strings.Contains(string(out), "attached as") {
		t.Fatalf("flogtool dump of tail's file:\n%s", out)
	}

	// A restart keeps the logport's swissnum.
	p2, err := NewPublisher(tub, PublisherOptions{FURLFile: furlfile})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if p2.FURL() != p.FURL() {
		t.Errorf("logport FURL changed across restarts: %s then %s", p.FURL(), p2.FURL())
	}
}

// A real Foolscap log gatherer receives tubscope's report and saves its
// events.
func TestFoolscapGathererReceivesTubscope(t *testing.T) {
	pypeer.Require(t)
	ctx := testCtx(t)
	twistd, err := exec.LookPath("twistd3")
	if err != nil {
		if twistd, err = exec.LookPath("twistd"); err != nil {
			t.Skip("no twistd to run the gatherer")
		}
	}
	base := t.TempDir()
	port := freePort(t)
	dir := filepath.Join(base, "gatherer")
	if out, err := exec.Command("flogtool", "create-gatherer", "--quiet",
		"--location", fmt.Sprintf("tcp:127.0.0.1:%d", port),
		"--port", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port), dir).CombinedOutput(); err != nil {
		t.Fatalf("create-gatherer: %v\n%s", err, out)
	}
	startChild(t, dir, twistd, "--nodaemon", "--pidfile=", "--logfile=twistd.log", "-y", "gatherer.tac")
	furlPath := filepath.Join(dir, "log_gatherer.furl")
	var gfurl string
	for gfurl == "" {
		if data, err := os.ReadFile(furlPath); err == nil && strings.HasPrefix(string(data), "pb://") {
			gfurl = strings.TrimSpace(string(data))
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the gatherer never wrote its FURL")
		case <-time.After(100 * time.Millisecond):
		}
	}
	tub := newTub(t, true)
	p, err := NewPublisher(tub, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := ReportTo(ctx, tub, gfurl, p); err != nil {
		t.Fatal(err)
	}
	// The gatherer subscribes without catch-up: wait for it.
	for p.Subscribers() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the gatherer never subscribed")
		case <-time.After(50 * time.Millisecond):
		}
	}
	provoke(t, ctx, tub)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "from-*.flog"))
		if len(files) > 0 {
			out, _ := exec.Command("flogtool", "dump", files[0]).CombinedOutput()
			if strings.Contains(string(out), "attached as") {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the gatherer saved no tubscope events (files %v)", files)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	tub := newTub(t, false)
	h, err := tub.Listen("tcp:127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tub.Close()
	return h.Port
}

// A weird event (a verdict Foolscap calls weird) becomes an incident:
// listed, fetched whole, and announced to incident subscribers.
func TestPublisherIncidents(t *testing.T) {
	ctx := testCtx(t)
	tub := newTub(t, true)
	p, err := NewPublisher(tub, PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The trailing window is closed by hand below, once the trailing
	// event is in, so the test does not race the timer.
	p.trailing = time.Hour
	client := newTub(t, false)
	pub, err := client.GetReference(ctx, p.FURL())
	if err != nil {
		t.Fatal(err)
	}
	if pub.Interface() != PublisherInterface {
		t.Errorf("the logport declares %q", pub.Interface())
	}
	announced := make(chan string, 1)
	obs := tubclient.NewInterfaceObject(ObserverInterface, map[string]tubclient.Func{
		"new_incident": func(_ context.Context, args []any, _ map[string]any) (any, error) {
			announced <- text(args[0])
			return nil, nil
		},
		"done_with_incident_catchup": func(context.Context, []any, map[string]any) (any, error) { return nil, nil },
	})
	if _, err := pub.Call(ctx, "subscribe_to_incidents", obs, true); err != nil {
		t.Fatal(err)
	}
	p.publish(weirdVerdict(tub.TubID()))
	tub.Note("", "an ordinary fault")
	for !recording(p, "an ordinary fault") {
		select {
		case <-ctx.Done():
			t.Fatal("the trailing event never reached the incident")
		case <-time.After(10 * time.Millisecond):
		}
	}
	p.mu.Lock()
	r := p.recording
	if p.timer.Stop() {
		p.wg.Done() // the timer's own finishIncident will not run
	}
	p.mu.Unlock()
	p.finishIncident(r)
	var name string
	select {
	case name = <-announced:
	case <-ctx.Done():
		t.Fatal("no incident announced")
	}
	if !strings.HasPrefix(name, "incident-") {
		t.Fatalf("incident name %q", name)
	}
	list, err := pub.Call(ctx, "list_incidents")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := list.(banana.Dict); len(d) != 1 || text(d[0].Key) != name {
		t.Fatalf("list_incidents = %v", list)
	}
	inc, err := pub.Call(ctx, "get_incident", name)
	if err != nil {
		t.Fatal(err)
	}
	tup, _ := inc.(banana.Tuple)
	if len(tup) != 2 {
		t.Fatalf("get_incident = %v", inc)
	}
	events, _ := tup[1].([]any)
	trigger := -1
	for i, e := range events {
		if strings.Contains(fmt.Sprint(e), "newer-seqnum") {
			trigger = i
		}
	}
	// The history before the trigger, the trigger, and what followed it.
	if trigger < 1 || !strings.Contains(fmt.Sprint(events[trigger+1:]), "an ordinary fault") {
		t.Fatalf("incident events %v: want history, the trigger, then trailing events", events)
	}
}

// recording reports whether the incident being recorded holds an event
// whose text includes what.
func recording(p *Publisher, what string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.recording == nil {
		return false
	}
	for _, d := range p.recording.events {
		if strings.Contains(fmt.Sprint(d), what) {
			return true
		}
	}
	return false
}

func weirdVerdict(tubid string) snapshot.Event {
	no := false
	return snapshot.Event{Kind: snapshot.KindVerdict, Time: time.Now(), TubID: tubid, Role: snapshot.Master,
		PeerTubID: "abcdefghijklmnopqrstuvwxyz234567", Accept: &no, Rule: "newer-seqnum",
		Detail: "offer seqnum 9 is newer than the held connection's 2"}
}
