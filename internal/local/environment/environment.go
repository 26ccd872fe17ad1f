// Package environment runs pgo's local environment on one machine with no
// container runtime: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from source, local nodes that run pods as host
// processes, a Service proxy, a cluster DNS server and a local-path volume
// provisioner, and pgo itself installed from config/. `make run` starts it
// through pgo-local; the end-to-end tests start it in-process.
package environment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr/funcr"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/local/node"
)

// OperatorNamespace is where pgo is installed.
const OperatorNamespace = "pgo"

// Options configure the local environment.
type Options struct {
	// Dir holds the environment's state: etcd's data, volumes, logs and the
	// kubeconfig. A later start with the same Dir finds everything again.
	Dir string
	// RepoRoot is the pgo checkout: its config/ installs pgo.
	RepoRoot string
	// Operator is the postgres-operator binary that the operator's and the
	// database pods' images map to. Empty: pgo is not installed.
	Operator string
	// Nodes is the number of local nodes (3 when 0).
	Nodes int
	// APIServerPort is kube-apiserver's port; any free port when 0.
	APIServerPort int
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// Logf receives the nodes' and services' log lines; nil discards them.
	Logf func(format string, args ...any)
}

// Env is a running local environment.
type Env struct {
	opts Options
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	Config     *rest.Config
	Client     client.Client
	Clientset  kubernetes.Interface

	plane       *envtest.Environment
	planeLogs   []*os.File
	controllers []*component
	ips         *node.IPAllocator
	nodeConfigs []node.Config
	Nodes       []*node.Node

	cancel   context.CancelFunc
	services sync.WaitGroup
	stopOnce sync.Once
	// out guards the progress output; lineOpen is set while a step's
	// progress line waits for its result.
	out      sync.Mutex
	lineOpen bool
}

func (e *Env) progress(format string, args ...any) {
	e.out.Lock()
	defer e.out.Unlock()
	e.printLocked(format, args...)
}

func (e *Env) printLocked(format string, args ...any) {
	if e.opts.Progress != nil {
		fmt.Fprintf(e.opts.Progress, format, args...)
	}
}

