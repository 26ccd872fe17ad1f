package controller

import (
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"pgo.dev/pgo/internal/naming"
)

func TestDecideRemoval(t *testing.T) {
	lease := func(holder string, renewed time.Duration) *coordinationv1.Lease {
		l := &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To[int32](30),
			RenewTime: &metav1.MicroTime{Time: time.Now().Add(-renewed)}}}
		// A released lock has an empty holder; one never taken has none.
		l.Spec.HolderIdentity = ptr.To("")
		if holder != "" {
			l.Spec.HolderIdentity = ptr.To(naming.PodOfInstance(holder))
		}
		return l
	}
	pod := func(role string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{naming.LabelRole: role}}}
	}
	for _, tc := range []struct {
		name       string
		lease      *coordinationv1.Lease
		pod        *corev1.Pod
		switchover bool
		wait       string // part of the reason; "" when removal may go on
	}{
		{"never initialized", nil, nil, false, ""},
		{"never initialized: the operator's empty lease", &coordinationv1.Lease{}, nil, false, ""},
		{"a replica", lease("hippo-aaaa", 0), pod(naming.RoleReplica), false, ""},
		{"a replica without a pod", lease("hippo-aaaa", 0), nil, false, ""},
		{"the lock holder", lease("hippo-bbbb", 0), pod(naming.RolePrimary), true, "holds the leader lock"},
		{"the holder of a lock that looks expired", lease("hippo-bbbb", time.Hour), pod(naming.RolePrimary), true, "holds the leader lock"},
		{"no holder: a switchover is under way", lease("", 0), pod(naming.RoleReplica), false, "no member holds"},
		{"labelled primary, another holds the lock", lease("hippo-aaaa", 0), pod(naming.RolePrimary), false, "labelled primary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decideRemoval(tc.lease, tc.pod, "hippo-bbbb")
			if got.Switchover != tc.switchover || (tc.wait == "") != (got.Wait == "") || !strings.Contains(got.Wait, tc.wait) {
				t.Errorf("decideRemoval = %+v, want switchover %v and a wait saying %q", got, tc.switchover, tc.wait)
			}
		})
	}
}
