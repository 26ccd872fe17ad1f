// Package node is a local node of pgo's local environment: a Kubernetes node
// built on the virtual-kubelet library that runs each pod's containers as
// host processes, with no container runtime.
//
// Each container runs under a small init (this binary again, see
// MaybeRunInit) that is PID 1 of new mount, PID, UTS and IPC namespaces. Its
// root is an overlay of the host's root filesystem with a private writable
// layer, so that it sees the host's programs (PostgreSQL, pgBackRest) but
// writes nothing to the host outside its volumes, which are bind-mounted at
// their mount paths. When the init exits the kernel kills every process of
// the container. Every pod gets a loopback address of its own (127.x.y.z) as
// pod IP; programs in it listen on that address, since all pods share the
// host's network namespace.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/pki"
)

// KubeletPort is where a node serves the kubelet API (logs, exec,
// port-forward) on its address.
const KubeletPort = 10250

// Config describes a local node.
type Config struct {
	// Name of the Node object.
	Name string
	// Address is the node's own loopback address: its InternalIP, where it
	// serves the kubelet API.
	Address string
	// StateDir holds the node's pods (volumes, container roots) and their logs.
	StateDir string
	// RestConfig reaches the API server with the rights of a node.
	RestConfig *rest.Config
	// IPs hands out pod IPs; nodes of one environment share it.
	IPs *IPAllocator
	// Executables maps commands and images to host executables: a
	// container whose command is a key (without a slash), or that has no
	// command and whose image is a key (without its tag), runs that file.
	Executables map[string]string
	// APIServerHost and APIServerPort are given to containers as
	// KUBERNETES_SERVICE_HOST and _PORT.
	APIServerHost, APIServerPort string
	// DNSServer is the nameserver in every pod's resolv.conf; the host's
	// resolv.conf stays when empty.
	DNSServer string
	// StatusResync is how often the node compares its pods' statuses with
	// the API's and writes its own again where they differ:
	// DefaultStatusResync when zero, never when negative.
	StatusResync time.Duration
	// Logf receives the node's log lines; nil discards them.
	Logf func(format string, args ...any)
}

// Node is a running local node.
type Node struct {
	cfg    Config
	self   string
	client kubernetes.Interface

	mu        sync.Mutex
	pods      map[types.UID]*podRuntime
	byName    map[string]*podRuntime
	notifyFn  func(*corev1.Pod)
	secrets   corev1listers.SecretLister
	cms       corev1listers.ConfigMapLister
	podLister corev1listers.PodLister
	// rewrites counts the statuses the resync wrote again.
	rewrites atomic.Int64
	// events records Kubernetes Events as the node's kubelet (probe
	// failures, restarts), and the pod controller's own.
	events record.EventRecorder

	cancel context.CancelFunc
	done   chan struct{}
	// stopped refuses new pods between Stop and the next Start.
	stopped bool
}

// New configures a node; Start runs it.
func New(cfg Config) (*Node, error) {
	if cfg.Name == "" || cfg.Address == "" || cfg.StateDir == "" || cfg.RestConfig == nil || cfg.IPs == nil {
		return nil, errors.New("a local node needs a name, an address, a state directory, a REST config and an IP allocator")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("local nodes run containers in namespaces of their own and switch to the pods' users: run as root")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable, which runs as every container's init: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg.RestConfig)
	if err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, self: self, client: client, pods: map[types.UID]*podRuntime{}, byName: map[string]*podRuntime{}}, nil
}

func (n *Node) logf(format string, args ...any) {
	if n.cfg.Logf != nil {
		n.cfg.Logf("node %s: "+format, append([]any{n.cfg.Name}, args...)...)
	}
}

func (n *Node) clusterDomain() string { return "cluster.local" }

// Start registers the node, starts its heartbeats and pod controller, and
// returns when the node is Ready. Stop ends it.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.cancel != nil {
		n.mu.Unlock()
		return errors.New("node is already running")
	}
	n.stopped = false
	n.mu.Unlock()
	n.pruneLogs(time.Now().Add(-logRetention))
	ca, err := pki.NewCA("pgo local node "+n.cfg.Name, time.Now())
	if err != nil {
		return err
	}
	pair, err := pki.IssueServer(ca, n.cfg.Name, []string{n.cfg.Name}, time.Now())
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	runCtx, cancel := context.WithCancel(context.Background())
	events := record.NewBroadcaster(record.WithContext(runCtx))
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: n.cfg.Name})
	n.mu.Lock()
	n.events = recorder
	n.mu.Unlock()
	vk, err := nodeutil.NewNode(n.cfg.Name, n.newProvider,
		nodeutil.WithClient(statusPatcher{n.client}),
		func(c *nodeutil.NodeConfig) error {
			c.EventRecorder = recorder
			c.HTTPListenAddr = n.cfg.Address + ":" + strconv.Itoa(KubeletPort)
			c.Handler = mux
			c.NumWorkers = 4
			c.SkipDownwardAPIResolution = true
			c.InformerResyncPeriod = 10 * time.Minute
			n.nodeSpec(&c.NodeSpec)
			return nil
		},
		nodeutil.WithTLSConfig(func(t *tls.Config) error {
			t.Certificates = []tls.Certificate{cert}
			return nil
		}),
		nodeutil.AttachProviderRoutes(mux),
	)
	if err != nil {
		cancel()
		return fmt.Errorf("configuring node %s: %w", n.cfg.Name, err)
	}
	done := make(chan struct{})
	events.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: n.client.CoreV1().Events("")})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := vk.Run(runCtx); err != nil && runCtx.Err() == nil {
			n.logf("stopped: %v", err)
		}
	})
	resync := n.cfg.StatusResync
	if resync == 0 {
		resync = DefaultStatusResync
	}
	if resync > 0 {
		wg.Go(func() { n.resyncStatuses(runCtx, resync) })
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	n.mu.Lock()
	n.cancel, n.done = cancel, done
	n.mu.Unlock()
	if err := vk.WaitReady(ctx, time.Minute); err != nil {
		n.Stop(0)
		return fmt.Errorf("node %s did not become ready: %w", n.cfg.Name, err)
	}
	return nil
}

