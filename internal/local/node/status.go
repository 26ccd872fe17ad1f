package node

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// How pod statuses reach the API. Each pod's status sender (podRuntime.
// sendStatus) hands its statuses, in order, to the virtual-kubelet pod
// controller, which writes them with statusPatcher. Every resync period the
// node also compares each running pod's status in the API with its own and
// writes its own again where they differ, as a kubelet's status manager
// does every 10 s. That heals what no change would: a write the pod
// controller gave up on after its retries, a status someone else wrote, a
// notification the pod controller skipped because it equalled the one
// before.

// DefaultStatusResync is how often a node compares its pods' statuses with
// the API's.
const DefaultStatusResync = 10 * time.Second

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

// clearable are the fields of a pod's status that the node sets at times
// and leaves empty at others: a merge patch must remove them (null), or the
// API would keep an old message for good.
var clearable = []string{"message", "reason"}

// statusPatch is a JSON merge patch that sets a pod's status and fails
// (Conflict) when the pod of that name has another UID: a pod recreated
// under the same name, as a StatefulSet's, is not this node's to describe.
func statusPatch(pod *corev1.Pod) ([]byte, error) {
	raw, err := json.Marshal(pod.Status)
	if err != nil {
		return nil, fmt.Errorf("encoding the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	var status map[string]any
	if err := json.Unmarshal(raw, &status); err != nil {
		return nil, err
	}
	for _, k := range clearable {
		if _, ok := status[k]; !ok {
			status[k] = nil
		}
	}
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": pod.UID},
		"status":   status,
	})
}

// differs reports whether patch would change pod's status. Both sides are
// compared as the API keeps them (times to the second, null and absent
// alike).
func differs(pod *corev1.Pod, patch []byte) (bool, error) {
	doc, err := json.Marshal(pod)
	if err != nil {
		return false, err
	}
	merged, err := jsonpatch.MergePatch(doc, patch)
	if err != nil {
		return false, err
	}
	var before, after corev1.Pod
	if err := json.Unmarshal(doc, &before); err != nil {
		return false, err
	}
	if err := json.Unmarshal(merged, &after); err != nil {
		return false, err
	}
	return !equality.Semantic.DeepEqual(before.Status, after.Status), nil
}

// resyncStatuses runs resyncStatus on every running pod each period until
// ctx ends.
func (n *Node) resyncStatuses(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, rt := range n.running() {
			if err := n.resyncStatus(ctx, rt); err != nil && ctx.Err() == nil {
				rt.log("comparing its status with the API's: %v", err)
			}
		}
	}
}

// resyncStatus writes rt's status to the API when the API's differs from
// it. It holds the pod's sending lock, so that no older status can be handed
// to the pod controller meanwhile.
func (n *Node) resyncStatus(ctx context.Context, rt *podRuntime) error {
	rt.sending.Lock()
	defer rt.sending.Unlock()
	ours := rt.snapshot()
	patch, err := statusPatch(ours)
	if err != nil {
		return err
	}
	n.mu.Lock()
	lister, current := n.podLister, n.pods[ours.UID] == rt
	n.mu.Unlock()
	if lister == nil || !current {
		return nil
	}
	// drifted: the pod read is still ours, and its status differs.
	drifted := func(read *corev1.Pod, err error) (bool, error) {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil || read.UID != ours.UID {
			return false, err
		}
		return differs(read, patch)
	}
	if drift, err := drifted(lister.Pods(ours.Namespace).Get(ours.Name)); err != nil || !drift {
		return err
	}
	// The informer can be behind the last write: ask the API itself.
	pods := n.client.CoreV1().Pods(ours.Namespace)
	if drift, err := drifted(pods.Get(ctx, ours.Name, metav1.GetOptions{})); err != nil || !drift {
		return err
	}
	rt.log("its status in the API differs from the node's; writing it again")
	n.rewrites.Add(1)
	if _, err := pods.Patch(ctx, ours.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}
