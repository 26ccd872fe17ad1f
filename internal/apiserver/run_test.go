package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/testenv"
)

// TestRun starts the apiserver as `postgres-operator apiserver` does: it
// bootstraps the admin, makes its certificate, serves HTTPS that a client
// trusting ca.crt of pgo-apiserver-tls can verify, and stops with its
// context.
func TestRun(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}}); err != nil {
		t.Fatal(err)
	}
	s := New(env.Client, operatorNS, logr.Discard())

	// Bootstrap makes one admin, once.
	for range 2 {
		if err := s.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	users, err := s.listPrefixed(ctx, pgoapi.PgouserSecretPrefix)
	if err != nil || len(users) != 1 || users[0].Name != "pgouser-admin" {
		t.Fatalf("pgo users after bootstrap: %v %v", users, err)
	}
	initial := &corev1.Secret{}
	if err := env.Client.Get(ctx, objectKey(operatorNS, pgoapi.InitialAdminSecret), initial); err != nil {
		t.Fatal(err)
	}
	password := string(initial.Data[pgoapi.KeyPassword])
	if !checkPassword(string(users[0].Data[pgoapi.KeyPassword]), password) || strings.Contains(string(users[0].Data[pgoapi.KeyPassword]), password) {
		t.Fatal("the admin's stored password does not match the initial one, or is in clear")
	}

	// The certificate: made once, kept, and renewed from the same CA for
	// a new address.
	if _, err := s.certificate(ctx, []string{"127.0.0.9"}); err != nil {
		t.Fatal(err)
	}
	first := &corev1.Secret{}
	if err := env.Client.Get(ctx, objectKey(operatorNS, pgoapi.TLSSecret), first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.certificate(ctx, []string{"127.0.0.9"}); err != nil {
		t.Fatal(err)
	}
	same := &corev1.Secret{}
	_ = env.Client.Get(ctx, objectKey(operatorNS, pgoapi.TLSSecret), same)
	if same.ResourceVersion != first.ResourceVersion {
		t.Error("the certificate was made again for the same address")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, Options{Address: addr, Hosts: []string{"pgo.example.com"}}) }()

	renewed := &corev1.Secret{}
	deadline := time.Now().Add(20 * time.Second)
	var resp *http.Response
	for {
		if err := env.Client.Get(ctx, objectKey(operatorNS, pgoapi.TLSSecret), renewed); err == nil && renewed.ResourceVersion != first.ResourceVersion {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(renewed.Data[naming.KeyCACert])
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
			req, _ := http.NewRequest("GET", "https://"+addr+pgoapi.PathVersion, nil)
			req.SetBasicAuth(pgoapi.AdminUser, password)
			if resp, err = c.Do(req); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the apiserver does not answer over verified TLS on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var v pgoapi.VersionResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil || v.Version == "" || resp.Header.Get(pgoapi.HeaderServerVersion) == "" {
		t.Errorf("version over HTTPS: %d %s", resp.StatusCode, body)
	}
	if string(renewed.Data[naming.KeyCACert]) != string(first.Data[naming.KeyCACert]) {
		t.Error("a new address changed the CA: clients would have to trust a new one")
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestServingCertificateIsRenewed: once its certificate is past two thirds
// of its life, the running apiserver issues a new one from the same CA and
// serves it, with no restart.
func TestServingCertificateIsRenewed(t *testing.T) {
	env := testenv.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}}); err != nil {
		t.Fatal(err)
	}
	s := New(env.Client, operatorNS, logr.Discard())
	var mu sync.Mutex
	now := time.Now()
	s.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	s.RenewCheck = 100 * time.Millisecond
	get, err := s.servingCertificate(ctx, "", "", []string{"127.0.0.9"})
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		c, err := get(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	first := serial()
	time.Sleep(time.Second)
	if serial() != first {
		t.Fatal("the certificate changed before it was due")
	}
	mu.Lock()
	now = now.Add(pki.LeafValidity * 2 / 3)
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for serial() == first {
		if time.Now().After(deadline) {
			t.Fatal("the certificate was not renewed at two thirds of its life")
		}
		time.Sleep(50 * time.Millisecond)
	}
	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, objectKey(operatorNS, pgoapi.TLSSecret), secret); err != nil {
		t.Fatal(err)
	}
	if err := pki.Verify(secret.Data["ca.crt"], secret.Data["tls.crt"], "127.0.0.9", x509.ExtKeyUsageServerAuth, s.Now()); err != nil {
		t.Errorf("the renewed certificate: %v", err)
	}
}
