package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pki"
)

// The apiserver's own certificate, unless one is given: a CA and a server
// certificate issued from it, kept in the Secret pgoapi.TLSSecret of the
// operator namespace (tls.crt, tls.key, ca.crt, and ca.key so that a new
// server certificate can be issued from the same CA when the apiserver's
// addresses change, e.g. a new pod IP, without clients having to trust a
// new CA). Clients trust ca.crt (PGO_CA_CERT).
const keyCAKey = "ca.key"

// serverNames are the DNS names and IP addresses the certificate covers:
// the Service, localhost, and the given hosts (such as the pod IP).
func serverNames(namespace string, hosts []string) []string {
	names := []string{pgoapi.ServiceName, pgoapi.ServiceName + "." + namespace, pgoapi.ServiceName + "." + namespace + ".svc",
		pgoapi.ServiceName + "." + namespace + ".svc.cluster.local", "localhost", "127.0.0.1", "::1"}
	for _, h := range hosts {
		if h != "" && h != "0.0.0.0" && h != "::" && !slices.Contains(names, h) {
			names = append(names, h)
		}
	}
	return names
}

// servingCertificate is what the apiserver serves, as a tls.Config's
// GetCertificate: the given files, read again when they change, or the
// certificate of the TLS Secret, renewed (and swapped in) at two thirds of
// its life while the apiserver runs.
func (s *Server) servingCertificate(ctx context.Context, certFile, keyFile string, hosts []string) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("--tls-cert-file and --tls-key-file go together")
		}
		files := &pki.KeyPairFiles{CertFile: certFile, KeyFile: keyFile}
		if _, err := files.Current(); err != nil {
			return nil, err
		}
		return files.GetCertificate, nil
	}
	cert, err := s.certificate(ctx, hosts)
	if err != nil {
		return nil, err
	}
	var current atomic.Pointer[tls.Certificate]
	current.Store(&cert)
	go func() {
		for {
			wait := min(time.Minute, s.renewCheck())
			if renew, err := pki.RenewAt(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: current.Load().Certificate[0]})); err == nil {
				wait = min(max(renew.Sub(s.Now()), time.Second), s.renewCheck())
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			cert, err := s.certificate(ctx, hosts)
			if err != nil {
				s.Log.Error(err, "renewing the apiserver's certificate")
				continue
			}
			current.Store(&cert)
		}
	}()
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return current.Load(), nil }, nil
}

// renewCheck is the longest the apiserver waits between looks at whether
// its certificate is due for renewal.
func (s *Server) renewCheck() time.Duration {
	if s.RenewCheck > 0 {
		return s.RenewCheck
	}
	return time.Hour
}

// certificate is the certificate of the TLS Secret, created or renewed as
// needed.
func (s *Server) certificate(ctx context.Context, hosts []string) (tls.Certificate, error) {
	names := serverNames(s.Namespace, hosts)
	for range 3 {
		secret := &corev1.Secret{}
		err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: pgoapi.TLSSecret}, secret)
		switch {
		case apierrors.IsNotFound(err):
			data, err := issueTLSData(nil, names, s.Now())
			if err != nil {
				return tls.Certificate{}, err
			}
			secret = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: pgoapi.TLSSecret, Namespace: s.Namespace},
				Type:       corev1.SecretTypeTLS,
				Data:       data,
			}
			if err := s.Client.Create(ctx, secret, fieldOwner); apierrors.IsAlreadyExists(err) {
				continue // another apiserver made it: use that one
			} else if err != nil {
				return tls.Certificate{}, fmt.Errorf("storing the apiserver's certificate in Secret %s: %w", pgoapi.TLSSecret, err)
			}
			s.Log.Info("created the apiserver's certificate", "secret", pgoapi.TLSSecret, "names", names)
			return tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
		case err != nil:
			return tls.Certificate{}, fmt.Errorf("reading Secret %s: %w", pgoapi.TLSSecret, err)
		}
		if certCovers(secret.Data[corev1.TLSCertKey], names, s.Now()) {
			return tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
		}
		var ca *pki.Pair
		if len(secret.Data[naming.KeyCACert]) > 0 && len(secret.Data[keyCAKey]) > 0 && certCovers(secret.Data[naming.KeyCACert], nil, s.Now()) {
			ca = &pki.Pair{Cert: secret.Data[naming.KeyCACert], Key: secret.Data[keyCAKey]}
		}
		data, err := issueTLSData(ca, names, s.Now())
		if err != nil {
			return tls.Certificate{}, err
		}
		secret.Data = data
		if err := s.Client.Update(ctx, secret, fieldOwner); apierrors.IsConflict(err) {
			continue
		} else if err != nil {
			return tls.Certificate{}, fmt.Errorf("renewing the apiserver's certificate in Secret %s: %w", pgoapi.TLSSecret, err)
		}
		s.Log.Info("renewed the apiserver's certificate", "secret", pgoapi.TLSSecret, "names", names, "newCA", ca == nil)
		return tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	}
	return tls.Certificate{}, fmt.Errorf("the Secret %s keeps changing; is another apiserver fighting over it with other addresses?", pgoapi.TLSSecret)
}

// certCovers reports whether a PEM certificate is not yet due for renewal
// at now (two thirds of its life) and names every one of names.
func certCovers(pemCert []byte, names []string, now time.Time) bool {
	block, _ := pem.Decode(pemCert)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if renew, _ := pki.RenewAt(pemCert); err != nil || !now.Before(renew) {
		return false
	}
	for _, n := range names {
		if cert.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// issueTLSData issues a server certificate for names from ca (a new CA when
// nil) and returns the Secret's data.
func issueTLSData(ca *pki.Pair, names []string, now time.Time) (map[string][]byte, error) {
	if ca == nil {
		pair, err := pki.NewCA("pgo apiserver CA", now)
		if err != nil {
			return nil, fmt.Errorf("creating the apiserver's CA: %w", err)
		}
		ca = &pair
	}
	leaf, err := pki.IssueServer(*ca, pgoapi.ServiceName, names, now)
	if err != nil {
		return nil, fmt.Errorf("issuing the apiserver's certificate: %w", err)
	}
	return map[string][]byte{
		corev1.TLSCertKey: leaf.Cert, corev1.TLSPrivateKeyKey: leaf.Key,
		naming.KeyCACert: ca.Cert, keyCAKey: ca.Key,
	}, nil
}
