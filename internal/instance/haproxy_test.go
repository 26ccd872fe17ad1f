package instance_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	coordinationv1 "k8s.io/api/coordination/v1"

	"pgo.dev/pgo/internal/naming"
)

const haproxyBin = "/usr/sbin/haproxy"

// A load balancer configured as Patroni documents it (docs/haproxy.cfg,
// unchanged but for the addresses and the CA's path) routes writes to the
// primary and reads to the replicas, through a switchover, a graceful stop
// and a hard kill of the leader (ttl 10 s): no acknowledged row is lost,
// and none was acknowledged by a member without the leader lock. The
// cluster is in synchronous mode: with asynchronous replication a hard
// kill loses the commits the replicas had not received (one row of 13819
// in one run), as it does with Patroni.
func TestBehindHAProxy(t *testing.T) {
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Fatalf("HAProxy is needed (`make deps` installs Debian's haproxy): %v", err)
	}
	h := newHarness(t, 3, fastProfile, map[string]any{"synchronous_mode": true})
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	lb := startHAProxy(t, h)
	lb.waitRouting(t, h, leader)
	locks := watchLock(t, h)
	w := startLBWriter(t, h, lb.addr+":5000")
	h.waitFor("writes through HAProxy", 30*time.Second, func() bool { return w.count() > 20 })

	scenarios := []struct {
		name string
		end  func(leader string)
	}{
		{"switchover", func(leader string) {
			// In synchronous mode only the synchronous standby may take over.
			candidate := ""
			h.waitFor("a synchronous standby of "+leader, 60*time.Second, func() bool {
				candidate = h.syncStandby(leader)
				return candidate != ""
			})
			if code, body := h.post(leader, "/switchover", map[string]string{"leader": leader, "candidate": candidate}); code != http.StatusOK {
				t.Fatalf("POST /switchover: %d %s", code, body)
			}
		}},
		{"graceful stop", func(leader string) {
			go h.term(leader)
		}},
		{"hard kill", func(leader string) {
			h.kill9(leader)
		}},
	}
	type window struct {
		name     string
		from, to time.Time
	}
	var windows []window
	for _, sc := range scenarios {
		from := time.Now()
		sc.end(leader)
		next, _ := h.waitPrimary(time.Duration(h.prof.ttl+30)*time.Second, leader)
		h.waitFor(leader+" stopped or a replica", 90*time.Second, func() bool {
			return !h.running(leader) || h.httpCode(leader, "/replica") == http.StatusOK
		})
		if !h.running(leader) {
			h.start(leader)
		}
		h.waitHealthy(90 * time.Second)
		lb.waitRouting(t, h, next)
		after := w.count()
		h.waitFor("writes through HAProxy to "+next, 30*time.Second, func() bool { return w.count() > after+20 })
		outage := w.longestGap(from, time.Now())
		t.Logf("%s: %s took over from %s; writes through HAProxy stopped for %s", sc.name, next, leader, outage.Round(time.Millisecond))
		windows = append(windows, window{sc.name, from, time.Now()})
		leader = next
	}
	acks := w.stop()
	holders := locks.stop()

	// Every acknowledged row is on the final primary.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := h.connect(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ids := make([]int64, len(acks))
	for i, a := range acks {
		ids[i] = a.id
	}
	var missing []int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(array_agg(a.id ORDER BY a.id), '{}') FROM unnest($1::bigint[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM lb_acks WHERE lb_acks.id = a.id)", ids).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows acknowledged through HAProxy, %d missing on the final primary %s", len(acks), len(missing), leader)
	for _, id := range missing {
		a := acks[slices.IndexFunc(acks, func(a lbAck) bool { return a.id == id })]
		during := "between scenarios"
		for _, w := range windows {
			if !a.at.Before(w.from) && !a.at.After(w.to) {
				during = "during the " + w.name
			}
		}
		t.Errorf("row %d, acknowledged by %s at %s %s, was lost", id, a.server, a.at.Format("15:04:05.000"), during)
	}
	// Each was acknowledged by the lock holder of its time.
	byIP := map[string]string{}
	for _, name := range h.names() {
		byIP[h.member(name).ip] = name
	}
	wrong := 0
	for _, a := range acks {
		if member := byIP[a.server]; !holders.heldBetween(member, a.sent, a.at) {
			wrong++
			if wrong <= 5 {
				t.Errorf("row %d was acknowledged by %s (%s) at %s, which did not hold the leader lock then (holders: %s)",
					a.id, member, a.server, a.at.Format("15:04:05.000"), holders)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d rows were acknowledged by a member without the leader lock", wrong)
	}
}

// haproxy is a running HAProxy with docs/haproxy.cfg.
type haproxy struct {
	addr string
	dir  string
}

// startHAProxy runs HAProxy with the documented configuration, its
// addresses replaced by the harness's and its CA by the cluster's.
func startHAProxy(t *testing.T, h *harness) *haproxy {
	t.Helper()
	doc, err := os.ReadFile("../../docs/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	lb := &haproxy{addr: h.netBase + "100", dir: t.TempDir()}
	cfg := string(doc)
	replace := map[string]string{
		"bind *:":                   "bind " + lb.addr + ":",
		"/etc/haproxy/hippo-ca.crt": h.memberFiles.Paths["ca.crt"],
	}
	for _, name := range h.names() {
		replace[name+".hippo-pods.pgo.svc"] = h.member(name).ip
	}
	for from, to := range replace {
		if !strings.Contains(cfg, from) {
			t.Fatalf("docs/haproxy.cfg has no %q to replace", from)
		}
		cfg = strings.ReplaceAll(cfg, from, to)
	}
	path := filepath.Join(lb.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxyBin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c refuses the documented configuration: %v\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(lb.dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxyBin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		_ = logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("==== HAProxy's log:\n%s", out)
		}
	})
	return lb
}

// servers are HAProxy's server states by backend ("primary", "replicas")
// and server, from its stats page.
func (lb *haproxy) servers() (map[string]map[string]string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + lb.addr + ":7000/;csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "# "))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("the stats page: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("the stats page is empty")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := map[string]map[string]string{}
	for _, r := range rows[1:] {
		px, sv := r[col["pxname"]], r[col["svname"]]
		if sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		if out[px] == nil {
			out[px] = map[string]string{}
		}
		out[px][sv] = r[col["status"]]
	}
	return out, nil
}

// waitRouting waits until exactly the leader is UP behind the primary port
// and exactly the others behind the replicas port.
func (lb *haproxy) waitRouting(t *testing.T, h *harness, leader string) {
	t.Helper()
	var last map[string]map[string]string
	h.waitFor("HAProxy to route writes to "+leader+" and reads to the others", 60*time.Second, func() bool {
		s, err := lb.servers()
		if err != nil {
			return false
		}
		last = s
		for _, name := range h.names() {
			wantPrimary, wantReplica := "DOWN", "UP"
			if name == leader {
				wantPrimary, wantReplica = "UP", "DOWN"
			}
			if s["primary"][name] != wantPrimary || s["replicas"][name] != wantReplica {
				return false
			}
		}
		return true
	})
	t.Logf("HAProxy: primary %v, replicas %v", last["primary"], last["replicas"])
}

// lbAck is a row acknowledged through the load balancer: by which server,
// between when it was sent and when the commit returned.
type lbAck struct {
	id       int64
	server   string
	sent, at time.Time
}

// lbWriter commits numbered rows through the load balancer's primary port.
type lbWriter struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	acks []lbAck
}

