package tubclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Identity is a tub's TLS certificate and key; the tubid is derived from
// the certificate, so the certificate is the identity.
type Identity struct {
	Cert  tls.Certificate
	DER   []byte
	TubID string
}

var tubidEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// TubIDFromDER is Foolscap's tubid: lowercase unpadded base32 of SHA-1(DER).
func TubIDFromDER(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToLower(tubidEncoding.EncodeToString(sum[:]))
}

// NewIdentity makes a fresh ECDSA P-256 self-signed identity. P-256 is the
// cheapest key type Foolscap 21.7 accepts in both directions.
func NewIdentity() (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return selfSign(key)
}

func selfSign(key crypto.Signer) (*Identity, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return identityFrom(der, key)
}

func identityFrom(der []byte, key crypto.PrivateKey) (*Identity, error) {
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return &Identity{
		Cert:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		DER:   der,
		TubID: TubIDFromDER(der),
	}, nil
}

// PEM encodes the identity as Foolscap stores it: certificate, then the
// PKCS#8 private key.
func (id *Identity) PEM() ([]byte, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.Cert.PrivateKey)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.DER})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...), nil
}

// KeysThatWork lists the identity keys Foolscap 21.7 peers and Go's
// crypto/tls both accept, for error messages.
const KeysThatWork = "RSA of 2048 to 8192 bits, ECDSA P-256, P-384 or P-521, or Ed25519"

// UnsupportedKeyError refuses an identity whose key some peer would reject
// in every handshake, so the tub fails at start-up with a reason instead.
type UnsupportedKeyError struct {
	Key    string // type and size, e.g. "RSA-1024", "ECDSA P-224"
	Reason string
}

func (e *UnsupportedKeyError) Error() string {
	return fmt.Sprintf("%s key refused: %s; keys that work: %s", e.Key, e.Reason, KeysThatWork)
}

// checkIdentityKey refuses certificate keys that cannot make a handshake
// with both Foolscap 21.7 (OpenSSL 3 at security level 2) and Go tubs.
// RSA-1024 and P-521 were tried against Foolscap 21.7 in both directions:
// the first fails ("ee key too small"), the second works.
func checkIdentityKey(leaf *x509.Certificate) error {
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		name := fmt.Sprintf("RSA-%d", bits)
		switch {
		case bits < 1024:
			return &UnsupportedKeyError{name, "Go's crypto/tls cannot sign with RSA keys under 1024 bits, and Foolscap 21.7 peers reject those under 2048"}
		case bits < 2048:
			return &UnsupportedKeyError{name, `Foolscap 21.7 peers reject RSA keys under 2048 bits ("ee key too small", "certificate verify failed")`}
		case bits > 8192:
			return &UnsupportedKeyError{name, "Go's crypto/tls, in other tubscope tubs, refuses peers' RSA keys over 8192 bits"}
		}
		return nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return &UnsupportedKeyError{"ECDSA " + k.Curve.Params().Name, "TLS has no signature scheme for this curve"}
	case ed25519.PublicKey:
		return nil
	}
	name := leaf.PublicKeyAlgorithm.String()
	if leaf.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
		name = fmt.Sprintf("%T", leaf.PublicKey)
	}
	return &UnsupportedKeyError{name, "neither Go's crypto/tls nor Foolscap 21.7 peers can use it for TLS 1.2 or 1.3"}
}

// ParseIdentityPEM reads a certificate and private key in either order;
// PKCS#8, PKCS#1 (RSA) and SEC 1 (EC) keys are accepted, so a Foolscap
// tub.pem loads as it is. A key peers would reject in every handshake is
// refused with an *UnsupportedKeyError.
func ParseIdentityPEM(data []byte) (*Identity, error) {
	var der []byte
	var keyBlock *pem.Block
	encrypted := false
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if der == nil {
				der = b.Bytes
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
				encrypted = true
				continue
			}
			keyBlock = b
		case "ENCRYPTED PRIVATE KEY":
			encrypted = true
		}
	}
	if der == nil {
		return nil, errors.New("no CERTIFICATE block")
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	// The certificate names the key type; check it before the costlier
	// private-key parse.
	if err := checkIdentityKey(leaf); err != nil {
		return nil, err
	}
	if keyBlock == nil {
		if encrypted {
			return nil, errors.New("the private key is encrypted; tubscope reads only unencrypted keys, as Foolscap writes them")
		}
		return nil, errors.New("no private key block")
	}
	if n := rsaPrivateKeyModulus(keyBlock); n != nil {
		if pub, ok := leaf.PublicKey.(*rsa.PublicKey); !ok || pub.N.Cmp(n) != 0 {
			return nil, errors.New("key does not match certificate: the RSA private key has another modulus")
		}
	}
	key, err := parsePrivateKeyBlock(keyBlock)
	if err != nil {
		return nil, err
	}
	// tls.X509KeyPair checks that the key matches the certificate.
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if _, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		return nil, fmt.Errorf("key does not match certificate: %w", err)
	}
	return &Identity{
		Cert:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		DER:   der,
		TubID: TubIDFromDER(der),
	}, nil
}

