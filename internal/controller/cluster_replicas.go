package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
)

// replicas are the cluster's PGReplicas.
func (r *ClusterReconciler) replicas(ctx context.Context, c *pgov1.PGCluster) ([]pgov1.PGReplica, error) {
	var list pgov1.PGReplicaList
	if err := r.Client.List(ctx, &list, client.InNamespace(c.Namespace)); err != nil {
		return nil, fmt.Errorf("listing PGReplicas: %w", err)
	}
	var out []pgov1.PGReplica
	for _, p := range list.Items {
		if string(p.Spec.ClusterName) == c.Name {
			out = append(out, p)
		}
	}
	return out, nil
}

// scale makes the number of PGReplicas match spec.replicas: it creates new
// ones, or removes those that replicasToRemove chooses.
func (r *ClusterReconciler) scale(ctx context.Context, c *pgov1.PGCluster, replicas []pgov1.PGReplica) (bool, error) {
	want := int(c.Spec.Replicas)
	switch {
	case len(replicas) < want:
		taken := map[string]bool{specs.FirstInstance(c): true}
		for _, p := range replicas {
			taken[p.Name] = true
		}
		for n := len(replicas); n < want; n++ {
			name, err := newReplicaName(c.Name, taken)
			if err != nil {
				return false, err
			}
			taken[name] = true
			p := &pgov1.PGReplica{
				TypeMeta:   metav1.TypeMeta{APIVersion: pgov1.GroupVersion.String(), Kind: "PGReplica"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: specs.ClusterLabels(c.Name), Finalizers: []string{naming.Finalizer}},
				Spec:       pgov1.PGReplicaSpec{ClusterName: pgov1.ClusterName(c.Name)},
			}
			if err := controllerutil.SetControllerReference(c, p, r.Scheme); err != nil {
				return false, err
			}
			if err := r.Client.Create(ctx, p); err != nil {
				return false, fmt.Errorf("creating PGReplica %s: %w", name, err)
			}
			r.event(c, corev1.EventTypeNormal, "ScaledUp", "Scale", "created replica %s", name)
		}
		return true, nil
	case len(replicas) > want:
		lease, err := r.lease(ctx, c)
		if err != nil {
			return false, err
		}
		// The holder, even if the lock looks expired: see decideRemoval.
		primary := naming.InstanceOfPod(dcs.LeaseHolder(lease))
		for _, p := range replicasToRemove(replicas, primary, len(replicas)-want) {
			if err := r.Client.Delete(ctx, &p); client.IgnoreNotFound(err) != nil {
				return false, fmt.Errorf("removing PGReplica %s: %w", p.Name, err)
			}
			r.event(c, corev1.EventTypeNormal, "ScaledDown", "Scale", "removing replica %s", p.Name)
		}
		return true, nil
	}
	return false, nil
}

func newReplicaName(cluster string, taken map[string]bool) (string, error) {
	for range 100 {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		if name := specs.NewReplicaName(cluster, b); !taken[name] {
			return name, nil
		}
	}
	return "", errors.New("no free replica name")
}

// adoptReplicas makes user-created PGReplicas the cluster's, with pgo's
// finalizer, so that removing them removes their instance in order.
func (r *ClusterReconciler) adoptReplicas(ctx context.Context, c *pgov1.PGCluster, replicas []pgov1.PGReplica) error {
	for i := range replicas {
		p := &replicas[i]
		if metav1.IsControlledBy(p, c) && controllerutil.ContainsFinalizer(p, naming.Finalizer) {
			continue
		}
		patch := client.MergeFrom(p.DeepCopy())
		if err := controllerutil.SetControllerReference(c, p, r.Scheme); err != nil {
			return fmt.Errorf("adopting PGReplica %s: %w", p.Name, err)
		}
		controllerutil.AddFinalizer(p, naming.Finalizer)
		if err := r.Client.Patch(ctx, p, patch); err != nil {
			return fmt.Errorf("adopting PGReplica %s: %w", p.Name, err)
		}
	}
	return nil
}

