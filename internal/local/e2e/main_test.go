// Package e2e holds pgo's end-to-end tests: they start the local
// environment (real kube-apiserver, kube-controller-manager, kube-scheduler,
// local nodes running PostgreSQL 15 as host processes, pgo installed from
// config/) and drive it as a user would.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/local/environment"
	"pgo.dev/pgo/internal/local/node"
)

// env is the environment every test of the package shares; nil when the
// tests cannot run here (see skipReason).
var (
	env        *environment.Env
	skipReason string
	binDir     string
	stateDir   string
)

func TestMain(m *testing.M) {
	node.MaybeRunInit()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if reason := cannotRun(); reason != "" {
		skipReason = reason
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "pgo-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keep := os.Getenv("PGO_TEST_KEEP") != ""
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	binDir = filepath.Join(dir, "bin")
	root := controlplane.RepoRoot()
	for _, cmd := range []string{"postgres-operator", "pgo"} {
		build := exec.Command("go", "build", "-o", filepath.Join(binDir, cmd), "./cmd/"+cmd)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", cmd, err, out)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logs, err := os.Create(filepath.Join(dir, "environment.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logs.Close()
	start := time.Now()
	stateDir = filepath.Join(dir, "state")
	env, err = environment.Start(ctx, environment.Options{
		Dir:      stateDir,
		RepoRoot: root,
		Operator: filepath.Join(binDir, "postgres-operator"),
		Progress: os.Stderr,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(logs, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the local environment:", err)
		dumpLogs(dir)
		return 1
	}
	fmt.Fprintf(os.Stderr, "local environment up in %.1fs (state in %s)\n", time.Since(start).Seconds(), dir)
	code := m.Run()
	if code != 0 {
		dumpLogs(dir)
	}
	env.Stop()
	if code != 0 && !keep {
		// A failed run's logs (the containers' among them) are what
		// explains it: keep them.
		keep = true
		fmt.Fprintf(os.Stderr, "kept the state and logs of the failed run in %s\n", dir)
	}
	return code
}

// cannotRun says why this machine cannot run the end-to-end tests, or "".
func cannotRun() string {
	if testing.Short() {
		return "end-to-end test: run without -short"
	}
	if os.Geteuid() != 0 {
		return "end-to-end tests run local nodes, which need root"
	}
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return err.Error()
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-controller-manager")); err != nil {
		return "Kubernetes is not built: run `make kube`"
	}
	return ""
}

// needEnv skips a test that cannot run here.
func needEnv(t *testing.T) {
	t.Helper()
	if env == nil {
		t.Skip(skipReason)
	}
}

// dumpLogs prints the tail of the environment's logs after a failure, so
// that CI output explains it.
func dumpLogs(dir string) {
	if os.Getenv("PGO_TEST_LOG_DIR") != "" {
		_ = exec.Command("cp", "-r", dir, os.Getenv("PGO_TEST_LOG_DIR")).Run()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "state", "nodes", "*", "logs", "*", "*", "*.log"))
	files = append(files, filepath.Join(dir, "environment.log"))
	fmt.Fprint(os.Stderr, tails(40, files))
}
