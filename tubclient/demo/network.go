package demo

import (
	"context"
	"fmt"
	"net"

	"github.com/tubscope/tubscope/tubclient"
)

// Network carries the demo's connections. Start uses loopback TCP when
// Options.Network is nil; tests pass an in-memory network so the whole
// demo runs inside a testing/synctest bubble on fake time.
type Network interface {
	// Listen opens queen i's listener and names the hint its FURL
	// advertises.
	Listen(i int) (net.Listener, tubclient.Hint, error)
	// Dial opens a client's connection to addr ("host:port" of a hint).
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
}

// loopback is the real network: each queen on its own 127.0.0.1 port.
type loopback struct{ dialer net.Dialer }

func (loopback) Listen(int) (net.Listener, tubclient.Hint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, tubclient.Hint{}, err
	}
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		ln.Close()
		return nil, tubclient.Hint{}, fmt.Errorf("listener address %s is not TCP", ln.Addr())
	}
	return ln, tubclient.Hint{Host: addr.IP.String(), Port: addr.Port}, nil
}

func (l loopback) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return l.dialer.DialContext(ctx, network, addr)
}