// finalizeRemovedReplicas removes the instances of PGReplicas being
// deleted. The primary first hands over to another instance.
func (r *ClusterReconciler) finalizeRemovedReplicas(ctx context.Context, c *pgov1.PGCluster, replicas []pgov1.PGReplica) (ctrl.Result, error) {
	for i := range replicas {
		p := &replicas[i]
		if p.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(p, naming.Finalizer) {
			continue
		}
		lease, err := r.lease(ctx, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		pod := &corev1.Pod{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.PodOfInstance(p.Name)}, pod); apierrors.IsNotFound(err) {
			pod = nil
		} else if err != nil {
			return ctrl.Result{}, fmt.Errorf("reading the pod of %s: %w", p.Name, err)
		}
		switch d := decideRemoval(lease, pod, p.Name); {
		case d.Switchover:
			if err := r.requestSwitchover(ctx, c, p.Name, ""); err != nil {
				return ctrl.Result{}, err
			}
			r.event(c, corev1.EventTypeNormal, "SwitchingOver", "Scale", "switching over from %s before removing it", p.Name)
			return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
		case d.Wait != "":
			r.event(c, corev1.EventTypeNormal, "RemovalWaiting", "Scale", "not removing %s yet: %s", p.Name, d.Wait)
			return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
		}
		keep := p.Annotations[naming.AnnotationKeepData] == "true" || (c.Spec.Deletion != nil && c.Spec.Deletion.KeepData)
		if err := r.removeInstance(ctx, c, p.Name, keep); err != nil {
			return ctrl.Result{}, err
		}
		patch := client.MergeFrom(p.DeepCopy())
		controllerutil.RemoveFinalizer(p, naming.Finalizer)
		if err := r.Client.Patch(ctx, p, patch); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("releasing PGReplica %s: %w", p.Name, err)
		}
		r.event(c, corev1.EventTypeNormal, "InstanceRemoved", "Scale", "removed instance %s (data kept: %v)", p.Name, keep)
	}
	return ctrl.Result{}, nil
}

// removeInstance deletes an instance's StatefulSet and, unless keep, its
// volumes; kept volumes lose their owner so that they outlive the cluster.
func (r *ClusterReconciler) removeInstance(ctx context.Context, c *pgov1.PGCluster, instance string, keep bool) error {
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: instance, Namespace: c.Namespace}}
	if err := r.Client.Delete(ctx, sts); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting StatefulSet %s: %w", instance, err)
	}
	for _, name := range []string{naming.DataVolume(instance), naming.WALVolume(instance)} {
		if err := r.keepOrDelete(ctx, &corev1.PersistentVolumeClaim{}, client.ObjectKey{Namespace: c.Namespace, Name: name}, keep); err != nil {
			return err
		}
	}
	return nil
}

// keepOrDelete deletes an object, or keeps it without its owners, so that
// it outlives the cluster.
func (r *ClusterReconciler) keepOrDelete(ctx context.Context, obj client.Object, key client.ObjectKey, keep bool) error {
	if err := r.Client.Get(ctx, key, obj); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	kind := fmt.Sprintf("%T", obj)
	kind = kind[strings.LastIndexByte(kind, '.')+1:]
	if !keep {
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting %s %s: %w", kind, key.Name, err)
		}
		return nil
	}
	if len(obj.GetOwnerReferences()) > 0 {
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		obj.SetOwnerReferences(nil)
		if err := r.Client.Patch(ctx, obj, patch); err != nil {
			return fmt.Errorf("keeping %s %s: %w", kind, key.Name, err)
		}
	}
	return nil
}

// requestSwitchover asks the instance managers to hand the primary role
// from leader to candidate (the healthiest replica when empty).
func (r *ClusterReconciler) requestSwitchover(ctx context.Context, c *pgov1.PGCluster, from, to string) error {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: naming.FailoverConfigMap(c.Name), Namespace: c.Namespace, Labels: specs.ClusterLabels(c.Name)},
		Data:       map[string]string{naming.KeyLeader: podOf(from), naming.KeyCandidate: podOf(to)},
	}
	// Not through the applier: the instance managers clear a request they
	// refuse (a candidate that is not ready yet), and the same request
	// must then be written again.
	existing := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(cm), existing)
	switch {
	case apierrors.IsNotFound(err):
		if err := controllerutil.SetControllerReference(c, cm, r.Scheme); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, cm); err != nil {
			return fmt.Errorf("requesting a switchover: %w", err)
		}
	case err != nil:
		return fmt.Errorf("reading the switchover request: %w", err)
	case existing.Data[naming.KeyLeader] != cm.Data[naming.KeyLeader] || existing.Data[naming.KeyCandidate] != cm.Data[naming.KeyCandidate]:
		existing.Data = cm.Data
		if err := r.Client.Update(ctx, existing); err != nil {
			return fmt.Errorf("requesting a switchover: %w", err)
		}
	}
	return nil
}

// podOf is the member name of an instance ("" stays empty).
func podOf(instance string) string {
	if instance == "" {
		return ""
	}
	return naming.PodOfInstance(instance)
}

func (r *ClusterReconciler) lease(ctx context.Context, c *pgov1.PGCluster) (*coordinationv1.Lease, error) {
	lease := &coordinationv1.Lease{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.LeaderLease(c.Name)}, lease)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the leader lock: %w", err)
	}
	return lease, nil
}
