// Package controlplane runs a real Kubernetes API (kube-apiserver and etcd,
// built from source by `make kube`) with pgo's CRDs installed, for
// integration tests and the local environment.
package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"pgo.dev/pgo/internal/kubescheme"
)

// KubernetesVersion is the version `make kube` builds; keep it equal to the
// k8s.io/kubernetes requirement in hack/kube/go.mod (a test checks).
const KubernetesVersion = "v1.37.2"

// RepoRoot is the root of the pgo checkout, for tests (a binary built with
// -trimpath does not know it).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir is where kube-apiserver, etcd and kubectl are: KUBEBUILDER_ASSETS
// when set, else the cache `make kube` builds into,
// ${PGO_CACHE:-~/.cache/pgo}/k8s/<version>.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "k8s", KubernetesVersion), nil
}

// CacheDir is where the Makefile builds tools outside the checkout:
// ${PGO_CACHE:-~/.cache/pgo}.
func CacheDir() (string, error) {
	if cache := os.Getenv("PGO_CACHE"); cache != "" {
		return cache, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory for ~/.cache/pgo: %w", err)
	}
	return filepath.Join(home, ".cache", "pgo"), nil
}

// New configures a control plane from the built binaries, with the CRDs in
// crdDir (config/crd/bases). Start it with its Start method and stop it with
// Stop.
func New(crdDir string) (*envtest.Environment, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("%s is not in %s: run `make kube` to build it, or set KUBEBUILDER_ASSETS: %w", name, dir, err)
		}
	}
	return &envtest.Environment{
		BinaryAssetsDirectory: dir,
		CRDDirectoryPaths:     []string{crdDir},
		ErrorIfCRDPathMissing: true,
		Scheme:                kubescheme.Scheme,
	}, nil
}
