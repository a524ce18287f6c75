package scenario

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// finlessConn is a connection across a partition: closing it locally
// sends no FIN, so the peer keeps waiting, as when the network dropped
// everything. Reads in progress are woken by an expired deadline; the pipe
// itself closes when the peer closes its end.
type finlessConn struct {
	net.Conn
	once   sync.Once
	closed atomic.Bool
}

func (c *finlessConn) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		_ = c.Conn.SetDeadline(time.Unix(1, 0))
	})
	return nil
}

func (c *finlessConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(p)
	if c.closed.Load() {
		return n, net.ErrClosed
	}
	return n, err
}

func (c *finlessConn) Write(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *finlessConn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	return c.Conn.SetDeadline(t)
}

func (c *finlessConn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *finlessConn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	return c.Conn.SetWriteDeadline(t)
}
