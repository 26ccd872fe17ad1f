package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testEnv is an environment from a map, with home as the home directory.
func testEnv(vars map[string]string, home string) environment {
	return environment{
		getenv: func(k string) string { return vars[k] },
		homeDir: func() (string, error) {
			if home == "" {
				return "", errors.New("no home")
			}
			return home, nil
		},
	}
}

func TestResolveCredentials(t *testing.T) {
	home := t.TempDir()
	other := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(other, []byte("bob:secret-b\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		vars     map[string]string
		userFile string // written to ~/.pgouser when not empty
		want     credentials
		wantErr  string
	}{
		{
			name: "environment",
			vars: map[string]string{"PGOUSERNAME": "alice", "PGOUSERPASS": "pw"},
			want: credentials{"alice", "pw"},
		},
		{
			name:     "environment wins over the file",
			vars:     map[string]string{"PGOUSERNAME": "alice", "PGOUSERPASS": "pw"},
			userFile: "admin:examplepassword\n",
			want:     credentials{"alice", "pw"},
		},
		{
			name:     "pgouser file",
			userFile: "admin:examplepassword\n",
			want:     credentials{"admin", "examplepassword"},
		},
		{
			name:     "password holding a colon",
			userFile: "admin:pass:word",
			want:     credentials{"admin", "pass:word"},
		},
		{
			name: "PGOUSER names the file",
			vars: map[string]string{"PGOUSER": other},
			want: credentials{"bob", "secret-b"},
		},
		{
			name:    "only a user name",
			vars:    map[string]string{"PGOUSERNAME": "alice"},
			wantErr: "set both PGOUSERNAME and PGOUSERPASS",
		},
		{
			name:    "no credentials",
			wantErr: "no pgo user: set PGOUSERNAME and PGOUSERPASS, or write username:password into " + filepath.Join(home, ".pgouser"),
		},
		{
			name:     "malformed file",
			userFile: "admin\n",
			wantErr:  "the first line must be username:password",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(home, ".pgouser")
			os.Remove(file)
			if tt.userFile != "" {
				if err := os.WriteFile(file, []byte(tt.userFile), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := resolveCredentials(testEnv(tt.vars, home))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("credentials = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResolveConnection(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{"PGOUSERNAME": "a", "PGOUSERPASS": "b"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range creds {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	tests := []struct {
		name    string
		flags   globalFlags
		vars    map[string]string
		wantErr string
	}{
		{name: "no URL", vars: creds, wantErr: "no apiserver address: give --apiserver-url or set PGO_APISERVER_URL"},
		{name: "not a URL", vars: with(map[string]string{"PGO_APISERVER_URL": "127.0.0.1:8443"}), wantErr: "must start with https://"},
		{name: "no host", vars: with(map[string]string{"PGO_APISERVER_URL": "https:///x"}), wantErr: "has no host"},
		{name: "no CA", vars: with(map[string]string{"PGO_APISERVER_URL": "https://127.0.0.1:8443"}), wantErr: "no CA certificate to verify the apiserver with: give --pgo-ca-cert or set PGO_CA_CERT"},
		{name: "CA missing", vars: with(map[string]string{"PGO_APISERVER_URL": "https://127.0.0.1:8443", "PGO_CA_CERT": filepath.Join(dir, "none.pem")}), wantErr: "reading the apiserver's CA certificate"},
		{name: "CA not PEM", vars: with(map[string]string{"PGO_APISERVER_URL": "https://127.0.0.1:8443"}), flags: globalFlags{caCert: notPEM}, wantErr: "holds no PEM certificate"},
		{name: "plain HTTP is refused", vars: with(map[string]string{"PGO_APISERVER_URL": "http://127.0.0.1:8080"}), wantErr: "is plain HTTP, which sends the pgo user's password in clear; use https://"},
		{name: "plain HTTP with --insecure-http needs no CA", vars: with(map[string]string{"PGO_APISERVER_URL": "http://127.0.0.1:8080"}), flags: globalFlags{insecureHTTP: true}},
		{name: "flag wins", vars: with(map[string]string{"PGO_APISERVER_URL": "bogus"}), flags: globalFlags{apiserverURL: "http://127.0.0.1:8080", insecureHTTP: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveConnection(tt.flags, testEnv(tt.vars, ""))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolveNamespace(t *testing.T) {
	if _, err := resolveNamespace(globalFlags{}, testEnv(nil, "")); err == nil || !strings.Contains(err.Error(), "give -n NAMESPACE or set PGO_NAMESPACE") {
		t.Errorf("no namespace: error = %v", err)
	}
	ns, err := resolveNamespace(globalFlags{namespace: "flag"}, testEnv(map[string]string{"PGO_NAMESPACE": "env"}, ""))
	if err != nil || ns != "flag" {
		t.Errorf("namespace = %q, %v; want the flag's", ns, err)
	}
	ns, err = resolveNamespace(globalFlags{}, testEnv(map[string]string{"PGO_NAMESPACE": "env"}, ""))
	if err != nil || ns != "env" {
		t.Errorf("namespace = %q, %v; want the environment's", ns, err)
	}
	if _, err := resolveNamespace(globalFlags{namespace: "Bad_NS"}, testEnv(nil, "")); err == nil || !strings.Contains(err.Error(), `namespace "Bad_NS" is invalid`) {
		t.Errorf("bad namespace: error = %v", err)
	}
}

// A ~/.pgouser that others may read draws a warning; one only its owner
// reads does not.
func TestUserFileReadableByOthersIsWarnedOf(t *testing.T) {
	home := t.TempDir()
	file := filepath.Join(home, ".pgouser")
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o640, true}, {0o600, false}} {
		if err := os.WriteFile(file, []byte("admin:secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, tc.mode); err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		env := testEnv(nil, home)
		env.stderr = &stderr
		if _, err := resolveCredentials(env); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(stderr.String(), "chmod 600 "+file); got != tc.warn {
			t.Errorf("mode %04o: warning %q, want one: %v", tc.mode, stderr.String(), tc.warn)
		}
		if strings.Contains(stderr.String(), "secret") {
			t.Errorf("the warning shows the password: %q", stderr.String())
		}
	}
}
