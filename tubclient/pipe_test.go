package tubclient

import (
	"context"
	"errors"
	"net"
	"sync"
)

// pipeNet is an in-memory network for tests inside synctest bubbles:
// Listen gives a listener, Dial connects to it over net.Pipe.
type pipeNet struct {
	mu  sync.Mutex
	lns map[string]*pipeListener
}

type pipeListener struct {
	addr  pipeAddr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

func (n *pipeNet) listen(addr string) *pipeListener {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.lns == nil {
		n.lns = make(map[string]*pipeListener)
	}
	l := &pipeListener{addr: pipeAddr(addr), conns: make(chan net.Conn), done: make(chan struct{})}
	n.lns[addr] = l
	return l
}

func (n *pipeNet) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.lns[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, errors.New("connection refused")
	}
	a, b := bufferedPipe()
	select {
	case l.conns <- b:
		return a, nil
	case <-l.done:
		return nil, errors.New("connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return l.addr }

// bufferedPipe is net.Pipe with a queue in each direction, so that a write
// returns before the peer reads, as on TCP. Both sides writing their hello
// before reading would deadlock on a bare net.Pipe.
func bufferedPipe() (net.Conn, net.Conn) {
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	go relay(a2, b1)
	go relay(b1, a2)
	return a1, b2
}

// relay copies src to dst through a queue, closing dst at src's end.
func relay(src, dst net.Conn) {
	q := make(chan []byte, 1024)
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
