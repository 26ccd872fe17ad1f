package pgbackrest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares text with testdata/<name>.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/pgbackrest -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (-update rewrites it); got:\n%s", name, path, got)
	}
}

var podTLS = TLS{CAFile: "/etc/pgo/pgbackrest/ca.crt", CertFile: "/etc/pgo/pgbackrest/tls.crt", KeyFile: "/etc/pgo/pgbackrest/tls.key"}

var podFiles = Files{Config: "/etc/pgo/pgbackrest/pgbackrest.conf", IncludePath: "/etc/pgo/pgbackrest/conf.d"}

func TestInstanceConfig(t *testing.T) {
	golden(t, "instance.conf", InstanceConfig(Instance{
		Postgres:      Postgres{Path: "/pgdata/pg15", Port: 5432, SocketDir: "/var/run/pgo"},
		RepoHost:      "hippo-repo-host-0.hippo-pods.ns.svc.cluster.local",
		RepoHostFiles: podFiles,
		Repos:         []int{1, 2},
		SpoolPath:     "/pgdata/pgbackrest/spool",
		LockPath:      "/tmp/pgbackrest",
		TLS:           podTLS,
		ClientName:    "hippo-pgbackrest",
	}))
}

func TestRepoHostConfig(t *testing.T) {
	var pgs []Postgres
	for _, host := range []string{"hippo-abcd-0", "hippo-efgh-0", "hippo-ijkl-0", "hippo-mnop-0", "hippo-qrst-0", "hippo-uvwx-0", "hippo-yzab-0", "hippo-cdef-0", "hippo-ghij-0", "hippo-klmn-0"} {
		pgs = append(pgs, Postgres{Host: host + ".hippo-pods.ns.svc.cluster.local", Path: "/pgdata/pg15", Port: 5432, SocketDir: "/var/run/pgo", User: "postgres", Files: podFiles})
	}
	golden(t, "repo-host.conf", RepoHostConfig(RepoHost{
		Postgres: pgs,
		Repos: []Repo{
			{Index: 1, Path: "/pgbackrest/repo1", RetentionFull: 2, RetentionDiff: 3},
			{Index: 2, Path: "/pgbackrest/ns/hippo/repo2", Encrypted: true, RetentionFull: 14, RetentionFullType: "time",
				S3: &S3{Bucket: "backups", Endpoint: "s3.example.com", Port: 9000, Region: "eu-west-1", URIStyle: "path", VerifyTLS: true, CAFile: "/etc/pgo/pgbackrest/s3/ca.crt"}},
			{Index: 3, Path: "/pgbackrest/ns/hippo/repo3", S3: &S3{Bucket: "more", Endpoint: "s3.amazonaws.com", Region: "us-east-1"}},
		},
		LockPath:   "/tmp/pgbackrest",
		TLS:        podTLS,
		ClientName: "hippo-pgbackrest",
	}))
}

func TestSecretConfig(t *testing.T) {
	golden(t, "secret.conf", SecretConfig(Secrets{
		S3Keys:       map[int][2]string{2: {"AKIA-2", "secret-2"}, 3: {"AKIA-3", "secret-3"}},
		CipherPasses: map[int]string{2: "passphrase-2"},
	}))
}

// Numbered options sort by number: pg2 before pg10.
func TestOptionOrder(t *testing.T) {
	conf := RepoHostConfig(RepoHost{Postgres: make([]Postgres, 10)})
	if strings.Index(conf, "pg2-path") > strings.Index(conf, "pg10-path") {
		t.Errorf("pg10 comes before pg2:\n%s", conf)
	}
}
