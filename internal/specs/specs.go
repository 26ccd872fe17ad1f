// Package specs builds the Kubernetes objects of a PGCluster: pure functions
// from the cluster (and its PGReplicas) to corev1, appsv1 and rbacv1 objects.
// The controller applies them in one place.
package specs

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pki"
)

// Options are the operator's settings that the objects depend on.
type Options struct {
	// OperatorImage holds the postgres-operator binary, which an init
	// container copies into every database pod.
	OperatorImage string
	// PostgresImages are the database images of clusters that name none,
	// by PostgreSQL major version; they hold PostgreSQL and pgBackRest.
	PostgresImages map[int32]string
	// PostgresUID and PostgresGID run PostgreSQL.
	PostgresUID, PostgresGID int64
	// CertificateLifetime is how long the certificates the operator issues
	// to clusters are valid; they are renewed at two thirds of it.
	CertificateLifetime time.Duration
}

// DefaultOptions are the defaults of the operator's flags.
func DefaultOptions() Options {
	return Options{OperatorImage: "postgres-operator:dev", PostgresImages: map[int32]string{15: "postgres:15"}, PostgresUID: 26, PostgresGID: 26,
		CertificateLifetime: pki.LeafValidity}
}

// ClusterLabels select everything of a cluster.
func ClusterLabels(cluster string) map[string]string {
	return map[string]string{naming.LabelCluster: cluster}
}

// InstanceLabels select one instance's pod.
func InstanceLabels(cluster, instance string) map[string]string {
	return map[string]string{naming.LabelCluster: cluster, naming.LabelInstance: instance}
}

// labels are the user's labels with pgo's on top.
func labels(c *pgov1.PGCluster, own map[string]string) map[string]string {
	out := map[string]string{}
	if c.Spec.Metadata != nil {
		maps.Copy(out, c.Spec.Metadata.Labels)
	}
	maps.Copy(out, own)
	return out
}

// annotations are the user's annotations.
func annotations(c *pgov1.PGCluster) map[string]string {
	if c.Spec.Metadata == nil || len(c.Spec.Metadata.Annotations) == 0 {
		return nil
	}
	return maps.Clone(c.Spec.Metadata.Annotations)
}

// Instance is one PostgreSQL server of a cluster: the cluster's first one
// (Replica nil) or one per PGReplica.
type Instance struct {
	Name    string
	Replica *pgov1.PGReplica
}

// FirstInstance names a cluster's first instance: "<cluster>-" and four
// characters derived from the cluster's UID, stable for its lifetime.
func FirstInstance(c *pgov1.PGCluster) string {
	sum := sha256.Sum256([]byte(c.UID))
	return c.Name + "-" + suffix(sum[:])
}

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// suffix turns bytes into four characters that spell no word.
func suffix(b []byte) string {
	var s strings.Builder
	for i := range 4 {
		s.WriteByte(suffixAlphabet[int(b[i])%len(suffixAlphabet)])
	}
	return s.String()
}

// NewReplicaName names a new PGReplica from random bytes.
func NewReplicaName(cluster string, random []byte) string {
	return cluster + "-" + suffix(random)
}

// Instances lists a cluster's instances, the first one first.
func Instances(c *pgov1.PGCluster, replicas []pgov1.PGReplica) []Instance {
	out := []Instance{{Name: FirstInstance(c)}}
	sorted := slices.Clone(replicas)
	slices.SortFunc(sorted, func(a, b pgov1.PGReplica) int { return strings.Compare(a.Name, b.Name) })
	for i := range sorted {
		out = append(out, Instance{Name: sorted[i].Name, Replica: &sorted[i]})
	}
	return out
}

// DataDir is PostgreSQL's data directory in a database pod.
func DataDir(c *pgov1.PGCluster) string {
	return fmt.Sprintf("/pgdata/pg%d", c.Spec.PostgresVersion)
}

// WALDir is where pg_wal lives when the cluster has a WAL volume.
func WALDir(c *pgov1.PGCluster) string {
	return fmt.Sprintf("/pgwal/pg%d_wal", c.Spec.PostgresVersion)
}

// Database is the cluster's application database: its name when unset.
func Database(c *pgov1.PGCluster) string {
	if c.Spec.Database != "" {
		return string(c.Spec.Database)
	}
	return c.Name
}
