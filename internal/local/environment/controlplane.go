package environment

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"pgo.dev/pgo/internal/controlplane"
)

// Addresses of the local environment. Everything listens on loopback.
const (
	// ServiceCIDR is the range ClusterIPs come from; the Service proxy
	// listens on them.
	ServiceCIDR = "127.96.0.0/16"
	// DNSAddress is the cluster DNS server, every pod's nameserver.
	DNSAddress = "127.96.0.10"
	// PodCIDR is the range pod IPs come from.
	PodCIDR = "127.64.0.0/16"
	// APIServerAddress is where kube-apiserver listens.
	APIServerAddress = "127.0.0.1"
)

// nodeAddress is the address of local node i (0-based).
func nodeAddress(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) }

// newControlPlane configures etcd (data kept in dir/etcd) and kube-apiserver
// (certificates kept in dir/apiserver while they are valid) for the local
// environment: a loopback service range, no endpoint reconciler (the API
// refuses loopback endpoints), and the ServiceAccount admission plugin, so
// that pods get their service account tokens as on a real cluster.
// Their output goes to logs/etcd.log and logs/kube-apiserver.log, which the
// caller closes (logs) when they have stopped.
func newControlPlane(dir, crdDir string, port int) (_ *envtest.Environment, logs []*os.File, err error) {
	defer func() {
		if err != nil {
			for _, f := range logs {
				f.Close()
			}
		}
	}()
	logFile := func(name string) (*os.File, error) {
		f, err := os.OpenFile(filepath.Join(dir, "logs", name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err == nil {
			logs = append(logs, f)
		}
		return f, err
	}
	etcdLog, err := logFile("etcd.log")
	if err != nil {
		return nil, logs, err
	}
	apiLog, err := logFile("kube-apiserver.log")
	if err != nil {
		return nil, logs, err
	}
	env, err := controlplane.New(crdDir)
	if err != nil {
		return nil, logs, err
	}
	certs := filepath.Join(dir, "apiserver")
	ca, err := reusableCA(certs)
	if err != nil {
		return nil, logs, err
	}
	if ca == nil {
		if err := os.RemoveAll(certs); err != nil {
			return nil, logs, err
		}
	}
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, logs, err
	}
	etcdDir := filepath.Join(dir, "etcd")
	if err := os.MkdirAll(etcdDir, 0o700); err != nil {
		return nil, logs, err
	}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: etcdDir, StartTimeout: time.Minute, Out: etcdLog, Err: etcdLog}
	api := &envtest.APIServer{CertDir: certs, StartTimeout: 2 * time.Minute, Out: apiLog, Err: apiLog}
	// The same serving certificate, CA and service account keys as last
	// time, so that pods that come back with the environment trust the API
	// server and keep valid tokens.
	api.CA = ca
	api.Address = APIServerAddress
	if port != 0 {
		api.Port = fmt.Sprint(port)
	}
	args := api.Configure()
	args.Set("service-cluster-ip-range", ServiceCIDR)
	args.Set("endpoint-reconciler-type", "none")
	args.Disable("disable-admission-plugins")
	args.Set("kubelet-preferred-address-types", "InternalIP")
	args.Set("allow-privileged", "true")
	// Every write, who made it and on what (no bodies, so no secrets), in
	// logs/audit.log: to see who writes what (make bench-steady counts
	// them) and to find out what happened to an object.
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, logs, err
	}
	args.Set("audit-policy-file", policy)
	args.Set("audit-log-path", filepath.Join(dir, "logs", AuditLog))
	args.Set("audit-log-maxsize", "100")
	args.Set("audit-log-maxbackup", "1")
	env.ControlPlane.APIServer = api
	env.ControlPlaneStopTimeout = 10 * time.Second
	return env, logs, nil
}

// AuditLog is the API server's audit log of writes, in the environment's
// logs directory: one JSON event per write.
const AuditLog = "audit.log"

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
`

// reusableCA is the CA of the API server's certificates kept in dir by an
// earlier run (see Env.startControllers), or nil when there are none or the
// serving certificate expires within a day (envtest's last a week): then
// new ones are made.
func reusableCA(dir string) ([]byte, error) {
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	serving, err := os.ReadFile(filepath.Join(dir, "apiserver.crt"))
	if err != nil {
		return nil, nil
	}
	block, _ := pem.Decode(serving)
	if block == nil {
		return nil, nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || time.Until(cert.NotAfter) < 24*time.Hour {
		return nil, nil
	}
	return ca, nil
}

// component is a control plane program run as a child process, with its
// output in a log file.
type component struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startComponent(name, logPath string, argv ...string) (*component, error) {
	logs, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logs.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &component{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logs.Close()
		close(c.done)
	}()
	return c, nil
}

// stop sends SIGTERM and SIGKILL after timeout.
func (c *component) stop(timeout time.Duration) {
	if c == nil {
		return
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// exited reports a component that stopped by itself.
func (c *component) exited() error {
	select {
	case <-c.done:
		if c.err == nil {
			c.err = errors.New("exited")
		}
		return fmt.Errorf("%s stopped: %w", c.name, c.err)
	default:
		return nil
	}
}

// startControllers starts kube-controller-manager and kube-scheduler with an
// admin kubeconfig. The endpoint controllers are off: the API refuses the
// loopback pod addresses in Endpoints and EndpointSlices, and the Service
// proxy and DNS read pods directly.
func startControllers(assets, dir, kubeconfig, rootCA, saKey string) ([]*component, error) {
	logs := filepath.Join(dir, "logs")
	// Both read the API as admin, serve no port and run alone.
	common := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--v=1",
	}
	kcm, err := startComponent("kube-controller-manager", filepath.Join(logs, "kube-controller-manager.log"),
		slices.Concat([]string{filepath.Join(assets, "kube-controller-manager")}, common, []string{
			"--controllers=*,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller",
			"--root-ca-file=" + rootCA,
			"--service-account-private-key-file=" + saKey,
			"--use-service-account-credentials=false",
			"--node-monitor-grace-period=20s",
			"--concurrent-statefulset-syncs=10",
		})...,
	)
	if err != nil {
		return nil, err
	}
	sched, err := startComponent("kube-scheduler", filepath.Join(logs, "kube-scheduler.log"),
		slices.Concat([]string{filepath.Join(assets, "kube-scheduler")}, common)...,
	)
	if err != nil {
		kcm.stop(5 * time.Second)
		return nil, err
	}
	return []*component{kcm, sched}, nil
}
