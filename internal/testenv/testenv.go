// Package testenv gives integration tests a real Kubernetes API server with
// pgo's CRDs installed (see package controlplane).
package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/specs"
)

// Env is a running API server and clients for it.
type Env struct {
	Config      *rest.Config
	Client      client.Client
	Clientset   kubernetes.Interface
	Environment *envtest.Environment
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
	// Keep the API server's certificates in a directory of the test's own,
	// so that StopAPIServer and StartAPIServer can restart it.
	certs, err := os.MkdirTemp("", "pgo-apiserver-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(certs) })
	// It gets two seconds to stop, then is killed: StopAPIServer is a crash,
	// and cleanup is quick.
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certs}
	// Room for thousands of Services (envtest's default is a /24). The
	// range is loopback: its addresses are only ever allocated here.
	env.ControlPlane.APIServer.Configure().Set("service-cluster-ip-range", "127.100.0.0/16")
	env.ControlPlaneStopTimeout = 2 * time.Second

	ctrl.SetLogger(logr.Discard())
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
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("creating a client: %v", err)
	}
	return &Env{Config: cfg, Client: c, Clientset: cs, Environment: env}
}

// StopAPIServer stops kube-apiserver as a crash would (etcd keeps
// running): it gets two seconds to stop and is then killed.
func (e *Env) StopAPIServer() error {
	if err := e.Environment.ControlPlane.APIServer.Stop(); err != nil && !strings.Contains(err.Error(), "timeout waiting for process") {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	return nil
}

// StartAPIServer starts kube-apiserver again on the same address, with the
// same certificates.
func (e *Env) StartAPIServer() error {
	if err := e.Environment.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	return nil
}

// Kubeconfig provisions a user of the API server and returns a kubeconfig
// for it.
func (e *Env) Kubeconfig(user string, groups ...string) ([]byte, error) {
	u, err := e.Environment.ControlPlane.AddUser(envtest.User{Name: user, Groups: groups}, e.Config)
	if err != nil {
		return nil, fmt.Errorf("adding user %s: %w", user, err)
	}
	return u.KubeConfig()
}

// CreateDCSObjects creates a cluster's leader Lease and its sync and
// switchover ConfigMaps, empty, as the operator does, for tests that run
// instance managers (or the DCS client) without it.
func (e *Env) CreateDCSObjects(t testing.TB, namespace, cluster string) {
	t.Helper()
	ctx := context.Background()
	lease, cms := specs.DCSObjects(&pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: namespace}})
	if _, err := e.Clientset.CoordinationV1().Leases(namespace).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms {
		if _, err := e.Clientset.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
