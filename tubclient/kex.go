package tubclient

import (
	"crypto/tls"
	"fmt"
)

// KeyExchange names the TLS 1.3 key exchange a tub offers when it dials.
// Answering, a tub with a classical choice accepts both classical groups,
// so any two tubs agree on one, and the dialer's offer picks the group.
// The certificate (and so the tubid) does not depend on it.
type KeyExchange string

const (
	// KexHybrid is Go's default: X25519MLKEM768 first, which resists a
	// future quantum attacker recording today's traffic, with classical
	// groups after it for older peers. It costs about a third more CPU per
	// handshake than P-256 alone.
	KexHybrid KeyExchange = "hybrid"
	// KexP256 offers ECDHE over P-256: the cheapest handshake in Go, for
	// reconnect storms and load tests.
	KexP256 KeyExchange = "p256"
	// KexX25519 offers X25519, the group Foolscap's OpenSSL negotiates.
	KexX25519 KeyExchange = "x25519"
)

// KeyExchanges lists every KeyExchange name, the default first.
func KeyExchanges() []string {
	return []string{string(KexHybrid), string(KexP256), string(KexX25519)}
}

// ParseKeyExchange checks a name from a flag; "" is the default.
func ParseKeyExchange(s string) (KeyExchange, error) {
	switch k := KeyExchange(s); k {
	case "":
		return KexHybrid, nil
	case KexHybrid, KexP256, KexX25519:
		return k, nil
	}
	return "", fmt.Errorf("unknown key exchange %q (known: %v)", s, KeyExchanges())
}

// CurvePreferences is the tls.Config setting for k on the dialing (client)
// or answering side; nil is Go's default. Go orders groups itself, so a
// client offers exactly one group to be sure of it.
func (k KeyExchange) CurvePreferences(server bool) []tls.CurveID {
	switch {
	case k != KexP256 && k != KexX25519:
		return nil
	case server:
		return []tls.CurveID{tls.X25519, tls.CurveP256}
	case k == KexP256:
		return []tls.CurveID{tls.CurveP256}
	}
	return []tls.CurveID{tls.X25519}
}

// String names k as flags and the table spell it.
func (k KeyExchange) String() string {
	if k == "" {
		return string(KexHybrid)
	}
	return string(k)
}

// Set makes *KeyExchange a flag.Value, checked as it is parsed.
func (k *KeyExchange) Set(s string) error {
	v, err := ParseKeyExchange(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}
