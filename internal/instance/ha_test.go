package instance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// a. Bootstrap: one primary and two streaming replicas; a row written on
// the primary is read on both replicas.
func TestBootstrap(t *testing.T) {
	h := newHarness(t, 3, fastProfile, nil)
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)

	if err := h.exec(leader, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'from the primary')"); err != nil {
		t.Fatal(err)
	}
	for _, name := range h.names() {
		if name == leader {
			continue
		}
		h.waitFor("the row on "+name, 10*time.Second, func() bool {
			n, err := h.queryInt(name, "SELECT count(*) FROM t WHERE v = 'from the primary'")
			return err == nil && n == 1
		})
		if err := h.exec(name, "INSERT INTO t VALUES (2, 'x')"); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("a replica accepted a write (err %v)", err)
		}
	}

	// The application user logs in to its database with its password.
	ctx := t.Context()
	cfg, _ := pgx.ParseConfig("")
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = h.member(leader).ip, 5432, "app", "app-secret", "appdb"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("the application user cannot connect to its database: %v", err)
	}
	var owner string
	if err := conn.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").Scan(&owner); err != nil || owner != "app" {
		t.Errorf("appdb is owned by %q (%v), want app", owner, err)
	}
	conn.Close(ctx)

	// The Kubernetes side: the leader holds the lock and alone is labelled
	// primary; every member published its state.
	if l := h.lease(); l == nil || *l.Spec.HolderIdentity != leader {
		t.Errorf("the lease is not held by %s: %+v", leader, l)
	}
	h.waitFor("role labels", 10*time.Second, func() bool {
		pods, err := h.env.Clientset.CoreV1().Pods(h.ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, p := range pods.Items {
			want := "replica"
			if p.Name == leader {
				want = "primary"
			}
			if p.Labels["pgo.dev/role"] != want || p.Annotations["pgo.dev/status"] == "" {
				return false
			}
		}
		return true
	})
	// The health checks answer from the loop's last observation, which
	// follows a start within a second.
	expectCode := func(name, path string, want int) {
		t.Helper()
		code := 0
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if code = h.httpCode(name, path); code == want {
				return
			}
		}
		t.Errorf("%s GET %s = %d, want %d", name, path, code, want)
	}
	for _, path := range []string{"/primary", "/read-only", "/health", "/readiness", "/liveness"} {
		expectCode(leader, path, 200)
	}
	for _, name := range h.names() {
		if name == leader {
			continue
		}
		for path, want := range map[string]int{"/primary": 503, "/replica": 200, "/replica?lag=1MB": 200, "/read-only": 200, "/readiness": 200} {
			expectCode(name, path, want)
		}
	}
	if code, body := h.post(leader, "/switchover", map[string]string{"leader": "nobody"}); code != 412 {
		t.Errorf("a switchover naming the wrong leader: %d %s, want 412", code, body)
	}
	metrics := h.get(leader, "/metrics")
	for _, want := range []string{"pgo_ha_leader 1", fmt.Sprintf(`pgo_ha_lock_holder{member=%q} 1`, leader), "pgo_ha_timeline 1", "pgo_ha_promotions_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// writeSome writes rows on the leader, so that there is WAL to replicate.
func writeSome(t testing.TB, h *harness, leader string, rows int) {
	t.Helper()
	if err := h.exec(leader, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS filler (id bigserial PRIMARY KEY, v text);
		INSERT INTO filler (v) SELECT repeat('x', 100) FROM generate_series(1, %d)`, rows)); err != nil {
		t.Fatal(err)
	}
}

// b. SIGKILL of the leader's manager and its PostgreSQL: a new leader within
// ttl + 3 s; the old member, restarted, rejoins with pg_rewind. The
// survivors had streamed the dead leader's timeline: neither decides to
// rewind. (A switchover first puts the cluster on timeline 2, so that the
// replicas' last restartpoints are on an older timeline than the one they
// stream.)
func TestHardCrashFailover(t *testing.T) {
	h := newHarness(t, 3, fastProfile, nil)
	h.startAll()
	first := h.waitHealthy(90 * time.Second)
	candidate := h.names()[0]
	if candidate == first {
		candidate = h.names()[1]
	}
	if code, body := h.post(first, "/switchover", map[string]string{"leader": first, "candidate": candidate}); code != 200 {
		t.Fatalf("POST /switchover: %d %s", code, body)
	}
	old := h.waitHealthy(60 * time.Second)
	writeSome(t, h, old, 1000)
	// The rows must survive the kill: replication is asynchronous.
	h.waitReplicated(old)
	mark := map[string]int{}
	for _, name := range h.names() {
		mark[name] = len(h.log(name))
	}

	h.kill9(old)
	start := time.Now()
	leader, _ := h.waitPrimary(time.Duration(h.prof.ttl+10)*time.Second, old)
	took := time.Since(start)
	t.Logf("hard crash: %s took over from %s in %s", leader, old, took.Round(time.Millisecond))
	if limit := time.Duration(h.prof.ttl+3) * time.Second; took > limit {
		t.Errorf("failover took %s, more than ttl + 3s (%s)", took, limit)
	}
	writeSome(t, h, leader, 100)
	h.waitHealthy(30 * time.Second)
	for _, name := range h.names() {
		if name == old {
			continue
		}
		if line := lineWith(h.log(name)[mark[name]:], "rewinding"); line != "" {
			t.Errorf("survivor %s decided to rewind after the leader died: %s", name, line)
		}
	}

	h.start(old)
	h.waitHealthy(60 * time.Second)
	if !strings.Contains(h.log(old)[mark[old]:], "rewinding") {
		t.Errorf("%s rejoined without pg_rewind", old)
	}
	h.waitFor("the rows on "+old, 10*time.Second, func() bool {
		n, err := h.queryInt(old, "SELECT count(*) FROM filler")
		return err == nil && n == 1100
	})
}

// c. SIGTERM of the leader: a new leader within 5 s. The old leader then
// starts on a data directory a kubelet made group writable (fsGroup with
// the default fsGroupChangePolicy) and rejoins.
func TestGracefulFailover(t *testing.T) {
	h := newHarness(t, 3, defaultProfile, nil)
	h.startAll()
	old := h.waitHealthy(90 * time.Second)
	writeSome(t, h, old, 1000)

	start := time.Now()
	go h.term(old)
	leader, _ := h.waitPrimary(30*time.Second, old)
	took := time.Since(start)
	t.Logf("graceful: %s took over from %s in %s", leader, old, took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("failover after SIGTERM took %s, more than 5s", took)
	}
	h.waitFor(old+" stopped", 60*time.Second, func() bool { return !h.running(old) })
	fsGroupAlways(t, h.member(old).dataDir)
	h.start(old)
	h.waitHealthy(60 * time.Second)
}

// fsGroupAlways does to a data directory what a kubelet does at each mount
// of a volume with an fsGroup and fsGroupChangePolicy Always: group read and
// write on every file, and setgid on every directory.
func fsGroupAlways(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode().Perm() | 0o060
		if d.IsDir() {
			mode |= 0o010 | os.ModeSetgid
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// d. Switchover to a named replica over REST within 5 s.
func TestSwitchover(t *testing.T) {
	h := newHarness(t, 3, defaultProfile, nil)
	h.startAll()
	old := h.waitHealthy(90 * time.Second)
	candidate := ""
	for _, name := range h.names() {
		if name != old {
			candidate = name
		}
	}
	start := time.Now()
	code, body := h.post(old, "/switchover", map[string]string{"leader": old, "candidate": candidate})
	if code != 200 {
		t.Fatalf("POST /switchover: %d %s", code, body)
	}
	h.waitFor(candidate+" primary", 10*time.Second, func() bool { return h.primary() == candidate })
	took := time.Since(start)
	t.Logf("switchover from %s to %s in %s", old, candidate, took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("switchover took %s, more than 5s", took)
	}
	if leader := h.waitHealthy(30 * time.Second); leader != candidate {
		t.Errorf("the leader is %s, want %s", leader, candidate)
	}
	if strings.Contains(h.log(old), "rewinding") {
		t.Errorf("the old primary needed pg_rewind after an orderly switchover")
	}
	// Failover to a candidate, through any member's API.
	code, body = h.post(old, "/failover", map[string]string{"candidate": old})
	if code != 200 {
		t.Fatalf("POST /failover: %d %s", code, body)
	}
	h.waitFor(old+" primary again", 10*time.Second, func() bool { return h.primary() == old })
	h.waitHealthy(30 * time.Second)
}

// h. A replica lagging beyond maximum_lag_on_failover is not promoted.
func TestLaggingReplicaIsNotPromoted(t *testing.T) {
	h := newHarness(t, 3, fastProfile, map[string]any{"maximum_lag_on_failover": 1 << 20})
	h.startAll()
	old := h.waitHealthy(90 * time.Second)

	// Freeze both replicas' WAL receivers, then write 8 MiB of WAL.
	var frozen []int
	for _, name := range h.names() {
		if name == old {
			continue
		}
		pid, err := h.queryInt(name, "SELECT pid FROM pg_stat_wal_receiver")
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(int(pid), syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		frozen = append(frozen, int(pid))
	}
	t.Cleanup(func() {
		for _, pid := range frozen {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	writeSome(t, h, old, 60000)
	// Let the leader record its new position in the lock.
	time.Sleep(2 * time.Duration(h.prof.loopWait) * time.Second)

	h.kill9(old)
	// Well past the lock's expiry, nobody may have been promoted.
	time.Sleep(time.Duration(h.prof.ttl+2*h.prof.loopWait+2) * time.Second)
	if p := h.primary(); p != "" {
		t.Fatalf("%s was promoted although it lags more than maximum_lag_on_failover", p)
	}
	for _, name := range h.names() {
		if name == old {
			continue
		}
		st, err := h.status(name)
		if err != nil || !strings.Contains(st.Message, "maximum_lag_on_failover") {
			t.Errorf("%s: status %+v (%v); want it to say it lags beyond maximum_lag_on_failover", name, st, err)
		}
	}
	for _, pid := range frozen {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	// The old leader has the most WAL: once back, it leads again.
	h.start(old)
	if leader := h.waitHealthy(60 * time.Second); leader != old {
		t.Errorf("the leader is %s, want %s, which has the most WAL", leader, old)
	}
}

// g. The kube-apiserver stops: the leader stops accepting writes within
// retry_timeout + loop_wait, and the cluster recovers when it returns.
func TestAPIServerOutage(t *testing.T) {
	h := newHarness(t, 3, fastProfile, nil)
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)

	// Measured from the moment the API server is told to stop: it may
	// answer for a moment while it shuts down, and is killed after two
	// seconds.
	start := time.Now()
	if err := h.env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	h.waitFor(leader+" read-only", 30*time.Second, func() bool {
		n, err := h.queryInt(leader, "SELECT pg_is_in_recovery()::int")
		return err == nil && n == 1
	})
	took := time.Since(start)
	t.Logf("without the API server, %s stopped accepting writes after %s", leader, took.Round(time.Millisecond))
	if limit := time.Duration(h.prof.retryTimeout+h.prof.loopWait)*time.Second + time.Second; took > limit {
		t.Errorf("the leader accepted writes for %s without the DCS, more than retry_timeout + loop_wait (+1s)", took)
	}
	time.Sleep(time.Duration(h.prof.ttl) * time.Second)
	if p := h.primary(); p != "" {
		t.Errorf("%s is primary while the DCS is down", p)
	}

	if err := h.env.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	recovered := h.waitHealthy(90 * time.Second)
	writeSome(t, h, recovered, 10)
	t.Logf("after the API server returned, %s leads", recovered)
}

// PostgreSQL crashes under a live manager: the manager starts it again and
// keeps the lock, without a failover.
func TestPostgresCrashUnderLiveManager(t *testing.T) {
	h := newHarness(t, 3, fastProfile, nil)
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	lease := h.lease()
	transitions := *lease.Spec.LeaseTransitions

	postmaster := postmasterPID(h, leader)
	if err := syscall.Kill(postmaster, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitFor(leader+" back as primary", 30*time.Second, func() bool {
		return postmasterPID(h, leader) != postmaster && h.primary() == leader
	})
	if l := h.lease(); *l.Spec.HolderIdentity != leader || *l.Spec.LeaseTransitions != transitions {
		t.Errorf("the lock moved: holder %s, transitions %d (were %s, %d)", *l.Spec.HolderIdentity, *l.Spec.LeaseTransitions, leader, transitions)
	}
	h.waitHealthy(30 * time.Second)
}

func postmasterPID(h *harness, name string) int {
	data, err := os.ReadFile(filepath.Join(h.member(name).dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}
