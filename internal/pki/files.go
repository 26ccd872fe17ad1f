package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// Stamp identifies the current version of files: their sizes and
// modification times. A renewal that writes new files (or, as a kubelet
// does for a Secret, swaps a directory) changes it.
func Stamp(files ...string) string {
	out := ""
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			out += fmt.Sprintf("%s:%d:%d;", f, st.Size(), st.ModTime().UnixNano())
		} else {
			out += f + ":-;"
		}
	}
	return out
}

// KeyPairFiles serves a certificate and its key from files, read again
// when they change, so that a server picks a renewed certificate up
// without a restart. It looks at the files at most once a second.
type KeyPairFiles struct {
	CertFile, KeyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
}

// Current is the certificate as the files hold it now. A pair that does
// not load (written halfway) leaves the one loaded before in place.
func (k *KeyPairFiles) Current() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cert != nil && time.Since(k.checked) < time.Second {
		return k.cert, nil
	}
	k.checked = time.Now()
	stamp := Stamp(k.CertFile, k.KeyFile)
	if k.cert != nil && stamp == k.stamp {
		return k.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(k.CertFile, k.KeyFile)
	if err != nil {
		if k.cert != nil {
			return k.cert, nil
		}
		return nil, fmt.Errorf("loading the certificate %s and key %s: %w", k.CertFile, k.KeyFile, err)
	}
	k.cert, k.stamp = &cert, stamp
	return k.cert, nil
}

// GetCertificate is Current as a tls.Config wants it.
func (k *KeyPairFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.Current()
}

// ClientTLS is the TLS configuration of a caller of a cluster's servers:
// their certificate must be the cluster CA's (caPEM) and name serverName.
func ClientTLS(caPEM []byte, serverName string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the cluster's CA is not a PEM certificate")
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// HTTPSClient is an HTTP client of a cluster's HTTPS servers (ClientTLS),
// each request limited to timeout.
func HTTPSClient(caPEM []byte, serverName string, timeout time.Duration) (*http.Client, error) {
	cfg, err := ClientTLS(caPEM, serverName)
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}}, nil
}
