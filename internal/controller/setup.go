package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/naming"
)

// DefaultQPS and DefaultBurst bound the controller's requests to the API
// server; above client-go's defaults (5 and 10), which would make a first
// reconcile of hundreds of clusters take many minutes.
const (
	DefaultQPS   = 200
	DefaultBurst = 400
)

// CacheOptions limit what the manager caches: the namespaces it serves (all
// when none are given), and of the kinds pgo creates only objects with pgo's
// cluster label, so that memory follows the number of clusters rather than
// the size of the Kubernetes cluster.
func CacheOptions(namespaces []string) cache.Options {
	req, err := labels.NewRequirement(naming.LabelCluster, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	ours := cache.ByObject{Label: labels.NewSelector().Add(*req)}
	opts := cache.Options{ByObject: map[client.Object]cache.ByObject{}}
	for _, obj := range []client.Object{
		&corev1.Secret{}, &corev1.ConfigMap{}, &corev1.Service{}, &corev1.ServiceAccount{},
		&corev1.PersistentVolumeClaim{}, &corev1.Pod{}, &appsv1.StatefulSet{},
		&rbacv1.Role{}, &rbacv1.RoleBinding{}, &coordinationv1.Lease{},
	} {
		opts.ByObject[obj] = ours
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}