// Start brings the environment up. On error everything already started is
// stopped again.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Logf != nil {
		logf := opts.Logf
		ctrllog.SetLogger(funcr.New(func(prefix, args string) { logf("%s %s", prefix, args) }, funcr.Options{}))
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	for _, d := range []string{dir, filepath.Join(dir, "logs"), filepath.Join(dir, "volumes")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// Volumes must be reachable by the database pods' users.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	e := &Env{opts: opts, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	total := 5
	if opts.Operator != "" {
		total = 6
	}
	if err := e.step(1, total, "etcd and kube-apiserver", e.startAPIServer); err != nil {
		return nil, err
	}
	if err := e.step(2, total, "kube-controller-manager and kube-scheduler", e.startControllers); err != nil {
		return nil, err
	}
	svcCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if err := e.step(3, total, "Service proxy, DNS and local-path volumes", func() error { return e.startServices(svcCtx) }); err != nil {
		return nil, err
	}
	if err := e.step(4, total, fmt.Sprintf("%d local nodes", opts.Nodes), func() error { return e.startNodes(ctx) }); err != nil {
		return nil, err
	}
	if err := e.step(5, total, "cluster add-ons (service accounts, root CA)", func() error { return e.waitAddons(ctx) }); err != nil {
		return nil, err
	}
	if opts.Operator != "" {
		if err := e.step(6, total, "pgo (config/default)", func() error { return e.installPGO(ctx) }); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *Env) startAPIServer() error {
	plane, logs, err := newControlPlane(e.opts.Dir, filepath.Join(e.opts.RepoRoot, "config", "crd", "bases"), e.opts.APIServerPort)
	if err != nil {
		return err
	}
	e.plane, e.planeLogs = plane, logs
	if _, err := plane.Start(); err != nil {
		return fmt.Errorf("%w (see %s and %s)", err, relative(logs[0].Name()), relative(logs[1].Name()))
	}
	admin, err := plane.ControlPlane.AddUser(envtest.User{Name: "pgo-local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(e.Kubeconfig, kubeconfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	e.Config = admin.Config()
	e.Config.QPS, e.Config.Burst = 100, 200
	if e.Client, err = client.New(e.Config, client.Options{Scheme: kubescheme.Scheme}); err != nil {
		return err
	}
	e.Clientset, err = kubernetes.NewForConfig(e.Config)
	return err
}

// APIServerHostPort is where kube-apiserver listens.
func (e *Env) APIServerHostPort() (string, string) {
	l := e.plane.ControlPlane.APIServer.ListenAddr
	return l.Address, l.Port
}

func (e *Env) startControllers() error {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return err
	}
	rootCA := filepath.Join(e.opts.Dir, "apiserver", "ca.crt")
	if err := os.WriteFile(rootCA, e.Config.CAData, 0o644); err != nil {
		return err
	}
	saKey := filepath.Join(e.opts.Dir, "apiserver", "sa-signer.key")
	e.controllers, err = startControllers(assets, e.opts.Dir, e.Kubeconfig, rootCA, saKey)
	return err
}

func (e *Env) startNodes(ctx context.Context) error {
	ips, err := node.NewIPAllocator(PodCIDR)
	if err != nil {
		return err
	}
	e.ips = ips
	host, port := e.APIServerHostPort()
	executables := map[string]string{}
	if e.opts.Operator != "" {
		op, err := filepath.Abs(e.opts.Operator)
		if err != nil {
			return err
		}
		executables["postgres-operator"] = op
	}
	for i := range e.opts.Nodes {
		cfg := node.Config{
			Name:          fmt.Sprintf("pgo-local-%d", i+1),
			Address:       nodeAddress(i),
			StateDir:      filepath.Join(e.opts.Dir, "nodes", fmt.Sprintf("pgo-local-%d", i+1)),
			RestConfig:    e.Config,
			IPs:           ips,
			Executables:   executables,
			APIServerHost: host,
			APIServerPort: port,
			DNSServer:     DNSAddress,
			Logf:          e.opts.Logf,
		}
		e.nodeConfigs = append(e.nodeConfigs, cfg)
		e.Nodes = append(e.Nodes, nil)
		if err := e.StartNode(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// StartNode starts local node i (again).
func (e *Env) StartNode(ctx context.Context, i int) error {
	if e.Nodes[i] == nil {
		n, err := node.New(e.nodeConfigs[i])
		if err != nil {
			return err
		}
		e.Nodes[i] = n
	}
	return e.Nodes[i].Start(ctx)
}

// StopNode stops local node i as a node loss does: its processes are
// killed and its heartbeats stop.
func (e *Env) StopNode(i int) { e.Nodes[i].Stop(0) }

// NodeName is the name of local node i.
func (e *Env) NodeName(i int) string { return e.nodeConfigs[i].Name }

// waitAddons waits for what pods need from kube-controller-manager: the
// default service account and the root CA ConfigMap in the default
// namespace.
func (e *Env) waitAddons(ctx context.Context) error {
	kcmLog := relative(filepath.Join(e.opts.Dir, "logs", "kube-controller-manager.log"))
	return e.waitFor(ctx, time.Minute, "the default service account and kube-root-ca.crt", func(ctx context.Context) (bool, error) {
		if err := e.controllerError(); err != nil {
			return false, err
		}
		if _, err := e.Clientset.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("kube-controller-manager has not made the default service account (see %s): %w", kcmLog, err)
		}
		if _, err := e.Clientset.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("kube-controller-manager has not published kube-root-ca.crt (see %s): %w", kcmLog, err)
		}
		return true, nil
	})
}

func (e *Env) controllerError() error {
	for _, c := range e.controllers {
		if err := c.exited(); err != nil {
			return fmt.Errorf("%w (see %s)", err, filepath.Join(e.opts.Dir, "logs", c.name+".log"))
		}
	}
	return nil
}

// Kubectl runs kubectl with the admin kubeconfig.
func (e *Env) Kubectl(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kubectl %v: %w: %s", args, err, out)
	}
	return out, nil
}

// installPGO applies config/default and waits for the operator and its
// apiserver to be available.
func (e *Env) installPGO(ctx context.Context) error {
	if _, err := e.Kubectl(ctx, nil, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(e.opts.RepoRoot, "config", "default")); err != nil {
		return err
	}
	return e.WaitPGO(ctx, 3*time.Minute)
}

// PGODeployments are the Deployments of the operator namespace that make
// pgo: the controller and the apiserver.
var PGODeployments = []string{"pgo-operator", "pgo-apiserver"}

// WaitPGO waits until pgo's Deployments are available.
func (e *Env) WaitPGO(ctx context.Context, timeout time.Duration) error {
	for _, name := range PGODeployments {
		if err := e.WaitDeployment(ctx, OperatorNamespace, name, timeout); err != nil {
			return err
		}
	}
	return nil
}

// WaitDeployment waits until a Deployment's pods are all updated and
// available.
func (e *Env) WaitDeployment(ctx context.Context, namespace, name string, timeout time.Duration) error {
	return e.waitFor(ctx, timeout, "Deployment "+namespace+"/"+name, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &d); err != nil {
			return false, err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		ok := d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.AvailableReplicas == want && d.Status.Replicas == want
		if !ok {
			return false, e.podProblem(ctx, namespace, d.Spec.Selector.MatchLabels)
		}
		return true, nil
	})
}

// Stop stops everything: the nodes (pods get up to ten seconds to stop),
// the services, the controllers, kube-apiserver and etcd.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		var wg sync.WaitGroup
		for _, n := range e.Nodes {
			if n == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.Stop(10 * time.Second)
			}()
		}
		wg.Wait()
		if e.cancel != nil {
			e.cancel()
			e.services.Wait()
		}
		for _, c := range e.controllers {
			c.stop(5 * time.Second)
		}
		if e.plane != nil {
			if err := e.plane.Stop(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				e.progress("stopping kube-apiserver and etcd: %v\n", err)
			}
		}
		for _, f := range e.planeLogs {
			f.Close()
		}
		_ = os.Remove(e.Kubeconfig)
	})
}
