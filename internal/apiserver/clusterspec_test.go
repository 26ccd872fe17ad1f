package apiserver

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/specs"
)

func TestClusterFromRequestMapsEveryFlag(t *testing.T) {
	verify := false
	req := pgoapi.CreateClusterRequest{
		Name: "hippo", ReplicaCount: 2, PostgresVersion: 16, Image: "postgres:16", Metrics: true,
		CPU: "500m", Memory: "256Mi", CPULimit: "1", MemoryLimit: "512Mi",
		PVCSize: "5Gi", StorageConfig: "fast", ReplicaStorageConfig: "slow", WALStorageConfig: "fast", WALStorageSize: "2Gi",
		Username: "app", Database: "appdb", PasswordType: "md5", SyncReplication: true,
		NodeLabel: "zone=east", NodeAffinityType: "required", PodAntiAffinity: "required",
		Tolerations: []string{"zone=east:NoSchedule", "ssd:NoExecute"},
		TLSOnly:     true, ServerCASecret: "ca", ServerTLSSecret: "tls", PgBouncer: true, CustomConfig: "custom",
		Labels: map[string]string{"team": "db"}, Annotations: map[string]string{"note": "x y"}, ServiceType: "NodePort",
		PgBackRestStorageType: "posix,s3", PgBackRestS3Bucket: "backups", PgBackRestS3Endpoint: "minio.local:9000",
		PgBackRestS3Region: "us-east-1", PgBackRestS3Key: "AK", PgBackRestS3KeySecret: "SK", PgBackRestS3URIStyle: "path",
		PgBackRestS3VerifyTLS: &verify, PgBackRestS3CASecret: "s3ca",
		PgBackRestPVCSize: "20Gi", PgBackRestStorageConfig: "backup",
		PgBackRestRepos: []pgoapi.RepoOptions{
			{Name: "repo1", RetentionFull: ptr[int32](2), RetentionDiff: ptr[int32](7)},
			{Name: "repo2", RetentionFull: ptr[int32](14), RetentionFullType: "time", Encrypted: true},
		},
		RestoreFrom: "elephant", RestoreOpts: `--type=time --target="2026-11-27 11:59:59+00" --repo=2 --set=20261127-010000F`,
	}
	custom := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "custom"}, Data: map[string]string{
		"work_mem": " 64MB ", "pg_hba.conf": "# comment\nhostssl all all 10.0.0.0/8 scram-sha-256\n\n",
	}}
	nc, err := clusterFromRequest("ns1", req, custom, []byte("CA"))
	if err != nil {
		t.Fatal(err)
	}
	c, s := nc.Cluster, nc.Cluster.Spec
	q := resource.MustParse
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s: spec %+v", what, s)
		}
	}
	check("name", c.Name == "hippo" && c.Namespace == "ns1" && c.Labels["team"] == "db")
	check("replicas", s.Replicas == 2 && s.PostgresVersion == 16 && s.Image == "postgres:16")
	check("metrics", s.Monitoring != nil && s.Monitoring.Enabled)
	check("resources", s.Resources.Requests.Cpu().Cmp(q("500m")) == 0 && s.Resources.Requests.Memory().Cmp(q("256Mi")) == 0 &&
		s.Resources.Limits.Cpu().Cmp(q("1")) == 0 && s.Resources.Limits.Memory().Cmp(q("512Mi")) == 0)
	check("storage", s.PrimaryStorage.Size.Cmp(q("5Gi")) == 0 && *s.PrimaryStorage.StorageClassName == "fast" &&
		s.ReplicaStorage != nil && *s.ReplicaStorage.StorageClassName == "slow" &&
		s.WALStorage != nil && s.WALStorage.Size.Cmp(q("2Gi")) == 0 && *s.WALStorage.StorageClassName == "fast")
	check("user", s.User == "app" && s.Database == "appdb" && s.PasswordType == pgov1.PasswordMD5)
	check("sync", s.HA.SynchronousMode)
	check("node affinity", s.NodeAffinity != nil && *s.NodeAffinity == pgov1.PGNodeAffinity{Key: "zone", Value: "east", Type: pgov1.NodeAffinityRequired})
	check("anti-affinity", s.PodAntiAffinity == pgov1.PodAntiAffinityRequired)
	check("tolerations", len(s.Tolerations) == 2 &&
		s.Tolerations[0] == corev1.Toleration{Key: "zone", Operator: corev1.TolerationOpEqual, Value: "east", Effect: corev1.TaintEffectNoSchedule} &&
		s.Tolerations[1] == corev1.Toleration{Key: "ssd", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
	check("tls", s.TLS != nil && s.TLS.TLSOnly && s.TLS.CASecret == "ca" && s.TLS.TLSSecret == "tls")
	check("pgbouncer", s.PgBouncer != nil)
	check("custom config", s.Config != nil && s.Config.Parameters["work_mem"] == "64MB" &&
		slices.Equal(s.Config.PgHBA, []string{"hostssl all all 10.0.0.0/8 scram-sha-256"}))
	check("metadata", s.Metadata != nil && s.Metadata.Labels["team"] == "db" && s.Metadata.Annotations["note"] == "x y")
	check("service type", s.ServiceType == corev1.ServiceTypeNodePort)
	check("backups", s.Backups != nil && len(s.Backups.Repos) == 2 &&
		s.Backups.Repos[0].Name == "repo1" && s.Backups.Repos[0].Volume != nil && s.Backups.Repos[0].Volume.Size.Cmp(q("20Gi")) == 0 &&
		*s.Backups.Repos[0].Volume.StorageClassName == "backup" && !s.Backups.Repos[0].Encrypted &&
		*s.Backups.Repos[0].Retention == pgov1.PGRetention{Full: s.Backups.Repos[0].Retention.Full, Diff: s.Backups.Repos[0].Retention.Diff} &&
		*s.Backups.Repos[0].Retention.Full == 2 && *s.Backups.Repos[0].Retention.Diff == 7 &&
		s.Backups.Repos[1].Encrypted && s.Backups.Repos[1].Retention.FullType == pgov1.RetentionTime && *s.Backups.Repos[1].Retention.Full == 14 &&
		s.Backups.Repos[1].Name == "repo2" && s.Backups.Repos[1].S3 != nil &&
		*s.Backups.Repos[1].S3 == pgov1.PGS3Repo{Bucket: "backups", Endpoint: "minio.local:9000", Region: "us-east-1", URIStyle: pgov1.URIStylePath, VerifyTLS: &verify, CredentialsSecret: "hippo-pgbackrest-s3"})
	check("s3 secret", nc.S3Credentials != nil && nc.S3Credentials.Name == "hippo-pgbackrest-s3" &&
		string(nc.S3Credentials.Data[specs.KeyS3Key]) == "AK" && string(nc.S3Credentials.Data[specs.KeyS3KeySecret]) == "SK" && string(nc.S3Credentials.Data[specs.KeyS3CA]) == "CA")
	check("restore", s.DataSource != nil && s.DataSource.ClusterName == "elephant" && s.DataSource.RepoName == "repo2" &&
		s.DataSource.Target != nil && *s.DataSource.Target == pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetTime, Value: "2026-11-27 11:59:59+00"} &&
		slices.Equal(s.DataSource.Options, pgov1.PgBackRestOptions{"--set=20261127-010000F"}))
}

