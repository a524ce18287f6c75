package views

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	erin   = "eri7nqlkk4mbq2sd3eeuu7l5vdcx2ja4"
	frank  = "frnk4yq2zbq3ljhx6ad5zmzcvwqytq3u"
	gina   = "gin4a3zwr2d6tbmjjmv4w7kj3q6vmdyz"
	hank   = "hnk2kltc6dqj4ftrsuxw5eok7fw6nq3b"

	ownInc = "9226ecb833fae91a"
)

func before(d time.Duration) time.Time { return now0.Add(-d) }

// fixture is a tub mid-incident: a suspect duplicate, a peer restart, a
// clone, a peer locked out by its master, a refused address, a peer
// backing off and one being dialled, decisions both ways (some of them a
// run of alike ones), and a storm's activity.
func fixture() *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		Version:          7,
		Source:           snapshot.Source{Name: "queen", Kind: snapshot.SourceEmbedded},
		Taken:            before(2 * time.Second),
		TubID:            ownTub,
		FURL:             "pb://" + ownTub + "@tcp:203.0.113.5:3456/swiss",
		Incarnation:      ownInc,
		IncarnationCount: 3,
		Listening:        []string{"tcp:0.0.0.0:3456", "tcp:[::]:3456"},
		Policy:           "foolscap",
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
		{ID: 7, PeerTubID: hank, Nickname: "hank", Role: snapshot.Slave, Side: snapshot.Client, State: snapshot.Negotiating,
			RemoteAddr: "10.0.0.8:5000", Created: before(300 * time.Millisecond)},
		{ID: 8, Side: snapshot.Server, State: snapshot.Negotiating, RemoteAddr: "203.0.113.99:40112", Created: before(100 * time.Millisecond)},
	}
	s.Peers = []snapshot.Peer{
		{TubID: alice, Nickname: "alice", Hints: []string{"tcp:198.51.100.23:3456", "tor:alicexyzexample.onion:3456"},
			State: snapshot.PeerLive, BrokerID: 1, Connected: before(3*time.Minute + 12*time.Second),
			Incarnations: []snapshot.IncarnationSeen{
				{Incarnation: "0badc0de0badc0de", FirstSeen: before(50 * time.Hour), LastSeen: before(26 * time.Hour), Offers: 2},
				{Incarnation: "a6e062d03506634c", FirstSeen: before(14 * time.Minute), LastSeen: before(3*time.Minute + 12*time.Second), Offers: 4},
			},
			Reconnector: &snapshot.Reconnector{FURL: "pb://" + alice + "@tcp:198.51.100.23:3456/x7k2", State: snapshot.Connected, Attempts: 1, Delay: time.Second},
			History: []snapshot.ConnectionRecord{
				{BrokerID: 6, Side: snapshot.Client, Role: snapshot.Master, Remote: "198.51.100.23:3456", Opened: before(14 * time.Minute),
					Attached: before(14 * time.Minute), SeqNum: 3, PeerIncarnation: "a6e062d03506634c", Rule: "old-master-incarnation"},
				{BrokerID: 1, Side: snapshot.Server, Role: snapshot.Master, Remote: "198.51.100.23:50412", Opened: before(3*time.Minute + 13*time.Second),
					Attached: before(3*time.Minute + 12*time.Second), SeqNum: 4, PeerIncarnation: "a6e062d03506634c", Rule: "same-seqnum"},
			}},
		{TubID: bob, Nickname: "bob", Hints: []string{"tcp:[2001:db8::7]:3456"}, State: snapshot.PeerSuspect, BrokerID: 2,
			Connected:    before(2*time.Hour + 5*time.Minute),
			Incarnations: []snapshot.IncarnationSeen{{Incarnation: "c0ffee0123456789", FirstSeen: before(2*time.Hour + 6*time.Minute), LastSeen: before(2*time.Hour + 5*time.Minute), Offers: 1}},
			Reconnector:  &snapshot.Reconnector{FURL: "pb://" + bob + "@tcp:[2001:db8::7]:3456/q9", State: snapshot.Connected}},
		{TubID: carol, Nickname: "carol", Hints: []string{"tcp:192.0.2.44:3456"}, Clone: true, State: snapshot.PeerLive, BrokerID: 3,
			Connected: before(45 * time.Second),
			Incarnations: []snapshot.IncarnationSeen{
				{Incarnation: "beadbeadbeadbead", FirstSeen: before(26 * time.Hour), LastSeen: before(61 * time.Second), Offers: 7},
				{Incarnation: "5eed5eed5eed5eed", FirstSeen: before(20 * time.Minute), LastSeen: before(45 * time.Second), Offers: 5},
			},
			History: []snapshot.ConnectionRecord{
				{BrokerID: 11, Side: snapshot.Server, Role: snapshot.Master, Remote: "192.0.2.44:60990", Opened: before(20 * time.Minute),
					Attached: before(20 * time.Minute), Closed: before(45 * time.Second), SeqNum: 8, PeerIncarnation: "5eed5eed5eed5eed",
					Rule: "new-incarnation", End: snapshot.CloseReplaced, ReplacedBy: 3, Detail: "replaced by a new connection (same-seqnum)"},
				{BrokerID: 3, Side: snapshot.Server, Role: snapshot.Master, Remote: "192.0.2.44:61001", Opened: before(46 * time.Second),
					Attached: before(45 * time.Second), SeqNum: 9, PeerIncarnation: "5eed5eed5eed5eed", Rule: "same-seqnum"},
			}},
		{TubID: dave, State: snapshot.PeerConnecting, Hints: []string{"tor:abcdefghijklmnop.onion:80"}},
		{TubID: erin, Nickname: "erin", Hints: []string{"tcp:10.0.0.5:3456"}, State: snapshot.PeerLockedOut,
			LastError: "the master refused our offer: Duplicate connection", LastErrorAt: before(3 * time.Second),
			Attempts: 7, Rejects: 6, LockedOutSince: before(42 * time.Second), NextAttempt: now0.Add(3100 * time.Millisecond),
			Reconnector: &snapshot.Reconnector{FURL: "pb://" + erin + "@tcp:10.0.0.5:3456/w", State: snapshot.Waiting, Attempts: 7,
				Delay: 5 * time.Second, NextAttempt: now0.Add(3100 * time.Millisecond)},
			History: []snapshot.ConnectionRecord{
				{BrokerID: 21, Side: snapshot.Client, Role: snapshot.Slave, Remote: "10.0.0.5:3456", Opened: before(5 * time.Minute),
					Attached: before(5 * time.Minute), Closed: before(50 * time.Second), SeqNum: 1, End: snapshot.ClosePeerClosed,
					Detail: "the peer closed the connection"},
				{BrokerID: 24, Side: snapshot.Client, Role: snapshot.Slave, Remote: "10.0.0.5:3456", Opened: before(43 * time.Second),
					Closed: before(42 * time.Second), End: snapshot.CloseRejected, Detail: "the master refused our offer: Duplicate connection"},
			}},
		{TubID: frank, Nickname: "frank", Hints: []string{"tcp:10.0.0.6:9999"}, State: snapshot.PeerRefused,
			LastError: "dial tcp 10.0.0.6:9999: connect: connection refused", LastErrorAt: before(1500 * time.Millisecond),
			Attempts: 4, NextAttempt: now0.Add(6 * time.Second)},
		{TubID: gina, Nickname: "gina", Hints: []string{"tcp:10.0.0.7:3456"}, State: snapshot.PeerBackingOff,
			LastError: "negotiation timed out after 2s", LastErrorAt: before(4 * time.Second), Attempts: 2, NextAttempt: now0.Add(1200 * time.Millisecond)},
		{TubID: hank, Nickname: "hank", Hints: []string{"tcp:10.0.0.8:5000"}, State: snapshot.PeerConnecting, Attempts: 1},
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
	held := &snapshot.Held{BrokerID: 4, SlaveIncarnation: "beadbeadbeadbead", SeqNum: 8, AttemptID: "99aa99aa99aa99aa",
		Created: before(26 * time.Hour), LastReceived: before(61 * time.Second)}
	s.Decisions = []snapshot.Decision{
		{Seq: 1, Time: at(2*time.Hour + 5*time.Minute), PeerTubID: bob, BrokerID: 2, Role: snapshot.Slave, OfferIncarnation: ownInc,
			OfferLast: "none 0", OfferAttemptID: "", Accept: true, Rule: "master-accepted", Current: "c0ffee0123456789 2",
			Detail: "the master numbered this connection c0ffee0123456789 2"},
		{Seq: 2, Time: at(20 * time.Minute), PeerTubID: carol, BrokerID: 3, Role: snapshot.Master, OfferIncarnation: "5eed5eed5eed5eed",
			OfferLast: ownInc + " 8", OfferAttemptID: "0011223344556677", Accept: true, Rule: "new-incarnation",
			Detail: "offer incarnation 5eed5eed differs from the broker's beadbead: the peer restarted", Current: ownInc + " 9",
			Existing: held},
		{Seq: 3, Time: at(14 * time.Minute), PeerTubID: alice, BrokerID: 6, Role: snapshot.Master, OfferIncarnation: "a6e062d03506634c",
			OfferLast: "0badc0de0badc0de 3", OfferAttemptID: "aabbccddeeff0011", Accept: true, Rule: "old-master-incarnation",
			Detail: "last-connection names our incarnation 0badc0de, not the current 9226ecb8", Current: ownInc + " 3"},
		{Seq: 4, Time: at(3*time.Minute + 12*time.Second), PeerTubID: alice, BrokerID: 1, Role: snapshot.Master, OfferIncarnation: "a6e062d03506634c",
			OfferLast: ownInc + " 3", OfferAttemptID: "1f0e2d3c4b5a6978", Accept: true, Rule: "same-seqnum",
			Detail: "offer seqnum 3 equals the broker's 3: the peer considers it dead", Current: ownInc + " 4"},
		{Seq: 5, Time: at(3*time.Minute + 11*time.Second), PeerTubID: alice, BrokerID: 7, Role: snapshot.Master, OfferIncarnation: "a6e062d03506634c",
			OfferLast: "none 0", OfferAttemptID: "1f0e2d3c4b5a6978", Accept: false, Rule: "never-decided",
			Detail: "last-connection is none 0: a parallel attempt through another hint", Error: "Duplicate connection",
			WhatIf: []snapshot.Alternative{{Policy: "probe", Accept: true, Rule: "probe-silent", Detail: "the broker did not answer a PING in 250ms"}}},
		{Seq: 6, Time: at(61 * time.Second), PeerTubID: carol, BrokerID: 8, Role: snapshot.Master, OfferIncarnation: "beadbeadbeadbead",
			OfferLast: ownInc + " 8", OfferAttemptID: "99aa99aa99aa99aa", Accept: false, Rule: "older-seqnum",
			Detail: "offer seqnum 8 is older than the broker's 9: a late or parallel offer", Error: "Duplicate connection", Existing: held},
		{Seq: 7, Time: at(50 * time.Second), PeerTubID: erin, BrokerID: 24, Role: snapshot.Slave, OfferIncarnation: ownInc,
			OfferLast: "none 0", Accept: false, Rule: "master-rejected", Error: "Duplicate connection",
			Detail: "the master refused our offer (last-connection none 0): Duplicate connection"},
		{Seq: 8, Time: at(45 * time.Second), PeerTubID: carol, BrokerID: 3, Role: snapshot.Master, OfferIncarnation: "5eed5eed5eed5eed",
			OfferLast: ownInc + " 8", OfferAttemptID: "77aa88bb99cc00dd", Accept: true, Rule: "same-seqnum",
			Detail: "offer seqnum 8 equals the broker's 8: the peer considers it dead", Current: ownInc + " 9"},
	}
	// A storm's run: five peers come back with new incarnations in 1.1 s.
	for i := range 5 {
		peer := []string{alice, carol, gina, hank, frank}[i]
		s.Decisions = append(s.Decisions, snapshot.Decision{Seq: uint64(9 + i), Time: at(20*time.Second - time.Duration(i)*275*time.Millisecond),
			PeerTubID: peer, BrokerID: uint64(30 + i), Role: snapshot.Master, OfferIncarnation: fmt.Sprintf("%016x", 0xabc0+i),
			OfferLast: ownInc + " 2", Accept: true, Rule: "new-incarnation",
			Detail: "offer incarnation differs from the broker's: the peer restarted", Current: ownInc + " 3"})
	}
	s.Decisions = append(s.Decisions, snapshot.Decision{Seq: 14, Time: at(2 * time.Second), PeerTubID: dave, BrokerID: 5, Role: snapshot.Master,
		Accept: false, Rule: "no-incarnation",
		Detail: "offer has no my-incarnation or last-connection: not enough to replace the broker", Error: "Duplicate connection"})
	s.DecisionsTotal = 14
	s.Activity = activity()
	return s
}