// logRetention is how long the logs of pods that are gone are kept.
const logRetention = 24 * time.Hour

// pruneLogs removes the logs of pods that nothing wrote to since before.
func (n *Node) pruneLogs(before time.Time) {
	dir := filepath.Join(n.cfg.StateDir, "logs")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pod := filepath.Join(dir, e.Name())
		if lastWrite(pod).After(before) {
			continue
		}
		if err := os.RemoveAll(pod); err != nil {
			n.logf("removing old logs %s: %v", e.Name(), err)
		}
	}
}

// lastWrite is the latest modification time of anything under dir.
func lastWrite(dir string) time.Time {
	var last time.Time
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(last) {
			last = info.ModTime()
		}
		return nil
	})
	return last
}

// nodeSpec fills the Node object the node registers.
func (n *Node) nodeSpec(node *corev1.Node) {
	node.Labels["kubernetes.io/os"] = "linux"
	node.Labels["kubernetes.io/arch"] = "amd64"
	node.Labels["node.kubernetes.io/instance-type"] = "pgo-local"
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node.Status.Capacity = capacity
	node.Status.Allocatable = capacity
	node.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: n.cfg.Address},
		{Type: corev1.NodeHostName, Address: n.cfg.Name},
	}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = KubeletPort
	node.Status.NodeInfo = corev1.NodeSystemInfo{
		OperatingSystem:         "linux",
		Architecture:            "amd64",
		KubeletVersion:          controlplane.KubernetesVersion + "-pgo-local",
		ContainerRuntimeVersion: "pgo-local://1",
	}
}

// Stop ends the node: its heartbeats stop and its pods' processes get grace
// to stop (zero kills them at once: a node loss). The pods stay bound to the
// node in the API; a node started again with the same name runs them again.
func (n *Node) Stop(grace time.Duration) {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.cancel, n.done = nil, nil
	n.stopped = true
	n.notifyFn = nil
	n.mu.Unlock()
	// The pod controller goes first: while it runs it would start again
	// the pods this stops.
	if cancel != nil {
		cancel()
		<-done
	}
	n.mu.Lock()
	pods := make([]*podRuntime, 0, len(n.pods))
	for _, p := range n.pods {
		pods = append(pods, p)
	}
	n.pods, n.byName = map[types.UID]*podRuntime{}, map[string]*podRuntime{}
	n.mu.Unlock()
	for _, p := range pods {
		p.stop(grace)
	}
	for _, p := range pods {
		<-p.done
		n.cfg.IPs.Release(p.ip, string(p.pod.UID))
	}
}

func (n *Node) newProvider(cfg nodeutil.ProviderConfig) (nodeutil.Provider, vknode.NodeProvider, error) {
	n.mu.Lock()
	n.secrets, n.cms, n.podLister = cfg.Secrets, cfg.ConfigMaps, cfg.Pods
	n.mu.Unlock()
	return &provider{n}, nil, nil
}

// secret and configMap read from the node's informers, falling back to the
// API for objects created a moment ago.
func (n *Node) secret(namespace, name string) (*corev1.Secret, error) {
	if s, err := n.secrets.Secrets(namespace).Get(name); err == nil {
		return s, nil
	}
	return n.client.CoreV1().Secrets(namespace).Get(context.Background(), name, metav1.GetOptions{})
}

func (n *Node) configMap(namespace, name string) (*corev1.ConfigMap, error) {
	if c, err := n.cms.ConfigMaps(namespace).Get(name); err == nil {
		return c, nil
	}
	return n.client.CoreV1().ConfigMaps(namespace).Get(context.Background(), name, metav1.GetOptions{})
}

// notify hands a status of rt to the pod controller, while rt is one of the
// node's running pods (a stopped node reports nothing).
func (n *Node) notify(rt *podRuntime, pod *corev1.Pod) {
	n.mu.Lock()
	fn := n.notifyFn
	current := n.pods[pod.UID] == rt
	n.mu.Unlock()
	if fn != nil && current {
		fn(pod)
	}
}

func podKey(namespace, name string) string { return namespace + "/" + name }
