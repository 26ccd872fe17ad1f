package apiserver

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pki"
)

func TestIssueTLSData(t *testing.T) {
	now := time.Now()
	names := serverNames("pgo", []string{"127.0.3.7", "api.example.com", "0.0.0.0", ""})
	data, err := issueTLSData(nil, names, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.Verify(data[naming.KeyCACert], data[corev1.TLSCertKey], "", x509.ExtKeyUsageServerAuth, now); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pgo-apiserver.pgo.svc", "localhost", "127.0.0.1", "127.0.3.7", "api.example.com"} {
		if !certCovers(data[corev1.TLSCertKey], []string{n}, now) {
			t.Errorf("the certificate does not cover %s", n)
		}
	}
	if certCovers(data[corev1.TLSCertKey], []string{"127.0.3.8"}, now) || certCovers(data[corev1.TLSCertKey], nil, now.Add(400*24*time.Hour)) {
		t.Error("certCovers is too lenient")
	}
	// A new address: a new certificate from the same CA.
	again, err := issueTLSData(&pki.Pair{Cert: data[naming.KeyCACert], Key: data[keyCAKey]}, append(names, "127.0.3.8"), now)
	if err != nil {
		t.Fatal(err)
	}
	if string(again[naming.KeyCACert]) != string(data[naming.KeyCACert]) {
		t.Error("the CA changed")
	}
	block, _ := pem.Decode(again[corev1.TLSCertKey])
	cert, _ := x509.ParseCertificate(block.Bytes)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(data[naming.KeyCACert])
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.3.8"}); err != nil {
		t.Errorf("the new certificate: %v", err)
	}
}
