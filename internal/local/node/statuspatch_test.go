package node

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"pgo.dev/pgo/internal/testenv"
)

// TestStatusWriteKeepsLabels: the node's status writes, made from its own
// copy of a pod, keep the labels and annotations others wrote since (an
// instance manager's role label and member state), and never touch a pod
// recreated under the same name.
func TestStatusWriteKeepsLabels(t *testing.T) {
	env := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods := env.Clientset.CoreV1().Pods("default")
	created, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "labelled", Labels: map[string]string{"role": "replica"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "none"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := created.DeepCopy()
	patched, err := pods.Patch(ctx, "labelled", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"role":"primary"},"annotations":{"state":"leader"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// As the virtual-kubelet pod controller does: the provider's copy with
	// the resource version of the informer's.
	stale.ResourceVersion = patched.ResourceVersion

	stale.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.65.0.9",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	writer := statusPatcher{env.Clientset}.CoreV1().Pods("default")
	if _, err := writer.UpdateStatus(ctx, stale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "labelled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["role"] != "primary" || got.Annotations["state"] != "leader" {
		t.Errorf("a status write undid the pod's metadata: labels %v, annotations %v", got.Labels, got.Annotations)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "127.65.0.9" || len(got.Status.Conditions) != 1 {
		t.Errorf("status not written: %+v", got.Status)
	}

	// The same name, another pod: the old pod's status must not land on it.
	zero := int64(0)
	if err := pods.Delete(ctx, "labelled", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	again, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "labelled"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "none"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.UpdateStatus(ctx, stale, metav1.UpdateOptions{}); err == nil {
		t.Error("the status of a deleted pod was written on the pod recreated under its name")
	}
	got, err = pods.Get(ctx, "labelled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != again.UID || got.Status.Phase == corev1.PodRunning {
		t.Errorf("the recreated pod got the old pod's status: %+v", got.Status)
	}
}