func TestClusterFromRequestDefaults(t *testing.T) {
	nc, err := clusterFromRequest("ns1", pgoapi.CreateClusterRequest{Name: "hippo"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := nc.Cluster.Spec
	if s.PrimaryStorage.Size.Cmp(resource.MustParse("1Gi")) != 0 || s.PrimaryStorage.StorageClassName != nil ||
		s.User != "testuser" || s.Database != "" || s.Backups != nil || s.TLS != nil || s.Monitoring != nil ||
		s.WALStorage != nil || s.ReplicaStorage != nil || s.DataSource != nil || nc.S3Credentials != nil {
		t.Errorf("defaults: %+v", s)
	}
	nc, err = clusterFromRequest("ns1", pgoapi.CreateClusterRequest{Name: "hippo", PgBackRestStorageType: "s3",
		PgBackRestS3Bucket: "bkt", PgBackRestS3Endpoint: "s3.amazonaws.com", PgBackRestS3Region: "eu", PgBackRestS3Key: "a", PgBackRestS3KeySecret: "b"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := nc.Cluster.Spec.Backups.Repos; len(r) != 1 || r[0].Name != "repo1" || r[0].S3 == nil {
		t.Errorf("s3 only: %+v", r)
	}
}

func TestClusterFromRequestRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    pgoapi.CreateClusterRequest
		field  string
		phrase string
	}{
		{"no name", pgoapi.CreateClusterRequest{}, "name", "is required"},
		{"upper case", pgoapi.CreateClusterRequest{Name: "Hippo"}, "name", "start with a lowercase letter"},
		{"too long", pgoapi.CreateClusterRequest{Name: strings.Repeat("a", 41)}, "name", "at most 40"},
		{"underscore", pgoapi.CreateClusterRequest{Name: "hip_po"}, "name", "only lowercase letters"},
		{"replicas", pgoapi.CreateClusterRequest{Name: "a", ReplicaCount: 33}, "replicaCount", "0 to 32"},
		{"version", pgoapi.CreateClusterRequest{Name: "a", PostgresVersion: 12}, "postgresVersion", "13 to 17"},
		{"size", pgoapi.CreateClusterRequest{Name: "a", PVCSize: "ten gigs"}, "pvcSize", "not a quantity"},
		{"zero size", pgoapi.CreateClusterRequest{Name: "a", PVCSize: "0"}, "pvcSize", "greater than zero"},
		{"cpu", pgoapi.CreateClusterRequest{Name: "a", CPU: "-1"}, "cpu", "greater than zero"},
		{"limit under request", pgoapi.CreateClusterRequest{Name: "a", Memory: "1Gi", MemoryLimit: "512Mi"}, "memoryLimit", "at least the request"},
		{"storage class", pgoapi.CreateClusterRequest{Name: "a", StorageConfig: "Fast_SSD"}, "storageConfig", "not a valid Kubernetes object name"},
		{"wal size", pgoapi.CreateClusterRequest{Name: "a", WALStorageSize: "1X"}, "walStorageSize", "not a quantity"},
		{"username", pgoapi.CreateClusterRequest{Name: "a", Username: "postgres"}, "username", "pgo manages itself"},
		{"pg_ username", pgoapi.CreateClusterRequest{Name: "a", Username: "pg_x"}, "username", "reserves"},
		{"database", pgoapi.CreateClusterRequest{Name: "a", Database: "1db"}, "database", "start with a letter"},
		{"password type", pgoapi.CreateClusterRequest{Name: "a", PasswordType: "plain"}, "passwordType", "not one of scram-sha-256, md5"},
		{"node label", pgoapi.CreateClusterRequest{Name: "a", NodeLabel: "zone"}, "nodeLabel", "key=value"},
		{"affinity without label", pgoapi.CreateClusterRequest{Name: "a", NodeAffinityType: "required"}, "nodeAffinityType", "needs nodeLabel"},
		{"affinity type", pgoapi.CreateClusterRequest{Name: "a", NodeLabel: "a=b", NodeAffinityType: "always"}, "nodeAffinityType", "not one of"},
		{"anti-affinity", pgoapi.CreateClusterRequest{Name: "a", PodAntiAffinity: "strict"}, "podAntiAffinity", "not one of"},
		{"toleration", pgoapi.CreateClusterRequest{Name: "a", Tolerations: []string{"zone=east"}}, "tolerations[0]", "key=value:Effect or key:Effect"},
		{"toleration effect", pgoapi.CreateClusterRequest{Name: "a", Tolerations: []string{"zone:Never"}}, "tolerations[0]", "not one of NoSchedule"},
		{"tls halves", pgoapi.CreateClusterRequest{Name: "a", ServerTLSSecret: "tls"}, "serverTLSSecret", "go together"},
		{"service type", pgoapi.CreateClusterRequest{Name: "a", ServiceType: "ExternalName"}, "serviceType", "not one of"},
		{"label key", pgoapi.CreateClusterRequest{Name: "a", Labels: map[string]string{"pgo.dev/x": "y"}}, "labels[pgo.dev/x]", "belongs to pgo"},
		{"label value", pgoapi.CreateClusterRequest{Name: "a", Labels: map[string]string{"x": "a b"}}, "labels[x]", "is not a valid label value"},
		{"storage type", pgoapi.CreateClusterRequest{Name: "a", PgBackRestStorageType: "gcs"}, "pgBackRestStorageType", "not one of posix, s3"},
		{"s3 without bucket", pgoapi.CreateClusterRequest{Name: "a", PgBackRestStorageType: "s3"}, "pgBackRestS3Bucket", "is required"},
		{"s3 fields without s3", pgoapi.CreateClusterRequest{Name: "a", PgBackRestS3Bucket: "b"}, "pgBackRestS3Bucket", "needs pgBackRestStorageType"},
		{"s3 endpoint", pgoapi.CreateClusterRequest{Name: "a", PgBackRestStorageType: "s3", PgBackRestS3Endpoint: "https://s3"}, "pgBackRestS3Endpoint", "without https://"},
		{"uri style", pgoapi.CreateClusterRequest{Name: "a", PgBackRestStorageType: "s3", PgBackRestS3URIStyle: "virtual"}, "pgBackRestS3URIStyle", "not one of host, path"},
		{"restore self", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "a"}, "restoreFrom", "another cluster"},
		{"restore opts alone", pgoapi.CreateClusterRequest{Name: "a", RestoreOpts: "--set=x"}, "restoreOpts", "needs restoreFrom"},
		{"restore type", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: "--type=later"}, "restoreOpts", "not one of time"},
		{"restore target missing", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: "--type=xid"}, "restoreOpts", "needs --target"},
		{"restore managed", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: "--stanza=db"}, "restoreOpts", "set by pgo"},
		{"restore quote", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: "--target='x"}, "restoreOpts", "no closing"},
		{"restore repo", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: "--repo=5"}, "restoreOpts", "1 to 4"},
		{"password control", pgoapi.CreateClusterRequest{Name: "a", Password: "a\nb"}, "password", "control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clusterFromRequest("ns1", tc.req, nil, nil)
			wantFieldError(t, err, tc.field, tc.phrase)
		})
	}
}

