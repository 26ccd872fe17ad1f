package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Name limits. Every object pgo derives from a cluster, a replica or a
// schedule is named by appending a short suffix, and several of those names
// end up in label values (63 characters at most):
//
//   - an instance is "<cluster>-<4 characters>": 40+5 = 45;
//   - its StatefulSet has the instance's name and labels its revisions
//     "<statefulset>-<hash of up to 10 characters>": 52+11 = 63, so an
//     instance (a PGReplica) is at most 52 characters;
//   - cluster objects are "<cluster>-<suffix>" with suffixes of at most 12
//     characters ("-replica", "-pgbouncer", "-repo-host", "-leader");
//   - a task's Job has the task's name (63 at most): `pgo backup` names its
//     tasks "<cluster>-backup-<5 characters>" (40+13 = 53), and a schedule
//     names its tasks "<schedule>-<10 digit timestamp>" (52+11 = 63).
const (
	// MaxClusterNameLength is the longest PGCluster name.
	MaxClusterNameLength = 40
	// MaxInstanceNameLength is the longest PGReplica (instance) name.
	MaxInstanceNameLength = 52
	// MaxScheduleNameLength is the longest PGSchedule name.
	MaxScheduleNameLength = 52
	// MaxTaskNameLength is the longest PGTask name: a task's Job shares it.
	MaxTaskNameLength = 63
)

// PGStorage is a volume for one role: primary data, replica data, WAL or a
// backup repository. pgo creates one PersistentVolumeClaim per instance from it.
//
// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self.size)) || quantity(string(self.size)).isGreaterThan(quantity('0'))",message="size must be greater than zero, such as 1Gi",fieldPath=".size"
// +kubebuilder:validation:XValidation:rule="quantity(string(self.size)).compareTo(quantity(string(oldSelf.size))) >= 0",message="size may grow but not shrink: PersistentVolumeClaims cannot be made smaller",fieldPath=".size"
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storageClassName cannot change after creation: existing volumes keep their class",fieldPath=".storageClassName"
// +kubebuilder:validation:XValidation:rule="self.accessMode == oldSelf.accessMode",message="accessMode cannot change after creation: PersistentVolumeClaims keep their access mode",fieldPath=".accessMode"
type PGStorage struct {
	// StorageClassName is the StorageClass of the volumes: the cluster's
	// default StorageClass when left out, and no class (pre-provisioned
	// volumes only) when "".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$`
	StorageClassName *string `json:"storageClassName,omitempty"`

	// Size is the requested capacity, such as 10Gi. It may grow (when the
	// StorageClass allows expansion) but not shrink.
	// +required
	Size resource.Quantity `json:"size"`

	// AccessMode of the volumes.
	// +optional
	// +kubebuilder:default=ReadWriteOnce
	// +kubebuilder:validation:Enum=ReadWriteOnce;ReadWriteMany;ReadWriteOncePod
	AccessMode corev1.PersistentVolumeAccessMode `json:"accessMode,omitempty"`
}

// NodeAffinityType says whether a node preference must hold.
// +kubebuilder:validation:Enum=preferred;required
type NodeAffinityType string

// Node affinity types.
const (
	NodeAffinityPreferred NodeAffinityType = "preferred"
	NodeAffinityRequired  NodeAffinityType = "required"
)

