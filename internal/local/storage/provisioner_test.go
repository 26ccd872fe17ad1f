package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"pgo.dev/pgo/internal/local/storage"
	"pgo.dev/pgo/internal/testenv"
)

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for start := time.Now(); !f(); time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("not within 10s: %s", what)
		}
	}
}

// The provisioner against a real kube-apiserver. No kube-controller-manager
// runs there, so the test plays the PV controller's part: it checks the PV
// the provisioner makes (bound in advance by its claimRef), binds the claim
// to it, and marks the PV Released when the claim goes.
func TestProvisioner(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	cs := env.Clientset
	const ns = "storage"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "volumes")

	p, err := storage.New(env.Config, storage.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- p.Start(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Start: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Start did not return within 10s of its context ending")
		}
	})

	eventually(t, "the StorageClass exists", func() bool {
		_, err := cs.StorageV1().StorageClasses().Get(ctx, storage.ClassName, metav1.GetOptions{})
		return err == nil
	})
	sc, err := cs.StorageV1().StorageClasses().Get(ctx, storage.ClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Annotations[storage.AnnotationDefaultClass] != "true" || sc.Provisioner != "pgo.dev/local-path" ||
		*sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || string(*sc.VolumeBindingMode) != "Immediate" || !*sc.AllowVolumeExpansion {
		t.Fatalf("StorageClass %+v", sc)
	}

	// A claim that names no class: admission gives it the default one.
	pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-db-0"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(pvc.Spec.StorageClassName, ""); got != storage.ClassName {
		t.Fatalf("the claim's class is %q: admission did not give it the default %s", got, storage.ClassName)
	}

	pvName := "pvc-" + string(pvc.UID)
	var pv *corev1.PersistentVolume
	eventually(t, "the claim gets a PV", func() bool {
		pv, err = cs.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
		return err == nil
	})
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.Namespace != ns || ref.Name != pvc.Name || ref.UID != pvc.UID {
		t.Fatalf("claimRef %+v, want the claim", ref)
	}
	if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("capacity %s, want 1Gi", got.String())
	}
	if pv.Annotations[storage.AnnotationProvisionedBy] != "pgo.dev/local-path" || pv.Spec.StorageClassName != storage.ClassName ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("PV %+v", pv)
	}
	path := pv.Spec.HostPath.Path
	if want := filepath.Join(dir, ns+"_data-db-0_"+string(pvc.UID)[:8]); path != want {
		t.Errorf("path %s, want %s", path, want)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Fatalf("the volume's directory: %v, %v; want a directory of mode 0750", fi, err)
	}
	if err := os.WriteFile(filepath.Join(path, "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Bind them as the PV controller would.
	pvc.Spec.VolumeName = pvName
	if pvc, err = cs.CoreV1().PersistentVolumeClaims(ns).Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.AccessModes = pv.Spec.AccessModes
	pvc.Status.Capacity = pv.Spec.Capacity
	if pvc, err = cs.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pv.Status.Phase = corev1.VolumeBound
	if pv, err = cs.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Growing the claim grows the PV and the claim's status.
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	if _, err = cs.CoreV1().PersistentVolumeClaims(ns).Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("growing the claim: %v", err)
	}
	eventually(t, "the PV and the claim's status show 2Gi", func() bool {
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
		if err != nil {
			return false
		}
		claim, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, pvc.Name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		pvCap, shown := pv.Spec.Capacity[corev1.ResourceStorage], claim.Status.Capacity[corev1.ResourceStorage]
		return pvCap.String() == "2Gi" && shown.String() == "2Gi"
	})

	// The claim goes; the PV controller marks its PV Released; the
	// provisioner deletes the directory and the PV.
	if err := cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, pvc.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pv, err = cs.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the directory went before the PV was released: %v", err)
	}
	pv.Status.Phase = corev1.VolumeReleased
	if _, err := cs.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the PV is deleted", func() bool {
		pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
		// Its pv-protection finalizer is kube-controller-manager's to remove.
		return apierrors.IsNotFound(err) || (err == nil && pv.DeletionTimestamp != nil)
	})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the volume's directory is still there: %v", err)
	}

	// A claim of another class gets nothing.
	other, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "other"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To("fast"),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := cs.CoreV1().PersistentVolumes().Get(ctx, "pvc-"+string(other.UID), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a claim of another class got a PV: %v", err)
	}
}
