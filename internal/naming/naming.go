// Package naming is the one place for the names pgo gives things: label and
// annotation keys, the names of the objects it derives from a cluster, and
// ports. Operator and instance manager share it.
package naming

// Label keys.
const (
	LabelCluster  = "pgo.dev/cluster"
	LabelInstance = "pgo.dev/instance"
	LabelRole     = "pgo.dev/role"
)

// Values of LabelRole.
const (
	RolePrimary = "primary"
	RoleReplica = "replica"
)

// Annotation keys.
const (
	// AnnotationStatus holds a member's state as JSON, on its pod.
	AnnotationStatus = "pgo.dev/status"
	// AnnotationOptime and AnnotationTimeline hold the leader's WAL position
	// and timeline at its last renewal, on the leader Lease.
	AnnotationOptime   = "pgo.dev/optime"
	AnnotationTimeline = "pgo.dev/timeline"
)

// Ports.
const (
	PostgresPort = 5432
	APIPort      = 8008
	MetricsPort  = 9187
)

// LeaderLease is the name of a cluster's leader lock.
func LeaderLease(cluster string) string { return cluster + "-leader" }

// ConfigMap holds a cluster's dynamic configuration and initialization key.
func ConfigMap(cluster string) string { return cluster + "-config" }

// SyncConfigMap holds a cluster's synchronous standby state.
func SyncConfigMap(cluster string) string { return cluster + "-sync" }

// FailoverConfigMap holds a cluster's switchover or failover request.
func FailoverConfigMap(cluster string) string { return cluster + "-failover" }

// Keys of the ConfigMaps.
const (
	// KeyConfig is the dynamic configuration (JSON) in ConfigMap.
	KeyConfig = "config"
	// KeyInitialize is the system identifier of the bootstrapped cluster in
	// ConfigMap.
	KeyInitialize = "initialize"
	// KeyLeader, KeySyncStandby: SyncConfigMap.
	KeyLeader      = "leader"
	KeySyncStandby = "sync_standby"
	// KeyCandidate, KeyScheduledAt (and KeyLeader): FailoverConfigMap.
	KeyCandidate   = "member"
	KeyScheduledAt = "scheduled_at"
)
