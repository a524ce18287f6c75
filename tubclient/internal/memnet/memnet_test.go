package memnet

import (
	"context"
	"io"
	"net"
	"testing"
	"testing/synctest"
)

func TestDialAcceptAndAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n Network
		ln := n.Listen("server:1", "localhost:1")
		defer ln.Close()
		dial := n.Dialer("client")
		ctx := context.Background()
		accepted := make(chan net.Conn)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()
		if _, err := dial(ctx, "tcp", "nowhere:1"); err == nil {
			t.Fatal("dialing an unknown address succeeded")
		}
		a, err := dial(ctx, "tcp", "localhost:1")
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		// A write returns before the peer reads, as on TCP.
		if _, err := a.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("read %q, %v", buf, err)
		}
		if a.LocalAddr().String() != s.RemoteAddr().String() || s.LocalAddr().String() != "localhost:1" {
			t.Fatalf("addresses: client %v→%v, server %v→%v", a.LocalAddr(), a.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
		}
		b, _ := dial(ctx, "tcp", "server:1")
		s2 := <-accepted
		if b.LocalAddr().String() == a.LocalAddr().String() {
			t.Fatal("two connections share a local address")
		}
		a.Close()
		if _, err := s.Read(buf); err != io.EOF {
			t.Fatalf("read after the peer closed: %v, want EOF", err)
		}
		b.Close()
		s2.Close()
		s.Close()
		ln.Close()
		if _, err := dial(ctx, "tcp", "server:1"); err == nil {
			t.Fatal("dialing a closed listener succeeded")
		}
	})
}
