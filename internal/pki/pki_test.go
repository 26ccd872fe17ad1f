package pki

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	ca, err := NewCA(now)
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
	client, err := IssueClient(ca, "replicator", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ca.Cert, client.Cert, "", x509.ExtKeyUsageClientAuth, now); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if err := Verify(ca.Cert, client.Cert, "", x509.ExtKeyUsageClientAuth, now.Add(LeafValidity+time.Hour)); err == nil {
		t.Error("a certificate is valid after it expired")
	}
	other, _ := NewCA(now)
	if err := Verify(other.Cert, server.Cert, "hippo", x509.ExtKeyUsageServerAuth, now); err == nil {
		t.Error("a certificate verifies against another CA")
	}
	if !strings.Contains(string(server.Key), "EC PRIVATE KEY") {
		t.Error("the key is not a PEM EC key")
	}
}
