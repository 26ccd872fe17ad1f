// Package testenv gives integration tests a real Kubernetes API server with
// pgo's CRDs installed (see package controlplane).
package testenv

import (
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/kubescheme"
)

// Env is a running API server and a client for it.
type Env struct {
	Config *rest.Config
	Client client.Client
}

// RepoRoot is the root of the pgo checkout.
func RepoRoot() string { return controlplane.RepoRoot() }

// Start runs kube-apiserver and etcd with pgo's CRDs installed and stops
// them when the test ends. With -short it skips the test: integration tests
// belong to the full run (`make test`).
func Start(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs kube-apiserver and etcd; run without -short")
	}
	env, err := controlplane.New(filepath.Join(RepoRoot(), "config", "crd", "bases"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // whatever did start must not outlive the test
		t.Fatalf("starting kube-apiserver and etcd: %v", err)
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
