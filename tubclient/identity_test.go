package tubclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
)

// writeKeyFile writes a self-signed identity for key to a fresh file with
// mode 0600 and returns its path.
func writeKeyFile(t *testing.T, key crypto.Signer) string {
	t.Helper()
	id, err := selfSign(key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// genKey makes a key by its name in an UnsupportedKeyError or KeysThatWork.
func genKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case "RSA-512":
		key, err = rsa.GenerateKey(rand.Reader, 512)
	case "RSA-1024":
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case "RSA-2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ECDSA P-224":
		key, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "ECDSA P-256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECDSA P-384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ECDSA P-521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key type %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestIdentityKeysThatWorkLoad(t *testing.T) {
	for _, kind := range []string{"RSA-2048", "ECDSA P-256", "ECDSA P-384", "ECDSA P-521", "Ed25519"} {
		t.Run(kind, func(t *testing.T) {
			path := writeKeyFile(t, genKey(t, kind))
			id, warnings, err := LoadOrCreateIdentityWarn(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings for a 0600 file: %q", warnings)
			}
			if id.TubID != TubIDFromDER(id.DER) || !ValidTubID(id.TubID) {
				t.Errorf("tubid %q does not match the certificate", id.TubID)
			}
		})
	}
}

func TestIdentityWeakKeysRefused(t *testing.T) {
	// Go refuses to make RSA keys under 1024 bits unless told to; the
	// refusal being tested does not depend on this setting.
	t.Setenv("GODEBUG", "rsa1024min=0")
	for _, tc := range []struct {
		key, reason string
	}{
		{"RSA-512", "under 1024 bits"},
		{"RSA-1024", "reject RSA keys under 2048 bits"},
		{"ECDSA P-224", "no signature scheme"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			path := writeKeyFile(t, genKey(t, tc.key))
			_, _, err := LoadOrCreateIdentityWarn(path)
			uk, ok := errors.AsType[*UnsupportedKeyError](err)
			if !ok || uk.Key != tc.key {
				t.Fatalf("err = %v, want an UnsupportedKeyError for %s", err, tc.key)
			}
			for _, want := range []string{path, tc.key + " key refused", tc.reason, KeysThatWork} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestIdentityOpenModeWarns(t *testing.T) {
	key := genKey(t, "ECDSA P-256")
	for _, tc := range []struct {
		mode os.FileMode
		want string // "" for no warning
	}{
		{0o600, ""},
		{0o400, ""},
		{0o644, "mode 0644, open to its group and others"},
		{0o640, "mode 0640, open to its group:"},
		{0o604, "mode 0604, open to others:"},
	} {
		path := writeKeyFile(t, key)
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		id, warnings, err := LoadOrCreateIdentityWarn(path)
		if err != nil || id == nil {
			t.Fatalf("mode %04o: %v", tc.mode, err)
		}
		switch {
		case tc.want == "" && len(warnings) != 0:
			t.Errorf("mode %04o: unexpected warnings %q", tc.mode, warnings)
		case tc.want != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tc.want) ||
			!strings.Contains(warnings[0], path) || !strings.Contains(warnings[0], "chmod 600")):
			t.Errorf("mode %04o: warnings %q, want one naming the file, saying %q and the fix", tc.mode, warnings, tc.want)
		}
	}
}

func TestIdentityFileNotRegularRefused(t *testing.T) {
	dir := t.TempDir()
	_, _, err := LoadOrCreateIdentityWarn(dir)
	if err == nil || !strings.Contains(err.Error(), dir+" is a directory, not a regular file") {
		t.Errorf("directory: %v", err)
	}
	bigFile := filepath.Join(dir, "big.pem")
	f, err := os.Create(bigFile)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: the size check must come before any read.
	if err := f.Truncate(2 * MaxIdentityFileBytes); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, _, err := LoadOrCreateIdentityWarn(bigFile); err == nil || !strings.Contains(err.Error(), "over the 1048576-byte limit") {
		t.Errorf("2 MiB file: %v", err)
	}
}

func TestIdentityFileCreatedAndReloaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.pem")
	a, warnings, err := LoadOrCreateIdentityWarn(path)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("create: %v %q", err, warnings)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("created file: %v, mode %v", err, st.Mode())
	}
	// Through a symbolic link, the same identity.
	link := filepath.Join(t.TempDir(), "link.pem")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	b, _, err := LoadOrCreateIdentityWarn(link)
	if err != nil || b.TubID != a.TubID {
		t.Fatalf("via symlink: %v %v, want tubid %s", b, err, a.TubID)
	}
	// A dangling link is not followed to create a file elsewhere.
	target := filepath.Join(t.TempDir(), "elsewhere.pem")
	dangling := filepath.Join(t.TempDir(), "dangling.pem")
	if err := os.Symlink(target, dangling); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateIdentityWarn(dangling); err == nil || !strings.Contains(err.Error(), "something is in the way") {
		t.Errorf("dangling symlink: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file was created through the dangling link: %v", err)
	}
}

