package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
)

func ptr[T any](v T) *T { return &v }

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// newCluster creates a namespace pgo works in and a PGCluster with fast HA
// timings (ttl 20 s, loop_wait 2 s) in it.
func newCluster(t *testing.T, ctx context.Context, namespace, name string, replicas int32) *pgov1.PGCluster {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{pgoapi.LabelNamespace: "true"}}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	c := &pgov1.PGCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: pgov1.PGClusterSpec{
			Replicas:       replicas,
			PrimaryStorage: pgov1.PGStorage{Size: resourceQuantity("1Gi")},
			Resources:      pgov1.Resources{Requests: corev1.ResourceList{corev1.ResourceCPU: resourceQuantity("100m"), corev1.ResourceMemory: resourceQuantity("128Mi")}},
			HA:             pgov1.PGHASpec{Enabled: ptr(true), TTL: 20, LoopWait: 2, RetryTimeout: 5, MaximumLagOnFailover: ptr(int64(1 << 20))},
		},
	}
	if err := env.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitReady waits until the cluster has want ready instances, a primary,
// and the operator has taken up its latest generation.
func waitReady(t *testing.T, ctx context.Context, c *pgov1.PGCluster, want int32, timeout time.Duration) *pgov1.PGCluster {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got pgov1.PGCluster
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(c), &got); err != nil {
			t.Fatal(err)
		}
		pods := clusterPods(t, ctx, c)
		if got.Status.ObservedGeneration == got.Generation && got.Status.ReadyInstances == want &&
			got.Status.Primary != "" && len(pods) == int(want) && allReady(pods) {
			return &got
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s: %d of %d instances ready (phase %s, primary %q, %d pods) after %s\n%s",
				c.Name, got.Status.ReadyInstances, want, got.Status.Phase, got.Status.Primary, len(pods), timeout, describePods(pods))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func allReady(pods []corev1.Pod) bool {
	for _, p := range pods {
		if p.DeletionTimestamp != nil || !podReady(&p) {
			return false
		}
	}
	return true
}

func podReady(p *corev1.Pod) bool { return condition(p, corev1.PodReady) }

func describePods(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "  %s node=%s ip=%s role=%s phase=%s ready=%v\n", p.Name, p.Spec.NodeName, p.Status.PodIP, p.Labels[naming.LabelRole], p.Status.Phase, podReady(&p))
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			fmt.Fprintf(&b, "    %s restarts=%d state=%+v\n", cs.Name, cs.RestartCount, cs.State)
		}
	}
	return b.String()
}

// clusterPods lists the cluster's database pods by name.
// instanceLogs is the tail of the database container's log of every pod the
// cluster ever had, the deleted ones included: the instance managers'
// decisions, which explain a failover that did not happen.
func instanceLogs(c *pgov1.PGCluster, lines int) string {
	files, _ := filepath.Glob(filepath.Join(stateDir, "nodes", "*", "logs", c.Namespace+"_"+c.Name+"-*", "database", "*.log"))
	return tails(lines, files)
}

// tails is the last lines of each file, each under a "==> file <==" header.
func tails(lines int, files []string) string {
	if len(files) == 0 {
		return ""
	}
	out, _ := exec.Command("tail", append([]string{"-v", "-n", strconv.Itoa(lines)}, files...)...).CombinedOutput()
	return string(out)
}

func clusterPods(t *testing.T, ctx context.Context, c *pgov1.PGCluster) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(c.Namespace), client.MatchingLabels{naming.LabelCluster: c.Name}, client.HasLabels{naming.LabelInstance}); err != nil {
		t.Fatal(err)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	return pods.Items
}

// podWithRole is the cluster's pod labelled with role, or nil.
func podWithRole(t *testing.T, ctx context.Context, c *pgov1.PGCluster, role string) *corev1.Pod {
	t.Helper()
	for _, p := range clusterPods(t, ctx, c) {
		if p.Labels[naming.LabelRole] == role && p.DeletionTimestamp == nil {
			return &p
		}
	}
	return nil
}

