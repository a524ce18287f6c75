// Command tubscope inspects and steers live Foolscap connections.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/bench"
	"github.com/tubscope/tubscope/tubclient/demo"
	"github.com/tubscope/tubscope/tubclient/flogapp"
	"github.com/tubscope/tubscope/tubclient/headless"
	"github.com/tubscope/tubscope/tubclient/storm"
	"github.com/tubscope/tubscope/ui/live"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// command is one subcommand: how it is called, what it does, its flags,
// and what runs once they are parsed.
type command struct {
	name, args, about string
	// details follow the usage line in the command's own help.
	details string
	hidden  bool
	// define declares the flags on fs and returns the action to run
	// after parsing.
	define func(fs *flag.FlagSet) func(fs *flag.FlagSet, stdout io.Writer) error
}

// usageError is a mistake in the command line: the command's usage
// follows the message and the exit status is 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

var commands = []command{
	{name: "demo", args: "[flags]", about: "the inspector on a built-in demo (the default command)",
		details: "A queen tub and in-process client tubs over fault-injecting paths. A script loops through\n" +
			"a power cut behind a NAT, a lost decision (S3) and a clone (S6), and a narration strip says\n" +
			"what happens and why. --compare runs one queen per policy against the same clients, side by side.",
		define: demoFlags},
	{name: "inspect", args: "[flags] [FURL…]", about: "the inspector on a real tub that listens and connects to each FURL",
		define: inspectFlags},
	{name: "serve", args: "[flags]", about: "a headless tub: prints its FURL, then with --json one JSON object per event",
		details: "The tub offers a service with echo(x), ping() and ref() under --name.",
		define:  serveFlags},
	{name: "tail", args: "[flags] TARGET", about: "follow a Foolscap tub's logport: its decisions with their rules, its connections",
		details: "TARGET is a logport FURL, a file holding one, or a node directory holding logport.furl or\n" +
			"private/logport.furl (a Tahoe-LAFS node). SIGINT or SIGTERM unsubscribes and finishes --save-to.",
		define: tailFlags},
	{name: "replay", args: "[flags] FILE…", about: "the inspector on saved Foolscap logs (.flog, .flog.bz2), with a time cursor",
		details: "Tail saves, FLOGFILE output, gatherer and incident files, merged by time. > plays and pauses,\n" +
			". steps to the next offer, + and - change the speed, ! jumps to an incident's trigger.",
		define: replayFlags},
	{name: "call", args: "[flags] FURL METHOD [ARG…]", about: "call a remote method and print the answer as JSON",
		details: "Arguments that parse as JSON are sent as such, the rest as strings. Any failure exits 1 with a message.",
		define:  callFlags},
	{name: "bench", args: "[flags]", about: "measure and print one table: throughput, recovery, storm, idle cost",
		define: benchFlags},
	{name: "storm", args: "[flags] FURL", about: "stage a reconnect storm against a tub and report what it decided",
		define: stormFlags},
	// The bench's client processes (idle and storm rows).
	{name: bench.PeerCommand, hidden: true, define: benchPeerFlags},
	// A storm's client processes.
	{name: storm.ChildCommand, hidden: true, define: func(*flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
		return func(_ *flag.FlagSet, stdout io.Writer) error {
			return storm.RunChild(context.Background(), os.Stdin, stdout)
		}
	}},
}

func overview(w io.Writer) {
	fmt.Fprint(w, "tubscope: an inspector for live Foolscap connections\n\nusage:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(tw, "  tubscope %s %s\t%s\n", c.name, c.args, c.about)
		}
	}
	tw.Flush()
	fmt.Fprint(w, "\nWith no command, tubscope runs the demo. \"tubscope COMMAND -h\" lists a command's flags.\n")
}

// run is the whole program: it parses args, runs the command and returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	name := "demo"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			if len(args) > 1 && args[0] == "help" {
				args = []string{args[1], "-h"}
				break
			}
			overview(stdout)
			return 0
		}
		if args[0] != "" && args[0][0] != '-' {
			name, args = args[0], args[1:]
		}
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == name {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "tubscope: unknown command %q\n\n", name)
		overview(stderr)
		return 2
	}
	fs := flag.NewFlagSet("tubscope "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // help goes to stdout, mistakes to stderr, below
	action := cmd.define(fs)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		cmd.usage(stdout, fs)
		return 0
	case err != nil:
		err = usageError{err.Error()}
	default:
		err = action(fs, stdout)
	}
	var uerr usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "tubscope %s: %v\n\n", name, err)
		cmd.usage(stderr, fs)
		return 2
	}
	fmt.Fprintln(stderr, "tubscope:", err)
	return 1
}

