package apiserver

// The apiserver runs with the operator's ServiceAccount. What it does itself:
//
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;create;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get
// +kubebuilder:rbac:groups="",resources=pods;services;persistentvolumeclaims,verbs=get;list
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get
// +kubebuilder:rbac:groups=pgo.dev,resources=pgclusters;pgreplicas,verbs=get;list;create;update;patch;delete
// +kubebuilder:rbac:groups=pgo.dev,resources=pgclusters/status,verbs=get;patch
// +kubebuilder:rbac:groups=pgo.dev,resources=pgtasks,verbs=get;list;create
