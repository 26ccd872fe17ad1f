package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
)

// TestAuth: pgo sends the pgo user from the environment or ~/.pgouser, and
// talks only to an apiserver whose certificate the given CA signed.
func TestAuth(t *testing.T) {
	without := func(vars map[string]string, keys ...string) map[string]string {
		out := map[string]string{}
		for k, v := range vars {
			out[k] = v
		}
		for _, k := range keys {
			delete(out, k)
		}
		return out
	}
	writeUserFile := func(t *testing.T, content string) string {
		home := t.TempDir()
		if err := os.WriteFile(filepath.Join(home, ".pgouser"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return home
	}
	otherCA := writeOtherCA(t)

	tests := []struct {
		name     string
		vars     func(api *fakeAPI) map[string]string
		home     func(t *testing.T) string
		args     []string
		wantErr  string
		wantSent bool
	}{
		{
			name:     "credentials from the environment",
			vars:     func(api *fakeAPI) map[string]string { return api.env() },
			wantSent: true,
		},
		{
			name:     "credentials from ~/.pgouser",
			vars:     func(api *fakeAPI) map[string]string { return without(api.env(), "PGOUSERNAME", "PGOUSERPASS") },
			home:     func(t *testing.T) string { return writeUserFile(t, testUser+":"+testPassword+"\n") },
			wantSent: true,
		},
		{
			name:     "wrong password in ~/.pgouser",
			vars:     func(api *fakeAPI) map[string]string { return without(api.env(), "PGOUSERNAME", "PGOUSERPASS") },
			home:     func(t *testing.T) string { return writeUserFile(t, testUser+":wrong\n") },
			wantErr:  `the apiserver refused the credentials of pgo user "admin": check PGOUSERNAME and PGOUSERPASS, or ~/.pgouser`,
			wantSent: true,
		},
		{
			name:    "no credentials",
			vars:    func(api *fakeAPI) map[string]string { return without(api.env(), "PGOUSERNAME", "PGOUSERPASS") },
			wantErr: "no pgo user: set PGOUSERNAME and PGOUSERPASS, or write username:password into",
		},
		{
			name:    "no CA certificate",
			vars:    func(api *fakeAPI) map[string]string { return without(api.env(), "PGO_CA_CERT") },
			wantErr: "no CA certificate to verify the apiserver with: give --pgo-ca-cert or set PGO_CA_CERT",
		},
		{
			name: "certificate signed by another CA",
			vars: func(api *fakeAPI) map[string]string {
				vars := api.env()
				vars["PGO_CA_CERT"] = otherCA
				return vars
			},
			wantErr: "has a certificate that the CA in " + otherCA + " did not sign",
		},
		{
			name: "--pgo-ca-cert wins over PGO_CA_CERT",
			vars: func(api *fakeAPI) map[string]string {
				vars := api.env()
				vars["PGO_CA_CERT"] = otherCA
				return vars
			},
			args:     []string{"--pgo-ca-cert", "CAFILE"},
			wantSent: true,
		},
		{
			name:    "no apiserver URL",
			vars:    func(api *fakeAPI) map[string]string { return without(api.env(), "PGO_APISERVER_URL") },
			wantErr: "no apiserver address: give --apiserver-url or set PGO_APISERVER_URL",
		},
		{
			name: "--apiserver-url wins over PGO_APISERVER_URL",
			vars: func(api *fakeAPI) map[string]string {
				vars := api.env()
				vars["PGO_APISERVER_URL"] = "https://127.0.0.1:1"
				return vars
			},
			args:     []string{"--apiserver-url", "URL"},
			wantSent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.on(http.MethodGet, pgoapi.PathVersion, http.StatusOK, "version.json")
			home := t.TempDir()
			if tt.home != nil {
				home = tt.home(t)
			}
			args := []string{"version"}
			for _, a := range tt.args {
				a = strings.ReplaceAll(a, "CAFILE", api.caFile)
				a = strings.ReplaceAll(a, "URL", api.srv.URL)
				args = append(args, a)
			}
			res := run(tt.vars(api), home, "", args...)
			if tt.wantErr == "" && res.err != nil {
				t.Fatalf("error = %v", res.err)
			}
			if tt.wantErr != "" && (res.err == nil || !strings.Contains(res.err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v\nwant one containing %q", res.err, tt.wantErr)
			}
			reqs := api.received()
			if tt.wantSent != (len(reqs) > 0) {
				t.Fatalf("requests = %v, want some: %v", reqs, tt.wantSent)
			}
			if tt.wantSent && tt.wantErr == "" {
				if reqs[0].user != testUser {
					t.Errorf("request as %q, want %q", reqs[0].user, testUser)
				}
				if !strings.Contains(res.stdout, "pgo-apiserver version v0.1.0") {
					t.Errorf("stdout = %q", res.stdout)
				}
			}
		})
	}
}

// writeOtherCA writes a self-signed CA certificate that did not sign the
// test server's certificate.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "another CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestForbidden: a 403 answer is shown with the apiserver's message.
func TestForbidden(t *testing.T) {
	api := newFakeAPI(t)
	api.on(http.MethodGet, pgoapi.ClusterPath(testNS, "hacluster"), http.StatusForbidden, "error_forbidden.json")
	res := run(api.env(), t.TempDir(), "", "show", "cluster", "hacluster")
	want := `showing cluster hacluster: pgo user "admin" lacks the permission ShowCluster`
	if res.err == nil || res.err.Error() != want {
		t.Errorf("error = %v, want %q", res.err, want)
	}
}
