// Package testenv starts a real Kubernetes API server (kube-apiserver and
// etcd, built from source by `make kube`) with pgo's CRDs installed, for
// integration tests.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"pgo.dev/pgo/internal/kubescheme"
)

// Env is a running API server and a client for it.
type Env struct {
	Config *rest.Config
	Client client.Client
}

// RepoRoot is the root of the pgo checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir is where kube-apiserver and etcd are: KUBEBUILDER_ASSETS when
// set, else the cache `make kube` builds into.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cache := os.Getenv("PGO_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the home directory for ~/.cache/pgo: %w", err)
		}
		cache = filepath.Join(home, ".cache", "pgo")
	}
	return filepath.Join(cache, "k8s", KubernetesVersion), nil
}

// KubernetesVersion is the version `make kube` builds; keep it equal to the
// k8s.io/kubernetes requirement in hack/kube/go.mod.
const KubernetesVersion = "v1.37.2"

// Start runs kube-apiserver and etcd with pgo's CRDs installed and stops
// them when the test ends. With -short it skips the test: integration tests
// belong to the full run (`make test`).
func Start(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs kube-apiserver and etcd; run without -short")
	}
	dir, err := AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s is not in %s: run `make kube` to build it (or set KUBEBUILDER_ASSETS): %v", name, dir, err)
		}
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                kubescheme.Scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping kube-apiserver and etcd: %v", err)
		}
	})

	c, err := client.New(cfg, client.Options{Scheme: kubescheme.Scheme})
	if err != nil {
		t.Fatalf("creating a client: %v", err)
	}
	return &Env{Config: cfg, Client: c}
}
