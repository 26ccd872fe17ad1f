package dns

import (
	"fmt"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t *testing.T, name string, typ dnsmessage.Type, edns bool) []byte {
	t.Helper()
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 42, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}},
	}
	if edns {
		var h dnsmessage.ResourceHeader
		if err := h.SetEDNS0(4096, dnsmessage.RCodeSuccess, false); err != nil {
			t.Fatal(err)
		}
		m.Additionals = []dnsmessage.Resource{{Header: h, Body: &dnsmessage.OPTResource{}}}
	}
	out, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parse(t *testing.T, b []byte) dnsmessage.Message {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpacking the answer: %v", err)
	}
	return m
}

func TestHandle(t *testing.T) {
	s := &Server{zone: zone{domain: "cluster.local", ttl: 5}}
	name := "db-all.ns.svc.cluster.local."

	t.Run("SERVFAIL until the caches are filled", func(t *testing.T) {
		m := parse(t, s.handle(query(t, name, dnsmessage.TypeA, false), true))
		if m.RCode != dnsmessage.RCodeServerFailure || m.ID != 42 || !m.Response {
			t.Fatalf("header %+v, want a SERVFAIL answer to 42", m.Header)
		}
	})

	// A headless Service with 60 endpoints: more than 512 bytes of answer.
	c := testCluster()
	for i := range 60 {
		c.pods = append(c.pods, testPod(fmt.Sprintf("many-%d", i), fmt.Sprintf("127.2.0.%d", i+1), true, "", ""))
	}
	cluster := Cluster(c)
	s.cluster.Store(&cluster)

	t.Run("truncated over UDP without EDNS0", func(t *testing.T) {
		m := parse(t, s.handle(query(t, name, dnsmessage.TypeA, false), true))
		if !m.Truncated || len(m.Answers) != 0 || m.RCode != dnsmessage.RCodeSuccess {
			t.Fatalf("header %+v with %d answers, want truncated and empty", m.Header, len(m.Answers))
		}
	})
	t.Run("whole with EDNS0", func(t *testing.T) {
		m := parse(t, s.handle(query(t, name, dnsmessage.TypeA, true), true))
		if m.Truncated || len(m.Answers) != 62 || !m.Authoritative {
			t.Fatalf("header %+v with %d answers, want 62 authoritative", m.Header, len(m.Answers))
		}
		if n := len(m.Additionals); n != 1 || m.Additionals[0].Header.Type != dnsmessage.TypeOPT {
			t.Fatalf("additionals %v, want the OPT record", m.Additionals)
		}
	})
	t.Run("whole over TCP", func(t *testing.T) {
		m := parse(t, s.handle(query(t, name, dnsmessage.TypeA, false), false))
		if m.Truncated || len(m.Answers) != 62 {
			t.Fatalf("header %+v with %d answers, want 62", m.Header, len(m.Answers))
		}
	})
	t.Run("NXDOMAIN with the SOA", func(t *testing.T) {
		m := parse(t, s.handle(query(t, "nope.ns.svc.cluster.local.", dnsmessage.TypeA, false), true))
		if m.RCode != dnsmessage.RCodeNameError || len(m.Authorities) != 1 || m.Authorities[0].Header.Type != dnsmessage.TypeSOA {
			t.Fatalf("answer %+v, want NXDOMAIN with the zone's SOA", m)
		}
	})
	t.Run("REFUSED outside the domain, not authoritative", func(t *testing.T) {
		m := parse(t, s.handle(query(t, "example.com.", dnsmessage.TypeA, false), true))
		if m.RCode != dnsmessage.RCodeRefused || m.Authoritative || len(m.Answers)+len(m.Authorities) != 0 {
			t.Fatalf("answer %+v, want an empty REFUSED", m)
		}
	})
	t.Run("FORMERR for a question that does not parse", func(t *testing.T) {
		b := query(t, name, dnsmessage.TypeA, false)
		m := parse(t, s.handle(b[:len(b)-3], true))
		if m.RCode != dnsmessage.RCodeFormatError || m.ID != 42 {
			t.Fatalf("header %+v, want FORMERR to 42", m.Header)
		}
	})
	t.Run("no answer to an answer", func(t *testing.T) {
		b := s.handle(query(t, name, dnsmessage.TypeA, false), false)
		if out := s.handle(b, true); out != nil {
			t.Fatalf("answered an answer: %v", out)
		}
	})
}