func startLBWriter(t *testing.T, h *harness, addr string) *lbWriter {
	t.Helper()
	if err := h.exec(h.primary(), "CREATE TABLE lb_acks (id bigint PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	w := &lbWriter{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		var conn *pgx.Conn
		defer func() {
			if conn != nil {
				_ = conn.Close(context.Background())
			}
		}()
		for id := int64(0); ; {
			select {
			case <-w.done:
				return
			default:
			}
			if conn == nil {
				cfg, err := pgx.ParseConfig("host=" + host + " port=" + port + " user=postgres dbname=postgres sslmode=prefer connect_timeout=2")
				if err != nil {
					panic(err)
				}
				cfg.Password = h.superPwd
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				conn, err = pgx.ConnectConfig(ctx, cfg)
				cancel()
				if err != nil {
					conn = nil
					time.Sleep(50 * time.Millisecond)
					continue
				}
			}
			// A new id for each attempt: one that failed may have
			// committed all the same (a synchronous commit whose wait
			// was cancelled).
			id++
			sent := time.Now()
			var server string
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := conn.QueryRow(ctx, "INSERT INTO lb_acks (id) VALUES ($1) RETURNING host(inet_server_addr())", id).Scan(&server)
			cancel()
			if err != nil {
				_ = conn.Close(context.Background())
				conn = nil
				continue
			}
			w.mu.Lock()
			w.acks = append(w.acks, lbAck{id: id, server: server, sent: sent, at: time.Now()})
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *lbWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// longestGap is the longest time between two acknowledgements (or from
// the last one before from) until to.
func (w *lbWriter) longestGap(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var longest time.Duration
	prev := from
	for _, a := range w.acks {
		if a.at.Before(from) {
			prev = a.at
			continue
		}
		if a.at.After(to) {
			break
		}
		longest = max(longest, a.at.Sub(prev))
		prev = a.at
	}
	return longest
}

func (w *lbWriter) stop() []lbAck {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acks)
}

// lockHistory is who held the leader lock when, as a watch saw it.
type lockHistory struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	spans  []lockSpan
}

type lockSpan struct {
	holder   string
	from, to time.Time // to is zero while held
}

func watchLock(t *testing.T, h *harness) *lockHistory {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &lockHistory{cancel: cancel, done: make(chan struct{})}
	name := naming.LeaderLease(h.cluster)
	wi, err := h.env.Clientset.CoordinationV1().Leases(h.ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	if lease := h.lease(); lease != nil && lease.Spec.HolderIdentity != nil {
		l.spans = append(l.spans, lockSpan{holder: *lease.Spec.HolderIdentity, from: time.Time{}})
	}
	go func() {
		defer close(l.done)
		defer wi.Stop()
		for ev := range wi.ResultChan() {
			lease, ok := ev.Object.(*coordinationv1.Lease)
			if !ok || ev.Type == watch.Error {
				continue
			}
			holder := ""
			if lease.Spec.HolderIdentity != nil {
				holder = *lease.Spec.HolderIdentity
			}
			now := time.Now()
			l.mu.Lock()
			n := len(l.spans)
			if n == 0 || l.spans[n-1].holder != holder {
				if n > 0 {
					l.spans[n-1].to = now
				}
				l.spans = append(l.spans, lockSpan{holder: holder, from: now})
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *lockHistory) stop() *lockHistory {
	l.cancel()
	<-l.done
	return l
}

// watchSlack is how late a watch may see a change of holder.
const watchSlack = 250 * time.Millisecond

// heldBetween tells whether member held the lock at some time between
// from and to.
func (l *lockHistory) heldBetween(member string, from, to time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.spans {
		end := s.to
		if end.IsZero() {
			end = to.Add(time.Hour)
		}
		if s.holder == member && s.from.Add(-watchSlack).Before(to) && end.Add(watchSlack).After(from) {
			return true
		}
	}
	return false
}

func (l *lockHistory) String() string {
	var parts []string
	for _, s := range l.spans {
		parts = append(parts, fmt.Sprintf("%s from %s", s.holder, s.from.Format("15:04:05.000")))
	}
	return strings.Join(parts, ", ")
}
