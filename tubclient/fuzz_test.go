package tubclient

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
)

// Blocks as Foolscap 21.7 and tubscope send them (PROTOCOL.md §12).
var wireBlocks = []string{
	"GET /id/pcx5blrky5nuephai4l2n5cr5swlghbh HTTP/1.1\r\nHost: 127.0.0.1:45073\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n",
	"GET /id/6gmn2fubi7xralfvxa3qca2h2qkhwmhd HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n",
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, PB/1.0\r\nConnection: Upgrade\r\n\r\n",
	"HTTP/1.1 500 Internal Server Error: unknown TubID aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
	"banana-negotiation-range: 3 3\r\ninitial-vocab-table-range: 0 1\r\nmy-incarnation: a6e062d03506634c\r\nmy-tub-id: pcx5blrky5nuephai4l2n5cr5swlghbh\r\n\r\n",
	"banana-decision-version: 3\r\ncurrent-connection: a6e062d03506634c 1\r\ninitial-vocab-table-index: 0 da39\r\n\r\n",
	"banana-decision-version: 1\r\nerror: Duplicate connection\r\n\r\n",
}

// readBlockBufSizes are the bufio sizes FuzzReadBlock picks from: the
// minimum, odd ones, the tub's (512 for the prelude, 1024 on a broker),
// and ones around the limit.
var readBlockBufSizes = [8]int{16, 31, 64, 512, 1024, 4095, 4096, 8192}

// shortReader returns at most max bytes per Read, as a slow peer does.
type shortReader struct {
	data []byte
	max  int
}

func (r *shortReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.max, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzReadBlock feeds the prelude/hello reader arbitrary bytes. The first
// byte picks the bufio size (low 3 bits) and the largest read the
// underlying reader returns (the rest); the block read must be exactly the
// input up to its first blank line, and what follows must stay readable.
func FuzzReadBlock(f *testing.F) {
	for i, b := range wireBlocks {
		f.Add(append([]byte{byte(i*37 + 3)}, b+"after"...))
	}
	long := func(n int) string { return "Host: " + strings.Repeat("h", n-len("Host: ")) }
	for _, sel := range []byte{0x00, 0x03, 0x04, 0xfb, 0xff} {
		f.Add(append([]byte{sel}, "\r\n"...))
		f.Add(append([]byte{sel}, "a: b\n\nrest"...))
		f.Add(append([]byte{sel}, "no blank line\r\n"...))
		f.Add([]byte{sel})
		// Lines as long as the bufio buffer, ending on its edge.
		for _, n := range []int{15, 16, 511, 512, 1023, 1024} {
			f.Add(append([]byte{sel}, "GET /id/x HTTP/1.1\r\n"+long(n)+"\r\nUpgrade: TLS/1.0\r\n\r\n"...))
		}
		// A block of exactly the limit, and one byte over.
		f.Add(append([]byte{sel}, long(negotiation.MaxHeaderBytes-4)+"\r\n\r\n"...))
		f.Add(append([]byte{sel}, long(negotiation.MaxHeaderBytes-3)+"\r\n\r\n"...))
		f.Add(append([]byte{sel}, strings.Repeat("x", negotiation.MaxHeaderBytes+1)...))
	}
	f.Fuzz(checkReadBlock)
}

func checkReadBlock(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	sel, input := data[0], data[1:]
	const limit = negotiation.MaxHeaderBytes
	br := bufio.NewReaderSize(&shortReader{data: input, max: int(sel>>3) + 1}, readBlockBufSizes[sel&7])
	block, err := readBlock(br, limit)

	if err == nil {
		if len(block) > limit {
			t.Fatalf("block of %d bytes, over the %d limit", len(block), limit)
		}
		if !endsWithBlankLine(block) {
			t.Fatalf("block %q does not end with a blank line", tail(block))
		}
	}
	end := firstBlankLineEnd(input)
	switch {
	case end >= 0 && end <= limit:
		if err != nil {
			t.Fatalf("block of %d bytes refused: %v", end, err)
		}
		if !bytes.Equal(block, input[:end]) {
			t.Fatalf("read %d bytes ending %q, want the %d bytes up to the first blank line", len(block), tail(block), end)
		}
		rest, _ := io.ReadAll(br)
		if !bytes.Equal(rest, input[end:]) {
			t.Fatalf("after the block, %d bytes remain, want %d", len(rest), len(input)-end)
		}
	case end > limit || end < 0 && len(input) > limit:
		if err == nil || !strings.Contains(err.Error(), "header exceeds 4096 bytes") {
			t.Fatalf("%d bytes with no blank line within the limit: block %d bytes, err %v", len(input), len(block), err)
		}
	case len(input) == 0:
		if err == nil || err.Error() != "connection closed before a header" {
			t.Fatalf("empty input: %v", err)
		}
	default:
		if err == nil || err.Error() != "connection closed mid-header" {
			t.Fatalf("%d bytes without a blank line: %v", len(input), err)
		}
	}
}

// firstBlankLineEnd is the offset just past the first line that is "\n"
// or "\r\n", or -1.
func firstBlankLineEnd(p []byte) int {
	start := 0
	for start < len(p) {
		nl := bytes.IndexByte(p[start:], '\n')
		if nl < 0 {
			return -1
		}
		line := p[start : start+nl+1]
		if len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			return start + nl + 1
		}
		start += nl + 1
	}
	return -1
}

