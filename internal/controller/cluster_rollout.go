package controller

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
)

// rollout carries on a rolling change (new resources, image, settings that
// need a restart): replicas first, then a switchover, then the old primary.
func (r *ClusterReconciler) rollout(ctx context.Context, c *pgov1.PGCluster, o *observed) (bool, error) {
	if c.Spec.Shutdown {
		return false, nil
	}
	primary := leader(o.lease, o.now)
	var members []rolloutMember
	for _, inst := range o.instances {
		sts := &appsv1.StatefulSet{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: inst.Name}, sts); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		// The cache may not hold the StatefulSet just applied yet, or the
		// StatefulSet controller may not have taken it up: then the pods
		// look current when they are not.
		_, hash, err := (applier{client: r.Client, scheme: r.Scheme}).desired(c, specs.StatefulSet(c, inst, r.Options))
		if err != nil {
			return false, err
		}
		if sts.Annotations[naming.AnnotationAppliedHash] != hash || sts.Status.ObservedGeneration < sts.Generation {
			o.progressing = "waiting for StatefulSet " + inst.Name + " to take the change"
			return true, nil
		}
		pod := o.pods[inst.Name]
		if pod == nil || sts.Status.UpdateRevision == "" {
			// The pod's arrival triggers the next reconcile.
			o.progressing = "waiting for the pod of " + inst.Name
			return false, nil
		}
		members = append(members, rolloutMember{
			Name:    inst.Name,
			Primary: inst.Name == primary,
			Current: pod.Labels[appsv1.ControllerRevisionHashLabelKey] == sts.Status.UpdateRevision,
			Ready:   podReady(pod),
		})
	}
	step, active := nextRollout(members)
	if !active {
		return false, nil
	}
	switch {
	case step.DeletePod != "":
		o.progressing = "restarting " + step.DeletePod + " with the new settings"
		pod := o.pods[step.DeletePod]
		if err := r.Client.Delete(ctx, pod); client.IgnoreNotFound(err) != nil {
			return false, fmt.Errorf("restarting %s: %w", step.DeletePod, err)
		}
		r.event(c, corev1.EventTypeNormal, "RollingRestart", "Update", "restarting %s with the new settings", step.DeletePod)
	case step.SwitchoverTo != "":
		o.progressing = "switching over to " + step.SwitchoverTo + " to restart " + primary
		if err := r.requestSwitchover(ctx, c, primary, step.SwitchoverTo); err != nil {
			return false, err
		}
		r.event(c, corev1.EventTypeNormal, "SwitchingOver", "Update", "switching over from %s to %s to restart the primary last", primary, step.SwitchoverTo)
	default:
		o.progressing = "rolling out a change: waiting for " + step.Waiting
	}
	return true, nil
}
