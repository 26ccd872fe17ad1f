package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
)

// pgoCLI runs the pgo client against the environment's apiserver as its
// bootstrap admin.
type pgoCLI struct {
	t   testing.TB
	env []string
}

func newPGO(t testing.TB, ctx context.Context) *pgoCLI {
	t.Helper()
	access, err := env.ForwardAPIServer(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return &pgoCLI{t: t, env: append(os.Environ(),
		"HOME="+home,
		pgoapi.EnvAPIServerURL+"="+access.URL,
		pgoapi.EnvCACert+"="+access.CAFile,
		pgoapi.EnvUserFile+"="+access.UserFile,
	)}
}

// run runs pgo and fails the test when it fails.
func (p *pgoCLI) run(args ...string) string {
	p.t.Helper()
	out, err := p.try(args...)
	if err != nil {
		p.t.Fatalf("pgo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (p *pgoCLI) try(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "pgo"), args...)
	cmd.Env = p.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	p.t.Logf("$ pgo %s (%.1fs)\n%s%s", strings.Join(args, " "), time.Since(start).Seconds(), stdout.String(), stderr.String())
	return stdout.String() + stderr.String(), err
}

func (p *pgoCLI) json(v any, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "pgo"), append(args, "-o", "json")...)
	cmd.Env = p.env
	out, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("pgo %s -o json: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		p.t.Fatalf("pgo %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (p *pgoCLI) cluster(ns, name string) pgoapi.Cluster {
	p.t.Helper()
	var resp pgoapi.ShowClusterResponse
	p.json(&resp, "show", "cluster", name, "-n", ns)
	if len(resp.Clusters) != 1 {
		p.t.Fatalf("show cluster %s: %d clusters", name, len(resp.Clusters))
	}
	return resp.Clusters[0]
}

func rolesOf(c pgoapi.Cluster) map[string]string {
	roles := map[string]string{}
	for _, i := range c.Instances {
		roles[i.Name] = i.Role
	}
	return roles
}

// allUp runs pgo test and checks every Service and instance is UP.
func (p *pgoCLI) allUp(ns, name string) {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := p.try("test", name, "-n", ns)
		if err == nil && strings.Contains(out, "UP") && !strings.Contains(out, "DOWN") {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pgo test %s never showed everything UP:\n%s\n%s", name, out, podStates(ns, name))
		}
		time.Sleep(2 * time.Second)
	}
}

// TestE2EPgoWalkthrough is the walkthrough of the README, through pgo only
// (deleting the primary pod aside, which is kubectl's).
func TestE2EPgoWalkthrough(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := env.WaitPGO(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	pgo := newPGO(t, ctx)
	const ns, name = "pgouser1", "walk"
	start := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			walk := &pgov1.PGCluster{}
			walk.Namespace, walk.Name = ns, name
			t.Logf("instance manager logs:\n%s", instanceLogs(walk, 40))
		}
	})

	pgo.run("create", "namespace", ns)
	pgo.run("create", "cluster", name, "-n", ns, "--replica-count=1", "--metrics", "--pgbackrest-repo1-retention-full=2", "--wait", "--wait-timeout=5m")
	c := pgo.cluster(ns, name)
	if c.Phase != "Ready" || c.ReadyInstances != 2 || c.Primary == "" {
		t.Fatalf("after create --wait: phase %s, %d ready, primary %q", c.Phase, c.ReadyInstances, c.Primary)
	}
	pgo.run("show", "cluster", name, "-n", ns)
	pgo.allUp(ns, name)

	// Delete the primary pod: the roles swap.
	before := rolesOf(c)
	oldPrimary := c.Primary
	cl := &pgov1.PGCluster{}
	cl.Namespace, cl.Name = ns, name
	primaryPod := podWithRole(t, ctx, cl, naming.RolePrimary)
	if err := env.Client.Delete(ctx, primaryPod); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c = pgo.cluster(ns, name)
		if c.Primary != "" && c.Primary != oldPrimary && c.ReadyInstances == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roles did not swap: primary %q, %d ready", c.Primary, c.ReadyInstances)
		}
		time.Sleep(time.Second)
	}
	after := rolesOf(c)
	for inst, role := range before {
		if after[inst] == role {
			t.Errorf("instance %s is still %s after the primary pod was deleted", inst, role)
		}
	}
	pgo.run("show", "cluster", name, "-n", ns)
	pgo.allUp(ns, name)

	// Backups: the first full one was taken when the cluster came up; a
	// diff and an incr on top of it, through pgo.
	waitBackups(t, pgo, ns, name, 1)
	pgo.run("backup", name, "-n", ns, "--backup-opts=--type=diff --start-fast", "--wait", "--wait-timeout=5m")
	pgo.run("backup", name, "-n", ns, "--backup-opts=--type=incr --start-fast", "--wait", "--wait-timeout=5m")
	pgo.run("show", "backup", name, "-n", ns)
	backups := waitBackups(t, pgo, ns, name, 3)
	full, diff, incr := backups[0], backups[1], backups[2]
	if full.Type != "full" || diff.Type != "diff" || incr.Type != "incr" ||
		!slices.Equal(diff.Reference, []string{full.Label}) || !slices.Equal(incr.Reference, []string{full.Label, diff.Label}) {
		t.Fatalf("backups: %+v", backups)
	}

	// Scale to two replicas, then remove one by name. The new replica is
	// restored from the repository (the incr backup), then streams.
	pgo.run("scale", name, "-n", ns, "--replica-count=1", "--wait", "--wait-timeout=5m")
	c = pgo.cluster(ns, name)
	if c.ReadyInstances != 3 {
		t.Fatalf("after scale: %d instances ready, want 3", c.ReadyInstances)
	}
	restored := false
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cl), cl); err != nil {
		t.Fatal(err)
	}
	for _, inst := range cl.Status.Instances {
		restored = restored || inst.DataSource == "pgbackrest backup "+incr.Label
	}
	if !restored {
		t.Errorf("no instance was restored from backup %s: %+v", incr.Label, cl.Status.Instances)
	}
	// Retention keeps two full backups: two more expire the first, with
	// the diff and incr that depend on it.
	pgo.run("backup", name, "-n", ns, "--backup-opts=--type=full --start-fast", "--wait", "--wait-timeout=5m")
	pgo.run("backup", name, "-n", ns, "--backup-opts=--type=full --start-fast", "--wait", "--wait-timeout=5m")
	var kept []string
	for _, b := range waitBackups(t, pgo, ns, name, 2) {
		kept = append(kept, b.Type)
		if b.Label == full.Label || b.Label == diff.Label || b.Label == incr.Label {
			t.Errorf("retention-full=2 kept %s %s after two more full backups", b.Type, b.Label)
		}
	}
	if !slices.Equal(kept, []string{"full", "full"}) {
		t.Errorf("after two more full backups with retention-full=2: %v", kept)
	}
	pgo.run("scaledown", name, "-n", ns, "--query")
	var replicas pgoapi.ReplicasResponse
	pgo.json(&replicas, "scaledown", name, "-n", ns, "--query")
	var target string
	for _, r := range replicas.Replicas {
		for _, pgr := range c.ReplicaNames {
			if r.Name == pgr {
				target = r.Name
			}
		}
	}
	if target == "" {
		t.Fatalf("scaledown --query lists no PGReplica: %+v", replicas)
	}
	pgo.run("scaledown", name, "-n", ns, "--target="+target, "--no-prompt", "--wait", "--wait-timeout=5m")
	c = pgo.cluster(ns, name)
	if _, ok := rolesOf(c)[target]; ok || c.ReadyInstances != 2 {
		t.Fatalf("after scaledown: %d ready, instances %v", c.ReadyInstances, rolesOf(c))
	}

	// Change memory and CPU (a rolling change).
	pgo.run("update", "cluster", name, "-n", ns, "--memory=256Mi", "--cpu=1", "--no-prompt", "--wait", "--wait-timeout=5m")
	for _, p := range clusterPods(t, ctx, cl) {
		req := p.Spec.Containers[0].Resources.Requests
		if !req.Memory().Equal(resourceQuantity("256Mi")) || !req.Cpu().Equal(resourceQuantity("1")) {
			t.Errorf("pod %s has requests %v after update cluster", p.Name, req)
		}
	}

	// Fail over to the replica.
	c = pgo.cluster(ns, name)
	pgo.run("failover", name, "-n", ns, "--query")
	var candidate string
	for inst, role := range rolesOf(c) {
		if role == naming.RoleReplica {
			candidate = inst
		}
	}
	// The candidate is a replica that the rolling change has just
	// restarted: the leader must accept it at once.
	pgo.run("failover", name, "-n", ns, "--target="+candidate, "--no-prompt", "--wait", "--wait-timeout=3m")
	deadline = time.Now().Add(time.Minute)
	for c = pgo.cluster(ns, name); c.Primary != candidate; c = pgo.cluster(ns, name) {
		if time.Now().After(deadline) {
			t.Fatalf("failover --target %s: the primary is %s", candidate, c.Primary)
		}
		time.Sleep(time.Second)
	}
	pgo.allUp(ns, name)

	// A user, and a login with it through the primary Service.
	var created pgoapi.ShowUserResponse
	pgo.json(&created, "create", "user", name, "-n", ns, "--username=walker")
	if len(created.Users) != 1 || created.Users[0].Password == "" {
		t.Fatalf("create user printed no password: %+v", created)
	}
	password := created.Users[0].Password
	host := ""
	for _, s := range c.Services {
		if s.Name == naming.PrimaryService(name) {
			host = s.ClusterIP
		}
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("walker", password),
		Host: net.JoinHostPort(host, "5432"), Path: "/" + name, RawQuery: "sslmode=require&connect_timeout=2"}
	deadline = time.Now().Add(time.Minute)
	for {
		err := execSQL(ctx, u.String(), "CREATE TABLE walker_was_here (at timestamptz DEFAULT now()); INSERT INTO walker_was_here DEFAULT VALUES")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logging in as walker through the primary Service: %v", err)
		}
		time.Sleep(time.Second)
	}
	pgo.run("show", "user", name, "-n", ns)

	pgo.run("delete", "cluster", name, "-n", ns, "--no-prompt")
	deadline = time.Now().Add(2 * time.Minute)
	for len(clusterPods(t, ctx, cl)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pods left 2 minutes after delete cluster:\n%s", describePods(clusterPods(t, ctx, cl)))
		}
		time.Sleep(time.Second)
	}
	t.Logf("walkthrough took %.1fs", time.Since(start).Seconds())
}

