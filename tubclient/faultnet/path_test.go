package faultnet

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

func TestPathBlackHoleAllOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	servers := NewPath(nil)
	fl := &Listener{Listener: ln, Path: servers}
	defer fl.Close()
	clients := NewPath(rand.New(rand.NewPCG(1, 1)))
	d := &Dialer{Path: clients}

	var dialed []*Conn
	var accepted []net.Conn
	for range 2 {
		c, err := d.Dial(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dialed = append(dialed, c)
		s, err := fl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*Conn); !ok {
			t.Fatalf("Accept returned %T, want *Conn", s)
		}
		defer s.Close()
		accepted = append(accepted, s)
	}
	if got := clients.Conns(); len(got) != 2 || got[0] != dialed[0] || got[1] != dialed[1] {
		t.Fatalf("client Conns = %v, want the two dialed, oldest first", got)
	}
	if got := servers.Conns(); len(got) != 2 {
		t.Fatalf("server Conns = %d, want 2", len(got))
	}

	clients.BlackHoleAll()
	for i, c := range dialed {
		if f := c.Faults(); f != "black-hole" {
			t.Fatalf("conn %d Faults = %q", i, f)
		}
		if _, err := c.Write([]byte("lost")); err != nil {
			t.Fatal(err)
		}
		expectSilence(t, accepted[i])
	}

	clients.RestoreAll()
	if _, err := dialed[1].Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	readExactly(t, accepted[1], "back")

	dialed[0].Close()
	if got := clients.Conns(); len(got) != 1 || got[0] != dialed[1] {
		t.Fatalf("after Close, Conns = %v", got)
	}
	dialed[1].Reset()
	if got := clients.Conns(); len(got) != 0 {
		t.Fatalf("after Reset, Conns = %v", got)
	}
}

func TestDialerReportsDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := NewPath(nil)
	d := &Dialer{Path: p}
	if c, err := d.DialContext(context.Background(), "tcp", addr); err == nil || c != nil {
		t.Fatalf("DialContext to a closed port = %v, %v", c, err)
	}
	if len(p.Conns()) != 0 {
		t.Fatal("a failed dial was registered")
	}
}

func TestPathFlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPath(nil)
		x1, y1 := net.Pipe()
		defer y1.Close()
		old := p.Wrap(x1)
		defer old.Close()

		p.Flap(time.Second)
		if f := old.Faults(); f != "black-hole" {
			t.Fatalf("old Faults during outage = %q", f)
		}
		time.Sleep(500 * time.Millisecond)
		x2, y2 := net.Pipe()
		defer y2.Close()
		mid := p.Wrap(x2)
		defer mid.Close()
		if f := mid.Faults(); f != "black-hole" {
			t.Fatalf("Conn made during outage: Faults = %q", f)
		}

		time.Sleep(600 * time.Millisecond)
		if f := mid.Faults(); f != "" {
			t.Fatalf("Conn made during outage, after it: Faults = %q", f)
		}
		if f := old.Faults(); f != "black-hole" {
			t.Fatalf("old Conn after outage: Faults = %q, want it to stay dead", f)
		}
		x3, y3 := net.Pipe()
		defer y3.Close()
		late := p.Wrap(x3)
		defer late.Close()
		if f := late.Faults(); f != "" {
			t.Fatalf("Conn made after outage: Faults = %q", f)
		}
		go y2.Write([]byte("hi"))
		readExactly(t, mid, "hi")
		expectSilence(t, y1)
	})
}

func TestPathFlapAgainKillsLastOutagesConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPath(nil)
		p.Flap(time.Second)
		x, y := net.Pipe()
		defer y.Close()
		born := p.Wrap(x)
		defer born.Close()
		time.Sleep(500 * time.Millisecond)
		p.Flap(time.Second) // born is now an old Conn
		time.Sleep(2 * time.Second)
		if f := born.Faults(); f != "black-hole" {
			t.Fatalf("Faults = %q, want black-hole", f)
		}
	})
}

func TestPathDefaultFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPath(nil)
		p.SetDefault(func(c *Conn) { c.DropAfter(Outbound, 0) })
		x, y := net.Pipe()
		defer y.Close()
		c := p.Wrap(x)
		if f := c.Faults(); f != "out dark" {
			t.Fatalf("Faults = %q", f)
		}
		c.Write([]byte("gone"))
		y.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := y.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("peer Read = %v, want a deadline error", err)
		}
		c.Close()
		p.SetDefault(nil)
		x, y = net.Pipe()
		defer y.Close()
		c = p.Wrap(x)
		defer c.Close()
		if f := c.Faults(); f != "" {
			t.Fatalf("Faults after SetDefault(nil) = %q", f)
		}
	})
}