// activity is a minute of a storm that is calming down.
func activity() snapshot.Activity {
	a := snapshot.Activity{Bucket: time.Second, End: now0, Window: time.Minute}
	for i := range 120 {
		o, r := 0, 0
		switch {
		case i >= 60 && i < 70:
			o, r = 64-(i-60)*6, 30-(i-60)*3
		case i >= 70 && i < 100:
			o, r = 3, 2
		case i >= 100:
			o = i % 2
		}
		a.Offers = append(a.Offers, o)
		a.Rejects = append(a.Rejects, r)
	}
	a.Rules = []snapshot.RuleCount{{Rule: "new-incarnation", Accept: true, Count: 64}, {Rule: "never-decided", Count: 12}, {Rule: "no-existing", Accept: true, Count: 3}}
	a.Offenders = []snapshot.Offender{{PeerTubID: erin, Offers: 12, Rejects: 11}, {PeerTubID: gina, Offers: 9, Rejects: 2}, {PeerTubID: "unknownpeer0000000000", Offers: 4}}
	a.Reconnect = snapshot.Histogram{Bounds: []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second, time.Minute, 10 * time.Minute},
		Counts: []int{3, 40, 12, 5, 2, 0, 0, 0}, Total: 62, P50: 3 * time.Millisecond, P99: 1200 * time.Millisecond, Max: 4 * time.Second}
	return a
}

