package views

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./views -update to create it)", err)
	}
	if string(want) != got+"\n" {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}

// assertPane checks a pane is exactly width×height cells.
func assertPane(t *testing.T, name, s string, width, height int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) != height {
		t.Errorf("%s: %d lines, want %d", name, len(lines), height)
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w != width {
			t.Errorf("%s: line %d is %d cells wide, want %d: %q", name, i, w, width, l)
		}
	}
}

var (
	now0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

	ownTub = "zq3h7kd6m2vxa4pwn5rtc7bye6sgf2lu"
	alice  = "pcx5blrky5nuephai4l2n5cr5swlghbh"
	bob    = "f3bnq6yl4x2mqh7cz5dvkw6rsu3ejtao"
	carol  = "7hkq2m4xv6ncw3brp5dyzt4lse2jfgua"
	dave   = "wd5ynfz3lq7mxk2ubc6aehs4rvt2pjog"

	ownInc = "9226ecb833fae91a"
)

func before(d time.Duration) time.Time { return now0.Add(-d) }

// fixture is a tub mid-incident: a suspect broker, a peer restart, a clone,
// a reconnector waiting out its backoff, decisions both ways.
func fixture() snapshot.Snapshot {
	s := snapshot.Snapshot{
		Taken:            before(2 * time.Second),
		TubID:            ownTub,
		FURL:             "pb://" + ownTub + "@tcp:203.0.113.5:3456/swiss",
		Incarnation:      ownInc,
		IncarnationCount: 3,
		Listening:        []string{"tcp:0.0.0.0:3456", "tcp:[::]:3456"},
		Policy:           "foolscap-21.7",
		KeepaliveTimeout: 30 * time.Second,
	}
	s.Brokers = []snapshot.Broker{
		{ID: 1, PeerTubID: alice, Nickname: "alice", Role: snapshot.Master, Side: snapshot.Server, State: snapshot.Live,
			RemoteAddr: "198.51.100.23:50412", PeerIncarnation: "a6e062d03506634c", SlaveIncarnation: "a6e062d03506634c",
			SeqNum: 4, AttemptID: "1f0e2d3c4b5a6978", Created: before(3*time.Minute + 12*time.Second),
			LastReceived: before(800 * time.Millisecond), PingsOutstanding: 0, RTT: 12300 * time.Microsecond,
			TLS: "TLS 1.3 X25519MLKEM768"},
		{ID: 2, PeerTubID: bob, Nickname: "bob", Role: snapshot.Slave, Side: snapshot.Client, State: snapshot.Suspect,
			RemoteAddr: "[2001:db8::7]:3456", PeerIncarnation: "c0ffee0123456789", SlaveIncarnation: ownInc,
			SeqNum: 2, Created: before(2*time.Hour + 5*time.Minute), LastReceived: before(47 * time.Second), PingsOutstanding: 3},
		{ID: 3, PeerTubID: carol, Nickname: "carol", Role: snapshot.Master, Side: snapshot.Server, State: snapshot.Live,
			RemoteAddr: "192.0.2.44:61001", PeerIncarnation: "5eed5eed5eed5eed", SlaveIncarnation: "5eed5eed5eed5eed",
			SeqNum: 9, AttemptID: "77aa88bb99cc00dd", Created: before(45 * time.Second), LastReceived: before(3 * time.Second), PingsOutstanding: 1,
			TLS: "TLS 1.3 X25519"},
		{ID: 4, PeerTubID: carol, Nickname: "carol", Role: snapshot.Master, Side: snapshot.Server, State: snapshot.Live,
			RemoteAddr: "192.0.2.45:61077", PeerIncarnation: "beadbeadbeadbead", SlaveIncarnation: "beadbeadbeadbead",
			SeqNum: 8, Created: before(26 * time.Hour), LastReceived: before(61 * time.Second)},
		{ID: 5, PeerTubID: dave, Role: snapshot.Slave, Side: snapshot.Client, State: snapshot.Negotiating,
			RemoteAddr: "tor:abcdefghijklmnop.onion:80", Created: before(2 * time.Second)},
		{ID: 6, PeerTubID: alice, Nickname: "alice", Role: snapshot.Master, Side: snapshot.Client, State: snapshot.Suspect,
			RemoteAddr: "198.51.100.23:3456", PeerIncarnation: "a6e062d03506634c", SeqNum: 3,
			Created: before(14 * time.Minute), LastReceived: before(3*time.Minute + 20*time.Second)},
	}
	s.Peers = []snapshot.Peer{
		{TubID: alice, Nickname: "alice", Hints: []string{"tcp:198.51.100.23:3456", "tor:alicexyzexample.onion:3456"},
			Incarnations: []snapshot.IncarnationSeen{
				{Incarnation: "0badc0de0badc0de", FirstSeen: before(50 * time.Hour), LastSeen: before(26 * time.Hour), Offers: 2},
				{Incarnation: "a6e062d03506634c", FirstSeen: before(14 * time.Minute), LastSeen: before(3*time.Minute + 12*time.Second), Offers: 4},
			},
			Reconnector: &snapshot.Reconnector{FURL: "pb://" + alice + "@tcp:198.51.100.23:3456/x7k2", State: snapshot.Connected, Attempts: 1, Delay: time.Second}},
		{TubID: bob, Nickname: "bob", Hints: []string{"tcp:[2001:db8::7]:3456"},
			Incarnations: []snapshot.IncarnationSeen{{Incarnation: "c0ffee0123456789", FirstSeen: before(2*time.Hour + 6*time.Minute), LastSeen: before(2*time.Hour + 5*time.Minute), Offers: 1}},
			Reconnector: &snapshot.Reconnector{FURL: "pb://" + bob + "@tcp:[2001:db8::7]:3456/q9", State: snapshot.Waiting, Attempts: 4,
				Delay: 7389 * time.Millisecond, NextAttempt: now0.Add(2300 * time.Millisecond), LastError: "dial tcp [2001:db8::7]:3456: connection refused"}},
		{TubID: carol, Nickname: "carol", Hints: []string{"tcp:192.0.2.44:3456"}, Clone: true,
			Incarnations: []snapshot.IncarnationSeen{
				{Incarnation: "beadbeadbeadbead", FirstSeen: before(26 * time.Hour), LastSeen: before(61 * time.Second), Offers: 7},
				{Incarnation: "5eed5eed5eed5eed", FirstSeen: before(20 * time.Minute), LastSeen: before(45 * time.Second), Offers: 5},
			}},
		{TubID: dave},
	}
	s.MasterTable = []snapshot.MasterEntry{
		{PeerTubID: alice, SlaveIncarnation: "a6e062d03506634c", SeqNum: 4, AttemptID: "1f0e2d3c4b5a6978", Updated: before(3*time.Minute + 12*time.Second)},
		{PeerTubID: carol, SlaveIncarnation: "5eed5eed5eed5eed", SeqNum: 9, AttemptID: "77aa88bb99cc00dd", Updated: before(45 * time.Second)},
	}
	s.SlaveTable = []snapshot.SlaveEntry{
		{PeerTubID: bob, MasterIncarnation: "c0ffee0123456789", SeqNum: 2, Updated: before(2*time.Hour + 5*time.Minute)},
		{PeerTubID: alice, MasterIncarnation: "a6e062d03506634c", SeqNum: 1, Updated: before(50 * time.Hour)},
	}
	at := func(d time.Duration) time.Time { return now0.Add(-d).Add(123 * time.Millisecond) }
	s.Decisions = []snapshot.Decision{
		{Seq: 1, Time: at(2*time.Hour + 5*time.Minute), PeerTubID: bob, BrokerID: 2, Role: snapshot.Slave, OfferIncarnation: ownInc,
			OfferLast: "none 0", OfferAttemptID: "", Accept: true, Rule: "master-accepted", Current: "c0ffee0123456789 2"},
		{Seq: 2, Time: at(20 * time.Minute), PeerTubID: carol, BrokerID: 3, Role: snapshot.Master, OfferIncarnation: "5eed5eed5eed5eed",
			OfferLast: ownInc + " 8", OfferAttemptID: "0011223344556677", Accept: true, Rule: "new-incarnation",
			Detail: "offer incarnation 5eed5eed differs from the broker's beadbead: the peer restarted", Current: ownInc + " 9"},
		{Seq: 3, Time: at(14 * time.Minute), PeerTubID: alice, BrokerID: 6, Role: snapshot.Master, OfferIncarnation: "a6e062d03506634c",
			OfferLast: "0badc0de0badc0de 3", OfferAttemptID: "aabbccddeeff0011", Accept: true, Rule: "old-master-incarnation",
			Detail: "last-connection names our incarnation 0badc0de, not the current 9226ecb8", Current: ownInc + " 3"},
		{Seq: 4, Time: at(3*time.Minute + 12*time.Second), PeerTubID: alice, BrokerID: 1, Role: snapshot.Master, OfferIncarnation: "a6e062d03506634c",
			OfferLast: ownInc + " 3", OfferAttemptID: "1f0e2d3c4b5a6978", Accept: true, Rule: "same-seqnum",
			Detail: "offer seqnum 3 equals the broker's 3: the peer considers it dead", Current: ownInc + " 4"},
		{Seq: 5, Time: at(3*time.Minute + 11*time.Second), PeerTubID: alice, BrokerID: 7, Role: snapshot.Master, OfferIncarnation: "a6e062d03506634c",
			OfferLast: "none 0", OfferAttemptID: "1f0e2d3c4b5a6978", Accept: false, Rule: "never-decided",
			Detail: "last-connection is none 0: a parallel attempt through another hint", Error: "Duplicate connection"},
		{Seq: 6, Time: at(61 * time.Second), PeerTubID: carol, BrokerID: 8, Role: snapshot.Master, OfferIncarnation: "beadbeadbeadbead",
			OfferLast: ownInc + " 8", OfferAttemptID: "99aa99aa99aa99aa", Accept: false, Rule: "older-seqnum",
			Detail: "offer seqnum 8 is older than the broker's 9: a late or parallel offer", Error: "Duplicate connection"},
		{Seq: 7, Time: at(50 * time.Second), PeerTubID: bob, BrokerID: 9, Role: snapshot.Slave, OfferIncarnation: ownInc,
			OfferLast: "c0ffee0123456789 2", Accept: false, Rule: "master-rejected", Error: "Duplicate connection"},
		{Seq: 8, Time: at(45 * time.Second), PeerTubID: carol, BrokerID: 3, Role: snapshot.Master, OfferIncarnation: "5eed5eed5eed5eed",
			OfferLast: ownInc + " 8", OfferAttemptID: "77aa88bb99cc00dd", Accept: true, Rule: "same-seqnum",
			Detail: "offer seqnum 8 equals the broker's 8: the peer considers it dead", Current: ownInc + " 9"},
		{Seq: 9, Time: at(2 * time.Second), PeerTubID: dave, BrokerID: 5, Role: snapshot.Master, OfferIncarnation: "",
			OfferLast: "", Accept: false, Rule: "no-incarnation",
			Detail: "offer has no my-incarnation or last-connection: not enough to replace the broker", Error: "Duplicate connection"},
	}
	s.DecisionsTotal = 9
	return s
}

