package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/bench"
	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/storm"
)

// The command line, run as a user types it: the built binary, its exit
// status and what it prints on each stream.

// publicCommands are the commands the overview lists, in its order.
var publicCommands = []string{"demo", "inspect", "serve", "tail", "replay", "call", "bench", "storm"}

// cli runs tubscope with args and returns its exit status and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tubscopebin.Path(t), args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("tubscope %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

var (
	overviewLine = regexp.MustCompile(`(?m)^  tubscope (\S+) `)
	flagLine     = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`)
)

func TestHelpPrintsTheCommandOverview(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"help"}} {
		code, out, errOut := cli(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if strings.Contains(out, "Usage of") {
			t.Errorf("%v printed a flag set's usage instead of the overview:\n%s", args, out)
		}
		var listed []string
		for _, m := range overviewLine.FindAllStringSubmatch(out, -1) {
			listed = append(listed, m[1])
		}
		if strings.Join(listed, " ") != strings.Join(publicCommands, " ") {
			t.Errorf("%v lists %v, want %v:\n%s", args, listed, publicCommands, out)
		}
		for _, hidden := range []string{bench.PeerCommand, storm.ChildCommand} {
			if strings.Contains(out, hidden) {
				t.Errorf("%v names the hidden command %s", args, hidden)
			}
		}
	}
}

// helpFlags lists the flags a command's help names.
func helpFlags(help string) []string {
	var flags []string
	for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// Every command's help comes the same three ways and lists flags; --policy
// and --kex say which values they take and which is the default.
func TestEveryCommandListsItsFlags(t *testing.T) {
	for _, name := range publicCommands {
		var first string
		for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}} {
			code, out, errOut := cli(t, args...)
			if code != 0 || errOut != "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
				continue
			}
			if !strings.HasPrefix(out, "usage: tubscope "+name+" ") {
				t.Errorf("%v starts %q", args, out[:min(len(out), 60)])
			}
			if len(helpFlags(out)) == 0 {
				t.Errorf("%v lists no flags:\n%s", args, out)
			}
			if first == "" {
				first = out
			} else if out != first {
				t.Errorf("%v differs from %s -h", args, name)
			}
		}
	}
	for _, name := range []string{"demo", "inspect", "serve"} {
		_, out, _ := cli(t, name, "-h")
		policy := section(out, "--policy")
		for _, p := range negotiation.PolicyNames() {
			if !strings.Contains(policy, p) {
				t.Errorf("%s --policy help does not name %s: %q", name, p, policy)
			}
			if !strings.Contains(out, "  "+p+" ") || !strings.Contains(out, opening(negotiation.Describe(p))) {
				t.Errorf("%s -h does not say what %s does", name, p)
			}
		}
		for _, flagName := range []string{"--readonly", "--ascii", "--mouse", "--export-dir"} {
			if strings.Contains(out, "\n  "+flagName) != (name != "serve") {
				t.Errorf("%s -h and %s", name, flagName)
			}
		}
	}
	for _, name := range []string{"inspect", "serve", "call"} {
		_, out, _ := cli(t, name, "-h")
		if kex := section(out, "--kex"); !strings.Contains(kex, "(default hybrid)") {
			t.Errorf("%s --kex help hides its default: %q", name, kex)
		}
	}
	for _, name := range []string{"inspect", "serve"} {
		_, out, _ := cli(t, name, "-h")
		if ka := section(out, "--keepalive"); !strings.Contains(ka, "240 s") || !strings.Contains(ka, "(default 4m0s)") || !strings.Contains(ka, "0: off") {
			t.Errorf("%s --keepalive help: %q", name, ka)
		}
	}
	if _, out, _ := cli(t, "demo", "-h"); !strings.Contains(section(out, "--compare"), "POLICY,POLICY") {
		t.Errorf("demo --compare help: %q", section(out, "--compare"))
	}
	if _, out, _ := cli(t, "call", "-h"); !strings.Contains(section(out, "--python"), "instead of JSON") {
		t.Errorf("call --python help: %q", section(out, "--python"))
	}
}

// opening is the first words of text, short enough to sit on the first
// line of its wrapped help.
func opening(text string) string {
	if len(text) <= 40 {
		return text
	}
	if i := strings.LastIndexByte(text[:40], ' '); i > 0 {
		return text[:i]
	}
	return text[:40]
}

// section is a flag's entry in a command's help: its line and the
// indented lines under it.
func section(help, flagName string) string {
	i := strings.Index(help, "\n  "+flagName)
	if i < 0 {
		return ""
	}
	rest := help[i+1:]
	end := strings.Index(rest[1:], "\n  --")
	if end < 0 {
		return rest
	}
	return rest[:end+1]
}

func TestCommandLineMistakesExit2WithUsage(t *testing.T) {
	for _, args := range [][]string{
		{"teleport"},
		{"demo", "--no-such-flag"},
		{"call"},
		{"call", "pb://only-a-furl"},
		{"serve", "extra"},
		{"demo", "--clients", "many"},
		{"tail"},
		{"tail", "pb://one", "pb://two"},
		{"replay"},
		{"replay", "--speed", "0", "some.flog"},
		{"inspect", "--logport"},
	} {
		code, out, errOut := cli(t, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	code, _, errOut := cli(t, "demo", "--compare", "first-wins,bogus")
	if code != 1 || !strings.Contains(errOut, "bogus") {
		t.Errorf("demo --compare with an unknown policy: exit %d, %q", code, errOut)
	}
	// Targets and files that name nothing fail with the name, exit 1.
	missing := t.TempDir() + "/missing"
	for _, args := range [][]string{
		{"tail", missing},
		{"replay", "--json", missing},
		{"inspect", "--logport", missing},
	} {
		code, out, errOut := cli(t, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, missing) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// startServe runs `tubscope serve --json` and returns its FURL and its
// event lines; SIGTERM must end it cleanly.
func startServe(t *testing.T, args ...string) (string, *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, tubscopebin.Path(t), append([]string{"serve", "--json"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		go io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			t.Errorf("tubscope serve after SIGTERM: %v", err)
		}
		cancel()
	})
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatal("tubscope serve printed nothing")
	}
	return lines.Text(), lines
}

// `tubscope call` prints answers as JSON, or with --python as Python
// does, against a real `tubscope serve`; the server's event stream has no
// zero times.
func TestCallAgainstServe(t *testing.T) {
	furl, events := startServe(t, "--keepalive", "0")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"call", furl, "echo", `{"ok": [1, 2.5, null, true], "s": "<tag>"}`}, `{"ok":[1,2.5,null,true],"s":"<tag>"}`},
		{[]string{"call", "--python", furl, "echo", `{"ok": [1, 2.5, null, true]}`}, `{"ok": [1, 2.5, None, True]}`},
		{[]string{"call", furl, "echo", "plain words"}, `"plain words"`},
		{[]string{"call", furl, "ping"}, `"pong"`},
	} {
		code, out, errOut := cli(t, c.args...)
		if code != 0 || out != c.want+"\n" {
			t.Errorf("%v: exit %d, printed %q (stderr %q), want %q", c.args[1:], code, out, errOut, c.want)
		}
	}
	code, out, errOut := cli(t, "call", "--timeout", "10s", furl, "nosuch")
	if code != 1 || out != "" || !strings.Contains(errOut, "AttributeError") {
		t.Errorf("a failing call: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	calls := 0
	for calls < 4 && events.Scan() {
		line := events.Text()
		if strings.Contains(line, "0001-01-01") {
			t.Errorf("serve --json wrote a zero time: %s", line)
		}
		var ev snapshot.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not an event: %s: %v", line, err)
		}
		if ev.Time.IsZero() {
			t.Errorf("an event without its time: %s", line)
		}
		if ev.Kind == snapshot.KindCall {
			calls++
		}
	}
	if calls < 4 {
		t.Errorf("serve reported %d of the calls", calls)
	}
}

// README documents every flag of every command, in the command's own
// section, and opens with the two commands a newcomer types.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, name := range publicCommands {
		head := "### `tubscope " + name + "`"
		i := strings.Index(text, head)
		if i < 0 {
			t.Errorf("README has no %s section", head)
			continue
		}
		sec := text[i+len(head):]
		if j := strings.Index(sec, "\n### "); j >= 0 {
			sec = sec[:j]
		}
		_, help, _ := cli(t, name, "-h")
		for _, f := range helpFlags(help) {
			if !strings.Contains(sec, "`--"+f) {
				t.Errorf("README's %s section does not document --%s", head, f)
			}
		}
	}
	for _, first := range []string{"go run .\n", "go test -race ./...\n"} {
		if i := strings.Index(text, first); i < 0 || i > strings.Index(text, "## ") {
			t.Errorf("README does not open with %q", strings.TrimSpace(first))
		}
	}
}
