package tubclient

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Tahoe-LAFS FURLs carry Tor and I2P hints beside TCP ones; Foolscap skips
// the hints it has no handler for, and so does tubscope.
func TestFURLPluginHintsSkipped(t *testing.T) {
	for _, tc := range []struct {
		name, furl string
		hints      []Hint
		skipped    []SkippedHint
		usableErr  string // "" when Usable returns nil
		written    string // String(), when not the FURL as given
	}{
		{
			name:  "tor beside tcp",
			furl:  "pb://" + tid + "@tor:abc.onion:80,tcp:127.0.0.1:1234/swiss",
			hints: []Hint{{"127.0.0.1", 1234}},
			skipped: []SkippedHint{{Hint: "tor:abc.onion:80", Type: "tor", Pos: 0,
				Why: "needs a Tor connection handler, which tubscope does not have"}},
		},
		{
			name:    "tcp between plugins",
			furl:    "pb://" + tid + "@i2p:xyz.b32.i2p,example.org:99,tor:abc.onion:80/swiss",
			hints:   []Hint{{"example.org", 99}},
			written: "pb://" + tid + "@i2p:xyz.b32.i2p,tcp:example.org:99,tor:abc.onion:80/swiss",
			skipped: []SkippedHint{
				{Hint: "i2p:xyz.b32.i2p", Type: "i2p", Pos: 0, Why: "needs an I2P connection handler, which tubscope does not have"},
				{Hint: "tor:abc.onion:80", Type: "tor", Pos: 2, Why: "needs a Tor connection handler, which tubscope does not have"},
			},
		},
		{
			name: "onion only",
			furl: "pb://" + tid + "@tor:x.onion:80/swiss",
			skipped: []SkippedHint{{Hint: "tor:x.onion:80", Type: "tor", Pos: 0,
				Why: "needs a Tor connection handler, which tubscope does not have"}},
			usableErr: "no usable location hint in FURL for tub pcx5blrk…: tor:x.onion:80 needs a Tor connection handler, which tubscope does not have",
		},
		{
			name: "i2p with port, and a plugin tubscope has never heard of",
			furl: "pb://" + tid + "@i2p:xyz.b32.i2p:8080,systemd:fd=3/swiss",
			skipped: []SkippedHint{
				{Hint: "i2p:xyz.b32.i2p:8080", Type: "i2p", Pos: 0, Why: "needs an I2P connection handler, which tubscope does not have"},
				{Hint: "systemd:fd=3", Type: "systemd", Pos: 1, Why: `needs a connection handler for hint type "systemd", which tubscope does not have`},
			},
			usableErr: "i2p:xyz.b32.i2p:8080 needs an I2P connection handler, which tubscope does not have; " +
				`systemd:fd=3 needs a connection handler for hint type "systemd", which tubscope does not have`,
		},
		{
			// Only lowercase "tcp" names Foolscap's TCP handler.
			name:      "TCP in capitals",
			furl:      "pb://" + tid + "@TCP:h:1/swiss",
			skipped:   []SkippedHint{{Hint: "TCP:h:1", Type: "TCP", Pos: 0, Why: `needs a connection handler for hint type "TCP", which tubscope does not have`}},
			usableErr: `TCP:h:1 needs a connection handler for hint type "TCP"`,
		},
		{
			name:  "IPv6, zoned IPv6 and IPv4-mapped",
			furl:  "pb://" + tid + "@tcp:[2001:db8::1]:443,tcp:[fe80::1%eth0]:7,tcp:[::ffff:10.0.0.1]:8/swiss",
			hints: []Hint{{"2001:db8::1", 443}, {"fe80::1%eth0", 7}, {"::ffff:10.0.0.1", 8}},
		},
		{
			// "TYPE:digits" is an old-style host:port to Foolscap, even
			// when TYPE names a plugin.
			name:    "old style",
			furl:    "pb://" + tid + "@10.0.0.1:5,my-host.example:6,tor:7/swiss",
			hints:   []Hint{{"10.0.0.1", 5}, {"my-host.example", 6}, {"tor", 7}},
			written: "pb://" + tid + "@tcp:10.0.0.1:5,tcp:my-host.example:6,tcp:tor:7/swiss",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFURL(tc.furl)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.Hints, tc.hints) || !reflect.DeepEqual(f.Skipped, tc.skipped) {
				t.Fatalf("hints %+v skipped %+v\nwant %+v and %+v", f.Hints, f.Skipped, tc.hints, tc.skipped)
			}
			again, err := ParseFURL(f.String())
			if err != nil || !reflect.DeepEqual(again, f) {
				t.Fatalf("String() %s re-parses to %+v, %v", f.String(), again, err)
			}
			written := tc.written
			if written == "" {
				written = tc.furl
			}
			if f.String() != written {
				t.Errorf("String() = %s, want %s", f.String(), written)
			}
			err = f.Usable()
			if tc.usableErr == "" {
				if err != nil {
					t.Errorf("Usable() = %v", err)
				}
				return
			}
			nu, ok := errors.AsType[*NoUsableHintError](err)
			if !ok || !strings.Contains(err.Error(), tc.usableErr) || nu.TubID != tid {
				t.Errorf("Usable() = %v, want a NoUsableHintError saying %q", err, tc.usableErr)
			}
		})
	}
}

