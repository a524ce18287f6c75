package netns

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	// The veth pair's addresses exist only inside the namespaces the test
	// makes, so every case can use the same ones.
	serverAddr = "10.213.0.1"
	clientAddr = "10.213.0.2"
	prefixLen  = "/24"

	// firstCallBound is how long the restarted client may take to make its
	// first successful call.
	firstCallBound = 30 * time.Second
	// caseTimeout bounds one whole case, setup included.
	caseTimeout = 50 * time.Second

	// masterBelow splits tubids so one identity sorts above the other:
	// Foolscap lets the larger tubid decide.
	masterBelow = "n"

	// foolscapNewIncarnation is the line Foolscap logs when it accepts an
	// offer from a restarted peer over its existing broker.
	foolscapNewIncarnation = "offer is from different peer incarnation than existing"
)

// env is what every case shares: the built binaries, pypeer's scripts and
// the firewall tool.
type env struct {
	tubscope   string
	holdclient string
	pyLib      string
	fw         firewall
}

// requireNetAdmin skips when not root outside CI; under CI, and whenever
// the test does run, a missing tool is a failure.
func requireNetAdmin(t *testing.T) firewall {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the network-namespace test must run as root in CI")
		}
		t.Skip("needs root to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2) is required: %v", err)
	}
	if path, err := exec.LookPath("iptables"); err == nil {
		return firewall{iptables: path}
	}
	if path, err := exec.LookPath("nft"); err == nil {
		return firewall{nft: path}
	}
	t.Fatal("iptables or nft is required")
	return firewall{}
}

