package dcs_test

// Against a real kube-apiserver and etcd: the leader lock is decided by the
// API server's optimistic concurrency, and each member measures expiry on
// its own clock.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/testenv"
)

func TestLeaderLock(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dcs"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.CreateDCSObjects(t, "dcs", "hippo")
	clock := struct {
		sync.Mutex
		now time.Time
	}{now: time.Now()}
	now := func() time.Time {
		clock.Lock()
		defer clock.Unlock()
		return clock.now
	}
	advance := func(d time.Duration) {
		clock.Lock()
		clock.now = clock.now.Add(d)
		clock.Unlock()
	}
	member := func(name string) *dcs.Kubernetes {
		k := &dcs.Kubernetes{Client: env.Clientset, Namespace: "dcs", Cluster: "hippo", Member: name, Now: now}
		if _, err := k.Observe(ctx); err != nil {
			t.Fatal(err)
		}
		return k
	}
	ttl := 30 * time.Second

	// Ten members race for a free lock: exactly one wins.
	var members []*dcs.Kubernetes
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		members = append(members, member(name))
	}
	var wg sync.WaitGroup
	results := make([]error, len(members))
	for i, k := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = k.Acquire(ctx, ttl, 100, 1)
		}()
	}
	wg.Wait()
	winners := 0
	var leader *dcs.Kubernetes
	for i, err := range results {
		switch {
		case err == nil:
			winners++
			leader = members[i]
		case !errors.Is(err, dcs.ErrLockLost):
			t.Errorf("%s: %v", members[i].Member, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d members took the lock, want exactly 1", winners)
	}

	other := members[0]
	if other == leader {
		other = members[1]
	}
	c, err := other.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Lock.Holder != leader.Member || c.Lock.Optime != 100 || c.Lock.Timeline != 1 || !c.Lock.HeldAt(now()) {
		t.Fatalf("another member sees %+v", c.Lock)
	}
	if err := other.Acquire(ctx, ttl, 0, 0); !errors.Is(err, dcs.ErrLockLost) {
		t.Errorf("a held lock was taken: %v", err)
	}
	if err := other.Renew(ctx, ttl, 0, 0); !errors.Is(err, dcs.ErrLockLost) {
		t.Errorf("a member renewed a lock it does not hold: %v", err)
	}

	// The leader renews; others count the expiry from when they saw the
	// renewal, on their own clock.
	advance(20 * time.Second)
	if err := leader.Renew(ctx, ttl, 200, 1); err != nil {
		t.Fatal(err)
	}
	if c, _ = other.Observe(ctx); !c.Lock.HeldAt(now().Add(ttl - time.Second)) {
		t.Errorf("the renewed lock expires too early: %+v", c.Lock)
	}
	advance(ttl + time.Second)
	if c, _ = other.Observe(ctx); c.Lock.HeldAt(now()) {
		t.Fatalf("the lock did not expire after ttl without renewal: %+v", c.Lock)
	}
	if err := other.Acquire(ctx, ttl, 200, 1); err != nil {
		t.Fatalf("taking the expired lock: %v", err)
	}
	// The old leader's renewal now fails: it lost the lock.
	if err := leader.Renew(ctx, ttl, 300, 1); !errors.Is(err, dcs.ErrLockLost) {
		t.Errorf("the old leader renewed a lock it lost: %v", err)
	}

	// Release: the lock is free at once.
	if err := other.Release(ctx, 250, 1); err != nil {
		t.Fatal(err)
	}
	if c, _ = leader.Observe(ctx); c.Lock.HeldAt(now()) || c.Lock.Optime != 250 {
		t.Errorf("after release: %+v", c.Lock)
	}
}

// memberPods creates namespace dcs, the DCS objects of cluster hippo and a
// pod of the cluster for each member.
func memberPods(t *testing.T, ctx context.Context, env *testenv.Env, names ...string) {
	t.Helper()
	cs := env.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dcs"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.CreateDCSObjects(t, "dcs", "hippo")
	for _, name := range names {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dcs", Labels: map[string]string{naming.LabelCluster: "hippo"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres"}}}}
		if _, err := cs.CoreV1().Pods("dcs").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClusterState(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	cs := env.Clientset
	memberPods(t, ctx, env, "hippo-0", "hippo-1")
	a := &dcs.Kubernetes{Client: cs, Namespace: "dcs", Cluster: "hippo", Member: "hippo-0"}
	b := &dcs.Kubernetes{Client: cs, Namespace: "dcs", Cluster: "hippo", Member: "hippo-1"}

	cfg := `{"ttl": 20, "loop_wait": 5, "retry_timeout": 5, "synchronous_mode": true, "postgresql": {"parameters": {"work_mem": "8MB"}}}`
	if _, err := cs.CoreV1().ConfigMaps("dcs").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.ConfigMap("hippo"), Namespace: "dcs"},
		Data: map[string]string{naming.KeyConfig: cfg}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkInitialized(ctx, 42); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkInitialized(ctx, 43); err == nil {
		t.Error("a second system identifier was recorded")
	}
	if err := a.PublishMember(ctx, dcs.MemberStatus{Role: ha.RolePrimary, Running: true, Timeline: 2, WAL: 99, ConnHost: "127.0.0.9", ConnPort: 5432, Tags: ha.Tags{FailoverPriority: 1}}); err != nil {
		t.Fatal(err)
	}
	// The operator's empty sync ConfigMap is no sync state (a leader
	// would otherwise clear it at every loop).
	if c, err := a.Observe(ctx); err != nil || c.Sync.Present {
		t.Errorf("before any sync state: %+v (%v)", c.Sync, err)
	}
	if err := a.WriteSync(ctx, "hippo-0", []string{"hippo-1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.RequestFailover(ctx, ha.FailoverRequest{Leader: "hippo-0", Candidate: "hippo-1", Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetRole(ctx, naming.RolePrimary); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRole(ctx, naming.RolePrimary); err != nil {
		t.Fatal(err)
	}

	c, err := b.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Initialized || c.SystemID != 42 {
		t.Errorf("initialized %v with %d, want 42", c.Initialized, c.SystemID)
	}
	if c.Config.TTL != 20*time.Second || c.Config.LoopWait != 5*time.Second || !c.Config.SynchronousMode {
		t.Errorf("config %+v", c.Config)
	}
	if b.Dynamic().PostgreSQL.Parameters["work_mem"] != "8MB" {
		t.Errorf("parameters %v", b.Dynamic().PostgreSQL.Parameters)
	}
	if m := c.Members["hippo-0"]; m.Role != ha.RolePrimary || m.WAL != 99 || m.ConnHost != "127.0.0.9" || m.Timeline != 2 {
		t.Errorf("member hippo-0 %+v", m)
	}
	if !c.Sync.Present || c.Sync.Leader != "hippo-0" || !c.Sync.Has("hippo-1") {
		t.Errorf("sync %+v", c.Sync)
	}
	if !c.Failover.Present || c.Failover.Candidate != "hippo-1" || !c.Failover.Force {
		t.Errorf("failover %+v", c.Failover)
	}
	// Only the last member to claim it is labelled primary.
	pods, err := cs.CoreV1().Pods("dcs").List(ctx, metav1.ListOptions{LabelSelector: naming.LabelRole + "=" + naming.RolePrimary})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Name != "hippo-1" {
		t.Errorf("%d pods labelled primary, want hippo-1 alone", len(pods.Items))
	}
	// Whatever takes the label off the primary's pod, its next SetRole
	// puts it back, or the primary Service would have no endpoint.
	if _, err := cs.CoreV1().Pods("dcs").Patch(ctx, "hippo-1", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"`+naming.LabelRole+`":"replica"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRole(ctx, naming.RolePrimary); err != nil {
		t.Fatal(err)
	}
	if p, err := cs.CoreV1().Pods("dcs").Get(ctx, "hippo-1", metav1.GetOptions{}); err != nil || p.Labels[naming.LabelRole] != naming.RolePrimary {
		t.Errorf("the primary's pod is not labelled primary again: %v %v", p.Labels, err)
	}
	if err := a.ClearFailover(ctx, "switchover refused: a reason"); err != nil {
		t.Fatal(err)
	}
	if c, _ = b.Observe(ctx); c.Failover.Present || c.Failover.Refused != "switchover refused: a reason" {
		t.Errorf("after a refusal the request is %+v; want it gone, with the reason", c.Failover)
	}
}

func TestParseDynamicConfig(t *testing.T) {
	if _, cfg, err := dcs.ParseDynamicConfig(""); err != nil || cfg != ha.DefaultConfig() {
		t.Errorf("empty: %+v %v", cfg, err)
	}
	_, cfg, err := dcs.ParseDynamicConfig(`{"ttl": 10, "loop_wait": 2, "retry_timeout": 4, "maximum_lag_on_failover": 0, "synchronous_mode_strict": true}`)
	if err != nil || cfg.TTL != 10*time.Second || cfg.MaximumLagOnFailover != 0 || cfg.SynchronousStrict {
		t.Errorf("got %+v %v (strict needs synchronous_mode)", cfg, err)
	}
	if _, cfg, err := dcs.ParseDynamicConfig(`{"ttl": 10, "loop_wait": 5, "retry_timeout": 5}`); err == nil || cfg != ha.DefaultConfig() {
		t.Errorf("loop_wait + 2*retry_timeout > ttl was accepted: %+v", cfg)
	}
	if _, _, err := dcs.ParseDynamicConfig(`{`); err == nil {
		t.Error("broken JSON was accepted")
	}
}

// TestWatchWakesOnMemberChanges: a member's loop wakes when another
// member's role, state or running changes (a leader that starts running
// after its bootstrap, so that a replica clones from it at once), and not
// when only its WAL position moved, which every member publishes every loop.
func TestWatchWakesOnMemberChanges(t *testing.T) {
	env := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := env.Clientset
	memberPods(t, ctx, env, "hippo-0", "hippo-1")
	replica := &dcs.Kubernetes{Client: cs, Namespace: "dcs", Cluster: "hippo", Member: "hippo-1"}
	leader := &dcs.Kubernetes{Client: cs, Namespace: "dcs", Cluster: "hippo", Member: "hippo-0"}
	go replica.Watch(ctx)
	changes := replica.Changes()
	woken := func(within time.Duration) bool {
		select {
		case <-changes:
			return true
		case <-time.After(within):
			return false
		}
	}
	publish := func(st dcs.MemberStatus) {
		t.Helper()
		if err := leader.PublishMember(ctx, st); err != nil {
			t.Fatal(err)
		}
	}

	// Until the watch runs, publish and wait; then start from quiet.
	states := []string{"starting", "stopped"}
	for i, started := 0, time.Now(); !woken(200 * time.Millisecond); i++ {
		if time.Since(started) > 10*time.Second {
			t.Fatal("in 10 s of changing states, the watch never woke the loop")
		}
		publish(dcs.MemberStatus{Role: ha.RolePrimary, State: states[i%2]})
	}
	for woken(500 * time.Millisecond) {
	}

	publish(dcs.MemberStatus{Role: ha.RolePrimary, State: "running", Running: true, WAL: 100})
	if !woken(5 * time.Second) {
		t.Error("the leader started running and the loop was not woken")
	}
	publish(dcs.MemberStatus{Role: ha.RolePrimary, State: "running", Running: true, WAL: 200})
	if woken(time.Second) {
		t.Error("a new WAL position alone woke the loop")
	}
	if err := cs.CoreV1().Pods("dcs").Delete(ctx, "hippo-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !woken(5 * time.Second) {
		t.Error("a member's pod was deleted and the loop was not woken")
	}
}

// After a switchover the new primary takes the primary label off the old
// one's pod (only while it is still primary: a JSON patch tests it) while
// the old primary labels itself replica. Seen in an end-to-end run: the
// removal landed after the relabel, and the old primary, trusting its own
// record of its label, never labelled itself again, so its pod stayed out
// of the replica Service. A member's label is now checked against its pod
// as its watch sees it.
func TestRoleLabelsAfterASwitchover(t *testing.T) {
	env := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := env.Clientset
	memberPods(t, ctx, env, "hippo-0", "hippo-1")
	old := &dcs.Kubernetes{Client: cs, Namespace: "dcs", Cluster: "hippo", Member: "hippo-0"}
	next := &dcs.Kubernetes{Client: cs, Namespace: "dcs", Cluster: "hippo", Member: "hippo-1"}
	go old.Watch(ctx)
	role := func(pod string) string {
		t.Helper()
		p, err := cs.CoreV1().Pods("dcs").Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Labels[naming.LabelRole]
	}
	if err := old.SetRole(ctx, naming.RolePrimary); err != nil {
		t.Fatal(err)
	}
	// The old primary labels itself replica first; the new primary's
	// removal, based on a list from before, must leave that alone.
	if err := old.SetRole(ctx, naming.RoleReplica); err != nil {
		t.Fatal(err)
	}
	if err := next.SetRole(ctx, naming.RolePrimary); err != nil {
		t.Fatal(err)
	}
	if got := role("hippo-0"); got != naming.RoleReplica {
		t.Errorf("the old primary's pod is labelled %q, want replica", got)
	}
	// Someone takes its label off anyway: its next SetRole puts it back,
	// once its watch has seen the change.
	if _, err := cs.CoreV1().Pods("dcs").Patch(ctx, "hippo-0", types.JSONPatchType,
		[]byte(`[{"op":"remove","path":"/metadata/labels/pgo.dev~1role"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for role("hippo-0") != naming.RoleReplica {
		if time.Now().After(deadline) {
			t.Fatal("a replica whose label was taken off is still unlabelled 10 s later")
		}
		if err := old.SetRole(ctx, naming.RoleReplica); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
