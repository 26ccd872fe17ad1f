package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"pgo.dev/pgo/internal/naming"
)

// fieldOwner is pgo's name in managedFields.
const fieldOwner = client.FieldOwner("pgo")

// applier writes the objects pgo builds, in one place: server-side apply of
// the fields pgo sets, skipped when the object already carries the hash of
// exactly what would be applied. A steady cluster costs no writes.
type applier struct {
	client client.Client
	scheme *runtime.Scheme
}

// apply makes obj (owned by owner) exist as built; it reports whether it
// wrote.
func (a applier) apply(ctx context.Context, owner client.Object, obj client.Object) (bool, error) {
	u, hash, err := a.desired(owner, obj)
	if err != nil {
		return false, err
	}

	existing := obj.DeepCopyObject().(client.Object)
	err = a.client.Get(ctx, client.ObjectKeyFromObject(obj), existing)
	switch {
	case err == nil && existing.GetAnnotations()[naming.AnnotationAppliedHash] == hash:
		return false, nil
	case err != nil && !apierrors.IsNotFound(err):
		return false, fmt.Errorf("reading %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}

	annotations, _, _ := unstructured.NestedStringMap(u, "metadata", "annotations")
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[naming.AnnotationAppliedHash] = hash
	if err := unstructured.SetNestedStringMap(u, annotations, "metadata", "annotations"); err != nil {
		return false, err
	}
	patch := &unstructured.Unstructured{Object: u}
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), fieldOwner, client.ForceOwnership); err != nil {
		return false, fmt.Errorf("applying %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	return true, nil
}

// create makes obj exist, leaving an existing one alone (Secrets: their
// passwords and keys are made once).
func (a applier) create(ctx context.Context, owner client.Object, obj client.Object) (bool, error) {
	existing := obj.DeepCopyObject().(client.Object)
	if err := a.client.Get(ctx, client.ObjectKeyFromObject(obj), existing); err == nil {
		return false, nil
	} else if !apierrors.IsNotFound(err) {
		return false, err
	}
	if owner != nil {
		if err := controllerutil.SetControllerReference(owner, obj, a.scheme); err != nil {
			return false, err
		}
	}
	if err := a.client.Create(ctx, obj); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return false, fmt.Errorf("creating %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	return true, nil
}

// desired is obj as apply sends it, owned by owner, and the hash apply
// records in the AnnotationAppliedHash annotation: an object in a cache
// carries that hash once the cache holds what was last applied.
func (a applier) desired(owner client.Object, obj client.Object) (map[string]any, string, error) {
	if owner != nil {
		if err := controllerutil.SetControllerReference(owner, obj, a.scheme); err != nil {
			return nil, "", err
		}
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, "", err
	}
	delete(u, "status")
	unstructured.RemoveNestedField(u, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u, "spec", "template", "metadata", "creationTimestamp")
	raw, err := json.Marshal(u)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(raw)
	return u, hex.EncodeToString(sum[:12]), nil
}