// wantFieldError checks that err is a 422 whose fields hold field, with a
// message saying phrase.
func wantFieldError(t *testing.T, err error, field, phrase string) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae.code != http.StatusUnprocessableEntity {
		t.Fatalf("error %v, want a 422", err)
	}
	for _, f := range ae.fields {
		if f.Field == field && strings.Contains(f.Message, phrase) {
			return
		}
	}
	t.Errorf("fields %+v, want %s: ...%s...", ae.fields, field, phrase)
}

func TestClusterFromRequestReportsEveryField(t *testing.T) {
	_, err := clusterFromRequest("ns1", pgoapi.CreateClusterRequest{Name: "A", PVCSize: "x", ServiceType: "y"}, nil, nil)
	var ae *apiError
	if !errors.As(err, &ae) || len(ae.fields) != 3 {
		t.Fatalf("got %v, want three fields", err)
	}
}

func TestCustomConfigRefusesOddKeys(t *testing.T) {
	_, err := clusterFromRequest("ns1", pgoapi.CreateClusterRequest{Name: "a", CustomConfig: "c"},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"postgres-ha.yaml": "x"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "neither a PostgreSQL setting name") {
		t.Errorf("got %v", err)
	}
}

// A custom configuration whose values would break postgresql.conf or
// pg_hba.conf, or that lets users in with trust, is refused with the reason.
func TestCustomConfigRefusesValuesThatBreakFiles(t *testing.T) {
	for _, tc := range []struct {
		data map[string]string
		says string
	}{
		{map[string]string{"work_mem": "1MB\nfsync = off"}, "line break or NUL"},
		{map[string]string{"pg_hba.conf": "hostssl all all 0.0.0.0/0 scram-sha-256\nhost all all 0.0.0.0/0 trust"}, "trust method"},
	} {
		_, err := clusterFromRequest("ns1", pgoapi.CreateClusterRequest{Name: "a", CustomConfig: "c"},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: tc.data}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: got %v, want a refusal saying %q", tc.data, err, tc.says)
		}
	}
	if _, err := clusterFromRequest("ns1", pgoapi.CreateClusterRequest{Name: "a", CustomConfig: "c"},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"work_mem": " 64MB\n", "pg_hba.conf": "hostssl all all 0.0.0.0/0 scram-sha-256\n# trust nobody\n"}}, nil); err != nil {
		t.Errorf("a good custom configuration: %v", err)
	}
}

