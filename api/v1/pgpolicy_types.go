package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PGPolicy is SQL to apply to clusters, with `pgo apply` or on a schedule.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pgp;pgpolicy,categories=pgo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Database",type=string,JSONPath=`.spec.database`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PGPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PGPolicySpec `json:"spec"`

	// +optional
	Status PGPolicyStatus `json:"status,omitempty"`
}

// PGPolicySpec is the SQL of a policy.
type PGPolicySpec struct {
	// SQL to run, in one transaction, as the postgres superuser.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1048576
	// +kubebuilder:validation:XValidation:rule="!self.matches('^\\\\s*$')",message="sql must hold at least one statement"
	SQL string `json:"sql"`

	// Database to run the SQL in; each cluster's application database when
	// empty.
	// +optional
	Database DatabaseName `json:"database,omitempty"`
}

// PGPolicyStatus lists where the policy was applied.
type PGPolicyStatus struct {
	// Applied lists the clusters the policy was applied to, and when.
	// +optional
	// +listType=map
	// +listMapKey=clusterName
	Applied []PGPolicyApplication `json:"applied,omitempty"`

	// Conditions of the policy.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PGPolicyApplication is the last application of a policy to one cluster.
type PGPolicyApplication struct {
	// ClusterName is the cluster the policy was applied to.
	// +required
	ClusterName ClusterName `json:"clusterName"`

	// Time of the last successful application.
	// +required
	Time metav1.Time `json:"time"`

	// TaskName is the PGTask that applied it.
	// +optional
	TaskName string `json:"taskName,omitempty"`
}

// +kubebuilder:object:root=true

// PGPolicyList is a list of PGPolicies.
type PGPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PGPolicy `json:"items"`
}
