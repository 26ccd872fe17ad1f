// Package storage is the local environment's volume provisioner. It keeps a
// default StorageClass "local-path" and gives each pending PVC of that class a
// PV: a directory of the host under one base directory, bound in advance to
// the claim (kube-controller-manager's PV controller completes the binding).
// When a claim goes and its PV is Released, it deletes the directory and the
// PV; when a claim asks for more space, it grows the PV and the claim's
// status (directories have no quota).
package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"pgo.dev/pgo/internal/local/watch"
)

// resyncInterval is how often everything is looked at again, which retries
// what failed.
const resyncInterval = 5 * time.Second

// Options configure a Provisioner.
type Options struct {
	// Dir holds the volumes' directories; it is created if missing.
	Dir string
}

// Provisioner provisions local-path volumes. Create it with New and run it
// with Start.
type Provisioner struct {
	client kubernetes.Interface
	dir    string
	// reported holds the last problem reported per PVC, so that each is
	// logged once.
	reported map[types.UID]string
}

// New returns a Provisioner for the API server cfg points to.
func New(cfg *rest.Config, opts Options) (*Provisioner, error) {
	if opts.Dir == "" || !filepath.IsAbs(opts.Dir) {
		return nil, fmt.Errorf("the local-path provisioner needs an absolute directory for its volumes, not %q", opts.Dir)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a Kubernetes client for the local-path provisioner: %w", err)
	}
	return &Provisioner{client: client, dir: filepath.Clean(opts.Dir), reported: map[types.UID]string{}}, nil
}

// Start keeps the StorageClass and the volumes until ctx is done.
func (p *Provisioner) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("local-path").WithValues("dir", p.dir)
	ctx = log.IntoContext(ctx, logger)
	if err := os.MkdirAll(p.dir, baseDirMode); err != nil {
		return fmt.Errorf("creating the directory of local-path volumes: %w", err)
	}

	factory := watch.NewFactory(p.client)
	defer factory.Shutdown()
	claims := factory.Core().V1().PersistentVolumeClaims()
	volumes := factory.Core().V1().PersistentVolumes()
	classes := factory.Storage().V1().StorageClasses()
	changed, err := watch.Changes(ctx, factory, "local-path provisioner", claims.Informer(), volumes.Informer(), classes.Informer())
	if err != nil || changed == nil {
		return err
	}

	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()
	announced := false
	for {
		have, err := classes.Lister().Get(ClassName)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("reading StorageClass %s from the cache: %w", ClassName, err)
		}
		if err := p.ensureClass(ctx, have); err != nil {
			logger.Error(err, "keeping the StorageClass")
		} else if !announced {
			announced = true
			logger.Info("provisioning volumes", "storageClass", ClassName)
		}
		pvcs, err := claims.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing PVCs from the cache: %w", err)
		}
		pvs, err := volumes.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing PVs from the cache: %w", err)
		}
		p.sync(ctx, pvcs, pvs)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-resync.C:
		}
	}
}

// ensureClass creates the StorageClass when have (the cached one) is nil,
// or makes have the default with expansion allowed. Its other fields cannot
// change: when they differ, the user has to delete it.
func (p *Provisioner) ensureClass(ctx context.Context, have *storagev1.StorageClass) error {
	want := StorageClass()
	api := p.client.StorageV1().StorageClasses()
	if have == nil {
		if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating StorageClass %s: %w", want.Name, err)
		}
		return nil
	}
	if problem := classMismatch(have, want); problem != "" {
		return fmt.Errorf("StorageClass %s %s; delete it (kubectl delete storageclass %s) and pgo recreates it", want.Name, problem, want.Name)
	}
	if have.Annotations[AnnotationDefaultClass] == "true" && have.AllowVolumeExpansion != nil && *have.AllowVolumeExpansion {
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata":             map[string]any{"annotations": want.Annotations},
		"allowVolumeExpansion": true,
	})
	if err != nil {
		return err
	}
	if _, err := api.Patch(ctx, want.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("making StorageClass %s the default: %w", want.Name, err)
	}
	return nil
}

// classMismatch says how an existing StorageClass differs from ours in
// fields that cannot change, or "".
func classMismatch(have, want *storagev1.StorageClass) string {
	switch {
	case have.Provisioner != want.Provisioner:
		return fmt.Sprintf("has provisioner %q instead of %q", have.Provisioner, want.Provisioner)
	case have.ReclaimPolicy != nil && *have.ReclaimPolicy != *want.ReclaimPolicy:
		return fmt.Sprintf("has reclaim policy %s instead of %s", *have.ReclaimPolicy, *want.ReclaimPolicy)
	case have.VolumeBindingMode != nil && *have.VolumeBindingMode != *want.VolumeBindingMode:
		return fmt.Sprintf("has volume binding mode %s instead of %s", *have.VolumeBindingMode, *want.VolumeBindingMode)
	}
	return ""
}

