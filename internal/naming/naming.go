// Package naming is the one place for the names pgo gives things: label and
// annotation keys, the names of the objects it derives from a cluster, and
// ports. Operator and instance manager share it.
package naming

import "strings"

// Label keys.
const (
	LabelCluster  = "pgo.dev/cluster"
	LabelInstance = "pgo.dev/instance"
	LabelRole     = "pgo.dev/role"
	// LabelUser names the database user whose password a Secret holds.
	LabelUser = "pgo.dev/user"
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
	// KeyForce lets a switchover go to a candidate lagging beyond
	// maximum_lag_on_failover; KeyRefused says why the last request was
	// refused.
	KeyForce   = "force"
	KeyRefused = "refused"
)

// Objects of a cluster.

// PrimaryService routes to the primary; ReplicaService to the replicas;
// PodsService is the headless Service of the instances' StatefulSets.
func PrimaryService(cluster string) string { return cluster }
func ReplicaService(cluster string) string { return cluster + "-replica" }
func PodsService(cluster string) string    { return cluster + "-pods" }

// PodsDomain is the DNS domain of a cluster's pods under its headless
// Service: a member's name in it is on the cluster's server certificate.
func PodsDomain(cluster, namespace string) string {
	return PodsService(cluster) + "." + namespace + ".svc"
}

// InstanceServiceAccount is the identity of the cluster's instance managers,
// with the Role and RoleBinding of the same name.
func InstanceServiceAccount(cluster string) string { return cluster + "-instance" }

// Secrets of a cluster.
func SuperuserSecret(cluster string) string  { return cluster + "-postgres-secret" }
func APISecret(cluster string) string        { return cluster + "-api-secret" }
func ServerCertSecret(cluster string) string { return cluster + "-cluster-cert" }
func ReplicationCertSecret(cluster string) string {
	return cluster + "-replication-cert"
}

// UserSecret holds a database user's password; '_' in the user's name is
// written '-' (Secret names allow no '_').
func UserSecret(cluster, user string) string {
	return cluster + "-" + strings.ReplaceAll(user, "_", "-") + "-secret"
}

// UsersSecret holds the roles the primary's instance manager keeps: names,
// options, databases and password verifiers (never passwords), as JSON in
// KeyRoles.
func UsersSecret(cluster string) string { return cluster + "-users" }

// KeyRoles is the key of UsersSecret.
const KeyRoles = "roles"

// ClusterCASecret holds a cluster's own CA, which issues its server and
// replication certificates.
func ClusterCASecret(cluster string) string { return cluster + "-ca" }

// DataVolume and WALVolume are an instance's PersistentVolumeClaims.
func DataVolume(instance string) string { return instance + "-pgdata" }
func WALVolume(instance string) string  { return instance + "-pgwal" }

// Keys of the Secrets.
const (
	KeyUsername = "username"
	KeyPassword = "password"
	KeyDatabase = "dbname"
	KeyHost     = "host"
	KeyPort     = "port"
	KeyURI      = "uri"
	KeyCACert   = "ca.crt"
	KeyCAKey    = "ca.key"
)

// More annotation keys.
const (
	// AnnotationAppliedHash is the hash of what pgo last applied to an
	// object, so that an unchanged object is not written again.
	AnnotationAppliedHash = "pgo.dev/applied-hash"
	// AnnotationKeepData on a PGReplica keeps its volumes when it is
	// removed.
	AnnotationKeepData = "pgo.dev/keep-data"
	// AnnotationRemove on a PGReplica marks it as the one to remove when
	// the cluster's replica count goes down (`pgo scaledown --target`).
	AnnotationRemove = "pgo.dev/remove"
	// AnnotationRestartedAt in the pod template of an instance's
	// StatefulSet asks for a rolling restart: a restart task sets it to its
	// start time, which changes the template, and the cluster reconciler
	// rolls pods whose template is outdated (replicas first, then a
	// switchover, then the old primary), as for any other change.
	AnnotationRestartedAt = "pgo.dev/restarted-at"
)

// Finalizer holds a PGCluster or PGReplica until pgo has cleaned up after it.
const Finalizer = "pgo.dev/finalizer"

// InstanceOfPod is the instance whose pod has this name: each instance is
// a StatefulSet of one pod, "<instance>-0". Instance managers hold the
// leader lock under their pod's name.
func InstanceOfPod(pod string) string { return strings.TrimSuffix(pod, "-0") }

// PodOfInstance is the name of an instance's pod, under which its instance
// manager takes part in leader election.
func PodOfInstance(instance string) string { return instance + "-0" }

// pgBackRest.

// RoleRepoHost is the LabelRole of a cluster's repository host pod.
const RoleRepoHost = "repo-host"

// RepoHost is a cluster's repository host: its StatefulSet, whose one pod
// is RepoHost + "-0".
func RepoHost(cluster string) string { return cluster + "-repo-host" }

// RepoVolume is the PersistentVolumeClaim of a volume repository.
func RepoVolume(cluster, repo string) string { return cluster + "-pgbackrest-" + repo }

// BackRestConfigMap holds the pgBackRest configuration of the database
// pods and of the repository host; BackRestSecret the repository host's
// secret options (S3 keys, cipher passphrases); BackRestCertSecret the
// cluster's pgBackRest certificate; RepoHostAPISecret the credentials of
// the repository host's API.
func BackRestConfigMap(cluster string) string  { return cluster + "-pgbackrest-config" }
func BackRestSecret(cluster string) string     { return cluster + "-pgbackrest-secret" }
func BackRestCertSecret(cluster string) string { return cluster + "-pgbackrest-cert" }
func RepoHostAPISecret(cluster string) string  { return cluster + "-pgbackrest-api" }

// BackRestClientName is the common name of a cluster's pgBackRest
// certificate: the one client its pgBackRest servers let in.
func BackRestClientName(cluster string) string { return cluster + "-pgbackrest" }

// Keys of the pgBackRest ConfigMap and Secret.
const (
	KeyBackRestInstance = "pgbackrest-instance.conf"
	KeyBackRestRepoHost = "pgbackrest-repo-host.conf"
	KeyBackRestSecret   = "pgbackrest-secret.conf"
)
