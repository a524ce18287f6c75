package tubclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
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

// ParseIdentityPEM reads a certificate and private key in either order;
// PKCS#8, PKCS#1 (RSA) and SEC 1 (EC) keys are accepted, so a Foolscap
// tub.pem loads as it is.
func ParseIdentityPEM(data []byte) (*Identity, error) {
	var der []byte
	var key crypto.PrivateKey
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
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS#8 private key: %w", err)
			}
			key = k
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("RSA private key: %w", err)
			}
			key = k
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("EC private key: %w", err)
			}
			key = k
		}
	}
	if der == nil {
		return nil, errors.New("no CERTIFICATE block")
	}
	if key == nil {
		return nil, errors.New("no private key block")
	}
	id, err := identityFrom(der, key)
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
	return id, nil
}

// LoadOrCreateIdentity loads path, or creates a new identity and writes it
// there (mode 0600) when the file does not exist.
func LoadOrCreateIdentity(path string) (*Identity, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		id, err := ParseIdentityPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	id, err := NewIdentity()
	if err != nil {
		return nil, err
	}
	out, err := id.PEM()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return nil, err
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
