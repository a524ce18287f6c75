// Command tubscope inspects and steers live Foolscap connections.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tubscope/tubscope/tubclient/bench"
	"github.com/tubscope/tubscope/tubclient/headless"
	"github.com/tubscope/tubscope/tubclient/storm"
	"github.com/tubscope/tubscope/ui/live"
)

const usage = `tubscope: an inspector for live Foolscap connections

usage:
  tubscope [demo [flags]]          run the inspector on a built-in demo
  tubscope inspect [flags] [FURL…] run the inspector on a real tub
  tubscope serve [flags]           run a headless tub; prints its FURL
  tubscope call FURL METHOD [ARG…] call a remote method and print the answer
  tubscope bench [flags]           measure and print a table
  tubscope storm [flags] FURL      stage a reconnect storm against a tub

run "tubscope COMMAND -h" for a command's flags.
`

func main() {
	args := os.Args[1:]
	cmd := "demo"
	if len(args) > 0 && (args[0] == "" || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "demo":
		err = runDemo(args)
	case "inspect":
		err = runInspect(args)
	case "serve":
		err = runServe(args)
	case "call":
		err = runCall(args)
	case "bench":
		err = runBench(args)
	case "storm":
		err = runStorm(args)
	case storm.ChildCommand: // hidden: a storm's client processes
		err = storm.RunChild(context.Background(), os.Stdin, os.Stdout)
	case bench.PeerCommand: // hidden: the bench's client processes (idle and storm rows)
		err = runBenchPeer(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "tubscope: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tubscope:", err)
		os.Exit(1)
	}
}

func runServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	var o headless.ServeOptions
	fs.StringVar(&o.Listen, "listen", "tcp:127.0.0.1:0", "where to listen (tcp:HOST:PORT; port 0 picks one)")
	fs.StringVar(&o.KeyFile, "key", "", "identity PEM file (created when missing; a Foolscap tub.pem works)")
	fs.StringVar(&o.Policy, "policy", "foolscap", "duplicate-connection policy")
	fs.Var(&o.KeyExchange, "kex", "TLS key exchange: hybrid (X25519MLKEM768, post-quantum), p256 or x25519 (cheaper handshakes)")
	fs.BoolVar(&o.JSON, "json", false, "after the FURL, write one JSON object per event")
	fs.StringVar(&o.Name, "name", "tubscope", "swissnum of the built-in service")
	fs.DurationVar(&o.Keepalive, "keepalive", 0, "PING after this long idle (0: off)")
	fs.DurationVar(&o.DisconnectTimeout, "disconnect-timeout", 0, "drop a connection silent this long (0: off)")
	fs.DurationVar(&o.NegotiationTimeout, "negotiation-timeout", 120*time.Second, "bound on each negotiation")
	fs.DurationVar(&o.Faults.Delay, "fault-delay", 0, "delay every write on accepted connections, both ways")
	fs.DurationVar(&o.Faults.Jitter, "fault-jitter", 0, "plus a uniform random extra delay up to this")
	fs.Int64Var(&o.Faults.DropAfter, "fault-drop-after", 0, "let this many bytes out per connection, then go dark (0: never)")
	fs.BoolVar(&o.Faults.LoseDecision, "fault-lose-decision", false, "lose the first accepting decision sent as master (the S3 lockout)")
	fs.Parse(args)
	return headless.Serve(context.Background(), o, os.Stdout)
}

func runCall(args []string) error {
	fs := flag.NewFlagSet("call", flag.ExitOnError)
	var o headless.CallOptions
	fs.StringVar(&o.KeyFile, "key", "", "identity PEM file (created when missing)")
	fs.Var(&o.KeyExchange, "kex", "TLS key exchange: hybrid (X25519MLKEM768, post-quantum), p256 or x25519 (cheaper handshakes)")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "overall time limit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tubscope call [flags] FURL METHOD [ARG…]  (args: JSON, else strings)")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if fs.NArg() < 2 {
		fs.Usage()
		os.Exit(2)
	}
	return headless.Call(context.Background(), fs.Arg(0), fs.Arg(1), fs.Args()[2:], o, os.Stdout)
}

func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	var o live.DemoOptions
	fs.IntVar(&o.Clients, "clients", 5, "number of demo client tubs")
	fs.StringVar(&o.Policy, "policy", "foolscap", "the queen's duplicate-connection policy")
	fs.DurationVar(&o.Keepalive, "keepalive", 3*time.Second, "PING after this long idle")
	fs.DurationVar(&o.DisconnectTimeout, "disconnect-timeout", 10*time.Second, "the queen drops a connection silent this long (0: off)")
	fs.StringVar(&o.ExportDir, "export-dir", ".", "where e writes the decision log")
	fs.DurationVar(&o.Autoplay, "autoplay", 12*time.Second, "power-cut the last client this long after start, to show the ticket's story (0: off)")
	fs.Parse(args)
	return live.Demo(context.Background(), o)
}