func TestFURLWithoutHintsParsesButIsNotUsable(t *testing.T) {
	f, err := ParseFURL("pb://" + tid + "@/swiss")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Usable(); err == nil || !strings.Contains(err.Error(), "no location hints in FURL for tub pcx5blrk…") {
		t.Errorf("Usable() = %v", err)
	}
	if got := f.String(); got != "pb://"+tid+"@/swiss" {
		t.Errorf("String() = %s", got)
	}
}

// Malformed TCP hints keep their precise errors; so do words that look
// like a mistyped host:port rather than a plugin hint.
func TestFURLMalformedTCPHints(t *testing.T) {
	for hint, want := range map[string]string{
		"tcp:127.0.0.1:0":    `port "0" is not 1-65535`,
		"h:+5":               `port "+5" is not 1-65535`,
		"localhost:http":     `port "http" is not 1-65535`,
		"tcp:h:1x":           `port "1x" is not 1-65535`,
		"tcp:::1:5":          "want host:port or tcp:host:port",
		"tcp:":               "want host:port or tcp:host:port",
		"tcp:tcp:h:5":        "repeated tcp: prefix",
		"tcp::5":             "empty host",
		"tcp:a_b:5":          `host "a_b" is not a DNS name, IPv4 address or bracketed IPv6 address`,
		"tcp:[fe80::1%]:5":   `host "fe80::1%" is not`,
		"tcp:[10.0.0.1]:5":   `host "10.0.0.1" is not`,
		"tcp:[zz::1]:5":      `host "zz::1" is not`,
		"tcp:[::1%a/b]:5":    "", // '/' ends the hints: a swissnum error instead
		"host.example:port1": `port "port1" is not 1-65535`,
	} {
		_, err := ParseFURL("pb://" + tid + "@" + hint + "/s")
		fe, ok := errors.AsType[*FURLError](err)
		switch {
		case want == "":
			if err == nil {
				t.Errorf("%s: accepted", hint)
			}
		case !ok || fe.Part != "hint" || !strings.Contains(err.Error(), want):
			t.Errorf("%s: %v, want a hint error saying %q", hint, err, want)
		}
	}
}

func TestParseHintNamesWhatAPluginHintNeeds(t *testing.T) {
	if h, err := ParseHint("tcp:127.0.0.1:9"); err != nil || h != (Hint{"127.0.0.1", 9}) {
		t.Errorf("tcp hint: %+v %v", h, err)
	}
	_, err := ParseHint("tor:abc.onion:80")
	if err == nil || err.Error() != `hint "tor:abc.onion:80" needs a Tor connection handler, which tubscope does not have` {
		t.Errorf("tor hint: %v", err)
	}
}

// Callers that build a FURL from TCP hints alone, or that add skipped
// hints with positions past the end, still get every hint written.
func TestFURLStringKeepsEveryHint(t *testing.T) {
	f := FURL{TubID: tid, Hints: []Hint{{"a", 1}, {"b", 2}}, Swissnum: "s",
		Skipped: []SkippedHint{{Hint: "tor:x.onion:1", Pos: 1}, {Hint: "i2p:y", Pos: 9}}}
	if got := f.String(); got != "pb://"+tid+"@tcp:a:1,tor:x.onion:1,tcp:b:2,i2p:y/s" {
		t.Errorf("String() = %s", got)
	}
}
