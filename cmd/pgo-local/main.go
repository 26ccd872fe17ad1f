// Command pgo-local runs pgo's local environment on one machine, with no
// container runtime: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from source (`make kube`), three local nodes that run
// pods as host processes, a Service proxy, cluster DNS, local-path volumes,
// and pgo installed from config/. `make run` starts it; Ctrl-C stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/local/environment"
	"pgo.dev/pgo/internal/local/node"
)

func main() {
	node.MaybeRunInit()
	var (
		dir      = flag.String("dir", ".run", "directory of the environment's state; the next run reuses it")
		reset    = flag.Bool("reset", false, "remove the state directory first and start afresh")
		operator = flag.String("operator", filepath.Join("bin", "postgres-operator"), "the postgres-operator binary pods run")
		nodes    = flag.Int("nodes", 3, "number of local nodes")
		port     = flag.Int("apiserver-port", 6443, "kube-apiserver's port on 127.0.0.1 (0: any free port)")
		verbose  = flag.Bool("v", false, "print the nodes' and services' log lines")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir, *reset, *operator, *nodes, *port, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "pgo-local:", err)
		fmt.Fprintf(os.Stderr, "Logs: %s (local nodes and services), %s (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), %s (containers)\n",
			filepath.Join(*dir, "pgo-local.log"), filepath.Join(*dir, "logs"), filepath.Join(*dir, "nodes", "*", "logs"))
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, reset bool, operator string, nodes, port int, verbose bool) error {
	if reset {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("resetting %s: %w", dir, err)
		}
	}
	if _, err := os.Stat(operator); err != nil {
		return fmt.Errorf("the operator binary %s is missing: run `make build`: %w", operator, err)
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "pgo-local.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := log.New(logFile, "", log.LstdFlags|log.Lmicroseconds)
	if verbose {
		logger.SetOutput(os.Stderr)
	}
	start := time.Now()
	fmt.Printf("Starting pgo's local environment in %s (Kubernetes %s)\n", dir, controlplane.KubernetesVersion)
	env, err := environment.Start(ctx, environment.Options{
		Dir:           dir,
		RepoRoot:      root,
		Operator:      operator,
		Nodes:         nodes,
		APIServerPort: port,
		Progress:      os.Stdout,
		Logf:          logger.Printf,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("\nStopping pgo's local environment ...")
		t := time.Now()
		env.Stop()
		fmt.Printf("Stopped in %.1fs.\n", time.Since(t).Seconds())
	}()
	access, err := env.WriteAccessFiles(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("\npgo's local environment is up (%.1fs). In another shell:\n\n%s\nCtrl-C stops it; its state stays in %s for the next run (make run RESET=1 starts afresh).\n",
		time.Since(start).Seconds(), access, dir)
	<-ctx.Done()
	return nil
}
