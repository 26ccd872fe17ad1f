package controller

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/specs"
)

func TestClusterStatus(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Generation: 3}}
	instances := []specs.Instance{{Name: "hippo-a"}, {Name: "hippo-b"}, {Name: "hippo-c"}}
	pod := func(name string, ready bool, st dcs.MemberStatus) *corev1.Pod {
		raw, _ := json.Marshal(st)
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-0", Annotations: map[string]string{naming.AnnotationStatus: string(raw)}},
			Spec:       corev1.PodSpec{NodeName: "node-" + name},
			Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
		}
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{naming.AnnotationOptime: strconv.Itoa(5000)}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("hippo-a"), LeaseDurationSeconds: ptr.To[int32](30),
			RenewTime: &metav1.MicroTime{Time: now.Add(-5 * time.Second)}},
	}
	o := observed{instances: instances, lease: lease, now: now, pods: map[string]*corev1.Pod{
		"hippo-a": pod("hippo-a", true, dcs.MemberStatus{Role: ha.RolePrimary, Running: true, Timeline: 2, WAL: 5000}),
		"hippo-b": pod("hippo-b", true, dcs.MemberStatus{Role: ha.RoleReplica, Running: true, Timeline: 2, WAL: 4000, PendingRestart: true}),
		"hippo-c": pod("hippo-c", false, dcs.MemberStatus{Role: ha.RoleReplica, Running: true, Timeline: 1, WAL: 6000}),
	}}

	// A new cluster with a primary and replicas on their way: initializing,
	// not degraded.
	st := clusterStatus(c, o)
	if st.Phase != pgov1.PhaseInitializing || meta.IsStatusConditionTrue(st.Conditions, pgov1.ClusterDegraded) {
		t.Errorf("a new cluster that was never ready: phase %s, conditions %+v", st.Phase, st.Conditions)
	}
	// Once it has been ready, an instance that is not ready degrades it.
	c.Status.Conditions = []metav1.Condition{{Type: pgov1.ClusterReady, Status: metav1.ConditionTrue, Reason: "AllInstancesReady"}}
	st = clusterStatus(c, o)
	if st.Primary != "hippo-a" || st.Phase != pgov1.PhaseDegraded || st.ReadyInstances != 2 || st.Replicas != 2 || st.ObservedGeneration != 3 {
		t.Errorf("status %+v", st)
	}
	b := st.Instances[1]
	if b.Role != pgov1.RoleReplica || !b.Ready || b.Node != "node-hippo-b" || b.Timeline != 2 || *b.LagBytes != 1000 || !b.PendingRestart {
		t.Errorf("instance b %+v", b)
	}
	if st.Instances[2].LagBytes == nil || *st.Instances[2].LagBytes != 0 {
		t.Errorf("a replica ahead of the recorded position lags 0, got %v", st.Instances[2].LagBytes)
	}
	if cond := meta.FindStatusCondition(st.Conditions, pgov1.ClusterDegraded); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Errorf("Degraded %+v", cond)
	}

	// All ready: Ready, and the transition times of unchanged conditions stay.
	o.pods["hippo-c"] = pod("hippo-c", true, dcs.MemberStatus{Role: ha.RoleReplica, Running: true, Timeline: 2, WAL: 5000})
	c.Status = st
	st2 := clusterStatus(c, o)
	ready := meta.FindStatusCondition(st2.Conditions, pgov1.ClusterReady)
	if st2.Phase != pgov1.PhaseReady || ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("all ready: %+v", st2)
	}
	c.Status = st2
	if st3 := clusterStatus(c, o); !equalConditions(st3.Conditions, st2.Conditions) {
		t.Error("an unchanged cluster's conditions changed")
	}

	// The lock expired: no primary.
	o.now = now.Add(time.Minute)
	if st := clusterStatus(c, o); st.Primary != "" || st.Phase != pgov1.PhaseDegraded {
		t.Errorf("expired lock: %+v", st)
	}
	// Shut down.
	c.Spec.Shutdown = true
	if st := clusterStatus(c, o); st.Phase != pgov1.PhaseShutdown {
		t.Errorf("shut down: %s", st.Phase)
	}
}