// podStates is each pod of a cluster with its role label and readiness,
// and each Service's endpoints, for a failure's message.
func podStates(ns, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{naming.LabelCluster: name}); err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		ready := "unknown"
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				ready = fmt.Sprintf("%s since %s (%s)", c.Status, c.LastTransitionTime.Format(time.RFC3339), c.Message)
			}
		}
		fmt.Fprintf(&b, "pod %s: role %q, ip %s, ready %s\n", p.Name, p.Labels[naming.LabelRole], p.Status.PodIP, ready)
	}
	var slices discoveryv1.EndpointSliceList
	if err := env.Client.List(ctx, &slices, client.InNamespace(ns)); err == nil {
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				fmt.Fprintf(&b, "endpoints of %s: %v ready %v\n", s.Labels[discoveryv1.LabelServiceName], e.Addresses, e.Conditions.Ready != nil && *e.Conditions.Ready)
			}
		}
	}
	return b.String()
}

// waitBackups waits until pgo show backup lists at least n backups in the
// cluster's first repository, and returns them.
func waitBackups(t *testing.T, pgo *pgoCLI, ns, name string, n int) []pgoapi.Backup {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var resp pgoapi.ShowBackupResponse
		out, err := pgo.try("show", "backup", name, "-n", ns, "-o", "json")
		if err == nil {
			err = json.Unmarshal([]byte(out), &resp)
		}
		if err == nil && len(resp.Repos) > 0 && len(resp.Repos[0].Backups) >= n {
			return resp.Repos[0].Backups
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgo show backup %s never listed %d backups (%v):\n%s", name, n, err, out)
		}
		time.Sleep(2 * time.Second)
	}
}
