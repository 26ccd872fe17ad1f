package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
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
const (
	keyCAKey = "ca.key"
	// renewBefore: a certificate that expires sooner is replaced.
	renewBefore = 30 * 24 * time.Hour
)

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

// certificate loads the given files, or the certificate of the TLS Secret,
// creating or renewing it as needed.
func (s *Server) certificate(ctx context.Context, certFile, keyFile string, hosts []string) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return tls.Certificate{}, errors.New("--tls-cert-file and --tls-key-file go together")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("loading the certificate %s and key %s: %w", certFile, keyFile, err)
		}
		return cert, nil
	}
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
		if certCovers(secret.Data[corev1.TLSCertKey], names, s.Now().Add(renewBefore)) {
			return tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
		}
		var ca *pki.Pair
		if len(secret.Data[naming.KeyCACert]) > 0 && len(secret.Data[keyCAKey]) > 0 && certCovers(secret.Data[naming.KeyCACert], nil, s.Now().Add(renewBefore)) {
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

// certCovers reports whether a PEM certificate is valid until at least
// `until` and names every one of names.
func certCovers(pemCert []byte, names []string, until time.Time) bool {
	block, _ := pem.Decode(pemCert)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.NotAfter.Before(until) {
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
		pair, err := pki.NewCA(now)
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
