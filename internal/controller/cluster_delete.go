package controller

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
)

// finalize removes what the cluster owns, keeping the volumes when asked.
func (r *ClusterReconciler) finalize(ctx context.Context, c *pgov1.PGCluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(c, naming.Finalizer) {
		return ctrl.Result{}, nil
	}
	keep := c.Spec.Deletion != nil && c.Spec.Deletion.KeepData
	replicas, err := r.replicas(ctx, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	instances := []string{specs.FirstInstance(c)}
	for i := range replicas {
		p := &replicas[i]
		instances = append(instances, p.Name)
		if controllerutil.ContainsFinalizer(p, naming.Finalizer) {
			patch := client.MergeFrom(p.DeepCopy())
			controllerutil.RemoveFinalizer(p, naming.Finalizer)
			if err := r.Client.Patch(ctx, p, patch); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, err
			}
		}
		if err := r.Client.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	for _, inst := range instances {
		if err := r.removeInstance(ctx, c, inst, keep); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.removeBackups(ctx, c); err != nil {
		return ctrl.Result{}, err
	}
	// The rest goes explicitly too, so that nothing waits for the garbage
	// collector.
	sa, role, binding := specs.InstanceRBAC(c, nil)
	owned := []client.Object{sa, role, binding}
	for _, svc := range specs.Services(c) {
		owned = append(owned, svc)
	}
	for _, name := range []string{naming.ConfigMap(c.Name), naming.SyncConfigMap(c.Name), naming.FailoverConfigMap(c.Name)} {
		owned = append(owned, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace}})
	}
	owned = append(owned, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: naming.LeaderLease(c.Name), Namespace: c.Namespace}})
	var secrets corev1.SecretList
	if err := r.Client.List(ctx, &secrets, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return ctrl.Result{}, err
	}
	for i := range secrets.Items {
		if metav1.IsControlledBy(&secrets.Items[i], c) && secrets.Items[i].Name != naming.BackRestSecret(c.Name) {
			owned = append(owned, &secrets.Items[i])
		}
	}
	for _, obj := range owned {
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("deleting %s: %w", obj.GetName(), err)
		}
	}
	r.forgetUsers(c)
	patch := client.MergeFrom(c.DeepCopy())
	controllerutil.RemoveFinalizer(c, naming.Finalizer)
	if err := r.Client.Patch(ctx, c, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("removing the finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}