// manyPeers is n synthetic peers, each with one broker, for the large-table
// tests and benchmarks.
func manyPeers(n int) *snapshot.Snapshot {
	states := []snapshot.BrokerState{snapshot.Live, snapshot.Live, snapshot.Live, snapshot.Suspect, snapshot.Negotiating, snapshot.Live}
	s := &snapshot.Snapshot{Version: 1, TubID: ownTub, Policy: "foolscap"}
	s.Brokers = make([]snapshot.Broker, n)
	s.Peers = make([]snapshot.Peer, n)
	for i := range n {
		tubid := fmt.Sprintf("%08x%024d", uint32(i)*2654435761, i)
		s.Brokers[i] = snapshot.Broker{
			ID:               uint64(i + 1),
			PeerTubID:        tubid,
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
		s.Peers[i] = snapshot.Peer{TubID: tubid, Nickname: s.Brokers[i].Nickname, BrokerID: uint64(i + 1),
			State: brokerPeerState(states[i%len(states)])}
	}
	// Peers come sorted by tubid from the engine.
	sortPeers(s.Peers)
	return s
}

func sortPeers(ps []snapshot.Peer) {
	slices.SortFunc(ps, func(a, b snapshot.Peer) int { return strings.Compare(a.TubID, b.TubID) })
}
