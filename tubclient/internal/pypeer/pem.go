package pypeer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// WriteFoolscapPEM writes a certificate file in Foolscap's layout (the
// certificate PEM followed by the PKCS#8 private key PEM), so a test can give
// a Python peer an identity it chose.
func WriteFoolscapPEM(path string, certDER []byte, key crypto.Signer) error {
	if _, err := x509.ParseCertificate(certDER); err != nil {
		return fmt.Errorf("pypeer: bad certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pypeer: marshal key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	return os.WriteFile(path, data, 0o600)
}

// NewPEM writes a fresh self-signed ECDSA P-256 identity to path in
// Foolscap's layout and returns its tubid.
func NewPEM(path string) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", err
	}
	if err := WriteFoolscapPEM(path, der, key); err != nil {
		return "", err
	}
	return TubID(der), nil
}

// TubID is Foolscap's name for a certificate: lowercase unpadded base32 of
// the SHA-1 of its DER bytes.
func TubID(certDER []byte) string {
	sum := sha1.Sum(certDER)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
}
