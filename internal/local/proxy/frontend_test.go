package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// backend is a TCP server on a loopback address that greets each connection
// with its name, then echoes.
func backend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				_, _ = io.WriteString(conn, name+"\n")
				if _, err := io.Copy(conn, conn); err == nil {
					_ = conn.(*net.TCPConn).CloseWrite()
				}
			})
		}
	})
	return ln.Addr().String()
}

func hello(t *testing.T, addr string) (string, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	_ = conn.SetReadDeadline(time.Time{})
	return strings.TrimSpace(line), conn
}

// A frontend with real TCP connections, its routes set by hand.
func TestFrontend(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	f, err := listen(ctx, "127.0.0.1:0", Route{Backends: []string{a}}, time.Second, &wg)
	if err != nil {
		t.Fatal(err)
	}
	addr := f.ln.Addr().String()

	name, conn := hello(t, addr)
	if name != "a" {
		t.Fatalf("greeting %q, want a", name)
	}
	if _, err := io.WriteString(conn, "ping"); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(conn); err != nil || string(rest) != "ping" {
		t.Fatalf("echo %q, %v; want ping and the end", rest, err)
	}
	conn.Close()

	// Round robin over two backends.
	f.update(Route{Backends: []string{a, b}})
	seen := map[string]int{}
	for range 4 {
		name, conn := hello(t, addr)
		seen[name]++
		conn.Close()
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Fatalf("connections per backend %v, want two each", seen)
	}

	// A backend that leaves: its connections close, the others stay.
	var toA, toB net.Conn
	for toA == nil || toB == nil {
		name, conn := hello(t, addr)
		if name == "a" && toA == nil {
			toA = conn
		} else if name == "b" && toB == nil {
			toB = conn
		} else {
			conn.Close()
		}
	}
	f.update(Route{Backends: []string{b}})
	_ = toA.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := toA.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the connection to a backend that left stays open: %v", err)
	}
	if _, err := io.WriteString(toB, "x"); err != nil {
		t.Fatal(err)
	}
	_ = toB.SetReadDeadline(time.Now().Add(2 * time.Second))
	if buf := make([]byte, 1); func() error { _, err := io.ReadFull(toB, buf); return err }() != nil || buf[0] != 'x' {
		t.Fatal("the connection to a remaining backend broke")
	}

	// No backend: accepted and closed.
	f.update(Route{})
	name, conn = hello(t, addr)
	conn.Close()
	if name != "" {
		t.Fatalf("greeting %q without a backend", name)
	}
	// A backend that refuses connections: the next one is tried.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := ln.Addr().String()
	ln.Close()
	f.update(Route{Backends: []string{refusing, b}})
	for range 4 {
		name, conn := hello(t, addr)
		conn.Close()
		if name != "b" {
			t.Fatalf("greeting %q, want b after a refusing backend", name)
		}
	}

	f.close()
	if _, err := toB.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("a connection stays open after the frontend closed: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("the frontend still listens after close")
	}
	wg.Wait()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
