package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
)

// tmuxSession is a detached tmux server of its own (its -L socket name is
// unique to the test) holding one fixed-size pane.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func (s *tmuxSession) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxSession) capture() string {
	s.t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-t", s.name)
	if err != nil {
		s.t.Fatalf("capture-pane: %v: %s", err, out)
	}
	return out
}

func (s *tmuxSession) send(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("send-keys %q: %v: %s", keys, err, out)
	}
}

// await polls the pane until ok accepts its text; the deadline is shared by
// the whole test.
func (s *tmuxSession) await(deadline time.Time, what string, ok func(screen string) bool) string {
	s.t.Helper()
	for {
		screen := s.capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting for %s; the screen reads:\n%s", what, screen)
		}
		time.Sleep(100 * time.Millisecond) // polling a real terminal
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	tubscopebin.Remove()
	os.Exit(code)
}

var liveClientRow = regexp.MustCompile(`(?m)^\S*\s+([a-z2-7]{8}) (client-\d)\s.*● live`)

// TestEndToEndPowerCutInTmux runs `tubscope demo` in a real terminal,
// power-cuts client-1 from the keyboard and waits for the queen's decision
// log to show the ticket's story: an accept by the new-incarnation rule.
// Then q must end the process and give the terminal back.
func TestEndToEndPowerCutInTmux(t *testing.T) {
	requireTmux(t)
	deadline := time.Now().Add(60 * time.Second)
	s := startTubscope(t, 160, 48, "demo --clients 3 --export-dir "+t.TempDir())

	screen := s.await(deadline, "three live demo clients", func(screen string) bool {
		return len(liveClientRow.FindAllString(screen, -1)) == 3
	})
	var client1 string
	for _, m := range liveClientRow.FindAllStringSubmatch(screen, -1) {
		if m[2] == "client-1" {
			client1 = m[1]
		}
	}
	if client1 == "" {
		t.Fatalf("no client-1 row:\n%s", screen)
	}

	s.send("1")
	s.await(deadline, "client-1 picked", func(screen string) bool { return strings.Contains(screen, "demo client: client-1") })
	s.send("P")
	story := regexp.MustCompile(`(?m)^.*` + client1 + `\s.*ACCEPT\s+new-incarnation\b`)
	s.await(deadline, "an ACCEPT new-incarnation line for client-1", story.MatchString)

	s.quit(deadline)
}

// startTubscope builds tubscope and runs it with args in a fresh tmux
// session of the given size. The shell around it reports its exit status
// and whether the tty's modes came back as they were, then keeps the pane
// open so the restored screen can be read. -f /dev/null ignores any user
// tmux configuration.
func startTubscope(t *testing.T, width, height int, args string) *tmuxSession {
	t.Helper()
	bin := tubscopebin.Path(t)
	s := &tmuxSession{t: t, socket: fmt.Sprintf("tubscope-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()), name: "demo"}
	t.Cleanup(func() { s.tmux("kill-server") })
	script := `before=$(stty -g); ` + bin + ` ` + args +
		`; status=$?; if [ "$(stty -g)" = "$before" ]; then tty=restored; else tty=changed; fi` +
		`; echo "tubscope exited $status, tty $tty"; exec cat`
	out, err := s.tmux("-f", "/dev/null", "new-session", "-d", "-s", s.name,
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), script)
	if err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	return s
}

// quit presses q and checks tubscope exits 0 and gives the terminal back.
func (s *tmuxSession) quit(deadline time.Time) {
	s.t.Helper()
	s.send("q")
	final := s.await(deadline, "tubscope to exit", func(screen string) bool { return strings.Contains(screen, "tubscope exited") })
	if !strings.Contains(final, "tubscope exited 0, tty restored") {
		s.t.Errorf("after q:\n%s", final)
	}
	if strings.Contains(final, "Decision log") || strings.Contains(final, "policy first-wins") {
		s.t.Errorf("the inspector is still on the screen after exit:\n%s", final)
	}
	out, err := s.tmux("display-message", "-p", "-t", s.name, "#{alternate_on} #{cursor_flag}")
	if err != nil {
		s.t.Fatalf("display-message: %v: %s", err, out)
	}
	if got := strings.TrimSpace(out); got != "0 1" {
		s.t.Errorf("after q: alternate screen, cursor visible = %q, want \"0 1\"", got)
	}
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is required under CI: ", err)
		}
		t.Skip("tmux not installed")
	}
}

// TestEndToEndCompareInTmux runs `tubscope demo --compare
// first-wins,foolscap` in a real terminal and lets the script power-cut
// the last client: side by side, first-wins keeps the dead connection
// and locks the client out while foolscap takes it back by its new
// incarnation; the narration says so for the queen in view.
func TestEndToEndCompareInTmux(t *testing.T) {
	requireTmux(t)
	deadline := time.Now().Add(60 * time.Second)
	s := startTubscope(t, 120, 40, "demo --compare first-wins,foolscap --clients 2 --autoplay 2s --export-dir "+t.TempDir())

	s.await(deadline, "both queens side by side", func(screen string) bool {
		return strings.Contains(screen, "policy first-wins") && strings.Contains(screen, "policy foolscap")
	})
	s.await(deadline, "the script's power cut of client-2", func(screen string) bool {
		return strings.Contains(screen, "power cut behind a NAT") && strings.Contains(screen, "client-2 powers back on")
	})
	lockout := regexp.MustCompile(`first-wins: locked out \d+:\d\d and counting`)
	takeover := regexp.MustCompile(`foolscap: client-2 back in [\d.]+ ms \(new-incarnation\)`)
	screen := s.await(deadline, "the lockout beside the takeover", func(screen string) bool {
		return lockout.MatchString(screen) && takeover.MatchString(screen)
	})
	if !regexp.MustCompile(`(?m)client-2\s+\S+ locked-out\s+locked \d+:\d\d`).MatchString(screen) {
		t.Errorf("first-wins shows no lockout timer on client-2:\n%s", screen)
	}
	s.await(deadline, "first-wins' refusal narrated", func(screen string) bool {
		return strings.Contains(screen, "the queen refused client-2") && strings.Contains(screen, "(first-wins)")
	})
	s.quit(deadline)
}
