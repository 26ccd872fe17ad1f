package storage

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func claim(mutate ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: "ns", UID: "0123456789abcdef"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To(ClassName),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	for _, m := range mutate {
		m(c)
	}
	return c
}

func TestVolume(t *testing.T) {
	pv := Volume(claim(), "/var/lib/pgo/volumes")
	if pv.Name != "pvc-0123456789abcdef" {
		t.Errorf("name %s", pv.Name)
	}
	if got := pv.Spec.HostPath.Path; got != "/var/lib/pgo/volumes/ns_data-db-0_01234567" {
		t.Errorf("path %s", got)
	}
	if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("capacity %s", got.String())
	}
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.Namespace != "ns" || ref.Name != "data-db-0" || ref.UID != "0123456789abcdef" {
		t.Errorf("claimRef %+v", ref)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.StorageClassName != ClassName ||
		!IsOurs(pv) || pv.Spec.NodeAffinity != nil || len(pv.Spec.AccessModes) != 1 {
		t.Errorf("spec %+v", pv.Spec)
	}
	if DirOf(pv, "/var/lib/pgo/volumes/") != pv.Spec.HostPath.Path {
		t.Errorf("DirOf does not find the directory of its own volume")
	}
}

func TestNeedsVolume(t *testing.T) {
	now := metav1.NewTime(time.Now())
	for _, tt := range []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		want bool
	}{
		{"pending", claim(), true},
		{"by the beta annotation", claim(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.StorageClassName = nil
			c.Annotations = map[string]string{annotationBetaClass: ClassName}
		}), true},
		{"no class yet", claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = nil }), false},
		{"another class", claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = ptr.To("fast") }), false},
		{"bound", claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv" }), false},
		{"lost", claim(func(c *corev1.PersistentVolumeClaim) { c.Status.Phase = corev1.ClaimLost }), false},
		{"being deleted", claim(func(c *corev1.PersistentVolumeClaim) { c.DeletionTimestamp = &now }), false},
		{"no size", claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.Resources.Requests = nil }), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsVolume(tt.pvc); got != tt.want {
				t.Fatalf("NeedsVolume = %v, want %v", got, tt.want)
			}
		})
	}
	if Unsupported(claim()) != "" {
		t.Error("a plain claim is unsupported")
	}
	if Unsupported(claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock) })) == "" {
		t.Error("a block claim is supported")
	}
}

func TestToDeleteAndDirOf(t *testing.T) {
	released := Volume(claim(), "/v")
	released.Status.Phase = corev1.VolumeReleased
	if !ToDelete(released) {
		t.Error("a released volume of ours is kept")
	}
	bound := released.DeepCopy()
	bound.Status.Phase = corev1.VolumeBound
	retained := released.DeepCopy()
	retained.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	foreign := released.DeepCopy()
	foreign.Annotations = nil
	for name, pv := range map[string]*corev1.PersistentVolume{"bound": bound, "retained": retained, "foreign": foreign} {
		if ToDelete(pv) {
			t.Errorf("a %s volume is deleted", name)
		}
	}
	for _, path := range []string{"/v", "/", "/etc", "/v/a/b", "/v/../etc", "/v/.."} {
		pv := released.DeepCopy()
		pv.Spec.HostPath.Path = path
		if got := DirOf(pv, "/v"); got != "" {
			t.Errorf("DirOf(%s) = %q, want nothing to delete", path, got)
		}
	}
}

func TestResize(t *testing.T) {
	bound := func(request, pvCap, shown string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
		c := claim(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse(request)
			c.Spec.VolumeName = "pvc-0123456789abcdef"
			c.Status.Phase = corev1.ClaimBound
			c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(shown)}
		})
		pv := Volume(c, "/v")
		pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse(pvCap)
		return c, pv
	}
	str := func(q *resource.Quantity) string {
		if q == nil {
			return "-"
		}
		return q.String()
	}
	for _, tt := range []struct {
		request, pvCap, shown string
		wantPV, wantClaim     string
	}{
		{"1Gi", "1Gi", "1Gi", "-", "-"},
		{"2Gi", "1Gi", "1Gi", "2Gi", "-"},
		{"2Gi", "2Gi", "1Gi", "-", "2Gi"},
		{"1Gi", "2Gi", "2Gi", "-", "-"},
	} {
		c, pv := bound(tt.request, tt.pvCap, tt.shown)
		pvSize, claimSize := Resize(c, pv)
		if str(pvSize) != tt.wantPV || str(claimSize) != tt.wantClaim {
			t.Errorf("request %s, PV %s, status %s: Resize = %s, %s; want %s, %s",
				tt.request, tt.pvCap, tt.shown, str(pvSize), str(claimSize), tt.wantPV, tt.wantClaim)
		}
	}
}
