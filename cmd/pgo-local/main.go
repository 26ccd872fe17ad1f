// Command pgo-local runs pgo's local environment on one machine, with no
// container runtime: etcd and kube-apiserver built from source (`make kube`),
// pgo's CRDs, the operator namespace, and the operator's controller. `make
// run` starts it; Ctrl-C stops everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/kubescheme"
)

// operatorNamespace is where the operator runs and keeps its leader Lease.
const operatorNamespace = "pgo"

func main() {
	var (
		dir      = flag.String("dir", ".run", "directory for the kubeconfig and logs")
		crdDir   = flag.String("crds", filepath.Join("config", "crd", "bases"), "directory of pgo's CRDs")
		operator = flag.String("operator", filepath.Join("bin", "postgres-operator"), "the postgres-operator binary")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir, *crdDir, *operator); err != nil {
		fmt.Fprintln(os.Stderr, "pgo-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir, crdDir, operator string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	kubeconfig, err := filepath.Abs(filepath.Join(dir, "kubeconfig"))
	if err != nil {
		return err
	}
	// A kubeconfig exists only while its API server runs.
	if err := os.Remove(kubeconfig); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the last run's kubeconfig: %w", err)
	}
	defer os.Remove(kubeconfig)

	env, err := controlplane.New(crdDir)
	if err != nil {
		return err
	}
	cfg, err := env.Start()
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgo-local: stopping kube-apiserver and etcd:", err)
		}
	}()
	if err != nil {
		return fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}

	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}

	c, err := client.New(cfg, client.Options{Scheme: kubescheme.Scheme})
	if err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	if err := c.Create(ctx, ns); err != nil {
		return fmt.Errorf("creating namespace %s: %w", operatorNamespace, err)
	}

	cmd := exec.CommandContext(ctx, operator, "controller", "--metrics-bind-address=0", "--zap-encoder=console")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the operator (%s; run `make build`): %w", operator, err)
	}

	assets, _ := controlplane.AssetsDir()
	fmt.Printf(`
pgo's local environment is up (Kubernetes %s). In another shell:

    export KUBECONFIG=%s PATH=%s:$PATH
    kubectl apply -f config/samples/pgcluster_minimal.yaml
    kubectl get pgclusters

Ctrl-C stops it. Its state is discarded when it stops.

`, controlplane.KubernetesVersion, kubeconfig, assets)

	err = cmd.Wait()
	if ctx.Err() != nil {
		return nil // stopped by the user
	}
	if err == nil {
		err = errors.New("it exited")
	}
	return fmt.Errorf("the operator stopped: %w", err)
}
