package live

import (
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/demo"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/ui"
)

// The demo's engine hands out the queen's published snapshot with the
// narration on a copy: the tub's own snapshot stays without it, an
// unchanged pair gives back the same pointer, and a change in the story
// alone still grows the version.
func TestDemoEngineNarratesOnACopy(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, engines := startDemo(t, ctx, demo.Options{Clients: 2, Autoplay: -1})
	e := engines[0]
	f := subscribe(t, e)
	waitSnap(t, ctx, e, f, "two live clients", clientsLive(d))

	s := e.published()
	if s.Narration == nil || !strings.HasPrefix(s.Narration.Step, "no script") {
		t.Fatalf("narration %+v, want the no-script step", s.Narration)
	}
	if pub := d.Queen().Published(); pub.Narration != nil {
		t.Error("the queen's shared snapshot was given the narration")
	}
	if again := e.published(); again != s && again.Version == s.Version {
		t.Error("an unchanged snapshot came back as a new pointer with the same version")
	}

	if err := e.Do(ui.Action{Kind: ui.ActPowerCut, Client: 1}); err != nil {
		t.Fatal(err)
	}
	// The opening sentence holds 8 s; then the newest of the power cut
	// and the takeover (a half-second apart here) follows it.
	told := waitSnap(t, ctx, e, f, "client-2's story narrated", func(s snapshot.Snapshot) bool {
		return s.Narration != nil && strings.Contains(s.Narration.Last, "client-2")
	})
	if told.Version <= s.Version {
		t.Errorf("version %d after the narration changed, was %d", told.Version, s.Version)
	}
	if pub := d.Queen().Published(); pub.Narration != nil {
		t.Error("the queen's shared snapshot was given the narration")
	}
}

// --compare: one engine per queen, the same clients behind them. A power
// cut from either engine hits both queens; first-wins keeps the dead
// connection while foolscap takes the client back, and a forced reconnect
// from one engine dials that engine's queen only.
func TestCompareEnginesShareTheClients(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, engines := startDemo(t, ctx, demo.Options{Clients: 2,
		Policies: []string{negotiation.PolicyFirstWins, negotiation.PolicyFoolscap}, DisconnectTimeout: -1})
	if len(engines) != 2 {
		t.Fatalf("%d engines for two policies", len(engines))
	}
	firstWins, foolscap := engines[0], engines[1]
	fw, fs := subscribe(t, firstWins), subscribe(t, foolscap)
	s0 := waitSnap(t, ctx, firstWins, fw, "first-wins: live clients", clientsLiveTo(d, 0))
	s1 := waitSnap(t, ctx, foolscap, fs, "foolscap: live clients", clientsLiveTo(d, 1))
	if s0.Policy != negotiation.PolicyFirstWins || s1.Policy != negotiation.PolicyFoolscap || s0.TubID == s1.TubID {
		t.Fatalf("engines show %s/%s and %s/%s", s0.Policy, s0.TubID[:8], s1.Policy, s1.TubID[:8])
	}
	for _, e := range engines {
		if names, ok := e.Demo(); !ok || len(names) != 2 {
			t.Errorf("Demo() = %v, %v", names, ok)
		}
	}
	c1, _ := d.Client(1)
	if err := foolscap.Do(ui.Action{Kind: ui.ActPowerCut, Client: 1}); err != nil {
		t.Fatal(err)
	}
	waitSnap(t, ctx, foolscap, fs, "foolscap takes client-2 back", func(s snapshot.Snapshot) bool {
		return accepted(c1.TubID(), string(negotiation.RuleNewIncarnation), lastSeq(s1))(s) && liveBetween(s, c1)
	})
	// The narrator's words are tested in package demo, on a fake clock:
	// here they would keep the test waiting out the power cut's sentence.
	waitSnap(t, ctx, firstWins, fw, "first-wins locks client-2 out", func(s snapshot.Snapshot) bool {
		for _, p := range s.Peers {
			if p.TubID == c1.TubID() && !p.LockedOutSince.IsZero() {
				return true
			}
		}
		return false
	})

	c0, _ := d.Client(0)
	before0, before1 := lastSeq(d.Queens()[0].Snapshot()), lastSeq(d.Queens()[1].Snapshot())
	if err := foolscap.Do(ui.Action{Kind: ui.ActForceReconnect, Peer: c0.TubID()}); err != nil {
		t.Fatal(err)
	}
	waitSnap(t, ctx, foolscap, fs, "foolscap: same-seqnum accept of the forced connection",
		accepted(c0.TubID(), string(negotiation.RuleSameSeqNum), before1))
	for _, dec := range d.Queens()[0].Snapshot().Decisions {
		if dec.Seq > before0 && dec.PeerTubID == c0.TubID() {
			t.Errorf("first-wins saw an offer from client-1 after a reconnect aimed at the foolscap queen: %+v", dec)
		}
	}
}

// clientsLiveTo is clientsLive for queen q of a compare demo.
func clientsLiveTo(d *demo.Demo, q int) func(snapshot.Snapshot) bool {
	return func(s snapshot.Snapshot) bool {
		if s.TubID != d.Queens()[q].TubID() {
			return false
		}
		return clientsLive(d)(s)
	}
}

func TestDefaultExportDirIsNeverTheWorkingTree(t *testing.T) {
	home := func() (string, error) { return "/home/ada", nil }
	noHome := func() (string, error) { return "", errNotDemo }
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, c := range []struct {
		getenv func(string) string
		home   func() (string, error)
		want   string
	}{
		{env(map[string]string{"XDG_STATE_HOME": "/var/state"}), home, "/var/state/tubscope"},
		{env(map[string]string{"XDG_STATE_HOME": "relative/state"}), home, "/home/ada/.local/state/tubscope"},
		{env(nil), home, "/home/ada/.local/state/tubscope"},
		{env(nil), noHome, "tubscope"}, // under the temporary directory
	} {
		got := defaultExportDir(c.getenv, c.home)
		if !strings.HasSuffix(got, c.want) || !strings.HasPrefix(got, "/") {
			t.Errorf("defaultExportDir = %q, want …%s (absolute)", got, c.want)
		}
	}
	dir := t.TempDir()
	if got := exportDir(Screen{ExportDir: dir}); got != dir {
		t.Errorf("--export-dir %s gave %s", dir, got)
	}
	t.Setenv("XDG_STATE_HOME", dir)
	if got := exportDir(Screen{}); got != dir+"/tubscope" {
		t.Errorf("default export dir %s, want %s/tubscope", got, dir)
	}
}

// The flags' zero keepalive is off; tubclient.Config would read 0 as
// Foolscap's 240 s.
func TestInspectKeepaliveZeroIsOff(t *testing.T) {
	for _, c := range []struct {
		flag, want time.Duration
	}{{0, -1}, {tubclient.DefaultKeepalive, tubclient.DefaultKeepalive}, {5 * time.Second, 5 * time.Second}} {
		tub, err := NewInspectTub(InspectOptions{Keepalive: c.flag})
		if err != nil {
			t.Fatal(err)
		}
		if got := tub.Snapshot().KeepaliveTimeout; got != c.want {
			t.Errorf("--keepalive %s: the tub's keepalive is %s, want %s", c.flag, got, c.want)
		}
		tub.Close()
	}
}
