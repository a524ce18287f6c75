package bench

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/pyvalue"
	"github.com/tubscope/tubscope/tubclient/service"
)

// raiseFDLimit lifts RLIMIT_NOFILE to at least want (both limits when the
// process may raise the hard one) and returns the soft limit in force.
func raiseFDLimit(want uint64) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur >= want {
		return lim.Cur
	}
	next := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next) == nil {
		return want
	}
	next = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next) == nil {
		return lim.Max
	}
	return lim.Cur
}

// memInUse is live heap plus goroutine stacks after a full collection.
func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// peakSampler records the largest heap+stack in use and Sys seen while
// it runs.
type peakSampler struct {
	stop      chan struct{}
	done      chan struct{}
	peakInUse uint64
	peakSys   uint64
}

func startPeakSampler(every time.Duration) *peakSampler {
	p := &peakSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			p.sample()
			select {
			case <-tick.C:
			case <-p.stop:
				p.sample()
				return
			}
		}
	}()
	return p
}

func (p *peakSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.peakInUse = max(p.peakInUse, ms.HeapInuse+ms.StackInuse)
	p.peakSys = max(p.peakSys, ms.Sys)
}

// Stop ends sampling and returns the peaks.
func (p *peakSampler) Stop() (inUse, sys uint64) {
	close(p.stop)
	<-p.done
	return p.peakInUse, p.peakSys
}

// vmHWM is the process's peak resident set from /proc (0 when unknown).
func vmHWM() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseHWM(string(data))
}

// parseHWM finds VmHWM in the text of a /proc/<pid>/status file.
func parseHWM(status string) uint64 {
	for _, l := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// startMaster starts a listening tub serving the built-in echo object.
func startMaster(cfg tubclient.Config) (*tubclient.Tub, string, error) {
	t, err := tubclient.New(cfg)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Close()
		return nil, "", err
	}
	if _, err := t.Serve(ln); err != nil {
		t.Close()
		return nil, "", err
	}
	furl, err := t.Register("echo", service.Builtin())
	if err != nil {
		t.Close()
		return nil, "", err
	}
	return t, furl, nil
}

// slaveOf makes an identity that is slave to master (master's tubid sorts
// higher), so the tub under test makes every decision.
func slaveOf(master string) (*tubclient.Identity, error) {
	return tubclient.IdentityWhere(func(id string) bool { return negotiation.IsMaster(master, id) })
}

// callOnce is one full operation: connect (or reuse), getReference, ping.
func callOnce(ctx context.Context, t *tubclient.Tub, furl string) (*tubclient.RemoteReference, error) {
	ref, err := t.GetReference(ctx, furl)
	if err != nil {
		return nil, err
	}
	got, err := ref.Call(ctx, "ping")
	if err != nil {
		return ref, err
	}
	if got != "pong" {
		return ref, fmt.Errorf("ping answered %v", pyvalue.Format(got))
	}
	return ref, nil
}

// rejected reports whether err is the master refusing an offer.
func rejected(err error) bool {
	var ne *tubclient.NegotiationError
	return errors.As(err, &ne) && ne.Remote != ""
}

// window counts operations that finish inside a measuring window that
// opens after a warm-up.
type window struct {
	open, close time.Time
	ops, errs   atomic.Int64
	firstErr    atomic.Value // string
}

func (w *window) record(err error) {
	now := time.Now()
	if now.Before(w.open) || now.After(w.close) {
		return
	}
	if err != nil {
		w.errs.Add(1)
		w.firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	w.ops.Add(1)
}

// runWindow runs op on conc workers for warm-up plus dur and counts what
// finishes inside the measuring window.
func runWindow(ctx context.Context, conc int, warm, dur time.Duration, op func(ctx context.Context, worker int) error) *window {
	w := &window{open: time.Now().Add(warm)}
	w.close = w.open.Add(dur)
	ctx, cancel := context.WithDeadline(ctx, w.close)
	defer cancel()
	var wg sync.WaitGroup
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := op(ctx, i)
				if ctx.Err() != nil {
					return // cut short by the window's end
				}
				w.record(err)
			}
		}()
	}
	wg.Wait()
	return w
}

// loadGen is the Go load generator: conc client tubs, each op a fresh
// connection (TCP, prelude, TLS, hello, decision), getReference and one
// call, then the broker is dropped so the next op dials again.
type loadGen struct {
	furl string
	tubs []*tubclient.Tub
}

func newLoadGen(furl, masterTubID string, conc int, kex tubclient.KeyExchange) (*loadGen, error) {
	g := &loadGen{furl: furl}
	for range conc {
		id, err := slaveOf(masterTubID)
		if err != nil {
			g.Close()
			return nil, err
		}
		t, err := tubclient.New(tubclient.Config{Identity: id, NegotiationTimeout: 10 * time.Second, KeyExchange: kex})
		if err != nil {
			g.Close()
			return nil, err
		}
		g.tubs = append(g.tubs, t)
	}
	return g, nil
}

func (g *loadGen) run(ctx context.Context, dur time.Duration) *window {
	return runWindow(ctx, len(g.tubs), warmUp(dur), dur, func(ctx context.Context, i int) error {
		ref, err := callOnce(ctx, g.tubs[i], g.furl)
		if ref != nil {
			g.tubs[i].DropBroker(ref.Broker().ID())
		}
		return err
	})
}

