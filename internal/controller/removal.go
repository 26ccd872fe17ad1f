package controller

import (
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/naming"
)

// removal is what the controller may do with an instance being removed.
type removal struct {
	// Switchover: the instance holds the leader lock; it hands the primary
	// role over first.
	Switchover bool
	// Wait says why the instance may not be removed yet; empty when it may.
	Wait string
}

// decideRemoval decides whether an instance's StatefulSet and volumes may
// go. It reads the lock's holder whatever the lock's renew time says: the
// controller's clock and a late renewal make a live lock look expired, and
// a primary removed without a switchover takes acknowledged writes with
// its volume. pod is the instance's pod (nil when there is none).
func decideRemoval(lease *coordinationv1.Lease, pod *corev1.Pod, instance string) removal {
	member := naming.PodOfInstance(instance)
	switch {
	case lease == nil || lease.Spec.HolderIdentity == nil:
		// No member ever took the lock (the operator creates the Lease
		// without a holder; a release leaves an empty one): no instance
		// holds the cluster's data.
	case dcs.LeaseHolder(lease) == member:
		return removal{Switchover: true, Wait: fmt.Sprintf("%s holds the leader lock: switching over first", instance)}
	case dcs.LeaseHolder(lease) == "":
		return removal{Wait: "no member holds the leader lock (a switchover or failover is under way)"}
	}
	if pod != nil && pod.Labels[naming.LabelRole] == naming.RolePrimary {
		return removal{Wait: fmt.Sprintf("the pod of %s is labelled primary", instance)}
	}
	return removal{}
}
