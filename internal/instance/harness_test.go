package instance_test

// The harness runs instance managers as separate OS processes (the real
// postgres-operator binary), each with its own data directory, loopback
// address and Pod object, against real PostgreSQL 15 and a real
// kube-apiserver and etcd.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/instance"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
	"pgo.dev/pgo/internal/testenv"
)

// operatorBinary is the postgres-operator binary TestMain builds.
var operatorBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "pgo-bin-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			_ = os.Chmod(dir, 0o755)
			operatorBinary = filepath.Join(dir, "postgres-operator")
			cmd := exec.Command("go", "build", "-o", operatorBinary, "./cmd/postgres-operator")
			cmd.Dir = testenv.RepoRoot()
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "building postgres-operator:", err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// profile is the HA timing of a test cluster.
type profile struct{ ttl, loopWait, retryTimeout int }

var (
	defaultProfile = profile{30, 10, 10}
	fastProfile    = profile{10, 2, 4}
)

// harness is one cluster of instance managers.
type harness struct {
	t        testing.TB
	env      *testenv.Env
	ns       string
	cluster  string
	dir      string
	prof     profile
	config   map[string]any
	creds    *syscall.Credential
	uid, gid int
	netBase  string

	superPwd, apiPwd string
	files            map[string]string // kubeconfig
	// memberFiles are the passwords and the cluster's certificates.
	memberFiles *testenv.MemberFiles

	mu      sync.Mutex
	members map[string]*member

	checker *splitBrainChecker
	// memberEnv is more environment for a member's instance manager.
	memberEnv func(m *member) []string
}

type member struct {
	name, ip     string
	dataDir      string
	socketDir    string
	logPath      string
	cmd          *exec.Cmd
	exited       chan struct{}
	failoverPrio int
}

var netCounter struct {
	sync.Mutex
	n int
}

// newHarness starts an API server and prepares a cluster of n members
// (started with start).
func newHarness(t testing.TB, n int, prof profile, extraConfig map[string]any) *harness {
	t.Helper()
	if _, err := instance.FindBinDir(); err != nil {
		t.Fatalf("PostgreSQL is needed (`make deps` installs it): %v", err)
	}
	env := testenv.Start(t)
	netCounter.Lock()
	netCounter.n++
	base := fmt.Sprintf("127.0.%d.", 20+netCounter.n%200)
	netCounter.Unlock()

	h := &harness{t: t, env: env, ns: "ha", cluster: "hippo", prof: prof, netBase: base,
		members: map[string]*member{}, files: map[string]string{}}
	h.uid, h.gid = os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run the managers as postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user (Debian's postgresql package creates it): %v", err)
		}
		h.uid, _ = strconv.Atoi(u.Uid)
		h.gid, _ = strconv.Atoi(u.Gid)
		h.creds = &syscall.Credential{Uid: uint32(h.uid), Gid: uint32(h.gid)}
	}
	dir, err := os.MkdirTemp("", "pgo-ha-")
	if err != nil {
		t.Fatal(err)
	}
	h.dir = dir
	h.chown(dir)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	ctx := context.Background()
	cs := env.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The managers get exactly the Role the operator gives a cluster's
	// pods, from the same function, bound to the pods' ServiceAccount, and
	// the DCS objects the operator creates.
	env.CreateDCSObjects(t, h.ns, h.cluster)
	var pods []string
	for i := range n {
		pods = append(pods, fmt.Sprintf("%s-%d", h.cluster, i))
	}
	_, role, binding := specs.InstanceRBAC(&pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: h.cluster, Namespace: h.ns}}, pods)
	role.OwnerReferences, binding.OwnerReferences = nil, nil
	if _, err := cs.RbacV1().Roles(h.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(h.ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	subject := binding.Subjects[0]
	kubeconfig, err := env.Kubeconfig("system:serviceaccount:" + subject.Namespace + ":" + subject.Name)
	if err != nil {
		t.Fatal(err)
	}
	h.superPwd, h.apiPwd = "super'secret:1", "api-secret"
	h.writeFile("kubeconfig", string(kubeconfig))
	h.memberFiles = testenv.WriteMemberFiles(t, dir, h.ns, h.cluster, h.uid, h.gid,
		map[string]string{"superuser": h.superPwd, "api": h.apiPwd, "app": "app-secret"}, 0)

	h.config = map[string]any{"ttl": prof.ttl, "loop_wait": prof.loopWait, "retry_timeout": prof.retryTimeout}
	for k, v := range extraConfig {
		h.config[k] = v
	}
	h.setConfig(h.config)

	for i, name := range pods {
		m := &member{name: name, ip: fmt.Sprintf("%s%d", base, i+1), failoverPrio: 1}
		m.dataDir = filepath.Join(dir, name, "data")
		m.socketDir = filepath.Join(dir, name, "run")
		m.logPath = filepath.Join(dir, name+".log")
		for _, d := range []string{filepath.Dir(m.dataDir), m.dataDir, m.socketDir} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			h.chown(d)
		}
		h.members[name] = m
		h.createPod(m)
	}

	h.checker = startSplitBrainChecker(h)
	t.Cleanup(func() {
		h.checker.stop()
		h.stopAll()
		if v := h.checker.violations(); len(v) > 0 {
			t.Errorf("split brain: two members accepted writes at once: %v", v)
		}
		for _, name := range h.names() {
			if line := lineWith(h.log(name), "is forbidden"); line != "" {
				t.Errorf("%s was refused something the operator's Role should grant: %s", name, line)
			}
		}
		if t.Failed() {
			h.dumpLogs()
		}
	})
	return h
}

