package specs

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	pgov1 "pgo.dev/pgo/api/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares an object, as YAML, with testdata/<name>.yaml.
func golden(t *testing.T, name string, obj any) {
	t.Helper()
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".yaml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/specs -update to write it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s (go test ./internal/specs -update rewrites it):\n%s", name, path, diff(string(want), string(got)))
	}
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, "- "+a, "+ "+b)
		}
	}
	return strings.Join(out, "\n")
}

// hacluster is the cluster of the golden files: most features on.
func hacluster() *pgov1.PGCluster {
	c := &pgov1.PGCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "hacluster", Namespace: "app", UID: "5b1c7e0c-8a1e-4c2f-9d67-1f0e7b2a3c4d"},
		Spec: pgov1.PGClusterSpec{
			PostgresVersion: 15, Port: 5432, Replicas: 1, User: "testuser", PasswordType: pgov1.PasswordSCRAM,
			Resources:      pgov1.Resources{Requests: corev1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("512Mi")}},
			PrimaryStorage: pgov1.PGStorage{Size: resource.MustParse("5Gi"), AccessMode: "ReadWriteOnce"},
			ReplicaStorage: &pgov1.PGStorage{StorageClassName: ptr.To("fast"), Size: resource.MustParse("5Gi")},
			WALStorage:     &pgov1.PGStorage{Size: resource.MustParse("2Gi")},
			HA: pgov1.PGHASpec{Enabled: ptr.To(true), TTL: 30, LoopWait: 10, RetryTimeout: 10,
				MaximumLagOnFailover: ptr.To[int64](1 << 20), SynchronousMode: true},
			TLS:             &pgov1.PGTLSSpec{TLSOnly: true},
			NodeAffinity:    &pgov1.PGNodeAffinity{Key: "pool", Value: "db", Type: pgov1.NodeAffinityRequired},
			PodAntiAffinity: pgov1.PodAntiAffinityPreferred,
			Tolerations:     nil,
			Config: &pgov1.PGConfigSpec{Parameters: map[string]pgov1.ParameterValue{"work_mem": "16MB"},
				PgHBA: []string{"hostssl app reporting 10.0.0.0/8 scram-sha-256"}},
			ServiceType: "ClusterIP",
			Metadata:    &pgov1.PGMetadata{Labels: map[string]string{"team": "payments"}, Annotations: map[string]string{"example.com/owner": "payments"}},
		},
	}
	return c
}

func TestGolden(t *testing.T) {
	c := hacluster()
	replica := pgov1.PGReplica{
		ObjectMeta: metav1.ObjectMeta{Name: "hacluster-wxyz", Namespace: "app"},
		Spec: pgov1.PGReplicaSpec{ClusterName: "hacluster", FailoverPriority: ptr.To[int32](0),
			Resources: &pgov1.Resources{Limits: corev1.ResourceList{"memory": resource.MustParse("1Gi")}}},
	}
	instances := Instances(c, []pgov1.PGReplica{replica})
	opts := DefaultOptions()

	for _, svc := range Services(c) {
		golden(t, "service-"+svc.Name, svc)
	}
	cm, err := ConfigMap(c)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "configmap", cm)
	sa, role, binding := InstanceRBAC(c, InstancePods(instances))
	golden(t, "serviceaccount", sa)
	golden(t, "role", role)
	golden(t, "rolebinding", binding)
	golden(t, "secret-superuser", SuperuserSecret(c, "PASSWORD"))
	golden(t, "secret-app", AppUserSecret(c, "PASS/WORD"))
	golden(t, "secret-tls", TLSSecret(c, "hacluster-cluster-cert", []byte("CERT"), []byte("KEY"), []byte("CA")))
	golden(t, "secret-cluster-ca", ClusterCASecret(c, []byte("CERT"), []byte("KEY")))
	for _, inst := range instances {
		kind := "primary"
		if inst.Replica != nil {
			kind = "replica"
		}
		golden(t, "statefulset-"+kind, StatefulSet(c, inst, opts))
		for _, pvc := range Claims(c, inst) {
			golden(t, "pvc-"+kind+strings.TrimPrefix(pvc.Name, inst.Name), pvc)
		}
	}

	// pgBackRest: a volume repository and an encrypted S3 one.
	c.Spec.Backups = &pgov1.PGBackupsSpec{Repos: []pgov1.PGBackupRepo{
		{Name: "repo1", Volume: &pgov1.PGStorage{Size: resource.MustParse("10Gi")}, Retention: &pgov1.PGRetention{Full: ptr.To[int32](2), FullType: pgov1.RetentionCount}},
		{Name: "repo2", Encrypted: true, S3: &pgov1.PGS3Repo{Bucket: "backups", Endpoint: "s3.example.com:9000", Region: "eu-west-1",
			URIStyle: pgov1.URIStylePath, CredentialsSecret: "hacluster-s3"}},
	}}
	golden(t, "configmap-pgbackrest", BackRestConfigMap(c, instances))
	golden(t, "secret-pgbackrest", BackRestSecret(c, map[pgov1.RepoName][2]string{"repo2": {"KEY", "SECRET"}}, map[pgov1.RepoName]string{"repo2": "PASSPHRASE"}))
	golden(t, "statefulset-repo-host", RepoHostStatefulSet(c, opts))
	for _, pvc := range RepoClaims(c) {
		golden(t, "pvc-"+pvc.Name, pvc)
	}
}