func TestIdentityEncryptedKeyExplained(t *testing.T) {
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.DER})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})...)
	if _, err := ParseIdentityPEM(data); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("encrypted PKCS#8: %v", err)
	}
	legacy := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.DER})
	legacy = append(legacy, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{0x30, 0}})...)
	if _, err := ParseIdentityPEM(legacy); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("legacy encrypted PEM: %v", err)
	}
}

// A tub.pem written by Foolscap 21.7 itself loads, under its own tubid.
// Foolscap writes it with the process umask (usually 0644), which warns.
func TestIdentityFoolscapTubPEMLoads(t *testing.T) {
	pypeer.Require(t)
	ctx := interopCtx(t)
	path, tubid := pythonIdentity(t, ctx)
	id, warnings, err := LoadOrCreateIdentityWarn(path)
	if err != nil {
		t.Fatal(err)
	}
	if id.TubID != tubid {
		t.Fatalf("tubid %s, Foolscap says %s", id.TubID, tubid)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := 0
	if st.Mode().Perm()&0o077 != 0 {
		wantWarnings = 1
	}
	if len(warnings) != wantWarnings {
		t.Errorf("mode %04o: warnings %q, want %d", st.Mode().Perm(), warnings, wantWarnings)
	}
	if _, ok := id.Cert.Leaf.PublicKey.(*rsa.PublicKey); !ok {
		t.Errorf("Foolscap's key is %T, expected RSA", id.Cert.Leaf.PublicKey)
	}
}

// bigRSAKeyDER builds a PKCS#1 RSA private key with a modulus of bits bits
// that x509 accepts: its factors need not be prime, so it is quick to make,
// yet parsing it costs time that grows with the square of its size.
func bigRSAKeyDER(t *testing.T, bits int) []byte {
	t.Helper()
	one, e := big.NewInt(1), big.NewInt(65537)
	for {
		p, err := rand.Int(rand.Reader, new(big.Int).Lsh(one, uint(bits/2)))
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Int(rand.Reader, new(big.Int).Lsh(one, uint(bits/2)))
		if err != nil {
			t.Fatal(err)
		}
		p.SetBit(p, bits/2-1, 1).SetBit(p, 0, 1)
		q.SetBit(q, bits/2-1, 1).SetBit(q, 0, 1)
		pm, qm := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
		lambda := new(big.Int).Div(new(big.Int).Mul(pm, qm), new(big.Int).GCD(nil, nil, pm, qm))
		d := new(big.Int).ModInverse(e, lambda)
		qinv := new(big.Int).ModInverse(q, p)
		if d == nil || qinv == nil {
			continue
		}
		der, err := asn1.Marshal(struct {
			Version                     int
			N, E, D, P, Q, Dp, Dq, Qinv *big.Int
		}{0, new(big.Int).Mul(p, q), e, d, p, q, new(big.Int).Mod(d, pm), new(big.Int).Mod(d, qm), qinv})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
}

// A private key is matched to the certificate by its modulus before x509
// validates it: a 512-kbit key (a 288 KiB file) took 9 s to parse, and one
// filling the 1 MiB file limit would take minutes.
func TestIdentityForeignRSAKeyRefusedBeforeParsing(t *testing.T) {
	id, err := selfSign(genKey(t, "RSA-2048"))
	if err != nil {
		t.Fatal(err)
	}
	hugeKey := bigRSAKeyDER(t, 16384)
	if _, err := x509.ParsePKCS1PrivateKey(hugeKey); err != nil {
		t.Fatalf("x509 refuses the crafted key itself (%v); the test needs one it accepts", err)
	}
	pkcs8, err := asn1.Marshal(struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}, hugeKey})
	if err != nil {
		t.Fatal(err)
	}
	ecID, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		certDER []byte
		block   pem.Block
	}{
		"PKCS#1 for an RSA certificate": {id.DER, pem.Block{Type: "RSA PRIVATE KEY", Bytes: hugeKey}},
		"PKCS#8 for an RSA certificate": {id.DER, pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}},
		"PKCS#8 for an EC certificate":  {ecID.DER, pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}},
	} {
		data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tc.certDER}), pem.EncodeToMemory(&tc.block)...)
		if _, err := ParseIdentityPEM(data); err == nil || !strings.Contains(err.Error(), "the RSA private key has another modulus") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
