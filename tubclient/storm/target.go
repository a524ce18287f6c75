package storm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/tubscope/tubscope/tubclient"
)

// A storm is a load test. Unless its operator says they own the target,
// it only goes where a mistake stays on their own network: loopback,
// private (RFC 1918), unique-local (RFC 4193) and link-local addresses,
// and hostnames that resolve only to those.

// ErrPublicTarget is wrapped by the error for a target outside those
// ranges.
var ErrPublicTarget = errors.New("not a loopback or private address")

// addressClass names the range an address is in, "" when it is in none a
// storm may target without --i-own-this-target.
func addressClass(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate() && a.Is4():
		return "private"
	case a.IsPrivate():
		return "unique-local"
	case a.IsLinkLocalUnicast():
		return "link-local"
	}
	return ""
}

// TargetHint is one location hint of the target and where it leads.
type TargetHint struct {
	Hint  string       // as the FURL has it, "tcp:host:port"
	Addrs []netip.Addr // what the host resolved to
	Class string       // the address range, "" when outside the allowed ones
}

// Lookup resolves a host name; net.DefaultResolver.LookupNetIP with
// network "ip" is the usual one.
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckTarget resolves every TCP hint of f and refuses the target when any
// of them leads outside loopback and private addresses, unless own is set
// (the operator's --i-own-this-target). It returns what it found either
// way, for the plan.
func CheckTarget(ctx context.Context, f tubclient.FURL, own bool, lookup Lookup) ([]TargetHint, error) {
	if err := f.Usable(); err != nil {
		return nil, err
	}
	if lookup == nil {
		lookup = defaultLookup
	}
	var out []TargetHint
	var bad []string
	for _, h := range f.Hints {
		th := TargetHint{Hint: h.String()}
		if a, err := netip.ParseAddr(h.Host); err == nil {
			th.Addrs = []netip.Addr{a}
		} else {
			addrs, err := lookup(ctx, h.Host)
			if err != nil {
				return out, fmt.Errorf("target hint %s: %w", th.Hint, err)
			}
			if len(addrs) == 0 {
				return out, fmt.Errorf("target hint %s: the name resolves to no address", th.Hint)
			}
			th.Addrs = addrs
		}
		th.Class = addressClass(th.Addrs[0])
		for _, a := range th.Addrs {
			if c := addressClass(a); c == "" {
				th.Class = ""
				bad = append(bad, fmt.Sprintf("%s (%s)", th.Hint, a))
				break
			} else if c != th.Class {
				th.Class = "mixed private"
			}
		}
		out = append(out, th)
	}
	if len(bad) > 0 && !own {
		return out, fmt.Errorf("refusing to storm %s: %w; a storm only targets loopback, private (RFC 1918), "+
			"unique-local (RFC 4193) and link-local addresses unless --i-own-this-target is given", strings.Join(bad, ", "), ErrPublicTarget)
	}
	return out, nil
}

// guardDial is a net.Dialer Control function that refuses to connect
// outside the allowed ranges. It checks the address actually dialled, so a
// name that resolved to a private address when the storm was planned
// cannot lead elsewhere later.
func guardDial(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("storm: dialling %s: %w", address, err)
	}
	if addressClass(a) == "" {
		return fmt.Errorf("storm: refusing to dial %s: %w (--i-own-this-target lifts this)", address, ErrPublicTarget)
	}
	return nil
}

// allLoopbackV4 reports whether every hint leads only to IPv4 loopback,
// where each client process can take a source address of its own.
func allLoopbackV4(hints []TargetHint) bool {
	if len(hints) == 0 {
		return false
	}
	for _, h := range hints {
		for _, a := range h.Addrs {
			a = a.Unmap()
			if !a.Is4() || !a.IsLoopback() {
				return false
			}
		}
	}
	return true
}