func endsWithBlankLine(b []byte) bool {
	for _, blank := range []string{"\n", "\r\n"} {
		if string(b) == blank || bytes.HasSuffix(b, []byte("\n"+blank)) {
			return true
		}
	}
	return false
}

func tail(b []byte) []byte { return b[max(0, len(b)-16):] }

// FuzzParseFURL: no panic; an error is always a *FURLError; a parsed FURL
// writes itself back as a FURL that parses to the same value.
func FuzzParseFURL(f *testing.F) {
	for _, s := range []string{
		"pb://" + tid + "@tcp:127.0.0.1:45073,example.org:99,tcp:[::1]:7/swiss/with/slash",
		"pb://" + tid + "@tor:abc.onion:80,tcp:127.0.0.1:1234/swiss",
		"pb://" + tid + "@tor:u33m4y7klhz3bypswqkozwetvabelhxt.onion:46210,tcp:10.0.0.5:46210/introducer",
		"pb://" + tid + "@i2p:abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst.b32.i2p:0/introducer",
		"pb://" + tid + "@tcp:[fe80::1%eth0]:7,tcp:[::ffff:1.2.3.4]:8,systemd:fd=3,TCP:h:1/s",
		"pb://" + tid + "extra@h:1/s",
		"pb://" + tid + "@/s",
		"pb://" + tid + "@h:1,,h:2/s",
		"pb://" + tid + "@tcp:tcp:h:5/s",
		"pb://" + tid + "@h:0/s",
		"pb://" + tid + "@tor:7/s",
		"pb://" + tid + "@localhost:http/s",
		"pb://short@h:1/s",
		"http://x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fu, err := ParseFURL(s)
		if err != nil {
			if _, ok := errors.AsType[*FURLError](err); !ok {
				t.Fatalf("ParseFURL error %T %v is not a *FURLError", err, err)
			}
			return
		}
		if !ValidTubID(fu.TubID) || fu.Swissnum == "" {
			t.Fatalf("parsed %+v", fu)
		}
		for _, h := range fu.Hints {
			if h.Host == "" || h.Port < 1 || h.Port > 65535 {
				t.Fatalf("hint %+v", h)
			}
		}
		_, hintPart, _ := strings.Cut(s, "@")
		hintPart, _, _ = strings.Cut(hintPart, "/")
		total := 0
		if hintPart != "" {
			total = strings.Count(hintPart, ",") + 1
		}
		if len(fu.Hints)+len(fu.Skipped) != total {
			t.Fatalf("%d hints and %d skipped from %d written", len(fu.Hints), len(fu.Skipped), total)
		}
		for i, sk := range fu.Skipped {
			if sk.Pos >= total || i > 0 && sk.Pos <= fu.Skipped[i-1].Pos || sk.Why == "" {
				t.Fatalf("skipped hints %+v", fu.Skipped)
			}
		}
		if (fu.Usable() == nil) != (len(fu.Hints) > 0) {
			t.Fatalf("Usable() = %v with %d TCP hints", fu.Usable(), len(fu.Hints))
		}
		again, err := ParseFURL(fu.String())
		if err != nil {
			t.Fatalf("String() %q does not parse: %v", fu.String(), err)
		}
		if !reflect.DeepEqual(again, fu) {
			t.Fatalf("String() %q parses to %+v, want %+v", fu.String(), again, fu)
		}
	})
}