func setup(t *testing.T) *env {
	t.Helper()
	fw := requireNetAdmin(t)
	dir := t.TempDir()
	tubscopebin.Build(t, dir, tubscopebin.Module, "./testdata/holdclient")
	pyLib, err := filepath.Abs(filepath.Join("..", "internal", "pypeer", "py"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		tubscope:   filepath.Join(dir, "tubscope"),
		holdclient: filepath.Join(dir, "holdclient"),
		pyLib:      pyLib,
		fw:         fw,
	}
}

// run runs a command that must succeed.
func run(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// undo registers a command that reverses a setup step; a failure there
// fails the test, since the test promises to leave nothing behind.
func undo(t *testing.T, argv ...string) {
	t.Cleanup(func() {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Errorf("cleanup %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	})
}

// netPair is two namespaces joined by a veth pair: the server's and the
// client's.
type netPair struct{ server, client string }

// newNetPair makes the namespaces; cleanup deletes them after the
// processes in them, registered later, are killed.
func newNetPair(t *testing.T, tag string) netPair {
	t.Helper()
	base := fmt.Sprintf("ts-%d-%s", os.Getpid(), tag)
	n := netPair{server: base + "-a", client: base + "-b"}
	for _, ns := range []string{n.server, n.client} {
		run(t, "ip", "netns", "add", ns)
		undo(t, "ip", "netns", "delete", ns)
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	// Both ends are made inside the namespaces, never in the host's.
	run(t, "ip", "-n", n.server, "link", "add", "veth-a", "type", "veth",
		"peer", "name", "veth-b", "netns", n.client)
	run(t, "ip", "-n", n.server, "addr", "add", serverAddr+prefixLen, "dev", "veth-a")
	run(t, "ip", "-n", n.client, "addr", "add", clientAddr+prefixLen, "dev", "veth-b")
	run(t, "ip", "-n", n.server, "link", "set", "veth-a", "up")
	run(t, "ip", "-n", n.client, "link", "set", "veth-b", "up")
	return n
}

func inNS(ns string, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// firewall drops one TCP flow inside a namespace, with iptables when
// installed and nft otherwise.
type firewall struct{ iptables, nft string }

// dropFlow drops, in namespace ns, every packet between the server's port
// and the client's port in both directions; other flows between the same
// hosts pass. Cleanup removes the rules.
func (f firewall) dropFlow(t *testing.T, ns string, serverPort, clientPort string) {
	t.Helper()
	if f.iptables != "" {
		for _, rule := range [][]string{
			{"INPUT", "-p", "tcp", "-s", clientAddr, "--sport", clientPort, "-d", serverAddr, "--dport", serverPort, "-j", "DROP"},
			{"OUTPUT", "-p", "tcp", "-s", serverAddr, "--sport", serverPort, "-d", clientAddr, "--dport", clientPort, "-j", "DROP"},
		} {
			run(t, inNS(ns, append([]string{f.iptables, "-w", "-I"}, rule...)...)...)
			undo(t, inNS(ns, append([]string{f.iptables, "-w", "-D"}, rule...)...)...)
		}
		return
	}
	const table = "tubscope_netns"
	run(t, inNS(ns, f.nft, "add", "table", "inet", table)...)
	undo(t, inNS(ns, f.nft, "delete", "table", "inet", table)...)
	for _, c := range []struct{ chain, match string }{
		{"input", fmt.Sprintf("ip saddr %s tcp sport %s ip daddr %s tcp dport %s", clientAddr, clientPort, serverAddr, serverPort)},
		{"output", fmt.Sprintf("ip saddr %s tcp sport %s ip daddr %s tcp dport %s", serverAddr, serverPort, clientAddr, clientPort)},
	} {
		run(t, inNS(ns, f.nft, "add", "chain", "inet", table, c.chain,
			fmt.Sprintf("{ type filter hook %s priority 0 ; }", c.chain))...)
		run(t, inNS(ns, f.nft, "add", "rule", "inet", table, c.chain, c.match, "drop")...)
	}
}

// server is the listening side, seen through its output.
type server struct {
	p    *proc
	furl string
	// attached waits for a broker to the peer and returns its remote address.
	attached func(ctx context.Context, peer string) (string, error)
	// judged waits for the verdict on the peer's next offer and checks it
	// was an acceptance by the new-incarnation rule.
	judged func(ctx context.Context, peer string) error
}

// client starts one incarnation of the client (always with the same key)
// and recognises its first successful call.
type client struct {
	tubid string
	start func(t *testing.T) *proc
	// called says whether a line reports the first successful call; an
	// error means the client gave up.
	called func(line string) (bool, error)
}

func tubscopeServer(t *testing.T, e *env, n netPair, key string) *server {
	t.Helper()
	p := startProc(t, "tubscope serve", inNS(n.server, e.tubscope, "serve",
		"--listen", "tcp:"+serverAddr+":0", "--key", key, "--json")...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	furl, err := p.waitLine(ctx, "its FURL", func(string) (bool, error) { return true, nil })
	if err != nil {
		t.Fatal(err)
	}
	event := func(ctx context.Context, what string, match func(snapshot.Event) bool) (snapshot.Event, error) {
		var found snapshot.Event
		_, err := p.waitLine(ctx, what, func(line string) (bool, error) {
			var ev snapshot.Event
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				return false, fmt.Errorf("tubscope serve printed %q: %v", line, err)
			}
			found = ev
			return match(ev), nil
		})
		return found, err
	}
	return &server{
		p:    p,
		furl: furl,
		attached: func(ctx context.Context, peer string) (string, error) {
			ev, err := event(ctx, "broker-attached", func(ev snapshot.Event) bool {
				return ev.Kind == snapshot.KindBrokerAttached && ev.PeerTubID == peer
			})
			return ev.Remote, err
		},
		judged: func(ctx context.Context, peer string) error {
			ev, err := event(ctx, "verdict", func(ev snapshot.Event) bool {
				return ev.Kind == snapshot.KindVerdict && ev.PeerTubID == peer
			})
			if err != nil {
				return err
			}
			if ev.Accept == nil || !*ev.Accept || ev.Rule != string(negotiation.RuleNewIncarnation) {
				return fmt.Errorf("verdict on the restarted client: accept %v, rule %s (%s); want an accept by %s",
					ev.Accept != nil && *ev.Accept, ev.Rule, ev.Detail, negotiation.RuleNewIncarnation)
			}
			return nil
		},
	}
}

func foolscapServer(t *testing.T, e *env, n netPair, pem string) *server {
	t.Helper()
	script := filepath.Join(e.pyLib, "server.py")
	p := startProc(t, "foolscap server", inNS(n.server, pypeer.Python, "-E", "-s", "-B", script,
		"--host", serverAddr, "--pem", pem)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	event := func(ctx context.Context, what string, match func(pypeer.Line) bool) (pypeer.Line, error) {
		var found pypeer.Line
		_, err := p.waitLine(ctx, what, func(line string) (bool, error) {
			found = nil
			if err := json.Unmarshal([]byte(line), &found); err != nil {
				return false, fmt.Errorf("foolscap server printed %q: %v", line, err)
			}
			return match(found), nil
		})
		return found, err
	}
	hello, err := event(ctx, "its FURL", func(l pypeer.Line) bool { return l.Event() == "furl" })
	if err != nil {
		t.Fatal(err)
	}
	return &server{
		p:    p,
		furl: hello.String("furl"),
		attached: func(ctx context.Context, peer string) (string, error) {
			l, err := event(ctx, "connection", func(l pypeer.Line) bool {
				return l.Event() == "connection" && l.String("peer") == peer
			})
			return l.String("remote"), err
		},
		judged: func(ctx context.Context, peer string) error {
			l, err := event(ctx, "decision", func(l pypeer.Line) bool {
				return l.Event() == "decision" && l.String("peer") == peer
			})
			if err != nil {
				return err
			}
			if !l.Bool("accept") || !l.Bool("duplicate") || l.String("rule") != foolscapNewIncarnation {
				return fmt.Errorf("Foolscap's decision on the restarted client: %v, want an accept with rule %q", l, foolscapNewIncarnation)
			}
			return nil
		},
	}
}

func tubscopeClient(e *env, n netPair, id *tubclient.Identity, key, furl string) *client {
	return &client{
		tubid: id.TubID,
		start: func(t *testing.T) *proc {
			return startProc(t, "holdclient", inNS(n.client, e.holdclient, "--key", key, furl)...)
		},
		called: func(line string) (bool, error) { return strings.HasPrefix(line, "ok "), nil },
	}
}

func foolscapClient(e *env, n netPair, id *tubclient.Identity, pem, furl string) *client {
	return &client{
		tubid: id.TubID,
		start: func(t *testing.T) *proc {
			return startProc(t, "foolscap client", inNS(n.client, pypeer.Python, "-E", "-s", "-B",
				filepath.Join(e.pyLib, "client.py"), furl,
				"--pem", pem, "--call", "echo", "hello", "--hold")...)
		},
		called: func(line string) (bool, error) {
			var l pypeer.Line
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				return false, fmt.Errorf("foolscap client printed %q: %v", line, err)
			}
			switch l.Event() {
			case "result":
				return l.String("cmd") == "initial", nil
			case "connect_failed", "error":
				return false, fmt.Errorf("foolscap client: %s", line)
			}
			return false, nil
		},
	}
}

// identities makes a master and a slave identity (the master's tubid
// sorts higher) and writes both as key files in Foolscap's layout, which
// tubscope loads too.
func identities(t *testing.T) (master, slave *tubclient.Identity, masterKey, slaveKey string) {
	t.Helper()
	var err error
	if master, err = tubclient.IdentityWhere(func(id string) bool { return id >= masterBelow }); err != nil {
		t.Fatal(err)
	}
	if slave, err = tubclient.IdentityWhere(func(id string) bool { return id < masterBelow }); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	masterKey, slaveKey = filepath.Join(dir, "master.pem"), filepath.Join(dir, "slave.pem")
	for _, k := range []struct {
		id   *tubclient.Identity
		path string
	}{{master, masterKey}, {slave, slaveKey}} {
		signer, ok := k.id.Cert.PrivateKey.(crypto.Signer)
		if !ok {
			t.Fatalf("identity key %T cannot sign", k.id.Cert.PrivateKey)
		}
		if err := pypeer.WriteFoolscapPEM(k.path, k.id.DER, signer); err != nil {
			t.Fatal(err)
		}
	}
	return master, slave, masterKey, slaveKey
}

// TestFirstCallAfterRestartBehindDeadFlow: a client's established flow
// to the server is black-holed both ways, so the server keeps a broker
// that is silently dead; the client is SIGKILLed and restarted with the
// same key. The server, as master, must take the new incarnation's offer
// at once over the dead broker, so the first call succeeds promptly.
func TestFirstCallAfterRestartBehindDeadFlow(t *testing.T) {
	e := setup(t)
	cases := []struct {
		name     string
		foolscap bool
		make     func(t *testing.T, n netPair) (*server, *client)
	}{
		{"tubscope-client/tubscope-master", false, func(t *testing.T, n netPair) (*server, *client) {
			_, slave, masterKey, slaveKey := identities(t)
			s := tubscopeServer(t, e, n, masterKey)
			return s, tubscopeClient(e, n, slave, slaveKey, s.furl)
		}},
		{"foolscap-client/tubscope-master", true, func(t *testing.T, n netPair) (*server, *client) {
			_, slave, masterKey, slaveKey := identities(t)
			s := tubscopeServer(t, e, n, masterKey)
			return s, foolscapClient(e, n, slave, slaveKey, s.furl)
		}},
		{"tubscope-client/foolscap-master", true, func(t *testing.T, n netPair) (*server, *client) {
			_, slave, masterKey, slaveKey := identities(t)
			s := foolscapServer(t, e, n, masterKey)
			return s, tubscopeClient(e, n, slave, slaveKey, s.furl)
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.foolscap {
				pypeer.Require(t)
			}
			t.Parallel()
			n := newNetPair(t, fmt.Sprint(i))
			s, cl := c.make(t, n)
			elapsed := restartBehindDeadFlow(t, e, n, s, cl)
			t.Logf("first successful call %v after the restart", elapsed.Round(time.Millisecond))
			fmt.Printf("netns: %s: first successful call %v after SIGKILL and restart behind a dead flow\n",
				c.name, elapsed.Round(time.Millisecond))
		})
	}
}

func restartBehindDeadFlow(t *testing.T, e *env, n netPair, s *server, cl *client) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()

	first := cl.start(t)
	if _, err := first.waitLine(ctx, "the first client's first call", cl.called); err != nil {
		t.Fatal(err)
	}
	oldRemote, err := s.attached(ctx, cl.tubid)
	if err != nil {
		t.Fatal(err)
	}
	host, clientPort, err := net.SplitHostPort(oldRemote)
	if err != nil || host != clientAddr {
		t.Fatalf("server's broker comes from %q (%v), want %s:PORT", oldRemote, err, clientAddr)
	}
	furl, err := tubclient.ParseFURL(s.furl)
	if err != nil || len(furl.Hints) == 0 {
		t.Fatalf("server FURL %q: %v", s.furl, err)
	}
	e.fw.dropFlow(t, n.server, fmt.Sprint(furl.Hints[0].Port), clientPort)
	first.Kill()

	second := cl.start(t)
	callCtx, cancelCall := context.WithTimeout(ctx, firstCallBound)
	defer cancelCall()
	if _, err := second.waitLine(callCtx, "the restarted client's first call", cl.called); err != nil {
		t.Fatalf("after %v: %v%s", time.Since(second.Started).Round(time.Millisecond), err, s.p.stderrNote())
	}
	elapsed := time.Since(second.Started)

	if err := s.judged(ctx, cl.tubid); err != nil {
		t.Fatal(err)
	}
	newRemote, err := s.attached(ctx, cl.tubid)
	if err != nil {
		t.Fatal(err)
	}
	if newRemote == oldRemote {
		t.Fatalf("restarted client came back on the dropped flow %s", oldRemote)
	}
	return elapsed
}
