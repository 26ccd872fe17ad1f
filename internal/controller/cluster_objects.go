package controller

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/specs"
)

// clusterObjects applies the cluster's ConfigMap, RBAC and Services, and
// creates its leader Lease and sync and switchover ConfigMaps, all before
// the instances that use them.
func (r *ClusterReconciler) clusterObjects(ctx context.Context, a applier, c *pgov1.PGCluster, instances []specs.Instance) error {
	cm, err := specs.ConfigMap(c)
	if err != nil {
		return err
	}
	sa, role, binding := specs.InstanceRBAC(c, specs.InstancePods(instances))
	objects := []client.Object{cm, sa, role, binding}
	for _, svc := range specs.Services(c) {
		objects = append(objects, svc)
	}
	for _, obj := range objects {
		if _, err := a.apply(ctx, c, obj); err != nil {
			return err
		}
	}
	lease, cms := specs.DCSObjects(c)
	created := []client.Object{lease}
	for _, cm := range cms {
		created = append(created, cm)
	}
	for _, obj := range created {
		if _, err := a.create(ctx, c, obj); err != nil {
			return err
		}
	}
	return nil
}