func (h *harness) chown(path string) {
	if h.creds != nil {
		if err := os.Chown(path, h.uid, h.gid); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) writeFile(name, content string) {
	path := filepath.Join(h.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	h.chown(path)
	h.files[name] = path
}

// setConfig writes the dynamic configuration, as the operator would.
func (h *harness) setConfig(cfg map[string]any) {
	h.t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx := context.Background()
	cms := h.env.Clientset.CoreV1().ConfigMaps(h.ns)
	name := naming.ConfigMap(h.cluster)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, Data: map[string]string{naming.KeyConfig: string(raw)}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	} else if err == nil {
		cm.Data[naming.KeyConfig] = string(raw)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		h.t.Fatal(err)
	}
}

// createPod creates the member's Pod object, as its StatefulSet would.
func (h *harness) createPod(m *member) {
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: m.name, Namespace: h.ns, Labels: map[string]string{naming.LabelCluster: h.cluster, naming.LabelInstance: m.name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}},
	}
	created, err := h.env.Clientset.CoreV1().Pods(h.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	created.Status.PodIP = m.ip
	created.Status.Phase = corev1.PodRunning
	if _, err := h.env.Clientset.CoreV1().Pods(h.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// start starts a member's instance manager.
func (h *harness) start(name string) {
	h.t.Helper()
	h.mu.Lock()
	m := h.members[name]
	h.mu.Unlock()
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	fmt.Fprintf(logFile, "==== start %s\n", time.Now().Format(time.RFC3339Nano))
	bin, _ := instance.FindBinDir()
	args := append([]string{"instance", "run",
		"--cluster", h.cluster, "--namespace", h.ns, "--name", m.name, "--pod-ip", m.ip,
		"--data-dir", m.dataDir, "--socket-dir", m.socketDir, "--bin-dir", bin,
		"--failover-priority", strconv.Itoa(m.failoverPrio), "--app-user", "app", "--app-database", "appdb",
		"--zap-encoder", "console", "--zap-time-encoding", "rfc3339nano"}, h.memberFiles.Args()...)
	cmd := exec.Command(operatorBinary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+h.files["kubeconfig"], "HOME="+h.dir)
	if h.memberEnv != nil {
		cmd.Env = append(cmd.Env, h.memberEnv(m)...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Should the test process die, the manager stops too (and stops its
	// PostgreSQL), rather than keep the test's addresses for the next run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: h.creds, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}()
	h.mu.Lock()
	m.cmd, m.exited = cmd, exited
	h.mu.Unlock()
}

func (h *harness) startAll() {
	for _, name := range h.names() {
		h.start(name)
	}
}

func (h *harness) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for i := range len(h.members) {
		names = append(names, fmt.Sprintf("%s-%d", h.cluster, i))
	}
	return names
}

func (h *harness) member(name string) *member {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.members[name]
}

// running tells whether a member's manager runs (term and kill9 end it
// from other goroutines).
func (h *harness) running(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.members[name].cmd != nil
}

// kill9 kills a member's manager and its PostgreSQL at once, as a node or
// container crash would.
func (h *harness) kill9(name string) {
	m := h.member(name)
	if m.cmd == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	<-m.exited
	// The postmaster's children notice their parent is gone and exit.
	h.waitNoPostgres(m)
	h.mu.Lock()
	m.cmd = nil
	h.mu.Unlock()
}

// term stops a member's manager gracefully (as Kubernetes does) and waits.
func (h *harness) term(name string) {
	m := h.member(name)
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(90 * time.Second):
		h.t.Errorf("%s did not stop within 90s of SIGTERM", name)
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
	}
	h.mu.Lock()
	m.cmd = nil
	h.mu.Unlock()
}

func (h *harness) waitNoPostgres(m *member) {
	pidFile := filepath.Join(m.dataDir, "postmaster.pid")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		first, _, _ := strings.Cut(string(data), "\n")
		pid, _ := strconv.Atoi(strings.TrimSpace(first))
		if pid <= 0 || syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) stopAll() {
	var wg sync.WaitGroup
	for _, name := range h.names() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := h.member(name)
			if m.cmd != nil {
				_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
				<-m.exited
				h.waitNoPostgres(m)
			}
		}()
	}
	wg.Wait()
}

func (h *harness) dumpLogs() {
	if dir := os.Getenv("PGO_TEST_LOG_DIR"); dir != "" {
		keep := filepath.Join(dir, strings.ReplaceAll(h.t.Name(), "/", "_")+"-"+time.Now().Format("150405"))
		_ = os.MkdirAll(keep, 0o755)
		for _, name := range h.names() {
			data, _ := os.ReadFile(h.member(name).logPath)
			_ = os.WriteFile(filepath.Join(keep, name+".log"), data, 0o644)
		}
		h.t.Logf("the members' logs are in %s", keep)
	}
	for _, name := range h.names() {
		data, _ := os.ReadFile(h.member(name).logPath)
		lines := strings.Split(string(data), "\n")
		if len(lines) > 150 {
			lines = lines[len(lines)-150:]
		}
		h.t.Logf("==== log of %s (last lines):\n%s", name, strings.Join(lines, "\n"))
	}
}

// lineWith is the first line of text that contains s ("" when none does).
func lineWith(text, s string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func (h *harness) log(name string) string {
	data, _ := os.ReadFile(h.member(name).logPath)
	return string(data)
}

// status asks a member's REST API for its status.
func (h *harness) status(name string) (instanceapi.Status, error) {
	var st instanceapi.Status
	resp, err := h.api(name, 2*time.Second).Get(h.apiURL(name, "/status"))
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// runsAsPrimary: GET /primary answers 200 and says PostgreSQL runs as
// primary.
func (h *harness) runsAsPrimary(name string) bool {
	resp, err := h.api(name, 2*time.Second).Get(h.apiURL(name, "/primary"))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st instanceapi.Status
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil && st.Running && st.Role == ha.RolePrimary
}

// httpCode is the status code of a GET on a member's REST API.
func (h *harness) httpCode(name, path string) int {
	resp, err := h.api(name, 2*time.Second).Get(h.apiURL(name, path))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// get is the body of a GET on a member's REST API.
func (h *harness) get(name, path string) string {
	resp, err := h.api(name, 5*time.Second).Get(h.apiURL(name, path))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return out.String()
}

// post sends an authenticated POST to a member's REST API.
func (h *harness) post(name, path string, body any) (int, string) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, h.apiURL(name, path), bytes.NewReader(raw))
	req.SetBasicAuth("pgo", h.apiPwd)
	resp, err := h.api(name, 100*time.Second).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

// api is a client of a member's REST API, which checks its certificate as
// the members and the apiserver do.
func (h *harness) api(name string, timeout time.Duration) *http.Client {
	c, err := instanceapi.Client(h.memberFiles.CA.Cert, instanceapi.ServerName(name, h.cluster, h.ns), timeout)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// apiURL is the URL of path on a member's REST API.
func (h *harness) apiURL(name, path string) string {
	return instanceapi.URL(h.member(name).ip+":8008") + path
}

// lease is the leader lock.
func (h *harness) lease() *coordinationv1.Lease {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := h.env.Clientset.CoordinationV1().Leases(h.ns).Get(ctx, naming.LeaderLease(h.cluster), metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return l
}

// primary is the member whose /primary answers 200 while it runs as
// primary, if exactly one does. (/primary answers 200 for the lock holder
// whatever PostgreSQL's state, as Patroni's does; the tests measure when
// the new primary takes writes.)
func (h *harness) primary() string {
	found := ""
	for _, name := range h.names() {
		if h.running(name) && h.runsAsPrimary(name) {
			if found != "" {
				return ""
			}
			found = name
		}
	}
	return found
}

// waitFor polls until cond holds or timeout passes; it returns the time
// taken.
func (h *harness) waitFor(what string, timeout time.Duration, cond func() bool) time.Duration {
	h.t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			h.t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPrimary waits until one member is primary and returns it.
func (h *harness) waitPrimary(timeout time.Duration, not ...string) (string, time.Duration) {
	h.t.Helper()
	var p string
	took := h.waitFor("a primary", timeout, func() bool {
		p = h.primary()
		for _, n := range not {
			if p == n {
				return false
			}
		}
		return p != ""
	})
	return p, took
}

// caughtUp is how far behind its leader a replica of a healthy cluster may
// be: the default maximum_lag_on_failover.
const caughtUp = 1 << 20

// waitHealthy waits until there is a primary and every running member
// streams from it, caught up.

func (h *harness) waitHealthy(timeout time.Duration) string {
	h.t.Helper()
	var leader string
	h.waitFor("a healthy cluster", timeout, func() bool {
		leader = h.primary()
		if leader == "" {
			return false
		}
		lst, err := h.status(leader)
		if err != nil {
			return false
		}
		// The leader sees each running replica stream from it: a replica's
		// own status may still show the stream from its old upstream
		// (cascading through it) just after a switchover.
		others := 0
		for _, name := range h.names() {
			if name != leader && h.running(name) {
				others++
			}
		}
		if n, err := h.queryInt(leader, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"); err != nil || n != int64(others) {
			return false
		}
		for _, name := range h.names() {
			if name == leader || !h.running(name) {
				continue
			}
			// Streaming and caught up: a replica that has just started
			// streaming may still be a segment behind, and a switchover
			// to it is then refused for its lag, as it should be.
			st, err := h.status(name)
			if err != nil || !st.Streaming || st.Upstream != leader || st.WAL+caughtUp < lst.WAL {
				return false
			}
		}
		return true
	})
	return leader
}

// connect opens a connection to a member's PostgreSQL as the superuser.
func (h *harness) connect(ctx context.Context, name string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = h.member(name).ip, 5432, "postgres", h.superPwd, "postgres"
	cfg.ConnectTimeout = 2 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// exec runs SQL on a member.
func (h *harness) exec(name, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := h.connect(ctx, name)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// queryInt runs a query that returns one integer.
func (h *harness) queryInt(name, sql string) (int64, error) {
	var v int64
	return v, h.queryRow(name, sql, &v)
}

func (h *harness) queryText(name, sql string) (string, error) {
	var v string
	return v, h.queryRow(name, sql, &v)
}

func (h *harness) queryRow(name, sql string, dest any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := h.connect(ctx, name)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dest)
}

// waitReplicated waits until every running replica has flushed the
// leader's WAL as it is now: commits before it survive a hard kill of the
// leader even with asynchronous replication.
func (h *harness) waitReplicated(leader string) {
	h.t.Helper()
	var lsn string
	if err := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := h.connect(ctx, leader)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn)
	}(); err != nil {
		h.t.Fatal(err)
	}
	others := 0
	for _, name := range h.names() {
		if name != leader && h.running(name) {
			others++
		}
	}
	h.waitFor("the replicas to flush "+lsn+" of "+leader, 30*time.Second, func() bool {
		n, err := h.queryInt(leader, "SELECT count(*) FROM pg_stat_replication WHERE flush_lsn >= '"+lsn+"'::pg_lsn")
		return err == nil && n == int64(others)
	})
}

// splitBrainChecker samples every member's PostgreSQL and records each
// moment at which two of them accept writes.
type splitBrainChecker struct {
	h    *harness
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	seen []string
}

func startSplitBrainChecker(h *harness) *splitBrainChecker {
	c := &splitBrainChecker{h: h, done: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

func (c *splitBrainChecker) run() {
	defer c.wg.Done()
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, conn := range conns {
			_ = conn.Close(context.Background())
		}
	}()
	writable := func(name string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		conn := conns[name]
		if conn == nil || conn.IsClosed() {
			var err error
			if conn, err = c.h.connect(ctx, name); err != nil {
				return false
			}
			conns[name] = conn
		}
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
			_ = conn.Close(context.Background())
			delete(conns, name)
			return false
		}
		return !inRecovery
	}
	for {
		select {
		case <-c.done:
			return
		case <-time.After(50 * time.Millisecond):
		}
		var primaries []string
		for _, name := range c.h.names() {
			if writable(name) {
				primaries = append(primaries, name)
			}
		}
		if len(primaries) < 2 {
			continue
		}
		// Ask again at once: both must still accept writes.
		var still []string
		for _, name := range primaries {
			if writable(name) {
				still = append(still, name)
			}
		}
		if len(still) >= 2 {
			c.mu.Lock()
			c.seen = append(c.seen, fmt.Sprintf("%s at %s", strings.Join(still, " and "), time.Now().Format("15:04:05.000")))
			c.mu.Unlock()
		}
	}
}

func (c *splitBrainChecker) stop() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
}

func (c *splitBrainChecker) violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}