// usage prints the command's usage line, details and flags.
func (c *command) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: tubscope %s %s\n\n%s\n", c.name, c.args, c.about)
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", c.details)
	}
	fmt.Fprint(w, "\nflags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		kind, text := flag.UnquoteUsage(f)
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			kind = ""
		}
		head := "  --" + f.Name
		if kind != "" {
			head += " " + kind
		}
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(w, head)
		for _, line := range wrap(text, 90) {
			fmt.Fprintln(w, "      "+line)
		}
	})
	if fs.Lookup("policy") != nil {
		fmt.Fprint(w, "\npolicies (only the master decides, and only when it already holds a connection to the peer):\n")
		for _, name := range negotiation.PolicyNames() {
			for i, line := range wrap(negotiation.Describe(name), 78) {
				if i == 0 {
					fmt.Fprintf(w, "  %-12s %s\n", name, line)
				} else {
					fmt.Fprintf(w, "  %-12s %s\n", "", line)
				}
			}
		}
	}
}

// wrap breaks text into lines of at most width runes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// policyHelp lists the policies a --policy flag takes.
func policyHelp(what string) string {
	return what + ": " + strings.Join(negotiation.PolicyNames(), ", ")
}

const kexHelp = "the TLS key exchange (`KEX`) offered when dialing: hybrid (X25519MLKEM768, post-quantum), " +
	"p256 or x25519 (about a quarter less CPU per handshake)"

const exportHelp = "the `DIR` where e writes the decision log (default: $XDG_STATE_HOME/tubscope, " +
	"else ~/.local/state/tubscope, else the temporary directory; created when missing)"

// screenFlags are the inspector's own flags.
func screenFlags(fs *flag.FlagSet, s *live.Screen) {
	fs.StringVar(&s.ExportDir, "export-dir", "", exportHelp)
	fs.BoolVar(&s.ReadOnly, "readonly", false, "refuse every action that changes a tub or a connection; looking, filtering and export still work")
	fs.BoolVar(&s.ASCII, "ascii", false, "draw ASCII instead of Unicode glyphs (automatic when the locale is not UTF-8)")
	fs.BoolVar(&s.Mouse, "mouse", false, "wheel scrolling and click selection (off: the terminal's own text selection works)")
}

// logportFlags publish a tub's own events as a Foolscap logport.
func logportFlags(fs *flag.FlagSet, o *headless.LogportOptions) {
	fs.StringVar(&o.FURLFile, "logport-furlfile", "", "publish this tub's events as a Foolscap logport and write its FURL to `FILE` "+
		"(mode 0600; the swissnum is kept across restarts)")
	fs.StringVar(&o.Gatherer, "log-gatherer", "", "offer this tub's logport to the Foolscap log gatherer at `FURL` at start, and again after losing it")
}

// targetList collects a repeatable flag's values.
type targetList []string

func (l *targetList) String() string     { return strings.Join(*l, " ") }
func (l *targetList) Set(v string) error { *l = append(*l, v); return nil }

func demoFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	var o live.DemoOptions
	var compare string
	fs.IntVar(&o.Clients, "clients", 5, fmt.Sprintf("number of demo client tubs, `N` from 1 to %d", demo.MaxClients))
	fs.StringVar(&o.Policy, "policy", negotiation.PolicyFoolscap, policyHelp("the queen's duplicate-connection `POLICY`"))
	fs.StringVar(&compare, "compare", "", "one queen per `POLICY,POLICY…` against the same clients, side by side (--policy is then ignored)")
	fs.DurationVar(&o.Keepalive, "keepalive", 3*time.Second, "the queens PING a connection idle this long and call it suspect (0: off)")
	fs.DurationVar(&o.DisconnectTimeout, "disconnect-timeout", 10*time.Second,
		"a queen drops a connection silent this long (0: off; off by default with --compare, so a lockout lasts)")
	fs.DurationVar(&o.Autoplay, "autoplay", 12*time.Second,
		"the script's first fault (the last client's power cut) comes this long after start, and each next step this long after the one before (0: no script)")
	logportFlags(fs, &o.Logport)
	screenFlags(fs, &o.Screen)
	return func(fs *flag.FlagSet, _ io.Writer) error {
		if fs.NArg() > 0 {
			return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
		}
		if compare != "" {
			o.Compare = strings.Split(compare, ",")
			if !flagSet(fs, "disconnect-timeout") {
				o.DisconnectTimeout = 0
			}
		}
		return live.Demo(context.Background(), o)
	}
}

