package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
)

// observe reads the instances' pods and the leader lock.
func (r *ClusterReconciler) observe(ctx context.Context, c *pgov1.PGCluster, instances []specs.Instance) (observed, error) {
	o := observed{instances: instances, pods: map[string]*corev1.Pod{}, now: r.now()}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return o, fmt.Errorf("listing the cluster's pods: %w", err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if inst := p.Labels[naming.LabelInstance]; inst != "" {
			o.pods[inst] = p
		}
		if p.Labels[naming.LabelRole] == naming.RoleRepoHost {
			o.repoHost = p
		}
	}
	lease, err := r.lease(ctx, c)
	o.lease, o.archiveThreshold = lease, r.archiveThreshold()
	if ms, ok := memberStatus(o.pods[leader(lease, o.now)]); ok {
		o.recheck = archiveRecheck(ms.Archive, o.now, o.archiveThreshold)
	}
	return o, err
}

// updateStatus writes the status when it changed.
func (r *ClusterReconciler) updateStatus(ctx context.Context, c *pgov1.PGCluster, o observed) error {
	st := clusterStatus(c, o)
	if equality.Semantic.DeepEqual(st, c.Status) {
		return nil
	}
	if st.Primary != "" && st.Primary != c.Status.Primary && c.Status.Primary != "" {
		r.event(c, corev1.EventTypeNormal, "PrimaryChanged", "Failover", "the primary is now %s (was %s)", st.Primary, c.Status.Primary)
	}
	for _, is := range st.Instances {
		if is.KeptData != "" && !slices.ContainsFunc(c.Status.Instances, func(was pgov1.PGInstanceStatus) bool {
			return was.Name == is.Name && was.KeptData == is.KeptData
		}) {
			r.event(c, corev1.EventTypeWarning, "DataKept", "Rewind", "%s could not be rewound and was cloned again; its old data directory is kept at %s", is.Name, is.KeptData)
		}
	}
	if was, is := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterWALArchiving), meta.FindStatusCondition(st.Conditions, pgov1.ClusterWALArchiving); is != nil && (was == nil || was.Status != is.Status) {
		switch {
		case is.Status == metav1.ConditionFalse:
			r.event(c, corev1.EventTypeWarning, "WALArchivingFailed", "Archive", "%s", is.Message)
		case was != nil:
			r.event(c, corev1.EventTypeNormal, "WALArchivingResumed", "Archive", "%s", is.Message)
		}
	}
	if was, is := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterDiskPressure), meta.FindStatusCondition(st.Conditions, pgov1.ClusterDiskPressure); is != nil && (was == nil || was.Status != is.Status) {
		switch {
		case is.Status == metav1.ConditionTrue:
			r.event(c, corev1.EventTypeWarning, "DiskPressure", "Storage", "%s", is.Message)
		case was != nil:
			r.event(c, corev1.EventTypeNormal, "DiskPressureRelieved", "Storage", "%s", is.Message)
		}
	}
	if st.Phase != c.Status.Phase {
		r.event(c, corev1.EventTypeNormal, "Phase"+string(st.Phase), "Status", "the cluster is %s", strings.ToLower(string(st.Phase)))
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Status = st
	if err := r.Client.Status().Patch(ctx, c, patch); err != nil {
		return fmt.Errorf("updating the status: %w", err)
	}
	return nil
}
