package pki

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	ca, err := NewCA("pgo cluster CA app/hippo", now)
	if err != nil {
		t.Fatal(err)
	}
	server, err := IssueServer(ca, "hippo", []string{"hippo", "hippo.app.svc", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hippo.app.svc", "127.0.0.1"} {
		if err := Verify(ca.Cert, server.Cert, name, x509.ExtKeyUsageServerAuth, now); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if err := Verify(ca.Cert, server.Cert, "other.app.svc", x509.ExtKeyUsageServerAuth, now); err == nil {
		t.Error("the server certificate is valid for a name it was not issued for")
	}
	client, err := Issue(ca, Leaf{CommonName: "replicator", Unit: "app/hippo"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ca.Cert, client.Cert, "", x509.ExtKeyUsageClientAuth, now); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if err := Verify(ca.Cert, client.Cert, "", x509.ExtKeyUsageServerAuth, now); err == nil {
		t.Error("a client certificate serves as a server's")
	}
	if c, _ := parseCert(client.Cert); c.Subject.CommonName != "replicator" || len(c.Subject.OrganizationalUnit) != 1 || c.Subject.OrganizationalUnit[0] != "app/hippo" {
		t.Errorf("client certificate subject %v, want CN replicator naming its cluster", c.Subject)
	}
	if err := Verify(ca.Cert, client.Cert, "", x509.ExtKeyUsageClientAuth, now.Add(LeafValidity+time.Hour)); err == nil {
		t.Error("a certificate is valid after it expired")
	}
	other, _ := NewCA("pgo cluster CA app/other", now)
	if err := Verify(other.Cert, server.Cert, "hippo", x509.ExtKeyUsageServerAuth, now); err == nil {
		t.Error("a certificate verifies against another CA")
	}
	if !strings.Contains(string(server.Key), "EC PRIVATE KEY") {
		t.Error("the key is not a PEM EC key")
	}
}

// A certificate is renewed at two thirds of its life, and one issued by
// another CA is never current.
func TestRenewal(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	ca, _ := NewCA("a", now)
	other, _ := NewCA("b", now)
	for _, life := range []time.Duration{90 * time.Second, 24 * time.Hour, LeafValidity} {
		leaf, err := Issue(ca, Leaf{CommonName: "replicator", Lifetime: life}, now)
		if err != nil {
			t.Fatal(err)
		}
		renew, err := RenewAt(leaf.Cert)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := parseCert(leaf.Cert)
		if whole := c.NotAfter.Sub(c.NotBefore); renew.Sub(c.NotBefore) != whole*2/3 {
			t.Errorf("lifetime %s: renewal at %s of a life of %s, want two thirds", life, renew.Sub(c.NotBefore), whole)
		}
		if !c.NotAfter.Equal(now.Add(life)) || c.NotBefore.Before(now.Add(-time.Hour)) || !c.NotBefore.Before(now) {
			t.Errorf("lifetime %s: valid %s to %s", life, c.NotBefore, c.NotAfter)
		}
		if !Current(ca.Cert, leaf.Cert, renew.Add(-time.Second)) || Current(ca.Cert, leaf.Cert, renew) {
			t.Errorf("lifetime %s: current until %s, not after", life, renew)
		}
		if Current(other.Cert, leaf.Cert, now) {
			t.Errorf("lifetime %s: current by another CA", life)
		}
	}
}
