package testenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/specs"
)

// MemberFiles are what a database pod gives its instance manager, written
// for tests that run managers outside Kubernetes: the passwords, and the
// cluster's own CA with the certificates the operator issues from it (from
// the same builders).
type MemberFiles struct {
	CA                 pki.Pair
	namespace, cluster string
	uid, gid           int
	// Paths by name: the passwords' names, "ca.crt", "tls.crt", "tls.key",
	// "replication.crt" and "replication.key".
	Paths map[string]string
}

// WriteMemberFiles writes a cluster's files into dir, owned by uid:gid
// with mode 0600 (as PostgreSQL wants its keys), with certificates valid
// for lifetime (pki.LeafValidity when 0).
func WriteMemberFiles(t testing.TB, dir, namespace, cluster string, uid, gid int, passwords map[string]string, lifetime time.Duration) *MemberFiles {
	t.Helper()
	f := &MemberFiles{Paths: map[string]string{}, namespace: namespace, cluster: cluster, uid: uid, gid: gid}
	for name, password := range passwords {
		f.write(t, filepath.Join(dir, name), []byte(password))
	}
	ca, err := pki.NewCA(specs.ClusterCAName(f.pgCluster()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.CA = ca
	f.write(t, filepath.Join(dir, "ca.crt"), ca.Cert)
	f.Renew(t, dir, lifetime)
	return f
}

func (f *MemberFiles) pgCluster() *pgov1.PGCluster {
	return &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: f.cluster, Namespace: f.namespace}}
}

// Renew issues the cluster's certificates again from its CA, valid for
// lifetime, and swaps them in (a new file renamed over the old one, as a
// kubelet swaps a Secret's files).
func (f *MemberFiles) Renew(t testing.TB, dir string, lifetime time.Duration) {
	t.Helper()
	for _, want := range specs.Certificates(f.pgCluster(), lifetime) {
		pair, err := pki.Issue(f.CA, want.Leaf, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		prefix := "tls"
		if want.Secret == naming.ReplicationCertSecret(f.cluster) {
			prefix = "replication"
		}
		f.write(t, filepath.Join(dir, prefix+".key"), pair.Key)
		f.write(t, filepath.Join(dir, prefix+".crt"), pair.Cert)
	}
}

func (f *MemberFiles) write(t testing.TB, path string, content []byte) {
	t.Helper()
	next := path + ".next"
	if err := os.WriteFile(next, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(next, f.uid, f.gid); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	f.Paths[filepath.Base(path)] = path
}

// Args are the instance manager's flags for the files.
func (f *MemberFiles) Args() []string {
	args := []string{
		"--tls-cert-file", f.Paths["tls.crt"], "--tls-key-file", f.Paths["tls.key"], "--cluster-ca-file", f.Paths["ca.crt"],
		"--replication-cert-file", f.Paths["replication.crt"], "--replication-key-file", f.Paths["replication.key"],
	}
	for name, flag := range map[string]string{"superuser": "--superuser-password-file", "api": "--api-password-file", "app": "--app-password-file"} {
		if path, ok := f.Paths[name]; ok {
			args = append(args, flag, path)
		}
	}
	return args
}