// sync provisions, resizes and deletes volumes as the claims ask.
func (p *Provisioner) sync(ctx context.Context, pvcs []*corev1.PersistentVolumeClaim, pvs []*corev1.PersistentVolume) {
	logger := log.FromContext(ctx)
	byName := make(map[string]*corev1.PersistentVolume, len(pvs))
	for _, pv := range pvs {
		byName[pv.Name] = pv
	}
	seen := map[types.UID]bool{}
	for _, pvc := range pvcs {
		seen[pvc.UID] = true
		if err := p.syncClaim(ctx, pvc, byName); err != nil {
			p.report(ctx, pvc, err.Error())
		} else {
			delete(p.reported, pvc.UID)
		}
	}
	for uid := range p.reported {
		if !seen[uid] {
			delete(p.reported, uid)
		}
	}
	for _, pv := range pvs {
		if !ToDelete(pv) {
			continue
		}
		if err := p.delete(ctx, pv); err != nil {
			logger.Error(err, "deleting a released volume", "volume", pv.Name)
			continue
		}
		logger.Info("deleted a released volume", "volume", pv.Name, "path", pv.Spec.HostPath.Path)
	}
}

func (p *Provisioner) syncClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pvs map[string]*corev1.PersistentVolume) error {
	if NeedsVolume(pvc) {
		if _, exists := pvs[VolumeName(pvc)]; exists {
			return nil // the PV controller binds it
		}
		if why := Unsupported(pvc); why != "" {
			return errors.New(why)
		}
		return p.provision(ctx, pvc)
	}
	pv := pvs[pvc.Spec.VolumeName]
	if pv == nil || !IsOurs(pv) || pvc.DeletionTimestamp != nil {
		return nil
	}
	pvSize, claimSize := Resize(pvc, pv)
	if pvSize != nil {
		return p.growVolume(ctx, pv, *pvSize)
	}
	if claimSize != nil {
		return p.showSize(ctx, pvc, *claimSize)
	}
	return nil
}

// provision creates the directory, then the PV.
func (p *Provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	pv := Volume(pvc, p.dir)
	dir := pv.Spec.HostPath.Path
	if err := os.Mkdir(dir, volumeDirMode); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating the volume's directory: %w", err)
	}
	// Mkdir's mode goes through the umask.
	if err := os.Chmod(dir, volumeDirMode); err != nil {
		return fmt.Errorf("setting the mode of the volume's directory: %w", err)
	}
	if _, err := p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating PV %s: %w", pv.Name, err)
	}
	log.FromContext(ctx).Info("provisioned a volume", "namespace", pvc.Namespace, "claim", pvc.Name, "volume", pv.Name, "path", dir)
	return nil
}

// growVolume sets the PV's capacity.
func (p *Provisioner) growVolume(ctx context.Context, pv *corev1.PersistentVolume, size resource.Quantity) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"capacity": map[string]any{string(corev1.ResourceStorage): size.String()}}})
	if err != nil {
		return err
	}
	if _, err := p.client.CoreV1().PersistentVolumes().Patch(ctx, pv.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("growing PV %s to %s: %w", pv.Name, size.String(), err)
	}
	log.FromContext(ctx).Info("grew a volume", "volume", pv.Name, "size", size.String())
	return nil
}

// showSize records a finished resize in the claim's status, as a CSI
// resizer does for a volume that needs no file system expansion.
func (p *Provisioner) showSize(ctx context.Context, pvc *corev1.PersistentVolumeClaim, size resource.Quantity) error {
	claim := pvc.DeepCopy()
	if claim.Status.Capacity == nil {
		claim.Status.Capacity = corev1.ResourceList{}
	}
	claim.Status.Capacity[corev1.ResourceStorage] = size
	if claim.Status.AllocatedResources != nil {
		claim.Status.AllocatedResources[corev1.ResourceStorage] = size
	}
	delete(claim.Status.AllocatedResourceStatuses, corev1.ResourceStorage)
	var conditions []corev1.PersistentVolumeClaimCondition
	for _, c := range claim.Status.Conditions {
		if c.Type != corev1.PersistentVolumeClaimResizing && c.Type != corev1.PersistentVolumeClaimFileSystemResizePending {
			conditions = append(conditions, c)
		}
	}
	claim.Status.Conditions = conditions
	if _, err := p.client.CoreV1().PersistentVolumeClaims(claim.Namespace).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("recording the new size %s of PVC %s/%s: %w", size.String(), claim.Namespace, claim.Name, err)
	}
	log.FromContext(ctx).Info("resized a claim", "namespace", claim.Namespace, "claim", claim.Name, "size", size.String())
	return nil
}

// delete removes a released PV's directory, then the PV.
func (p *Provisioner) delete(ctx context.Context, pv *corev1.PersistentVolume) error {
	dir := DirOf(pv, p.dir)
	if dir == "" {
		return fmt.Errorf("PV %s points outside %s; delete its data and the PV by hand", pv.Name, p.dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the volume's directory: %w", err)
	}
	err := p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pv.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting PV %s: %w", pv.Name, err)
	}
	return nil
}

// report logs a problem with a claim once.
func (p *Provisioner) report(ctx context.Context, pvc *corev1.PersistentVolumeClaim, problem string) {
	if p.reported[pvc.UID] == problem {
		return
	}
	p.reported[pvc.UID] = problem
	log.FromContext(ctx).Error(errors.New(problem), "cannot serve a claim", "namespace", pvc.Namespace, "claim", pvc.Name)
}
