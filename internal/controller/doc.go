// Package controller holds the operator's reconcilers, one per kind, and the
// RBAC markers from which config/rbac/role.yaml is generated.
//
// The operator reads and writes pgo's own resources and their status, and
// records Events; it holds a Lease for leader election between operator
// replicas. Permissions for the objects it creates for clusters are added
// with the reconcilers that create them.
//
// +kubebuilder:rbac:groups=pgo.dev,resources=pgclusters;pgreplicas;pgtasks;pgpolicies;pgschedules,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=pgo.dev,resources=pgclusters/status;pgreplicas/status;pgtasks/status;pgpolicies/status;pgschedules/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=pgo.dev,resources=pgclusters/finalizers;pgreplicas/finalizers;pgtasks/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// The metrics endpoint asks the Kubernetes API who a scraper is and whether
// it may get /metrics.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch,namespace=pgo
package controller