// manyBrokers is n synthetic brokers for the large-table tests.
func manyBrokers(n int) []snapshot.Broker {
	states := []snapshot.BrokerState{snapshot.Live, snapshot.Live, snapshot.Live, snapshot.Suspect, snapshot.Negotiating, snapshot.Live}
	rows := make([]snapshot.Broker, n)
	for i := range rows {
		rows[i] = snapshot.Broker{
			ID:               uint64(i + 1),
			PeerTubID:        fmt.Sprintf("%08x%024d", uint32(i)*2654435761, i),
			Nickname:         fmt.Sprintf("node-%05d", i),
			Role:             []snapshot.Role{snapshot.Master, snapshot.Slave}[i%2],
			Side:             []snapshot.Side{snapshot.Client, snapshot.Server}[i%3%2],
			State:            states[i%len(states)],
			RemoteAddr:       fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 1024+i%50000),
			PeerIncarnation:  fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15),
			SeqNum:           uint64(i % 17),
			AttemptID:        fmt.Sprintf("%016x", uint64(i)*0xc2b2ae3d27d4eb4f),
			Created:          now0.Add(-time.Duration(i%7919) * time.Second),
			LastReceived:     now0.Add(-time.Duration(i%97) * time.Second),
			PingsOutstanding: i % 4,
		}
	}
	return rows
}