// PGNodeAffinity places instances on nodes that carry a label, as
// `pgo create cluster --node-label=key=value --node-affinity-type=...` does.
type PGNodeAffinity struct {
	// Key of the node label, such as topology.kubernetes.io/zone.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`
	Key string `json:"key"`

	// Value the label must have.
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`
	Value string `json:"value"`

	// Type is "preferred" (schedule elsewhere when no such node has room) or
	// "required" (stay pending until one has).
	// +optional
	// +kubebuilder:default=preferred
	Type NodeAffinityType `json:"type,omitempty"`
}

// BackupType is a pgBackRest backup type.
// +kubebuilder:validation:Enum=full;diff;incr
type BackupType string

// Backup types.
const (
	BackupFull         BackupType = "full"
	BackupDifferential BackupType = "diff"
	BackupIncremental  BackupType = "incr"
)

// RecoveryTargetType is the kind of point a restore stops at.
// +kubebuilder:validation:Enum=time;xid;lsn;name;immediate
type RecoveryTargetType string

// Recovery target types, as PostgreSQL's recovery_target_* settings.
const (
	RecoveryTargetTime      RecoveryTargetType = "time"
	RecoveryTargetXID       RecoveryTargetType = "xid"
	RecoveryTargetLSN       RecoveryTargetType = "lsn"
	RecoveryTargetName      RecoveryTargetType = "name"
	RecoveryTargetImmediate RecoveryTargetType = "immediate"
)

// PGRecoveryTarget is the point in time (or transaction, LSN, named restore
// point) a restore replays WAL up to.
//
// +kubebuilder:validation:XValidation:rule="self.type == 'immediate' ? !has(self.value) : has(self.value)",message="value is required for targets of type time, xid, lsn and name, and must be left out for immediate",fieldPath=".value"
// +kubebuilder:validation:XValidation:rule="self.type != 'lsn' || !has(self.value) || self.value.matches('^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$')",message="an lsn target looks like 0/3000060",fieldPath=".value"
// +kubebuilder:validation:XValidation:rule="self.type != 'xid' || !has(self.value) || self.value.matches('^[0-9]{1,20}$')",message="an xid target is a transaction number, such as 1234",fieldPath=".value"
type PGRecoveryTarget struct {
	// Type of the target.
	// +required
	Type RecoveryTargetType `json:"type"`

	// Value of the target: a timestamp such as "2026-11-27 11:59:59+00"
	// (time), a transaction number (xid), an LSN such as 0/3000060 (lsn) or a
	// restore point name (name).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Value string `json:"value,omitempty"`

	// Exclusive stops just before the target instead of just after it.
	// +optional
	Exclusive bool `json:"exclusive,omitempty"`
}

// ClusterName is the name of a PGCluster. See MaxClusterNameLength.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=40
// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
type ClusterName string

// InstanceName is the name of an instance: a PGReplica, or a cluster's first
// instance. See MaxInstanceNameLength.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=52
// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
type InstanceName string

// ObjectName is the name of a Kubernetes object such as a Secret, a ConfigMap,
// a StorageClass or a PGPolicy: a DNS subdomain.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
type ObjectName string

// RepoName is the name of a pgBackRest repository: repo1 to repo4.
// +kubebuilder:validation:Pattern=`^repo[1-4]$`
type RepoName string

// DatabaseName is the name of a PostgreSQL database.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_$-]*$`
type DatabaseName string

// RoleName is the name of a PostgreSQL user that pgo manages for the user. It
// also names the user's Secret, hence lowercase.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9_-]*$`
// +kubebuilder:validation:XValidation:rule="!(self in ['postgres', 'replicator', 'pgbouncer', 'ccp_monitoring', 'pgbackrest'])",message="must not be one of the users pgo manages itself: postgres, replicator, pgbouncer, ccp_monitoring, pgbackrest"
// +kubebuilder:validation:XValidation:rule="!self.startsWith('pg_')",message="must not start with pg_, which PostgreSQL reserves for its own roles"
type RoleName string

// PgBackRestOptions are more long options for a pgbackrest command, such as
// --start-fast or --set=20261127-010000F.
// +listType=atomic
// +kubebuilder:validation:MaxItems=32
// +kubebuilder:validation:items:MaxLength=256
// +kubebuilder:validation:items:Pattern=`^--[a-z][a-z0-9-]*(=.*)?$`
type PgBackRestOptions []string

// Resources are the CPU and memory requests and limits of a container.
// +kubebuilder:validation:XValidation:rule="!has(self.claims)",message="claims (dynamic resource allocation) are not supported; give cpu and memory requests and limits"
// +kubebuilder:validation:XValidation:rule="!has(self.limits) || !has(self.requests) || ['cpu', 'memory'].all(r, !(r in self.limits) || !(r in self.requests) || quantity(string(self.limits[r])).compareTo(quantity(string(self.requests[r]))) >= 0)",message="limits must be at least the requests for cpu and memory"
type Resources corev1.ResourceRequirements
