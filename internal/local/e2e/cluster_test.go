package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
)

// TestE2ECluster follows one cluster through the local environment: a
// primary and a replica on different nodes, the primary pod deleted, a
// scale-up and the removal of a named replica, the loss of the primary's
// node, and a change of CPU and memory. Each step measures what a client of
// the primary Service sees.
func TestE2ECluster(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c := newCluster(t, ctx, "e2e", "hippo", 1)

	steps := []struct {
		name string
		fn   func(*testing.T, context.Context, *pgov1.PGCluster)
	}{
		{"1-primary-and-replica", testPrimaryAndReplica},
		{"2-delete-primary-pod", testDeletePrimaryPod},
		{"3-scale-up-and-remove-named-replica", testScaleAndRemoveReplica},
		{"4-lose-primary-node", testLosePrimaryNode},
		{"5-change-resources", testChangeResources},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.fn(t, ctx, c) }) {
			t.Logf("pods after %s:\n%s", s.name, describePods(clusterPods(t, ctx, c)))
			t.Logf("instance manager logs:\n%s", instanceLogs(c, 40))
			return
		}
	}
}

// Test 1: two pods Running and Ready on different nodes; a row written
// through the primary Service is read through the replica Service.
func testPrimaryAndReplica(t *testing.T, ctx context.Context, c *pgov1.PGCluster) {
	start := time.Now()
	waitReady(t, ctx, c, 2, 4*time.Minute)
	t.Logf("cluster ready in %.1fs", time.Since(start).Seconds())
	pods := clusterPods(t, ctx, c)
	if pods[0].Spec.NodeName == pods[1].Spec.NodeName {
		t.Errorf("both instances run on node %s", pods[0].Spec.NodeName)
	}
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s is %s", p.Name, p.Status.Phase)
		}
	}
	primary := dsn(t, ctx, c, serviceIP(t, ctx, c.Namespace, naming.PrimaryService(c.Name)))
	replica := dsn(t, ctx, c, serviceIP(t, ctx, c.Namespace, naming.ReplicaService(c.Name)))
	if err := execSQL(ctx, primary, "CREATE TABLE greeting (word text); INSERT INTO greeting VALUES ('hello')"); err != nil {
		t.Fatalf("writing through the primary Service: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := queryInt(ctx, replica, "SELECT count(*) FROM greeting WHERE word = 'hello' AND pg_is_in_recovery()")
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the row never reached the replica Service: count %d, %v", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Test 2: deleting the primary pod promotes the replica; the primary
// Service accepts writes again within 10 s; the deleted pod comes back as a
// replica on its own volume; no acknowledged row is lost.
func testDeletePrimaryPod(t *testing.T, ctx context.Context, c *pgov1.PGCluster) {
	old := podWithRole(t, ctx, c, naming.RolePrimary)
	if old == nil {
		t.Fatal("no pod is labelled primary")
	}
	claim := dataClaim(old)
	w := startWriter(t, ctx, dsn(t, ctx, c, serviceIP(t, ctx, c.Namespace, naming.PrimaryService(c.Name))), "delete_primary")
	sb := watchSplitBrain(t, ctx, c)
	time.Sleep(2 * time.Second)
	deleted := time.Now()
	if err := env.Client.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	// Writes resume through the primary Service.
	var resumed time.Time
	for {
		at, ok := w.firstSuccessAfter(deleted.Add(100 * time.Millisecond))
		if ok && podWithRole(t, ctx, c, naming.RolePrimary) != nil {
			resumed = at
			break
		}
		if time.Since(deleted) > 30*time.Second {
			t.Fatal("no write succeeded through the primary Service within 30 s of deleting the primary pod")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitReady(t, ctx, c, 2, 3*time.Minute)
	w.halt()
	sb.check(t)
	longest := time.Duration(0)
	for _, o := range w.outages() {
		longest = max(longest, o.duration())
	}
	t.Logf("first write after the delete: %.2fs; longest write outage: %.2fs", resumed.Sub(deleted).Seconds(), longest.Seconds())
	if longest > 10*time.Second {
		t.Errorf("writes through the primary Service stopped for %.2fs, more than 10 s", longest.Seconds())
	}
	back := mustGetPod(t, ctx, c.Namespace, old.Name)
	if back.UID == old.UID {
		t.Fatal("the deleted pod was not replaced")
	}
	if role := back.Labels[naming.LabelRole]; role != naming.RoleReplica {
		t.Errorf("the deleted primary came back with role %q, want replica", role)
	}
	if got := dataClaim(back); got != claim {
		t.Errorf("the deleted primary came back on volume %q, want its own %q", got, claim)
	}
	w.checkNoLoss(t, ctx)
}

func dataClaim(p *corev1.Pod) string {
	for _, v := range p.Spec.Volumes {
		if v.Name == "pgdata" && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}

func mustGetPod(t *testing.T, ctx context.Context, namespace, name string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// Test 3: scaling to two replicas and removing a named one: its pod and
// volume go.
func testScaleAndRemoveReplica(t *testing.T, ctx context.Context, c *pgov1.PGCluster) {
	setReplicas(t, ctx, c, 2, "")
	waitReady(t, ctx, c, 3, 4*time.Minute)
	// The victim: a replica that is a PGReplica (the cluster's first
	// instance has none, whichever role it has now).
	var replicas pgov1.PGReplicaList
	if err := env.Client.List(ctx, &replicas, client.InNamespace(c.Namespace)); err != nil {
		t.Fatal(err)
	}
	var victim string
	for _, r := range replicas.Items {
		if p := podOfInstance(t, ctx, c, r.Name); p != nil && p.Labels[naming.LabelRole] == naming.RoleReplica {
			victim = r.Name
		}
	}
	if victim == "" {
		t.Fatal("no PGReplica runs as a replica")
	}
	setReplicas(t, ctx, c, 1, victim)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pod := podOfInstance(t, ctx, c, victim)
		var pvc corev1.PersistentVolumeClaim
		err := env.Client.Get(ctx, types.NamespacedName{Namespace: c.Namespace, Name: naming.DataVolume(victim)}, &pvc)
		if pod == nil && apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s: pod still there: %v; claim: %v", victim, pod != nil, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	got := waitReady(t, ctx, c, 2, 2*time.Minute)
	for _, i := range got.Status.Instances {
		if i.Name == victim {
			t.Errorf("the removed replica %s is still in the cluster's status", victim)
		}
	}
}

// setReplicas sets spec.replicas, marking a named replica for removal
// first.
func setReplicas(t *testing.T, ctx context.Context, c *pgov1.PGCluster, n int32, remove string) {
	t.Helper()
	if remove != "" {
		r := &pgov1.PGReplica{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: remove}}
		patch := []byte(`{"metadata":{"annotations":{"` + naming.AnnotationRemove + `":"true"}}}`)
		if err := env.Client.Patch(ctx, r, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
	var cur pgov1.PGCluster
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(c), &cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Replicas = n
	if err := env.Client.Patch(ctx, &cur, patch); err != nil {
		t.Fatal(err)
	}
}

func podOfInstance(t *testing.T, ctx context.Context, c *pgov1.PGCluster, instance string) *corev1.Pod {
	for _, p := range clusterPods(t, ctx, c) {
		if p.Labels[naming.LabelInstance] == instance {
			return &p
		}
	}
	return nil
}

// Test 4: stopping the node that hosts the primary: a new primary within
// ttl + 5 s, at no moment two pods accepting writes, and no row lost but
// those acknowledged in the last second (asynchronous replication).
func testLosePrimaryNode(t *testing.T, ctx context.Context, c *pgov1.PGCluster) {
	old := podWithRole(t, ctx, c, naming.RolePrimary)
	if old == nil {
		t.Fatal("no pod is labelled primary")
	}
	nodeIndex := -1
	for i := range env.Nodes {
		if env.NodeName(i) == old.Spec.NodeName {
			nodeIndex = i
		}
	}
	if nodeIndex < 0 {
		t.Fatalf("the primary runs on %s, which is not a local node", old.Spec.NodeName)
	}
	w := startWriter(t, ctx, dsn(t, ctx, c, serviceIP(t, ctx, c.Namespace, naming.PrimaryService(c.Name))), "lose_node")
	sb := watchSplitBrain(t, ctx, c)
	time.Sleep(2 * time.Second)
	stopped := time.Now()
	env.StopNode(nodeIndex)
	// Writes acknowledged until the node's processes were killed went to
	// the old primary; the new primary's come after.
	killed := time.Now()
	t.Logf("node %s stopped in %.2fs", env.NodeName(nodeIndex), killed.Sub(stopped).Seconds())
	restarted := false
	defer func() {
		// The tests after this one need every node, pgo's own pods too.
		if !restarted {
			if err := env.StartNode(ctx, nodeIndex); err != nil {
				t.Errorf("starting node %d again: %v", nodeIndex, err)
			}
		}
	}()
	ttl := time.Duration(c.Spec.HA.TTL) * time.Second
	var resumed time.Time
	for {
		if at, ok := w.firstSuccessAfter(killed); ok {
			if p := podWithRole(t, ctx, c, naming.RolePrimary); p != nil && p.Name != old.Name {
				resumed = at
				break
			}
		}
		if time.Since(stopped) > ttl+30*time.Second {
			t.Fatal("no new primary took writes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := resumed.Sub(stopped)
	t.Logf("a new primary took writes %.2fs after the node stopped (ttl %s)", took.Seconds(), ttl)
	if took > ttl+5*time.Second {
		t.Errorf("the new primary took writes after %.2fs, more than ttl + 5 s", took.Seconds())
	}
	restarted = true
	if err := env.StartNode(ctx, nodeIndex); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ctx, c, 2, 4*time.Minute)
	w.halt()
	sb.check(t)
	if role := mustGetPod(t, ctx, c.Namespace, old.Name).Labels[naming.LabelRole]; role != naming.RoleReplica {
		t.Errorf("the old primary rejoined with role %q, want replica", role)
	}
	// The replica streams within milliseconds: what was acknowledged a
	// second before the node stopped is on the new primary.
	w.checkNoLossBefore(t, ctx, stopped.Add(-time.Second))
	// pgo's own pods on that node are back too.
	if err := env.WaitPGO(ctx, 2*time.Minute); err != nil {
		t.Error(err)
	}
}

// Test 5: changing CPU and memory rolls the replicas first, then switches
// over once; writes are interrupted only during the switchover.
func testChangeResources(t *testing.T, ctx context.Context, c *pgov1.PGCluster) {
	primary := podWithRole(t, ctx, c, naming.RolePrimary)
	replica := podWithRole(t, ctx, c, naming.RoleReplica)
	if primary == nil || replica == nil {
		t.Fatal("the cluster has no primary and replica")
	}
	transitions := leaseTransitions(t, ctx, c)
	w := startWriter(t, ctx, dsn(t, ctx, c, serviceIP(t, ctx, c.Namespace, naming.PrimaryService(c.Name))), "change_resources")
	time.Sleep(2 * time.Second)
	var cur pgov1.PGCluster
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(c), &cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resourceQuantity("200m"), corev1.ResourceMemory: resourceQuantity("256Mi")}
	started := time.Now()
	if err := env.Client.Patch(ctx, &cur, patch); err != nil {
		t.Fatal(err)
	}
	// Record when each pod is replaced.
	replaced := map[string]time.Duration{}
	for len(replaced) < 2 {
		for _, old := range []*corev1.Pod{primary, replica} {
			if _, done := replaced[old.Name]; done {
				continue
			}
			var p corev1.Pod
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(old), &p)
			if apierrors.IsNotFound(err) || (err == nil && p.UID != old.UID) {
				replaced[old.Name] = time.Since(started)
			}
		}
		if time.Since(started) > 5*time.Minute {
			t.Fatalf("pods replaced after 5 minutes: %v", replaced)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitReady(t, ctx, c, 2, 4*time.Minute)
	rolled := time.Since(started)
	w.halt()
	t.Logf("roll took %.1fs; replica replaced at %.2fs, old primary at %.2fs", rolled.Seconds(), replaced[replica.Name].Seconds(), replaced[primary.Name].Seconds())
	if replaced[replica.Name] > replaced[primary.Name] {
		t.Errorf("the primary was replaced before the replica")
	}
	for _, p := range clusterPods(t, ctx, c) {
		got := p.Spec.Containers[0].Resources.Requests
		if !got.Memory().Equal(resourceQuantity("256Mi")) || !got.Cpu().Equal(resourceQuantity("200m")) {
			t.Errorf("pod %s has requests %v", p.Name, got)
		}
	}
	if n := leaseTransitions(t, ctx, c) - transitions; n != 1 {
		t.Errorf("the leader lock changed hands %d times, want one switchover", n)
	}
	outages := w.outages()
	for i, o := range outages {
		t.Logf("write outage %d: %.2fs at %.2fs", i+1, o.duration().Seconds(), o.from.Sub(started).Seconds())
	}
	if len(outages) > 1 {
		t.Errorf("writes were interrupted %d times, want only once (the switchover)", len(outages))
	}
	for _, o := range outages {
		if o.duration() > 10*time.Second {
			t.Errorf("a write outage lasted %.2fs", o.duration().Seconds())
		}
	}
	w.checkNoLoss(t, ctx)
}
