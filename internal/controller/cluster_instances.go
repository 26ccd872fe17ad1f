package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/specs"
)

// instance applies an instance's volumes and StatefulSet. It returns why a
// larger volume could not be applied, if so.
func (r *ClusterReconciler) instance(ctx context.Context, a applier, c *pgov1.PGCluster, inst specs.Instance) (string, error) {
	blocked := ""
	for _, pvc := range specs.Claims(c, inst) {
		existing := &corev1.PersistentVolumeClaim{}
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(pvc), existing)
		grow := false
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return "", err
		default:
			want, have := pvc.Spec.Resources.Requests[corev1.ResourceStorage], existing.Spec.Resources.Requests[corev1.ResourceStorage]
			if want.Cmp(have) > 0 {
				grow = true
				why := r.expansionBlocked(ctx, existing)
				if why == "" && existing.Status.Phase != corev1.ClaimBound {
					why = fmt.Sprintf("%s is not bound yet; it grows once it is", existing.Name)
				}
				if why != "" {
					blocked, grow = why, false
					pvc.Spec.Resources.Requests[corev1.ResourceStorage] = have
				}
			}
		}
		if _, err := a.apply(ctx, c, pvc); err != nil {
			return "", err
		}
		if grow {
			r.event(c, corev1.EventTypeNormal, "VolumeResized", "Resize", "requested %s for %s", pvc.Spec.Resources.Requests.Storage(), pvc.Name)
		}
	}
	if _, err := a.apply(ctx, c, specs.StatefulSet(c, inst, r.Options)); err != nil {
		return "", err
	}
	return blocked, nil
}

// expansionBlocked says why a volume cannot grow, or "" when it can.
func (r *ClusterReconciler) expansionBlocked(ctx context.Context, pvc *corev1.PersistentVolumeClaim) string {
	name := ""
	if pvc.Spec.StorageClassName != nil {
		name = *pvc.Spec.StorageClassName
	}
	var classes storagev1.StorageClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		return fmt.Sprintf("cannot read StorageClasses to resize %s: %v", pvc.Name, err)
	}
	for _, sc := range classes.Items {
		isDefault := sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true"
		if sc.Name == name || (name == "" && isDefault) {
			if sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion {
				return ""
			}
			return fmt.Sprintf("StorageClass %s of %s does not allow volume expansion; the volume keeps its size", sc.Name, pvc.Name)
		}
	}
	return fmt.Sprintf("the StorageClass of %s is not found, so it cannot be resized; the volume keeps its size", pvc.Name)
}