// A cluster without spec.backups has one volume repository, as large as
// the primary's volume and of its class.
func TestDefaultRepo(t *testing.T) {
	c := hacluster()
	c.Spec.PrimaryStorage.StorageClassName = ptr.To("fast")
	repos := Repos(c)
	if len(repos) != 1 || repos[0].Name != "repo1" || repos[0].Volume == nil || repos[0].Volume.Size.Cmp(c.Spec.PrimaryStorage.Size) != 0 ||
		*repos[0].Volume.StorageClassName != "fast" {
		t.Errorf("default repos: %+v", repos)
	}
	if got := RepoPath(c, repos[0]); got != "/pgbackrest/repo1" {
		t.Errorf("volume repo path %q", got)
	}
	s3 := pgov1.PGBackupRepo{Name: "repo2", S3: &pgov1.PGS3Repo{Bucket: "b"}}
	if got := RepoPath(c, s3); got != "/pgbackrest/app/hacluster" {
		t.Errorf("S3 repo path %q", got)
	}
}

func TestS3Keys(t *testing.T) {
	c := hacluster()
	c.Spec.Backups = &pgov1.PGBackupsSpec{Repos: []pgov1.PGBackupRepo{{Name: "repo2", S3: &pgov1.PGS3Repo{Bucket: "b", CredentialsSecret: "creds"}}}}
	secret := func(key, secretKey string) map[string]*corev1.Secret {
		return map[string]*corev1.Secret{"creds": {Data: map[string][]byte{KeyS3Key: []byte(key), KeyS3KeySecret: []byte(secretKey)}}}
	}
	if got, err := S3Keys(c, secret("AKIA", "s3cr3t/+x")); err != nil || got["repo2"] != [2]string{"AKIA", "s3cr3t/+x"} {
		t.Errorf("S3Keys = %v, %v", got, err)
	}
	for _, bad := range []map[string]*corev1.Secret{nil, secret("", "x"), secret("AKIA", "two\nlines"), secret("AKIA", "a b")} {
		if _, err := S3Keys(c, bad); err == nil {
			t.Errorf("S3Keys took %v", bad)
		}
	}
}

func TestInstanceNames(t *testing.T) {
	c := hacluster()
	first := FirstInstance(c)
	if !strings.HasPrefix(first, "hacluster-") || len(first) != len("hacluster-")+4 {
		t.Errorf("first instance %q", first)
	}
	c2 := hacluster()
	c2.UID = "another"
	if FirstInstance(c2) == first {
		t.Error("two clusters with the same name but different UIDs share their first instance's name")
	}
	if got := NewReplicaName("hacluster", []byte{0, 1, 2, 3}); got != "hacluster-bcdf" {
		t.Errorf("replica name %q", got)
	}
	got := Instances(c, []pgov1.PGReplica{{ObjectMeta: metav1.ObjectMeta{Name: "hacluster-zzzz"}}, {ObjectMeta: metav1.ObjectMeta{Name: "hacluster-bbbb"}}})
	if len(got) != 3 || got[0].Name != first || got[1].Name != "hacluster-bbbb" || got[2].Name != "hacluster-zzzz" {
		t.Errorf("instances %v", got)
	}
}

func TestShutdownAndOverrides(t *testing.T) {
	c := hacluster()
	c.Spec.Shutdown = true
	c.Spec.PodAntiAffinity = pgov1.PodAntiAffinityDisabled
	c.Spec.NodeAffinity = nil
	sts := StatefulSet(c, Instance{Name: "x"}, DefaultOptions())
	if *sts.Spec.Replicas != 0 {
		t.Error("a shut down cluster's StatefulSets keep a pod")
	}
	if sts.Spec.Template.Spec.Affinity != nil {
		t.Errorf("affinity %+v with anti-affinity disabled and no node label", sts.Spec.Template.Spec.Affinity)
	}
	c.Spec.TLS = &pgov1.PGTLSSpec{CASecret: "my-ca", TLSSecret: "my-tls"}
	sources := secretSources(c)
	var names []string
	for _, s := range sources {
		names = append(names, s.Secret.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "my-tls") || !strings.Contains(strings.Join(names, ","), "my-ca") {
		t.Errorf("user TLS secrets are not mounted: %v", names)
	}
}

// TestVolumePermissionsKeepPostgresStarting: a kubelet with the default
// fsGroupChangePolicy (Always) makes the data directory group writable at
// each mount, and PostgreSQL then refuses to start.
func TestVolumePermissionsKeepPostgresStarting(t *testing.T) {
	sts := StatefulSet(hacluster(), Instance{Name: "x"}, DefaultOptions())
	sc := sts.Spec.Template.Spec.SecurityContext
	if sc == nil || sc.FSGroupChangePolicy == nil || *sc.FSGroupChangePolicy != corev1.FSGroupChangeOnRootMismatch {
		t.Fatalf("pod security context %+v: want fsGroupChangePolicy OnRootMismatch", sc)
	}
}
