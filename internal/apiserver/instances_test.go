package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/instance"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/specs"
	"pgo.dev/pgo/internal/testenv"
)

var operatorBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pgo-apiserver-bin-")
	if err != nil {
		return "", err
	}
	_ = os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "postgres-operator")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/postgres-operator")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building postgres-operator: %w\n%s", err, out)
	}
	return bin, nil
})

// TestInstanceOperations runs two real instance managers (the
// postgres-operator binary, PostgreSQL 15) as the pods of cluster hippo and
// drives them through the API: TestCluster finds both UP, Restart restarts
// PostgreSQL in the replica through its instance manager, and CreateFailover
// makes a switchover task, which the controller's task engine (run here)
// carries out through the failover request the instance managers read.
func TestInstanceOperations(t *testing.T) {
	bin, err := operatorBinary()
	if err != nil {
		t.Fatal(err)
	}
	pgBin, err := instance.FindBinDir()
	if err != nil {
		t.Fatalf("PostgreSQL is needed (`make deps` installs it): %v", err)
	}
	h := newHarness(t, "ha")
	h.runTasks()
	ctx := context.Background()
	var created pgoapi.CreateClusterResponse
	h.mustAdmin("POST", pgoapi.ClustersPath("ha"), pgoapi.CreateClusterRequest{Name: "hippo", ReplicaCount: 1, Username: "app", Database: "appdb"}, http.StatusCreated, &created)

	dir, err := os.MkdirTemp("", "pgo-apiserver-ha-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var creds *syscall.Credential
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		creds = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	files := map[string]string{}
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Chown(path, uid, gid)
		files[name] = path
		return path
	}
	_ = os.Chown(dir, uid, gid)

	kubeconfig, err := h.env.Kubeconfig("instance-manager", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	write("kubeconfig", string(kubeconfig))
	mf := testenv.WriteMemberFiles(t, dir, "ha", "hippo", uid, gid, map[string]string{"superuser": "super-secret", "api": "api-secret", "app": created.Password}, 0)
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: naming.ServerCertSecret("hippo"), Namespace: "ha"}, Data: map[string][]byte{naming.KeyCACert: mf.CA.Cert}})
	h.env.CreateDCSObjects(t, "ha", "hippo")
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: naming.APISecret("hippo"), Namespace: "ha"},
		Data: map[string][]byte{naming.KeyUsername: []byte("pgo"), naming.KeyPassword: []byte("api-secret")}})
	raw, _ := json.Marshal(map[string]any{"ttl": 10, "loop_wait": 2, "retry_timeout": 4})
	h.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.ConfigMap("hippo"), Namespace: "ha"}, Data: map[string]string{naming.KeyConfig: string(raw)}})

	base := fmt.Sprintf("127.0.%d.", 250+rand.IntN(5))
	instances := []string{"hippo-aaaa", "hippo-bbbb"}
	pods := map[string]string{}
	for i, inst := range instances {
		podName := inst + "-0"
		pods[inst] = podName
		ip := base + strconv.Itoa(i+1)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: "ha", Labels: specs.InstanceLabels("hippo", inst)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}}}
		h.create(pod)
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
		if err := h.c.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	start := func(inst string, i int) {
		data := filepath.Join(dir, inst, "data")
		socket := filepath.Join(dir, inst, "run")
		for _, d := range []string{filepath.Dir(data), data, socket} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			_ = os.Chown(d, uid, gid)
		}
		logFile, err := os.Create(filepath.Join(dir, inst+".log"))
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{"instance", "run",
			"--cluster", "hippo", "--namespace", "ha", "--name", pods[inst], "--pod-ip", base + strconv.Itoa(i+1),
			"--data-dir", data, "--socket-dir", socket, "--bin-dir", pgBin,
			"--app-user", "app", "--app-database", "appdb", "--zap-encoder", "console"}, mf.Args()...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+files["kubeconfig"], "HOME="+dir)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: creds}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); _ = logFile.Close(); close(exited) }()
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			if t.Failed() {
				out, _ := os.ReadFile(filepath.Join(dir, inst+".log"))
				lines := strings.Split(string(out), "\n")
				if len(lines) > 60 {
					lines = lines[len(lines)-60:]
				}
				t.Logf("==== %s:\n%s", inst, strings.Join(lines, "\n"))
			}
		})
	}
	leader := func() string {
		l := &coordinationv1.Lease{}
		if err := h.c.Get(ctx, objectKey("ha", naming.LeaderLease("hippo")), l); err != nil {
			return ""
		}
		return dcs.LeaderInstance(l, time.Now())
	}
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(timeout); !cond(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s", what, timeout)
			}
		}
	}
	// What the controller would report.
	setStatus := func(primary string) {
		t.Helper()
		c := getCluster(t, h, "ha", "hippo")
		c.Status.Primary, c.Status.Phase, c.Status.ReadyInstances, c.Status.Replicas = primary, pgov1.PhaseReady, 2, 1
		c.Status.Instances = nil
		for _, inst := range instances {
			role := pgov1.RoleReplica
			if inst == primary {
				role = pgov1.RolePrimary
			}
			c.Status.Instances = append(c.Status.Instances, pgov1.PGInstanceStatus{Name: inst, Role: role, Ready: true})
		}
		if err := h.c.Status().Update(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	testAll := func() pgoapi.TestClusterResponse {
		var resp pgoapi.TestClusterResponse
		h.mustAdmin("GET", pgoapi.ClusterTestPath("ha", "hippo"), nil, http.StatusOK, &resp)
		return resp
	}

	start("hippo-aaaa", 0)
	waitFor("hippo-aaaa to lead", 90*time.Second, func() bool { return leader() == "hippo-aaaa" })
	start("hippo-bbbb", 1)
	setStatus("hippo-aaaa")
	waitFor("both instances to answer TestCluster", 120*time.Second, func() bool {
		r := testAll()
		up := 0
		for _, ep := range r.Endpoints {
			if ep.Kind == pgoapi.EndpointInstance && ep.Status == pgoapi.StatusUp {
				up++
			}
		}
		return up == 2
	})

	var restarted pgoapi.RestartResponse
	h.mustAdmin("POST", pgoapi.ClusterRestartPath("ha", "hippo"), pgoapi.RestartRequest{Targets: []string{"hippo-bbbb"}}, http.StatusOK, &restarted)
	if len(restarted.Results) != 1 || !restarted.Results[0].Success {
		t.Fatalf("restart: %+v", restarted)
	}

	// The primary, by the leader lock, is the instance of the pod that
	// holds it.
	c := getCluster(t, h, "ha", "hippo")
	if p, err := h.srv.primaryOf(ctx, c); err != nil || p != "hippo-aaaa" {
		t.Errorf("primaryOf: %q %v", p, err)
	}
	var failed pgoapi.FailoverResponse
	h.mustAdmin("POST", pgoapi.ClusterFailoverPath("ha", "hippo"), pgoapi.FailoverRequest{Target: "hippo-bbbb"}, http.StatusOK, &failed)
	if failed.Message != "switchover of cluster hippo to hippo-bbbb requested" || failed.WorkflowID == "" {
		t.Errorf("answer %+v", failed)
	}
	// The replica may still be catching up: the primary refuses, and the
	// task asks again.
	waitFor("a switchover to hippo-bbbb", 180*time.Second, func() bool { return leader() == "hippo-bbbb" })
	setStatus("hippo-bbbb")
	w := h.workflow("ha", failed.WorkflowID, 60*time.Second, func(w pgoapi.Workflow) error {
		if w.Phase != pgoapi.WorkflowSucceeded {
			return fmt.Errorf("phase %s", w.Phase)
		}
		return nil
	})
	if w.Operation != "failover" || len(w.Steps) != 2 || w.Steps[0].Message != "asked hippo-aaaa to hand over to hippo-bbbb" ||
		w.Steps[1].Message != "hippo-bbbb is the primary" {
		t.Errorf("failover workflow %+v", w)
	}
}
