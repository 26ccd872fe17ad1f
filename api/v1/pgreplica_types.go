package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PGReplica is one replica instance of a PGCluster. Its name is the
// instance's name: "<cluster>-<suffix>".
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pgr;pgreplica,categories=pgo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.status.role`
// +kubebuilder:printcolumn:name="Ready",type=boolean,JSONPath=`.status.ready`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.node`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 52",message="metadata.name must be at most 52 characters, so that the instance's StatefulSet fits Kubernetes limits"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must start with a lowercase letter and hold only lowercase letters, digits and '-'"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.startsWith(self.spec.clusterName + '-')",message="metadata.name must be spec.clusterName, '-' and a suffix, such as hacluster-abcd"
// +kubebuilder:validation:XValidation:rule="!self.metadata.name.startsWith(self.spec.clusterName + '-') || !(self.metadata.name.substring(self.spec.clusterName.size() + 1) in ['backup', 'config', 'failover', 'leader', 'pgbouncer', 'pods', 'primary', 'replica', 'repo', 'repo-host', 'sync'])",message="metadata.name must not end in a suffix that names the cluster's own objects: backup, config, failover, leader, pgbouncer, pods, primary, replica, repo, repo-host, sync"
type PGReplica struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PGReplicaSpec `json:"spec"`

	// +optional
	Status PGReplicaStatus `json:"status,omitempty"`
}

// PGReplicaSpec is a replica instance. What it leaves out comes from its
// cluster's spec.
type PGReplicaSpec struct {
	// ClusterName is the PGCluster this replica belongs to.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterName cannot change: a replica belongs to one cluster"
	ClusterName ClusterName `json:"clusterName"`

	// Storage of this replica's data volume; the cluster's replicaStorage
	// when left out.
	// +optional
	Storage *PGStorage `json:"storage,omitempty"`

	// Resources of this replica's PostgreSQL container; the cluster's when
	// left out.
	// +optional
	Resources *Resources `json:"resources,omitempty"`

	// NodeAffinity places this replica on nodes with a label; the cluster's
	// when left out.
	// +optional
	NodeAffinity *PGNodeAffinity `json:"nodeAffinity,omitempty"`

	// Tolerations of this replica's pod; the cluster's when left out.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// FailoverPriority ranks replicas with the same WAL position when one is
	// promoted: the highest wins. 0 means this replica is never promoted.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	FailoverPriority *int32 `json:"failoverPriority,omitempty"`
}

// PGReplicaStatus is the replica as pgo last observed it.
type PGReplicaStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions of the replica.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Role of the instance: after a failover a PGReplica may be the primary.
	// +optional
	Role InstanceRole `json:"role,omitempty"`

	// Ready is true when the instance passes its readiness check.
	// +optional
	Ready bool `json:"ready,omitempty"`

	// Node the instance's pod runs on.
	// +optional
	Node string `json:"node,omitempty"`
}

// +kubebuilder:object:root=true

// PGReplicaList is a list of PGReplicas.
type PGReplicaList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PGReplica `json:"items"`
}
