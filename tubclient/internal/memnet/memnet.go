// Package memnet is an in-memory network for tests that run tubs inside
// testing/synctest bubbles, where real sockets would keep the fake clock
// from advancing.
package memnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Network is an in-memory network usable inside a synctest bubble. Several addresses may
// name one listener (the "127.0.0.1:P" and "localhost:P" of a real host).
// Every dialed connection gets its own local address, so the two ends of a
// connection can be matched across tubs.
type Network struct {
	mu    sync.Mutex
	lns   map[string]*listener
	ports int
}

type listener struct {
	addr  pipeAddr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// Listen registers one listener under every address in addrs.
func (n *Network) Listen(addrs ...string) net.Listener {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lns == nil {
		n.lns = make(map[string]*listener)
	}
	l := &listener{addr: pipeAddr(addrs[0]), conns: make(chan net.Conn), done: make(chan struct{})}
	for _, a := range addrs {
		n.lns[a] = l
	}
	return l
}

// Dialer returns a Dial function for the host named host (its
// connections get local addresses host:40001, host:40002, …).
func (n *Network) Dialer(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		n.mu.Lock()
		l := n.lns[addr]
		n.ports++
		local := pipeAddr(fmt.Sprintf("%s:%d", host, 40000+n.ports))
		n.mu.Unlock()
		if l == nil {
			return nil, errors.New("connection refused")
		}
		a, b := Pipe()
		client := &addrConn{Conn: a, local: local, remote: pipeAddr(addr)}
		server := &addrConn{Conn: b, local: pipeAddr(addr), remote: local}
		select {
		case l.conns <- server:
			return client, nil
		case <-l.done:
		case <-ctx.Done():
		}
		client.Close()
		server.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errors.New("connection refused")
	}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *listener) Addr() net.Addr { return l.addr }

// addrConn gives a pipe end distinct addresses.
type addrConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *addrConn) LocalAddr() net.Addr  { return c.local }
func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// Pipe is net.Pipe with a queue each way, so a write returns before
// the peer reads, as on TCP: both tubs write their hello before reading
// theirs, which would deadlock on a bare net.Pipe.
func Pipe() (net.Conn, net.Conn) {
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	go relay(a2, b1)
	go relay(b1, a2)
	return a1, b2
}

// relay copies src to dst through a bounded queue and closes both when
// either end goes away.
func relay(src, dst net.Conn) {
	q := make(chan []byte, 256)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 4096)
			n, err := src.Read(buf)
			if n > 0 {
				q <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	for p := range q {
		if _, err := dst.Write(p); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	for range q {
	}
}
