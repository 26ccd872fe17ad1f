package watch

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStripManagedFields(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "pgo", Operation: metav1.ManagedFieldsOperationApply}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ManagedFields: managed}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: managed}}
	for _, obj := range []metav1.Object{pod, claim} {
		out, err := stripManagedFields(obj)
		if err != nil {
			t.Fatalf("%s: %v", obj.GetName(), err)
		}
		if out != any(obj) {
			t.Errorf("%s: returned another object", obj.GetName())
		}
		if obj.GetManagedFields() != nil {
			t.Errorf("%s: managed fields kept: %v", obj.GetName(), obj.GetManagedFields())
		}
	}
}
