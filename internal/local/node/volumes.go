package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// volumeKind says how a volume's host directory is filled.
type volumeKind int

const (
	// volumeDir is a directory that holds data: emptyDir, a claim's
	// volume, a hostPath.
	volumeDir volumeKind = iota
	// volumeFiles is written by the node from the API: secret, configMap,
	// downwardAPI, projected. The node refreshes it while the pod runs.
	volumeFiles
)

// volume is one of a pod's volumes as a host path.
type volume struct {
	name string
	kind volumeKind
	path string
	// tokenExpiry is when the service account token of a projected volume
	// should be requested again.
	tokenExpiry time.Time
}

// volumeSource gives the node what it needs to fill volumes.
type volumeSource struct {
	lookups
	client kubernetes.Interface
	// fieldValue resolves downward API fields with the pod's addresses.
	podIP, hostIP string
}

// prepareVolume makes the host path of a pod volume: it creates an emptyDir,
// finds the directory of a bound claim, or writes the files of a secret,
// configMap, downwardAPI or projected volume.
func (s *volumeSource) prepareVolume(ctx context.Context, pod *corev1.Pod, v corev1.Volume, dir string) (*volume, error) {
	switch {
	case v.EmptyDir != nil:
		p := filepath.Join(dir, "empty-dir", v.Name)
		if err := os.MkdirAll(p, 0o777); err != nil {
			return nil, err
		}
		return &volume{name: v.Name, kind: volumeDir, path: p}, setGroup(p, pod, true)
	case v.HostPath != nil:
		if err := os.MkdirAll(v.HostPath.Path, 0o755); err != nil && (v.HostPath.Type == nil || *v.HostPath.Type == corev1.HostPathDirectoryOrCreate) {
			return nil, err
		}
		return &volume{name: v.Name, kind: volumeDir, path: v.HostPath.Path}, nil
	case v.PersistentVolumeClaim != nil:
		p, err := s.claimPath(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		if err != nil {
			return nil, err
		}
		return &volume{name: v.Name, kind: volumeDir, path: p}, setGroup(p, pod, false)
	case v.Secret != nil, v.ConfigMap != nil, v.DownwardAPI != nil, v.Projected != nil:
		vol := &volume{name: v.Name, kind: volumeFiles, path: filepath.Join(dir, "files", v.Name)}
		return vol, s.refresh(ctx, pod, v, vol)
	}
	return nil, fmt.Errorf("volume %s: this local node supports emptyDir, hostPath, persistentVolumeClaim, secret, configMap, downwardAPI and projected volumes", v.Name)
}

// claimPath is the host directory of a bound claim: the hostPath or local
// path of its PersistentVolume.
func (s *volumeSource) claimPath(ctx context.Context, namespace, claim string) (string, error) {
	pvc, err := s.client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", claim, err)
	}
	if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
		return "", fmt.Errorf("claim %s is not bound yet", claim)
	}
	pv, err := s.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("volume %s of claim %s: %w", pvc.Spec.VolumeName, claim, err)
	}
	var p string
	switch {
	case pv.Spec.HostPath != nil:
		p = pv.Spec.HostPath.Path
	case pv.Spec.Local != nil:
		p = pv.Spec.Local.Path
	default:
		return "", fmt.Errorf("volume %s of claim %s is neither hostPath nor local", pv.Name, claim)
	}
	if err := os.MkdirAll(p, 0o750); err != nil {
		return "", err
	}
	return p, nil
}

// setGroup gives a data volume's root directory to the pod's fsGroup, as a
// kubelet does (only the root: PostgreSQL refuses group-writable data
// directories under it).
func setGroup(path string, pod *corev1.Pod, world bool) error {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil {
		if world {
			return os.Chmod(path, 0o777)
		}
		return nil
	}
	if err := os.Chown(path, 0, int(*sc.FSGroup)); err != nil {
		return err
	}
	return os.Chmod(path, 0o2770|os.ModeSetgid)
}