func (g *loadGen) Close() {
	for _, t := range g.tubs {
		t.Close()
	}
}

func warmUp(dur time.Duration) time.Duration { return min(dur/5, time.Second) }

// pooled sums windows into one rate and error note.
type pooled struct {
	ops, errs int64
	secs      float64
	firstErr  string
}

func (p *pooled) add(w *window) {
	p.ops += w.ops.Load()
	p.secs += w.close.Sub(w.open).Seconds()
	if n := w.errs.Load(); n > 0 {
		p.errs += n
		if p.firstErr == "" {
			p.firstErr, _ = w.firstErr.Load().(string)
		}
	}
}

func (p *pooled) rate() float64 {
	if p.secs == 0 {
		return 0
	}
	return float64(p.ops) / p.secs
}

func (p *pooled) errNote() string {
	if p.errs == 0 {
		return ""
	}
	return fmt.Sprintf("%d failed (first: %s)", p.errs, p.firstErr)
}

// ceiling is the raw Go mutual-TLS handshake rate with the tubs' key type
// (ECDSA P-256 self-signed) and a given key exchange, client and server in
// this process: TCP connect, TLS 1.3 handshake with a client certificate,
// one byte from the server once it has verified the client, close.
type ceiling struct {
	ln     net.Listener
	cliCfg *tls.Config
	wg     sync.WaitGroup
}

func newCeiling(kex tubclient.KeyExchange) (*ceiling, error) {
	srvID, err := tubclient.NewIdentity()
	if err != nil {
		return nil, err
	}
	cliID, err := tubclient.NewIdentity()
	if err != nil {
		return nil, err
	}
	srvCfg := &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{srvID.Cert},
		ClientAuth: tls.RequireAnyClientCert, SessionTicketsDisabled: true,
	}
	cliCert := cliID.Cert
	c := &ceiling{cliCfg: &tls.Config{
		MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, SessionTicketsDisabled: true,
		CurvePreferences:     kex.CurvePreferences(false),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cliCert, nil },
	}}
	if c.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := c.ln.Accept()
			if err != nil {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(conn, srvCfg)
				if tc.Handshake() == nil {
					tc.Write([]byte{1})
				}
			}()
		}
	}()
	return c, nil
}

func (c *ceiling) run(ctx context.Context, conc int, dur time.Duration) *window {
	addr := c.ln.Addr().String()
	var d net.Dialer
	return runWindow(ctx, conc, warmUp(dur), dur, func(ctx context.Context, _ int) error {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		tc := tls.Client(conn, c.cliCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		var b [1]byte
		_, err = tc.Read(b[:])
		return err
	})
}

func (c *ceiling) Close() {
	c.ln.Close()
	c.wg.Wait()
}

// foolscapServer runs a Foolscap 21.7 server with the given identity and
// keeps its output drained so it never blocks on stdout.
type foolscapServer struct {
	peer   *pypeer.Peer
	cancel context.CancelFunc
	done   chan struct{}
}

// startFoolscap runs a Foolscap 21.7 server under a fresh identity; stop
// ends it, noting any trouble under row.
func (r *runner) startFoolscap(ctx context.Context, row string) (fs *foolscapServer, stop func(), err error) {
	id, err := tubclient.NewIdentity()
	if err != nil {
		return nil, nil, err
	}
	if fs, err = launchFoolscap(ctx, id); err != nil {
		return nil, nil, fmt.Errorf("foolscap server: %w", err)
	}
	return fs, func() {
		if err := fs.Stop(); err != nil {
			r.table.note("%s Foolscap server stop: %v", row, err)
		}
	}, nil
}

// launchFoolscap writes id as a Foolscap tub.pem and runs pypeer's server
// with it, draining its output.
func launchFoolscap(ctx context.Context, id *tubclient.Identity) (*foolscapServer, error) {
	dir, err := os.MkdirTemp("", "tubscope-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pem := filepath.Join(dir, "tub.pem")
	key, ok := id.Cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("identity key cannot sign")
	}
	if err := pypeer.WriteFoolscapPEM(pem, id.Cert.Certificate[0], key); err != nil {
		return nil, err
	}
	p, err := pypeer.StartServer(ctx, pypeer.ServerOptions{PEM: pem})
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithCancel(context.Background())
	s := &foolscapServer{peer: p, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			if _, err := p.Next(dctx); err != nil {
				return
			}
		}
	}()
	return s, nil
}

func (s *foolscapServer) FURL() string  { return s.peer.FURL() }
func (s *foolscapServer) TubID() string { return s.peer.TubID() }

func (s *foolscapServer) Stop() error {
	s.cancel()
	<-s.done
	return s.peer.Stop()
}

// recoverCall retries callOnce every retry until it succeeds or bound
// passes, and reports how long the first success took from the first dial.
func recoverCall(ctx context.Context, t *tubclient.Tub, furl string, bound, retry time.Duration) (elapsed time.Duration, rejects int, last error) {
	start := time.Now()
	for {
		actx, cancel := context.WithTimeout(ctx, bound)
		_, err := callOnce(actx, t, furl)
		cancel()
		if err == nil {
			return time.Since(start), rejects, nil
		}
		last = err
		if rejected(err) {
			rejects++
		}
		if ctx.Err() != nil || time.Since(start)+retry > bound {
			return time.Since(start), rejects, last
		}
		timer := time.NewTimer(retry)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
	}
}

// median of durations (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