// identityKeyBlockTypes are the PEM key blocks FuzzParseIdentityPEM wraps
// its raw key bytes in, picked by the keyKind argument.
var identityKeyBlockTypes = [4]string{"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"}

// FuzzParseIdentityPEM: no panic, no hang; an accepted identity's tubid is
// its certificate's, its key is one that works, and it writes itself back.
// Mutated PEM text mostly breaks the base64, so the certificate and key
// DER also come in raw and are wrapped here, to reach the DER parsers.
func FuzzParseIdentityPEM(f *testing.F) {
	// seed adds an identity as PEM text and as raw DER, with the key in
	// encoding keyKind.
	seed := func(text, certDER, keyDER []byte, keyKind uint8) {
		f.Add(text, certDER, keyDER, keyKind)
	}
	fromSigner := func(key crypto.Signer) (*Identity, []byte) {
		id, err := selfSign(key)
		if err != nil {
			f.Fatal(err)
		}
		text, err := id.PEM()
		if err != nil {
			f.Fatal(err)
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			f.Fatal(err)
		}
		seed(text, id.DER, pkcs8, 0)
		return id, text
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	rsaID, _ := fromSigner(rsaKey)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	p256, p256PEM := fromSigner(ecKey)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	fromSigner(p384)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	fromSigner(edKey)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	fromSigner(weak)

	// The older key encodings, key before certificate, a key that is not
	// the certificate's, and broken text.
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaID.DER})
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	seed(append(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1}), certPEM...), rsaID.DER, pkcs1, 1)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		f.Fatal(err)
	}
	sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	seed(append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p256.DER}), sec1PEM...), p256.DER, sec1, 2)
	seed(append(certPEM, sec1PEM...), rsaID.DER, sec1, 2)
	seed(p256PEM[:len(p256PEM)/2], p256.DER[:len(p256.DER)/2], nil, 3)
	seed([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), nil, nil, 0)
	seed([]byte("junk"), []byte{0x30, 0x80}, []byte{0x30, 0x00}, 0)

	// A tub.pem as Foolscap 21.7 writes it, when Foolscap is here.
	if err := pypeer.Available(); err == nil {
		path := filepath.Join(f.TempDir(), "tub.pem")
		if _, err := pypeer.PythonPEM(f.Context(), path); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		certBlock, rest := pem.Decode(data)
		keyBlock, _ := pem.Decode(rest)
		if certBlock == nil || keyBlock == nil {
			f.Fatalf("Foolscap's tub.pem has no certificate and key blocks: %q", data)
		}
		seed(data, certBlock.Bytes, keyBlock.Bytes, 0)
	} else if os.Getenv("CI") != "" {
		f.Fatalf("real Foolscap peer required in CI: %v", err)
	}

	f.Fuzz(func(t *testing.T, text, certDER, keyDER []byte, keyKind uint8) {
		checkIdentityPEM(t, text)
		wrapped := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
		wrapped = append(wrapped, pem.EncodeToMemory(&pem.Block{Type: identityKeyBlockTypes[keyKind%4], Bytes: keyDER})...)
		checkIdentityPEM(t, wrapped)
	})
}

func checkIdentityPEM(t *testing.T, data []byte) {
	id, err := ParseIdentityPEM(data)
	if err != nil {
		return
	}
	leaf := id.Cert.Leaf
	if leaf == nil || !bytes.Equal(leaf.Raw, id.DER) || len(id.Cert.Certificate) != 1 || !bytes.Equal(id.Cert.Certificate[0], id.DER) {
		t.Fatal("identity's certificate fields disagree")
	}
	if id.TubID != TubIDFromDER(leaf.Raw) {
		t.Fatalf("tubid %s, certificate says %s", id.TubID, TubIDFromDER(leaf.Raw))
	}
	if err := checkIdentityKey(leaf); err != nil {
		t.Fatalf("accepted a refused key: %v", err)
	}
	out, err := id.PEM()
	if err != nil {
		t.Fatalf("accepted identity cannot be written: %v", err)
	}
	again, err := ParseIdentityPEM(out)
	if err != nil || again.TubID != id.TubID {
		t.Fatalf("written identity reloads as %v, %v", again, err)
	}
}
