package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
)

// A FURL whose port refuses connections is a row of its own with its
// error and a countdown to the next try, not an empty table.
func TestEndToEndRefusedFURLInTmux(t *testing.T) {
	requireTmux(t)
	deadline := time.Now().Add(60 * time.Second)
	target, err := tubclient.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	furl := "pb://" + target.TubID + "@tcp:127.0.0.1:1/nothing"
	s := startTubscope(t, 160, 40, "inspect --export-dir "+t.TempDir()+" "+furl)
	row := regexp.MustCompile(`(?m)^.*` + target.TubID[:8] + `\s.*refused.*\bin \d+(\.\d)?s\b.*connection refused`)
	s.await(deadline, "a refused row with its error and next try", row.MatchString)
	s.quit(deadline)
}

// Keys arriving in one write (a held key, a paste, SSH) each count: "jjj"
// moves the cursor three rows.
func TestEndToEndKeyBurstInTmux(t *testing.T) {
	requireTmux(t)
	deadline := time.Now().Add(60 * time.Second)
	s := startTubscope(t, 160, 48, "demo --clients 5 --autoplay 0 --export-dir "+t.TempDir())
	screen := s.await(deadline, "five live demo clients", func(screen string) bool {
		return len(liveClientRow.FindAllString(screen, -1)) == 5
	})
	if got := selectedRow(screen); got != 0 {
		t.Fatalf("the cursor starts on row %d, want the first:\n%s", got, screen)
	}
	s.send("jjj") // one send-keys argument: one write to the terminal
	s.await(deadline, "the cursor on the fourth row", func(screen string) bool { return selectedRow(screen) == 3 })
	s.quit(deadline)
}

// selectedRow is the index of the ▶ row among the table's peer rows, -1
// when there is none.
func selectedRow(screen string) int {
	i := 0
	for _, line := range strings.Split(screen, "\n") {
		if !peerRow.MatchString(line) {
			continue
		}
		if strings.HasPrefix(line, "▶") {
			return i
		}
		i++
	}
	return -1
}

var peerRow = regexp.MustCompile(`^[▶ ] [a-z2-7]{8} `)

// Locked out by a real Foolscap master (the decision lost, then every
// retry refused), the peer stays a row that says so and counts the
// lockout, rather than vanishing with its broker.
func TestEndToEndLockedOutFoolscapPeerInTmux(t *testing.T) {
	requireTmux(t)
	pypeer.Require(t)
	deadline := time.Now().Add(90 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	pem := filepath.Join(t.TempDir(), "server.pem")
	pyID, err := pypeer.PythonPEM(ctx, pem)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pypeer.StartServer(ctx, pypeer.ServerOptions{PEM: pem})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	// Foolscap must be master: our tubid is below its.
	id, err := tubclient.IdentityWhere(func(s string) bool { return s < pyID })
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "key.pem")
	data, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startTubscope(t, 160, 40, "inspect --negotiation-timeout 3s --key "+key+" --export-dir "+t.TempDir()+" "+srv.FURL())
	live := regexp.MustCompile(`(?m)^▶ ` + pyID[:8] + `\s.*● live`)
	s.await(deadline, "the Foolscap server live on the first row", live.MatchString)
	s.send("L")
	s.await(deadline, "a confirmation question", func(screen string) bool { return strings.Contains(screen, "y confirms") })
	s.send("y")
	locked := regexp.MustCompile(`(?m)^.*` + pyID[:8] + `\s.*locked-out.*\b\d+:\d\d\b`)
	s.await(deadline, "the Foolscap server's row locked out, counting", locked.MatchString)
	s.quit(deadline)
}
