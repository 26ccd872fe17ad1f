package instance_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pgo.dev/pgo/internal/naming"
)

// writer commits numbered rows to whichever member accepts writes, and
// remembers which commits were acknowledged.
type writer struct {
	h      *harness
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  []int64
	errors int
}

func startWriter(h *harness) *writer {
	h.t.Helper()
	leader := h.primary()
	if err := h.exec(leader, "CREATE TABLE IF NOT EXISTS acks (id bigint PRIMARY KEY, at timestamptz DEFAULT now())"); err != nil {
		h.t.Fatal(err)
	}
	w := &writer{h: h, done: make(chan struct{})}
	w.wg.Add(1)
	go w.run()
	return w
}

func (w *writer) run() {
	defer w.wg.Done()
	var hosts []string
	for _, name := range w.h.names() {
		hosts = append(hosts, w.h.member(name).ip)
	}
	dsn := "host=" + strings.Join(hosts, ",") + " port=5432 user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2"
	var conn *pgx.Conn
	next := int64(1)
	for {
		select {
		case <-w.done:
			if conn != nil {
				_ = conn.Close(context.Background())
			}
			return
		default:
		}
		if conn == nil || conn.IsClosed() {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				panic(err)
			}
			cfg.Password = w.h.superPwd
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			conn, err = pgx.ConnectConfig(ctx, cfg)
			cancel()
			if err != nil {
				conn = nil
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		id := next
		next++
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := conn.Exec(ctx, "INSERT INTO acks (id) VALUES ($1)", id)
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, id)
		} else {
			w.errors++
		}
		w.mu.Unlock()
		if err != nil {
			_ = conn.Close(context.Background())
			conn = nil
		}
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *writer) stop() []int64 {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

// syncStandby is the recorded synchronous standby of leader, if any.
func (h *harness) syncStandby(leader string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cm, err := h.env.Clientset.CoreV1().ConfigMaps(h.ns).Get(ctx, naming.SyncConfigMap(h.cluster), metav1.GetOptions{})
	if err != nil || cm.Data[naming.KeyLeader] != leader {
		return ""
	}
	return cm.Data[naming.KeySyncStandby]
}

// syncFailovers kills the leader n times under a steady stream of commits in
// synchronous mode and returns the acknowledged commits missing from the
// final primary, how many were acknowledged, and each failover's time.
func syncFailovers(tb testing.TB, h *harness, n int) (lost, acked int, times []time.Duration) {
	tb.Helper()
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	w := startWriter(h)
	for i := range n {
		leader = h.waitHealthy(90 * time.Second)
		h.waitFor("a synchronous standby of "+leader, 60*time.Second, func() bool { return h.syncStandby(leader) != "" })
		before := w.count()
		h.waitFor("commits on "+leader, 30*time.Second, func() bool { return w.count() > before+20 })

		h.kill9(leader)
		next, took := h.waitPrimary(time.Duration(h.prof.ttl+20)*time.Second, leader)
		times = append(times, took)
		tb.Logf("failover %d: %s took over from %s in %s", i+1, next, leader, took.Round(time.Millisecond))
		h.start(leader)
	}
	final := h.waitHealthy(90 * time.Second)
	before := w.count()
	h.waitFor("commits on "+final, 30*time.Second, func() bool { return w.count() > before+20 })
	ids := w.stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := h.connect(ctx, final)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var missing int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM acks WHERE acks.id = a.id)", ids).Scan(&missing); err != nil {
		tb.Fatal(err)
	}
	return missing, len(ids), times
}

// e. Synchronous mode: a writer commits through 10 forced failovers, and
// every acknowledged commit is on the final primary.
func TestSynchronousModeLosesNoCommit(t *testing.T) {
	h := newHarness(t, 3, fastProfile, map[string]any{"synchronous_mode": true})
	lost, acked, _ := syncFailovers(t, h, 10)
	t.Logf("%d commits acknowledged through 10 failovers; %d missing on the final primary", acked, lost)
	if lost != 0 {
		t.Errorf("%d acknowledged commits were lost", lost)
	}
	if acked < 200 {
		t.Errorf("only %d commits were acknowledged; the writer barely ran", acked)
	}
}