func equalConditions(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// WALArchiving follows the primary's archiving: true while it archives,
// false once it has failed for the threshold (not before: the controller
// looks again when the threshold passes), with the failure in the status.
func TestWALArchivingCondition(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	stamp := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	ok := &dcs.ArchiveState{LastArchivedWAL: "000000010000000000000007", LastArchivedTime: stamp(-time.Minute)}
	failing := func(since time.Duration) *dcs.ArchiveState {
		return &dcs.ArchiveState{LastArchivedWAL: "000000010000000000000007", LastArchivedTime: stamp(-time.Hour),
			LastFailedWAL: "000000010000000000000008", LastFailedTime: stamp(-time.Second), FailingSince: stamp(-since)}
	}
	for _, c := range []struct {
		name    string
		a       *dcs.ArchiveState
		ok      bool
		says    string
		recheck time.Duration
	}{
		{"archiving", ok, true, "last segment 000000010000000000000007", 0},
		{"nothing archived yet", &dcs.ArchiveState{}, true, "no WAL segment yet", 0},
		{"failing for less than the threshold", failing(20 * time.Second), true, "last segment", 41 * time.Second},
		{"failing for the threshold", failing(time.Minute), false, "failed since " + stamp(-time.Minute) + " (last failed segment 000000010000000000000008", 0},
	} {
		got, _, msg := walArchiving(c.a, now, time.Minute)
		if got != c.ok || !strings.Contains(msg, c.says) {
			t.Errorf("%s: %v %q, want %v and %q", c.name, got, msg, c.ok, c.says)
		}
		if r := archiveRecheck(c.a, now, time.Minute); r != c.recheck {
			t.Errorf("%s: recheck in %v, want %v", c.name, r, c.recheck)
		}
	}

	// In the cluster's status: from the primary's member state.
	cl := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: "hippo"}}
	raw, _ := json.Marshal(dcs.MemberStatus{Role: ha.RolePrimary, Running: true, Archive: failing(2 * time.Minute), DataSource: "initdb"})
	o := observed{instances: []specs.Instance{{Name: "hippo-a"}}, now: now, archiveThreshold: time.Minute,
		lease: &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("hippo-a-0"), LeaseDurationSeconds: ptr.To[int32](30),
			RenewTime: &metav1.MicroTime{Time: now}}},
		pods: map[string]*corev1.Pod{"hippo-a": {ObjectMeta: metav1.ObjectMeta{Name: "hippo-a-0", Annotations: map[string]string{naming.AnnotationStatus: string(raw)}}}}}
	st := clusterStatus(cl, o)
	cond := meta.FindStatusCondition(st.Conditions, pgov1.ClusterWALArchiving)
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "ArchiveFailing" {
		t.Errorf("WALArchiving: %+v (primary %q)", cond, st.Primary)
	}
	if a := st.Backups.Archive; a == nil || a.LastFailedWAL != "000000010000000000000008" || a.FailingSince == nil || !a.FailingSince.Time.Equal(now.Add(-2*time.Minute)) {
		t.Errorf("archive status: %+v", st.Backups.Archive)
	}
	if st.Instances[0].DataSource != "initdb" {
		t.Errorf("data source %q", st.Instances[0].DataSource)
	}
}

// The status of each repository, from real pgbackrest info output: one
// that holds the stanza shows its backups, one that does not says so.
func TestRepoStatuses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "pgbackrest", "testdata", "info.json"))
	if err != nil {
		t.Fatal(err)
	}
	stanzas, err := pgbackrest.ParseInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := pgbackrest.Find(stanzas, pgbackrest.Stanza)
	got := repoStatuses(s, []pgov1.PGBackupRepo{{Name: "repo1"}, {Name: "repo2"}})
	r1, r2 := got[0], got[1]
	if r1.Status != "ok" || r1.Cipher != "none" || r1.Backups != 3 || r1.LastFull == nil || r1.LastDiff == nil || r1.LastIncr == nil ||
		!r1.LastIncr.After(r1.LastFull.Time) || r1.WALMin != "000000010000000000000001" || r1.WALMax != "000000010000000000000008" {
		t.Errorf("repo1: %+v", r1)
	}
	if r2.Status != "no stanza yet" || r2.Backups != 0 || r2.LastFull != nil {
		t.Errorf("repo2: %+v", r2)
	}
}

