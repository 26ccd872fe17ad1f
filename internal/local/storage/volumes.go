package storage

import (
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The StorageClass and its provisioner.
const (
	ClassName       = "local-path"
	ProvisionerName = "pgo.dev/local-path"
)

// Annotations Kubernetes defines.
const (
	// AnnotationDefaultClass marks the default StorageClass, which
	// admission gives to PVCs that name none.
	AnnotationDefaultClass = "storageclass.kubernetes.io/is-default-class"
	// AnnotationProvisionedBy names the provisioner of a PV.
	AnnotationProvisionedBy = "pv.kubernetes.io/provisioned-by"
	// annotationBetaClass is the StorageClass of old PVCs.
	annotationBetaClass = "volume.beta.kubernetes.io/storage-class"
)

// Modes of the directories.
const (
	// baseDirMode is the mode of the directory that holds the volumes.
	baseDirMode = 0o755
	// volumeDirMode is the mode of a volume's directory, owned by root; the
	// node gives it to the pod's fsGroup.
	volumeDirMode = 0o750
)

// StorageClass is the default StorageClass of the local environment.
func StorageClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		TypeMeta: metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ClassName,
			Annotations: map[string]string{AnnotationDefaultClass: "true"},
		},
		Provisioner:          ProvisionerName,
		ReclaimPolicy:        ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode:    ptr.To(storagev1.VolumeBindingImmediate),
		AllowVolumeExpansion: ptr.To(true),
	}
}

// ClassOf is the StorageClass a PVC asks for, "" for none.
func ClassOf(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return pvc.Annotations[annotationBetaClass]
}

// VolumeName is the name of the PV of a PVC, unique as its UID.
func VolumeName(pvc *corev1.PersistentVolumeClaim) string {
	return "pvc-" + string(pvc.UID)
}

// DirName is the directory of a PVC's volume under the base directory:
// "<namespace>_<pvc>_<first 8 characters of its UID>".
func DirName(pvc *corev1.PersistentVolumeClaim) string {
	uid := string(pvc.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return pvc.Namespace + "_" + pvc.Name + "_" + uid
}

// NeedsVolume tells whether a PVC waits for this provisioner: it asks for
// the class, is not bound nor being deleted, and has a size.
func NeedsVolume(pvc *corev1.PersistentVolumeClaim) bool {
	_, sized := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	return ClassOf(pvc) == ClassName &&
		pvc.Spec.VolumeName == "" &&
		(pvc.Status.Phase == "" || pvc.Status.Phase == corev1.ClaimPending) &&
		pvc.DeletionTimestamp == nil &&
		sized
}

// Unsupported says why this provisioner cannot make a volume for the PVC,
// or "" when it can.
func Unsupported(pvc *corev1.PersistentVolumeClaim) string {
	switch {
	case pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock:
		return "block volumes are not supported: use volumeMode Filesystem"
	case pvc.Spec.DataSource != nil || pvc.Spec.DataSourceRef != nil:
		return "volumes from a data source (snapshot or clone) are not supported"
	case pvc.Spec.Selector != nil:
		return "a selector asks for an existing volume; this provisioner only makes new ones"
	}
	return ""
}

// Volume is the PV of a PVC: a directory of the host under base, bound in
// advance to the PVC (the PV controller completes the binding), with the
// PVC's size and access modes. It has no node affinity: every node of the
// local environment is this host.
func Volume(pvc *corev1.PersistentVolumeClaim, base string) *corev1.PersistentVolume {
	class := StorageClass()
	return &corev1.PersistentVolume{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        VolumeName(pvc),
			Annotations: map[string]string{AnnotationProvisionedBy: ProvisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   append([]corev1.PersistentVolumeAccessMode(nil), pvc.Spec.AccessModes...),
			PersistentVolumeReclaimPolicy: *class.ReclaimPolicy,
			StorageClassName:              ClassName,
			VolumeMode:                    ptr.To(corev1.PersistentVolumeFilesystem),
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1",
				Kind:       "PersistentVolumeClaim",
				Namespace:  pvc.Namespace,
				Name:       pvc.Name,
				UID:        pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{
					Path: filepath.Join(base, DirName(pvc)),
					Type: ptr.To(corev1.HostPathDirectoryOrCreate),
				},
			},
		},
	}
}

// IsOurs tells whether this provisioner made the PV.
func IsOurs(pv *corev1.PersistentVolume) bool {
	return pv.Annotations[AnnotationProvisionedBy] == ProvisionerName
}

// ToDelete tells whether a PV of ours is released by its claim and must go
// with its data.
func ToDelete(pv *corev1.PersistentVolume) bool {
	return IsOurs(pv) &&
		pv.Status.Phase == corev1.VolumeReleased &&
		pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete &&
		pv.DeletionTimestamp == nil
}

// DirOf is the directory of a PV of ours, or "" when its path is not a
// directory right under base (a PV edited by hand is not trusted to name
// what to delete).
func DirOf(pv *corev1.PersistentVolume, base string) string {
	if pv.Spec.HostPath == nil {
		return ""
	}
	dir := filepath.Clean(pv.Spec.HostPath.Path)
	if filepath.Dir(dir) != filepath.Clean(base) || strings.HasPrefix(filepath.Base(dir), ".") {
		return ""
	}
	return dir
}

// Resize is what a resize of a bound PVC needs: the PV's new capacity when
// the claim asks for more than it has, and the claim's new status capacity
// when the PV has grown and the claim's status does not show it yet. A claim
// never shrinks.
func Resize(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) (pvSize, claimSize *resource.Quantity) {
	want, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok || pvc.Status.Phase != corev1.ClaimBound || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID {
		return nil, nil
	}
	has := pv.Spec.Capacity[corev1.ResourceStorage]
	if has.Cmp(want) < 0 {
		return ptr.To(want), nil
	}
	shown, ok := pvc.Status.Capacity[corev1.ResourceStorage]
	if !ok || shown.Cmp(has) < 0 {
		// The PV has grown (here or before a restart) and the claim's
		// status lags behind: show the PV's size.
		return nil, ptr.To(has)
	}
	return nil, nil
}
