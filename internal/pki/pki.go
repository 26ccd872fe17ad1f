// Package pki issues the certificates pgo gives clusters: a CA per cluster,
// which issues the cluster's server certificate and the replication user's
// client certificate, each naming the cluster. Keys are ECDSA P-256;
// everything is PEM.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Validity periods.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
)

// Pair is a PEM certificate and its PEM private key.
type Pair struct {
	Cert, Key []byte
}

// NewCA creates a self-signed CA named name.
func NewCA(name string, now time.Time) (Pair, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"pgo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	return issue(tmpl, nil, nil)
}

// Leaf describes a certificate to issue.
type Leaf struct {
	// CommonName is the server's name, or the database user a client
	// certificate authenticates as.
	CommonName string
	// Unit names what the certificate belongs to, such as a cluster
	// ("<namespace>/<cluster>").
	Unit string
	// Names are a server's DNS names and IP addresses.
	Names []string
	// Server certificates also serve as clients (a member connecting to
	// another); client certificates are for clients only.
	Server bool
	// Lifetime is LeafValidity when zero.
	Lifetime time.Duration
}

// Issue issues a leaf certificate from ca. Its start is set back a little
// (a tenth of its life, at most an hour) for clocks that lag.
func Issue(ca Pair, l Leaf, now time.Time) (Pair, error) {
	life := l.Lifetime
	if life <= 0 {
		life = LeafValidity
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: l.CommonName, Organization: []string{"pgo"}},
		NotBefore:   now.Add(-min(time.Hour, life/10)),
		NotAfter:    now.Add(life),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if l.Unit != "" {
		tmpl.Subject.OrganizationalUnit = []string{l.Unit}
	}
	if l.Server {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	for _, n := range l.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return issueLeaf(ca, tmpl)
}

// IssueServer issues a server certificate from ca for names: DNS names,
// and IP addresses for the names that are addresses.
func IssueServer(ca Pair, commonName string, names []string, now time.Time) (Pair, error) {
	return Issue(ca, Leaf{CommonName: commonName, Names: names, Server: true}, now)
}

// RenewAt is when a certificate is due for renewal: at two thirds of its
// life.
func RenewAt(cert []byte) (time.Time, error) {
	c, err := parseCert(cert)
	if err != nil {
		return time.Time{}, err
	}
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3), nil
}

// Current tells whether cert was issued by ca and is not yet due for
// renewal at now.
func Current(ca, cert []byte, now time.Time) bool {
	c, err := parseCert(cert)
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return false
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: now}); err != nil {
		return false
	}
	renew, _ := RenewAt(cert)
	return now.Before(renew)
}

func parseCert(cert []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(cert)
	if b == nil {
		return nil, errors.New("the certificate is not PEM")
	}
	return x509.ParseCertificate(b.Bytes)
}

func issueLeaf(ca Pair, tmpl *x509.Certificate) (Pair, error) {
	caCert, caKey, err := parse(ca)
	if err != nil {
		return Pair{}, err
	}
	return issue(tmpl, caCert, caKey)
}

func issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("generating a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Pair{}, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return Pair{}, fmt.Errorf("creating the certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func parse(p Pair) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(p.Cert)
	kb, _ := pem.Decode(p.Key)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("the CA is not a PEM certificate and key")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the CA key: %w", err)
	}
	return cert, key, nil
}

// Verify checks that cert was issued by ca for a DNS name (any when empty)
// and usage, at a time.
func Verify(ca, cert []byte, dnsName string, usage x509.ExtKeyUsage, at time.Time) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return errors.New("the CA is not PEM")
	}
	c, err := parseCert(cert)
	if err != nil {
		return err
	}
	_, err = c.Verify(x509.VerifyOptions{Roots: pool, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: at})
	return err
}