func runInspect(args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ExitOnError)
	var o live.InspectOptions
	fs.StringVar(&o.Listen, "listen", "tcp:127.0.0.1:0", "where to listen (empty: do not listen)")
	fs.StringVar(&o.KeyFile, "key", "", "identity PEM file (created when missing; a Foolscap tub.pem works)")
	fs.StringVar(&o.Policy, "policy", "foolscap", "duplicate-connection policy")
	fs.Var(&o.KeyExchange, "kex", "TLS key exchange: hybrid (X25519MLKEM768, post-quantum), p256 or x25519 (cheaper handshakes)")
	fs.DurationVar(&o.Keepalive, "keepalive", 30*time.Second, "PING after this long idle (0: off)")
	fs.DurationVar(&o.DisconnectTimeout, "disconnect-timeout", 0, "drop a connection silent this long (0: off)")
	fs.DurationVar(&o.NegotiationTimeout, "negotiation-timeout", 120*time.Second, "bound on each negotiation (a lost decision is noticed after it)")
	fs.StringVar(&o.ExportDir, "export-dir", ".", "where e writes the decision log")
	fs.Parse(args)
	o.FURLs = fs.Args()
	return live.Inspect(context.Background(), o)
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	var o bench.Options
	fs.BoolVar(&o.Quick, "quick", false, "short runs (CI): same table, smaller samples")
	fs.IntVar(&o.N, "n", 2000, "clients in the reconnect storm")
	fs.IntVar(&o.Idle, "idle", 10000, "idle brokers for the idle-cost row")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long each throughput run lasts")
	fs.BoolVar(&o.NoFoolscap, "no-foolscap", false, "skip the rows that need a Foolscap 21.7 peer")
	fs.Parse(args)
	if exe, err := os.Executable(); err == nil {
		o.SelfExec = exe
	}
	return bench.Run(context.Background(), o, os.Stdout)
}

func runBenchPeer(args []string) error {
	fs := flag.NewFlagSet(bench.PeerCommand, flag.ExitOnError)
	furl := fs.String("furl", "", "the server to connect to")
	n := fs.Int("n", 1, "client tubs, one connection each")
	mode := fs.String("mode", bench.PeerIdle, "idle (row 5) or storm (row 4)")
	fs.Parse(args)
	return bench.RunPeerMode(context.Background(), *mode, *furl, *n, os.Stdin, os.Stdout)
}

func runStorm(args []string) error {
	fs := flag.NewFlagSet("storm", flag.ExitOnError)
	var o storm.Options
	fs.IntVar(&o.N, "n", storm.DefaultN, fmt.Sprintf("client tubs, in child processes sized to the open-file limit (at most %d)", storm.MaxClients))
	fs.Var(&o.Fault, "fault", "silent-restart, new-key, lost-decision, clone or flap")
	fs.IntVar(&o.Rounds, "rounds", 1, "how many times the fault strikes")
	fs.Float64Var(&o.Rate, "rate", 0, "strike this many clients per second (0: all at once)")
	fs.DurationVar(&o.Window, "window", storm.DefaultWindow, "a client not back this long after its fault counts as locked out")
	fs.DurationVar(&o.Hold, "hold", storm.DefaultHold, "a round ends this long after its last client is back (flaps counted until then)")
	fs.DurationVar(&o.Timeout, "timeout", storm.DefaultTimeout, "bound on the whole run")
	fs.DurationVar(&o.NegotiationTimeout, "negotiation-timeout", storm.DefaultNegotiationTimeout, "bound on each client negotiation, as Foolscap's (120s); a whole attempt, call included, gets twice this")
	fs.DurationVar(&o.Down, "down", storm.DefaultDown, "how long a flap keeps the path dark")
	fs.Var(&o.KeyExchange, "kex", "the clients' TLS key exchange: hybrid, p256 or x25519")
	fs.BoolVar(&o.AnyRole, "any-role", false, "let client tubids fall either side of the target's (default: the target is master)")
	fs.BoolVar(&o.OwnTarget, "i-own-this-target", false, "allow a target outside loopback and private addresses")
	jsonOut := fs.Bool("json", false, "one JSON object per client outcome and a summary line on stdout; the rest on stderr")
	view := fs.Bool("view", false, "watch the storm in the inspector")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tubscope storm [flags] FURL")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	if *jsonOut && *view {
		return fmt.Errorf("storm: --json and --view both want the terminal's stdout; pick one")
	}
	o.FURL = fs.Arg(0)
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("storm: finding this executable to run its clients: %w", err)
	}
	o.Start = storm.SelfExec(exe)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *view {
		res, err := live.Storm(ctx, o)
		if res.Plan.N > 0 {
			for _, l := range storm.SummaryLines(res) {
				fmt.Println(l)
			}
		}
		return err
	}
	rep := storm.Text(os.Stdout)
	if *jsonOut {
		rep = storm.JSON(os.Stdout, os.Stderr)
	}
	_, err = storm.Run(ctx, o, rep)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return errors.New("storm interrupted: the summary counts what happened until then")
	}
	return err
}