func TestApplyUpdate(t *testing.T) {
	str := func(s string) *string { return &s }
	yes, no := true, false
	base := func() *pgov1.PGCluster {
		c := &pgov1.PGCluster{}
		c.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}
		return c
	}
	c := base()
	changed, err := applyUpdate(c, pgoapi.UpdateClusterRequest{CPU: str("1"), Memory: str("256Mi"), Autofail: &no, Shutdown: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changed, []string{"cpu", "memory", "autofail", "shutdown"}) || c.Spec.Resources.Requests.Memory().String() != "256Mi" ||
		c.Spec.Resources.Requests.Cpu().String() != "1" || *c.Spec.HA.Enabled || !c.Spec.Shutdown {
		t.Errorf("changed %v, spec %+v", changed, c.Spec)
	}
	c = base()
	changed, err = applyUpdate(c, pgoapi.UpdateClusterRequest{Memory: str("128Mi"), Autofail: &yes, Shutdown: &no})
	if err != nil || len(changed) != 0 {
		t.Errorf("no change: %v %v", changed, err)
	}
	c = base()
	changed, err = applyUpdate(c, pgoapi.UpdateClusterRequest{Memory: str("")})
	if err != nil || !slices.Equal(changed, []string{"memory"}) || c.Spec.Resources.Requests != nil {
		t.Errorf("removing: %v %v %+v", changed, err, c.Spec.Resources)
	}
	c = base()
	if _, err := applyUpdate(c, pgoapi.UpdateClusterRequest{MemoryLimit: str("64Mi")}); err == nil || !strings.Contains(err.Error(), "at least the request") {
		t.Errorf("limit under the existing request: %v", err)
	}
	if _, err := applyUpdate(c, pgoapi.UpdateClusterRequest{CPU: str("lots")}); err == nil || !strings.Contains(err.Error(), "not a quantity") {
		t.Errorf("bad cpu: %v", err)
	}
}