// rsaPrivateKeyModulus reads the modulus of a PKCS#1 or PKCS#8 RSA private
// key, or returns nil for any other block. x509's parse validates the key
// at a cost that grows with the cube of its size, so a crafted key of a
// megabyte would stall start-up; comparing the modulus with the
// certificate's first bounds that cost by the certificate check.
func rsaPrivateKeyModulus(b *pem.Block) *big.Int {
	der := b.Bytes
	if b.Type == "PRIVATE KEY" {
		var p8 struct {
			Version    int
			Algo       pkix.AlgorithmIdentifier
			PrivateKey []byte
		}
		if _, err := asn1.Unmarshal(der, &p8); err != nil || !p8.Algo.Algorithm.Equal(oidRSAEncryption) {
			return nil
		}
		der = p8.PrivateKey
	} else if b.Type != "RSA PRIVATE KEY" {
		return nil
	}
	// The leading fields of RSAPrivateKey (RFC 8017 A.1.2); asn1 ignores
	// the ones after.
	var head struct {
		Version int
		N       *big.Int
	}
	if _, err := asn1.Unmarshal(der, &head); err != nil {
		return nil
	}
	return head.N
}

var oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

func parsePrivateKeyBlock(b *pem.Block) (crypto.PrivateKey, error) {
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("RSA private key: %w", err)
		}
		return k, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("EC private key: %w", err)
		}
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8 private key: %w", err)
	}
	return k, nil
}

// MaxIdentityFileBytes bounds what is read of a key file; a real one is a
// few KiB, so anything larger is the wrong file.
const MaxIdentityFileBytes = 1 << 20

// LoadOrCreateIdentity is LoadOrCreateIdentityWarn without the warnings.
func LoadOrCreateIdentity(path string) (*Identity, error) {
	id, _, err := LoadOrCreateIdentityWarn(path)
	return id, err
}

// LoadOrCreateIdentityWarn loads path, or creates a new identity and writes
// it there (mode 0600) when nothing is there. Only a regular file of at most
// MaxIdentityFileBytes is read; a FIFO, device or directory is refused
// without blocking. Warnings are for the caller to print or log: a key file
// that group or others may read is used, but named in one.
func LoadOrCreateIdentityWarn(path string) (*Identity, []string, error) {
	data, mode, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		id, err := createKeyFile(path)
		return id, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	id, err := ParseIdentityPEM(data)
	if err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w", path, err)
	}
	var warnings []string
	if w := openModeWarning(path, mode); w != "" {
		warnings = append(warnings, w)
	}
	return id, warnings, nil
}

// readKeyFile reads a regular file of bounded size. It stats before opening
// so a device or FIFO is never opened at all.
func readKeyFile(path string) ([]byte, fs.FileMode, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("key file: %w", err)
	}
	if err := checkKeyFileInfo(path, st); err != nil {
		return nil, 0, err
	}
	return readRegularFile(path)
}

// readRegularFile opens path without blocking, so a FIFO swapped in since
// the Stat cannot stall start-up, and reads it only if the opened file is
// regular and small.
func readRegularFile(path string) ([]byte, fs.FileMode, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("key file: %w", err)
	}
	if err := checkKeyFileInfo(path, st); err != nil {
		return nil, 0, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxIdentityFileBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("key file %s: %w", path, err)
	}
	if len(data) > MaxIdentityFileBytes {
		return nil, 0, fmt.Errorf("key file %s grew past %d bytes while being read; a key file is a few KiB", path, MaxIdentityFileBytes)
	}
	return data, st.Mode(), nil
}

func checkKeyFileInfo(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("key file %s is %s, not a regular file: give the path of a PEM file, or of none yet to have one made", path, describeFileType(st.Mode()))
	}
	if st.Size() > MaxIdentityFileBytes {
		return fmt.Errorf("key file %s has %d bytes, over the %d-byte limit; a key file is a few KiB", path, st.Size(), MaxIdentityFileBytes)
	}
	return nil
}

func describeFileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return fmt.Sprintf("of type %v", m.Type())
}

// openModeWarning names a key file others may read (and so take the tub's
// identity from) or write (and so replace it). POSIX modes only.
func openModeWarning(path string, mode fs.FileMode) string {
	perm := mode.Perm()
	if runtime.GOOS == "windows" || perm&0o077 == 0 {
		return ""
	}
	var who []string
	if perm&0o070 != 0 {
		who = append(who, "its group")
	}
	if perm&0o007 != 0 {
		who = append(who, "others")
	}
	return fmt.Sprintf("key file %s has mode %04o, open to %s: whoever reads it can act as this tub; chmod 600 %s",
		path, perm, strings.Join(who, " and "), path)
}

// createKeyFile makes a fresh identity and writes it to path, which must
// not exist: O_EXCL will not follow a dangling symlink or overwrite a file
// that appeared meanwhile.
func createKeyFile(path string) (*Identity, error) {
	id, err := NewIdentity()
	if err != nil {
		return nil, err
	}
	out, err := id.PEM()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("key file %s: cannot create it: something is in the way (a dangling symbolic link, or a file made meanwhile)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	_, err = f.Write(out)
	// The umask may have taken the owner's bits too; set exactly 0600.
	if err == nil && runtime.GOOS != "windows" {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("key file %s: writing: %w", path, err)
	}
	return id, nil
}

// IdentityWhere generates identities until ok accepts one's tubid; tests
// use it to choose which side of a pair is master.
func IdentityWhere(ok func(tubid string) bool) (*Identity, error) {
	for i := 0; i < 10000; i++ {
		id, err := NewIdentity()
		if err != nil {
			return nil, err
		}
		if ok(id.TubID) {
			return id, nil
		}
	}
	return nil, errors.New("no identity satisfied the condition in 10000 tries")
}
