package tubclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tid = "pcx5blrky5nuephai4l2n5cr5swlghbh"

func TestParseFURL(t *testing.T) {
	f, err := ParseFURL("pb://" + tid + "@tcp:127.0.0.1:45073,example.org:99,tcp:[::1]:7/swiss/with/slash")
	if err != nil {
		t.Fatal(err)
	}
	want := []Hint{{"127.0.0.1", 45073}, {"example.org", 99}, {"::1", 7}}
	if f.TubID != tid || f.Swissnum != "swiss/with/slash" || len(f.Hints) != 3 {
		t.Fatalf("%+v", f)
	}
	for i, h := range want {
		if f.Hints[i] != h {
			t.Fatalf("hint %d = %+v, want %+v", i, f.Hints[i], h)
		}
	}
	if got := f.String(); got != "pb://"+tid+"@tcp:127.0.0.1:45073,tcp:example.org:99,tcp:[::1]:7/swiss/with/slash" {
		t.Fatalf("String() = %s", got)
	}
	// Only the first 32 characters of the tubid part count.
	if f, err := ParseFURL("pb://" + tid + "extra@h:1/s"); err != nil || f.TubID != tid {
		t.Fatalf("reserved suffix: %+v %v", f, err)
	}
	if f, err := ParseFURL("pb://" + tid + "@/s"); err != nil || len(f.Hints) != 0 {
		t.Fatalf("empty hint list: %+v %v", f, err)
	}
}

func TestParseFURLErrorsNameThePart(t *testing.T) {
	cases := map[string]string{
		"http://" + tid + "@h:1/s":                "scheme",
		"pb://" + tid + "h:1/s":                   "tubid",
		"pb://short@h:1/s":                        "tubid",
		"pb://" + strings.ToUpper(tid) + "@h:1/s": "tubid",
		"pb://" + tid + "@h:1":                    "swissnum",
		"pb://" + tid + "@h:1/":                   "swissnum",
		"pb://" + tid + "@h:1,,h:2/s":             "hint",
		"pb://" + tid + "@h/s":                    "hint",
		"pb://" + tid + "@h:0/s":                  "hint",
		"pb://" + tid + "@h:99999/s":              "hint",
		"pb://" + tid + "@tcp:::1:5/s":            "hint",
		"pb://" + tid + "@tcp:tcp:h:5/s":          "hint",
		"pb://" + tid + "@:5/s":                   "hint",
	}
	for in, part := range cases {
		_, err := ParseFURL(in)
		var fe *FURLError
		if !errors.As(err, &fe) || fe.Part != part {
			t.Errorf("%s: err %v, want a %s error", in, err, part)
		}
	}
}

func TestIdentityPEMRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	a, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidTubID(a.TubID) {
		t.Fatalf("tubid %q", a.TubID)
	}
	b, err := LoadOrCreateIdentity(path)
	if err != nil || b.TubID != a.TubID {
		t.Fatalf("reloaded %v %v, want tubid %s", b, err, a.TubID)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	other, _ := NewIdentity()
	pa, _ := a.PEM()
	po, _ := other.PEM()
	// A certificate with someone else's key is refused.
	mixed := append(pa[:strings.Index(string(pa), "-----BEGIN PRIVATE KEY")], po[strings.Index(string(po), "-----BEGIN PRIVATE KEY"):]...)
	if _, err := ParseIdentityPEM(mixed); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key: %v", err)
	}
	if _, err := ParseIdentityPEM([]byte("junk")); err == nil {
		t.Fatal("junk accepted")
	}
}