// refresh writes the files of a secret, configMap, downwardAPI or projected
// volume, each atomically, and removes files no longer in it.
func (s *volumeSource) refresh(ctx context.Context, pod *corev1.Pod, v corev1.Volume, vol *volume) error {
	files := map[string]fileContent{}
	var err error
	switch {
	case v.Secret != nil:
		err = s.secretFiles(pod, v.Secret.SecretName, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional, files)
	case v.ConfigMap != nil:
		err = s.configMapFiles(pod, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional, files)
	case v.DownwardAPI != nil:
		err = s.downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode, files)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			switch {
			case src.Secret != nil:
				err = s.secretFiles(pod, src.Secret.Name, src.Secret.Items, v.Projected.DefaultMode, src.Secret.Optional, files)
			case src.ConfigMap != nil:
				err = s.configMapFiles(pod, src.ConfigMap.Name, src.ConfigMap.Items, v.Projected.DefaultMode, src.ConfigMap.Optional, files)
			case src.DownwardAPI != nil:
				err = s.downwardFiles(pod, src.DownwardAPI.Items, v.Projected.DefaultMode, files)
			case src.ServiceAccountToken != nil:
				err = s.tokenFile(ctx, pod, src.ServiceAccountToken, v.Projected.DefaultMode, vol, files)
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	return writeFiles(vol.path, files, pod)
}

type fileContent struct {
	data []byte
	mode os.FileMode
	// keep leaves the file as it is (a token not yet due).
	keep bool
}

func fileMode(item *int32, def *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return 0o644
}

func (s *volumeSource) secretFiles(pod *corev1.Pod, name string, items []corev1.KeyToPath, mode *int32, opt *bool, files map[string]fileContent) error {
	sec, err := s.secret(pod.Namespace, name)
	if err != nil {
		if optional(opt) {
			return nil
		}
		return fmt.Errorf("secret %s: %w", name, err)
	}
	return keyFiles("Secret "+name, sec.Data, nil, items, mode, opt, files)
}

func (s *volumeSource) configMapFiles(pod *corev1.Pod, name string, items []corev1.KeyToPath, mode *int32, opt *bool, files map[string]fileContent) error {
	cm, err := s.configMap(pod.Namespace, name)
	if err != nil {
		if optional(opt) {
			return nil
		}
		return fmt.Errorf("config map %s: %w", name, err)
	}
	return keyFiles("ConfigMap "+name, cm.BinaryData, cm.Data, items, mode, opt, files)
}

func keyFiles(what string, binary map[string][]byte, text map[string]string, items []corev1.KeyToPath, mode *int32, opt *bool, files map[string]fileContent) error {
	get := func(k string) ([]byte, bool) {
		if v, ok := binary[k]; ok {
			return v, true
		}
		v, ok := text[k]
		return []byte(v), ok
	}
	if len(items) == 0 {
		for k := range binary {
			files[k] = fileContent{data: binary[k], mode: fileMode(nil, mode)}
		}
		for k, v := range text {
			files[k] = fileContent{data: []byte(v), mode: fileMode(nil, mode)}
		}
		return nil
	}
	for _, it := range items {
		v, ok := get(it.Key)
		if !ok {
			if optional(opt) {
				continue
			}
			return fmt.Errorf("%s has no key %s", what, it.Key)
		}
		files[it.Path] = fileContent{data: v, mode: fileMode(it.Mode, mode)}
	}
	return nil
}

func (s *volumeSource) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode *int32, files map[string]fileContent) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldValue(pod, it.FieldRef.FieldPath, s.podIP, s.hostIP)
		case it.ResourceFieldRef != nil:
			c := containerNamed(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return fmt.Errorf("downward API: no container %s", it.ResourceFieldRef.ContainerName)
			}
			v, err = resourceValue(c, it.ResourceFieldRef)
		}
		if err != nil {
			return err
		}
		files[it.Path] = fileContent{data: []byte(v), mode: fileMode(it.Mode, mode)}
	}
	return nil
}

// tokenFile requests a service account token bound to the pod (TokenRequest
// API) when none was requested yet or the last one is past 80% of its life.
func (s *volumeSource) tokenFile(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection, mode *int32, vol *volume, files map[string]fileContent) error {
	if !vol.tokenExpiry.IsZero() && time.Now().Before(vol.tokenExpiry) {
		files[src.Path] = fileContent{keep: true}
		return nil
	}
	expiration := int64(3607)
	if src.ExpirationSeconds != nil {
		expiration = *src.ExpirationSeconds
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expiration,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tok, err := s.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for service account %s: %w", sa, err)
	}
	life := time.Until(tok.Status.ExpirationTimestamp.Time)
	vol.tokenExpiry = time.Now().Add(life * 8 / 10)
	files[src.Path] = fileContent{data: []byte(tok.Status.Token), mode: fileMode(nil, mode)}
	return nil
}

// writeFiles makes dir hold exactly files: each written atomically (a
// rename), owned by root and the pod's fsGroup.
func writeFiles(dir string, files map[string]fileContent, pod *corev1.Pod) error {
	gid := -1
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		gid = int(*sc.FSGroup)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := files[name]
		if f.keep {
			continue
		}
		clean := filepath.Clean(name)
		if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("file path %q must be relative and stay in the volume", name)
		}
		p := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if old, err := os.ReadFile(p); err == nil && string(old) == string(f.data) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() == f.mode.Perm() {
				continue
			}
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			return err
		}
		if gid >= 0 {
			if err := os.Chown(tmp, 0, gid); err != nil {
				return err
			}
		}
		if err := os.Chmod(tmp, f.mode.Perm()); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	// Remove files that left the volume.
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if _, ok := files[rel]; !ok {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

func containerNamed(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name || name == "" {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}
