// Package v1 contains the pgo.dev/v1 API: PGCluster, PGReplica, PGTask,
// PGPolicy and PGSchedule.
//
// Validation lives in the schema (OpenAPI markers and CEL rules), so the
// Kubernetes API server itself refuses a bad object with a message that names
// the field to change.
//
// +kubebuilder:object:generate=true
// +groupName=pgo.dev
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every pgo resource.
	GroupVersion = schema.GroupVersion{Group: "pgo.dev", Version: "v1"}

	// SchemeBuilder registers the pgo types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the pgo types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&PGCluster{}, &PGClusterList{},
		&PGReplica{}, &PGReplicaList{},
		&PGTask{}, &PGTaskList{},
		&PGPolicy{}, &PGPolicyList{},
		&PGSchedule{}, &PGScheduleList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