// serviceIP is a Service's ClusterIP.
func serviceIP(t *testing.T, ctx context.Context, namespace, name string) string {
	t.Helper()
	var svc corev1.Service
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &svc); err != nil {
		t.Fatal(err)
	}
	return svc.Spec.ClusterIP
}

// dsn is a connection string for the cluster's application user at host.
func dsn(t *testing.T, ctx context.Context, c *pgov1.PGCluster, host string) string {
	t.Helper()
	var s corev1.Secret
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: c.Namespace, Name: naming.UserSecret(c.Name, "testuser")}, &s); err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("testuser", string(s.Data["password"])),
		Host: net.JoinHostPort(host, "5432"), Path: "/" + c.Name, RawQuery: "sslmode=require&connect_timeout=2"}
	return u.String()
}

// exec runs one statement on a new connection.
func execSQL(ctx context.Context, dsn, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

func queryInt(ctx context.Context, dsn, sql string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

// writer inserts a row every 50 ms through the primary Service on a fresh
// connection, recording which ids were acknowledged and when writes
// failed.
type writer struct {
	dsn   string
	table string
	mu    sync.Mutex
	acked []int64
	// ackedAt is when each acked id was acknowledged.
	ackedAt []time.Time
	events  []writeEvent
	stop    chan struct{}
	done    chan struct{}
}

type writeEvent struct {
	at time.Time
	ok bool
}

func startWriter(t *testing.T, ctx context.Context, dsn, table string) *writer {
	t.Helper()
	if err := execSQL(ctx, dsn, "CREATE TABLE IF NOT EXISTS "+table+" (id bigint PRIMARY KEY, at timestamptz DEFAULT now())"); err != nil {
		t.Fatal(err)
	}
	w := &writer{dsn: dsn, table: table, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var conn *pgx.Conn
		defer func() {
			if conn != nil {
				conn.Close(context.Background())
			}
		}()
		for id := int64(1); ; id++ {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			err := func() error {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				if conn == nil {
					c, err := pgx.Connect(cctx, dsn)
					if err != nil {
						return err
					}
					conn = c
				}
				_, err := conn.Exec(cctx, "INSERT INTO "+table+" (id) VALUES ($1)", id)
				if err != nil {
					conn.Close(context.Background())
					conn = nil
				}
				return err
			}()
			w.mu.Lock()
			w.events = append(w.events, writeEvent{at: time.Now(), ok: err == nil})
			if err == nil {
				w.acked = append(w.acked, id)
				w.ackedAt = append(w.ackedAt, time.Now())
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// missing are those of ids that the primary does not have.
func (w *writer) missing(t *testing.T, ctx context.Context, ids []int64) []int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, w.dsn)
	if err != nil {
		t.Errorf("reading back the rows: %v", err)
		return nil
	}
	defer conn.Close(ctx)
	var out []int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(array_agg(a.id ORDER BY a.id), '{}') FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM "+w.table+" t WHERE t.id = a.id)", ids).Scan(&out); err != nil {
		t.Errorf("reading back the rows: %v", err)
	}
	return out
}

func (w *writer) halt() {
	close(w.stop)
	<-w.done
}

// outages are the periods in which writes failed: from the first failure
// after a success to the next success.
func (w *writer) outages() []outage {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []outage
	var lastOK time.Time
	inOutage := false
	for _, e := range w.events {
		switch {
		case !e.ok && !inOutage:
			inOutage = true
			out = append(out, outage{from: lastOK})
		case e.ok && inOutage:
			inOutage = false
			out[len(out)-1].to = e.at
		}
		if e.ok {
			lastOK = e.at
		}
	}
	if inOutage {
		out[len(out)-1].to = time.Time{}
	}
	return out
}

type outage struct{ from, to time.Time }

func (o outage) duration() time.Duration {
	if o.to.IsZero() {
		return time.Duration(1<<63 - 1)
	}
	return o.to.Sub(o.from)
}

// firstSuccessAfter is when the first write after t succeeded.
func (w *writer) firstSuccessAfter(t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.ok && e.at.After(t) {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// checkNoLoss checks that every acknowledged id is on the primary.
func (w *writer) checkNoLoss(t *testing.T, ctx context.Context) {
	t.Helper()
	w.checkNoLossBefore(t, ctx, time.Time{})
}

// checkNoLossBefore checks that every id acknowledged before cutoff is on
// the primary (every one when cutoff is zero). Those acknowledged after it
// may be missing: a hard kill of an asynchronous primary loses what its
// replica had not received yet. They are counted.
func (w *writer) checkNoLossBefore(t *testing.T, ctx context.Context, cutoff time.Time) {
	t.Helper()
	w.mu.Lock()
	var acked, late []int64
	for i, id := range w.acked {
		if cutoff.IsZero() || w.ackedAt[i].Before(cutoff) {
			acked = append(acked, id)
		} else {
			late = append(late, id)
		}
	}
	w.mu.Unlock()
	if len(late) > 0 {
		defer func() {
			if missing := w.missing(t, ctx, late); len(missing) > 0 {
				t.Logf("%d of the %d rows acknowledged in the last moment before the kill are lost, as asynchronous replication allows: %v", len(missing), len(late), missing)
			}
		}()
	}
	var missing []int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, w.dsn)
		if err == nil {
			have := map[int64]bool{}
			rows, err := conn.Query(ctx, "SELECT id FROM "+w.table)
			if err == nil {
				for rows.Next() {
					var id int64
					_ = rows.Scan(&id)
					have[id] = true
				}
				err = rows.Err()
			}
			conn.Close(ctx)
			if err == nil {
				missing = missing[:0]
				for _, id := range acked {
					if !have[id] {
						missing = append(missing, id)
					}
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("reading back the acknowledged rows: %v", err)
		}
		time.Sleep(time.Second)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged rows are lost: %v", len(missing), len(acked), missing)
	}
	t.Logf("all %d acknowledged rows are on the primary", len(acked))
}

// splitBrain samples every database pod of a cluster every 100 ms, asking
// each one directly whether it accepts writes, and records moments at which
// two did.
type splitBrain struct {
	mu      sync.Mutex
	samples int
	worst   int
	when    []string
	stop    chan struct{}
	done    chan struct{}
}

func watchSplitBrain(t *testing.T, ctx context.Context, c *pgov1.PGCluster) *splitBrain {
	s := &splitBrain{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var pods corev1.PodList
			if err := env.Client.List(ctx, &pods, client.InNamespace(c.Namespace), client.MatchingLabels{naming.LabelCluster: c.Name}, client.HasLabels{naming.LabelInstance}); err != nil {
				continue
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			var writable []string
			for _, p := range pods.Items {
				if p.Status.PodIP == "" {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if acceptsWrites(ctx, dsn(t, ctx, c, p.Status.PodIP)) {
						mu.Lock()
						writable = append(writable, p.Name)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			s.mu.Lock()
			s.samples++
			if len(writable) > s.worst {
				s.worst = len(writable)
			}
			if len(writable) > 1 {
				s.when = append(s.when, time.Now().Format("15:04:05.000")+" "+strings.Join(writable, ","))
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// acceptsWrites reports whether a server takes a write transaction now.
func acceptsWrites(ctx context.Context, dsn string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	var inRecovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || inRecovery {
		return false
	}
	_, err = conn.Exec(ctx, "SELECT txid_current()")
	return err == nil
}

func (s *splitBrain) check(t *testing.T) {
	t.Helper()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.when) > 0 {
		t.Errorf("two pods accepted writes at once in %d of %d samples: %v", len(s.when), s.samples, s.when)
	}
	t.Logf("split-brain check: %d samples, never more than %d writable pod", s.samples, s.worst)
}

// leaseTransitions is the number of times the cluster's leader lock changed
// hands.
func leaseTransitions(t *testing.T, ctx context.Context, c *pgov1.PGCluster) int32 {
	t.Helper()
	var l coordinationv1.Lease
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: c.Namespace, Name: naming.LeaderLease(c.Name)}, &l); err != nil {
		t.Fatal(err)
	}
	if l.Spec.LeaseTransitions == nil {
		return 0
	}
	return *l.Spec.LeaseTransitions
}