// DiskPressure names every volume 80 % full or more, from what the
// instance managers measured; below that, it is false.
func TestDiskPressure(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	pod := func(name string, volumes map[string]int32) *corev1.Pod {
		raw, _ := json.Marshal(dcs.MemberStatus{Role: ha.RoleReplica, Running: true, Volumes: volumes})
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-0", Annotations: map[string]string{naming.AnnotationStatus: string(raw)}}}
	}
	c := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: "hippo"}}
	o := observed{instances: []specs.Instance{{Name: "hippo-a"}, {Name: "hippo-b"}}, now: now, pods: map[string]*corev1.Pod{
		"hippo-a": pod("hippo-a", map[string]int32{"data": 79, "wal": 95}),
		"hippo-b": pod("hippo-b", map[string]int32{"data": 80}),
	}}
	st := clusterStatus(c, o)
	cond := meta.FindStatusCondition(st.Conditions, pgov1.ClusterDiskPressure)
	if cond == nil || cond.Status != metav1.ConditionTrue || !strings.Contains(cond.Message, "the wal volume of hippo-a is 95% full; the data volume of hippo-b is 80% full") ||
		strings.Contains(cond.Message, "79%") {
		t.Errorf("DiskPressure: %+v", cond)
	}
	if st.Instances[0].DiskUsage["wal"] != 95 {
		t.Errorf("disk usage of hippo-a: %v", st.Instances[0].DiskUsage)
	}
	o.pods["hippo-a"], o.pods["hippo-b"] = pod("hippo-a", map[string]int32{"data": 40, "wal": 60}), pod("hippo-b", map[string]int32{"data": 79})
	c.Status = st
	if cond := meta.FindStatusCondition(clusterStatus(c, o).Conditions, pgov1.ClusterDiskPressure); cond == nil || cond.Status != metav1.ConditionFalse {
		t.Errorf("after space was freed: %+v", cond)
	}
}

// The first full backup is taken again when its task failed (after a
// pause) and no repository holds a backup; never while it runs, nor once
// a backup exists.
func TestRetryFirstBackup(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	task := func(phase pgov1.TaskPhase, endedAgo time.Duration) *pgov1.PGTask {
		tk := &pgov1.PGTask{Status: pgov1.PGTaskStatus{Phase: phase}}
		if phase == pgov1.TaskFailed || phase == pgov1.TaskSucceeded {
			tk.Status.CompletionTime = &metav1.Time{Time: now.Add(-endedAgo)}
		}
		return tk
	}
	none := []pgov1.PGRepoStatus{{Name: "repo1"}}
	some := []pgov1.PGRepoStatus{{Name: "repo1"}, {Name: "repo2", Backups: 1}}
	for _, c := range []struct {
		name  string
		task  *pgov1.PGTask
		repos []pgov1.PGRepoStatus
		again bool
		wait  time.Duration
	}{
		{"running", task(pgov1.TaskRunning, 0), none, false, 0},
		{"failed just now: wait", task(pgov1.TaskFailed, 10*time.Second), none, false, 20 * time.Second},
		{"failed a while ago", task(pgov1.TaskFailed, time.Minute), none, true, 0},
		{"failed, but a backup exists", task(pgov1.TaskFailed, time.Minute), some, false, 0},
		{"succeeded", task(pgov1.TaskSucceeded, time.Minute), none, false, 0},
		{"the task is gone", nil, nil, true, 0},
		{"the task is gone, a backup exists", nil, some, false, 0},
	} {
		again, wait := retryFirstBackup(c.task, c.repos, now)
		if again != c.again || wait != c.wait {
			t.Errorf("%s: %v, %v; want %v, %v", c.name, again, wait, c.again, c.wait)
		}
	}
}