// flagSet reports whether the command line set the named flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func inspectFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	var o live.InspectOptions
	fs.StringVar(&o.Listen, "listen", "tcp:127.0.0.1:0", "listen on `tcp:HOST:PORT` (port 0 picks one; empty: do not listen)")
	fs.StringVar(&o.KeyFile, "key", "", "keep the identity in the PEM `FILE`, created when missing; a Foolscap tub.pem works (default: a new identity each run)")
	fs.StringVar(&o.Policy, "policy", negotiation.PolicyFoolscap, policyHelp("the duplicate-connection `POLICY`"))
	fs.Var(&o.KeyExchange, "kex", kexHelp)
	fs.DurationVar(&o.Keepalive, "keepalive", tubclient.DefaultKeepalive, "PING a connection idle this long and call it suspect (0: off; Foolscap's default is 240 s)")
	fs.DurationVar(&o.DisconnectTimeout, "disconnect-timeout", 0, "drop a connection silent this long (0: off, as in Foolscap)")
	fs.DurationVar(&o.NegotiationTimeout, "negotiation-timeout", 120*time.Second, "bound on each negotiation; a lost decision is noticed after it")
	fs.Var((*targetList)(&o.Logports), "logport", "also watch the tub whose logport `TARGET` names (a FURL, a file holding one, "+
		"or a node directory holding logport.furl or private/logport.furl), as one more source; repeatable")
	logportFlags(fs, &o.Logport)
	screenFlags(fs, &o.Screen)
	return func(fs *flag.FlagSet, _ io.Writer) error {
		o.FURLs = fs.Args()
		return live.Inspect(context.Background(), o)
	}
}

func serveFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	var o headless.ServeOptions
	fs.StringVar(&o.Listen, "listen", "tcp:127.0.0.1:0", "listen on `tcp:HOST:PORT` (port 0 picks one)")
	fs.StringVar(&o.KeyFile, "key", "", "keep the identity in the PEM `FILE`, created when missing; a Foolscap tub.pem works (default: a new identity each run)")
	fs.StringVar(&o.Policy, "policy", negotiation.PolicyFoolscap, policyHelp("the duplicate-connection `POLICY`"))
	fs.Var(&o.KeyExchange, "kex", kexHelp)
	fs.BoolVar(&o.JSON, "json", false, "after the FURL, write one JSON object per event")
	fs.StringVar(&o.Name, "name", "tubscope", "`swissnum` of the built-in service")
	fs.DurationVar(&o.Keepalive, "keepalive", tubclient.DefaultKeepalive, "PING a connection idle this long and call it suspect (0: off; Foolscap's default is 240 s)")
	fs.DurationVar(&o.DisconnectTimeout, "disconnect-timeout", 0, "drop a connection silent this long (0: off, as in Foolscap)")
	fs.DurationVar(&o.NegotiationTimeout, "negotiation-timeout", 120*time.Second, "bound on each negotiation")
	fs.DurationVar(&o.Faults.Delay, "fault-delay", 0, "delay every write on accepted connections, both ways")
	fs.DurationVar(&o.Faults.Jitter, "fault-jitter", 0, "plus a uniform random extra delay up to this")
	fs.Int64Var(&o.Faults.DropAfter, "fault-drop-after", 0, "let `N` bytes out per accepted connection, then go dark (0: never)")
	fs.BoolVar(&o.Faults.LoseDecision, "fault-lose-decision", false, "lose the first accepting decision sent as master (the S3 lockout)")
	logportFlags(fs, &o.Logport)
	return func(fs *flag.FlagSet, stdout io.Writer) error {
		if fs.NArg() > 0 {
			return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
		}
		return headless.Serve(context.Background(), o, stdout)
	}
}

func tailFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	var o flogapp.TailOptions
	fs.BoolVar(&o.CatchUp, "catch-up", false, "start with the events the publisher still buffers (about its last few negotiations)")
	fs.BoolVar(&o.JSON, "json", false, "one JSON object per line: a header, then every reconstructed event in serve --json's shape")
	fs.BoolVar(&o.All, "all", false, "also print every raw event, as Foolscap words it")
	fs.StringVar(&o.SaveTo, "save-to", "", "save every raw event to `FILE` in Foolscap's flogfile format (flogtool dump and tubscope replay read it)")
	fs.StringVar(&o.KeyFile, "key", "", "keep the tail's identity in the PEM `FILE`, created when missing (default: a new identity)")
	return func(fs *flag.FlagSet, stdout io.Writer) error {
		if fs.NArg() != 1 {
			return usageError{"one TARGET is needed: a logport FURL, a file holding one, or a node directory"}
		}
		o.Target = fs.Arg(0)
		return flogapp.Tail(context.Background(), o, stdout, os.Stderr)
	}
}

func replayFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	var o live.ReplayOptions
	var jsonOut bool
	fs.BoolVar(&jsonOut, "json", false, "no screen: every reconstructed verdict as one JSON object per line, in tail --json's shape")
	fs.Float64Var(&o.Speed, "speed", 1, "log seconds played per wall second, `X` from 1/64 to 65536 (+ and - double and halve it)")
	fs.StringVar(&o.ExportDir, "export-dir", "", exportHelp)
	fs.BoolVar(&o.ASCII, "ascii", false, "draw ASCII instead of Unicode glyphs (automatic when the locale is not UTF-8)")
	fs.BoolVar(&o.Mouse, "mouse", false, "wheel scrolling and click selection (off: the terminal's own text selection works)")
	return func(fs *flag.FlagSet, stdout io.Writer) error {
		if fs.NArg() == 0 {
			return usageError{"at least one FILE is needed"}
		}
		if !(o.Speed > 0) {
			return usageError{fmt.Sprintf("--speed %v: it must be above 0", o.Speed)}
		}
		if jsonOut {
			return flogapp.ReplayJSON(context.Background(), fs.Args(), stdout, os.Stderr)
		}
		o.Files = fs.Args()
		return live.Replay(o, os.Stderr)
	}
}

func callFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	var o headless.CallOptions
	fs.StringVar(&o.KeyFile, "key", "", "keep the identity in the PEM `FILE`, created when missing (default: a new identity)")
	fs.Var(&o.KeyExchange, "kex", kexHelp)
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "overall time limit: connect, negotiate and call")
	fs.BoolVar(&o.Python, "python", false, "print the answer as Python would (None, True, b\"…\", tuples) instead of JSON")
	return func(fs *flag.FlagSet, stdout io.Writer) error {
		if fs.NArg() < 2 {
			return usageError{"a FURL and a METHOD are needed"}
		}
		return headless.Call(context.Background(), fs.Arg(0), fs.Arg(1), fs.Args()[2:], o, stdout)
	}
}

func benchFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	var o bench.Options
	fs.BoolVar(&o.Quick, "quick", false, "short runs (CI): the same table from smaller samples (N ≤ 200, idle ≤ 1000, 1 s runs)")
	fs.IntVar(&o.N, "n", 2000, "`clients` in the reconnect storm (fewer when the open-file limit cannot hold them)")
	fs.IntVar(&o.Idle, "idle", 10000, "idle `brokers` for the idle-cost row (fewer when the open-file limit cannot hold them)")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long each throughput run lasts")
	fs.BoolVar(&o.NoFoolscap, "no-foolscap", false, "skip the rows and columns that need a Foolscap 21.7 peer")
	return func(fs *flag.FlagSet, stdout io.Writer) error {
		if exe, err := os.Executable(); err == nil {
			o.SelfExec = exe
		}
		return bench.Run(context.Background(), o, stdout)
	}
}

func benchPeerFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
	furl := fs.String("furl", "", "the server to connect to")
	n := fs.Int("n", 1, "client tubs, one connection each")
	mode := fs.String("mode", bench.PeerIdle, "idle (row 5) or storm (row 4)")
	return func(_ *flag.FlagSet, stdout io.Writer) error {
		return bench.RunPeerMode(context.Background(), *mode, *furl, *n, os.Stdin, stdout)
	}
}

func stormFlags(fs *flag.FlagSet) func(*flag.FlagSet, io.Writer) error {
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
	fs.Var(&o.KeyExchange, "kex", kexHelp)
	fs.BoolVar(&o.AnyRole, "any-role", false, "let client tubids fall either side of the target's (default: the target is master)")
	fs.BoolVar(&o.OwnTarget, "i-own-this-target", false, "allow a target outside loopback and private addresses")
	jsonOut := fs.Bool("json", false, "one JSON object per client outcome and a summary line on stdout; the rest on stderr")
	view := fs.Bool("view", false, "watch the storm in the inspector")
	return func(fs *flag.FlagSet, stdout io.Writer) error {
		if fs.NArg() != 1 {
			return usageError{"one FURL is needed: the tub to storm"}
		}
		if *jsonOut && *view {
			return usageError{"--json and --view both want the terminal's stdout; pick one"}
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
					fmt.Fprintln(stdout, l)
				}
			}
			return err
		}
		rep := storm.Text(stdout)
		if *jsonOut {
			rep = storm.JSON(stdout, os.Stderr)
		}
		_, err = storm.Run(ctx, o, rep)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return errors.New("storm interrupted: the summary counts what happened until then")
		}
		return err
	}
}
