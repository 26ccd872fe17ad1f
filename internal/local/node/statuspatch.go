package node

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// statusPatcher is the client the virtual-kubelet pod controller gets. The
// controller writes a pod's status with UpdateStatus of the provider's copy
// of the pod, which carries the labels and annotations the pod had when the
// node started it, and the pods/status endpoint writes those too. The
// instance managers label their pods with their role and publish their state
// in an annotation, so such a write would undo a promotion's label. As a
// kubelet does, statusPatcher patches the status alone instead, on the pod
// with the same UID only.
type statusPatcher struct{ kubernetes.Interface }

func (c statusPatcher) CoreV1() corev1client.CoreV1Interface {
	return coreStatusPatcher{c.Interface.CoreV1()}
}

type coreStatusPatcher struct{ corev1client.CoreV1Interface }

func (c coreStatusPatcher) Pods(namespace string) corev1client.PodInterface {
	return podStatusPatcher{c.CoreV1Interface.Pods(namespace)}
}

type podStatusPatcher struct{ corev1client.PodInterface }

func (p podStatusPatcher) UpdateStatus(ctx context.Context, pod *corev1.Pod, _ metav1.UpdateOptions) (*corev1.Pod, error) {
	patch, err := statusPatch(pod)
	if err != nil {
		return nil, err
	}
	return p.Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
}

// statusPatch is a JSON merge patch that sets a pod's status and fails
// (Conflict) when the pod of that name has another UID: a pod recreated
// under the same name, as a StatefulSet's, is not this node's to describe.
func statusPatch(pod *corev1.Pod) ([]byte, error) {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   pod.Status,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return patch, nil
}
