package instance_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pgo.dev/pgo/internal/instanceapi"
)

// A primary whose status queries fail for longer than primary_start_timeout
// (its sessions are terminated and no new one can log in while pg_authid is
// locked) keeps its lock and keeps running: no failover, no stop. A primary
// that hangs (postmaster and backends stopped) fails over once the
// unresponsive bound (ttl) has passed, and never writes beside the new one.
func TestUnresponsivePrimary(t *testing.T) {
	h := newHarness(t, 2, fastProfile, map[string]any{"primary_start_timeout": 2})
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	transitions := *h.lease().Spec.LeaseTransitions
	postmaster := postmasterPID(h, leader)

	// Transient: 6 s of failing queries, more than primary_start_timeout
	// (2 s), less than the bound (ttl, 10 s).
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := h.connect(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE pg_authid IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgo-instance-manager'"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	_ = tx.Rollback(ctx)
	_ = conn.Close(ctx)
	h.waitFor(leader+" answering as primary", 10*time.Second, func() bool { return h.primary() == leader })
	if !strings.Contains(h.log(leader), "PostgreSQL does not answer its status query") {
		t.Errorf("%s never saw its status query fail: the test did not test anything", leader)
	}
	if l := h.lease(); *l.Spec.HolderIdentity != leader || *l.Spec.LeaseTransitions != transitions {
		t.Errorf("the lock moved during a transient failure: holder %s, transitions %d (were %s, %d)", *l.Spec.HolderIdentity, *l.Spec.LeaseTransitions, leader, transitions)
	}
	if pid := postmasterPID(h, leader); pid != postmaster {
		t.Errorf("PostgreSQL was restarted (postmaster %d, was %d) during a transient failure", pid, postmaster)
	}

	// A client that sends half a request body and waits: the server's read
	// timeout must end the request rather than keep it forever.
	tlsConfig, err := instanceapi.ClientTLS(h.memberFiles.CA.Cert, instanceapi.ServerName(leader, h.cluster, h.ns))
	if err != nil {
		t.Fatal(err)
	}
	slow, err := tls.Dial("tcp", h.member(leader).ip+":8008", tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Write([]byte("POST /switchover HTTP/1.1\r\nHost: pgo\r\nContent-Length: 100\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("pgo:"+h.apiPwd)) + "\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	slowSince := time.Now()

	// Hung: stop the postmaster and every backend.
	pids := append([]int{postmaster}, childrenOf(postmaster)...)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	cont := func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(cont)
	start := time.Now()
	// The health checks answer from the last observation, at once, while
	// the server does not (a probe's timeout is 1 s).
	for _, path := range []string{instanceapi.PathReadiness, instanceapi.PathLiveness, instanceapi.PathPrimary} {
		asked := time.Now()
		code := h.httpCode(leader, path)
		if took := time.Since(asked); code == 0 || took > time.Second {
			t.Errorf("GET %s of a hung primary: code %d after %s, want an answer within 1 s", path, code, took.Round(time.Millisecond))
		}
	}
	bound := time.Duration(h.prof.ttl) * time.Second
	next, _ := h.waitPrimary(2*bound+30*time.Second, leader)
	took := time.Since(start)
	t.Logf("hung primary: %s took over from %s after %s", next, leader, took.Round(time.Millisecond))
	if limit := 2*bound + 5*time.Second; took > limit {
		t.Errorf("a hung primary failed over after %s, more than the bound plus ttl (+5 s): %s", took, limit)
	}
	h.waitFor(leader+" giving up", 30*time.Second, func() bool {
		return strings.Contains(h.log(leader), "giving up the lock: PostgreSQL has not answered")
	})
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := slow.Read(make([]byte, 512)); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a half-sent request body kept its connection open for %s", time.Since(slowSince).Round(time.Second))
	}
	cont()
	h.waitHealthy(90 * time.Second)
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		_, rest, ok := strings.Cut(string(stat), ") ")
		fields := strings.Fields(rest)
		if ok && len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// A restart of the primary whose shutdown takes longer than ttl (its
// checkpointer is stopped for 2 ttl) keeps the lock renewed all along:
// the primary stays the primary, and no replica is promoted beside it.
func TestSlowRestartKeepsTheLock(t *testing.T) {
	h := newHarness(t, 2, fastProfile, nil)
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	transitions := *h.lease().Spec.LeaseTransitions
	checkpointer, err := h.queryInt(leader, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(int(checkpointer), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(int(checkpointer), syscall.SIGCONT) })
	restarted := make(chan string, 1)
	go func() {
		code, body := h.post(leader, "/restart", nil)
		restarted <- strconv.Itoa(code) + " " + body
	}()
	time.Sleep(2 * time.Duration(h.prof.ttl) * time.Second)
	_ = syscall.Kill(int(checkpointer), syscall.SIGCONT)
	if got := <-restarted; !strings.HasPrefix(got, "200 ") {
		t.Errorf("POST /restart: %s", got)
	}
	if p, _ := h.waitPrimary(30 * time.Second); p != leader {
		t.Errorf("after the restart %s is primary, want %s", p, leader)
	}
	if l := h.lease(); *l.Spec.HolderIdentity != leader || *l.Spec.LeaseTransitions != transitions {
		t.Errorf("the lock moved during the restart: holder %s, transitions %d (were %s, %d)", *l.Spec.HolderIdentity, *l.Spec.LeaseTransitions, leader, transitions)
	}
	h.waitHealthy(60 * time.Second)
}

// A switchover to a replica whose WAL receiver is frozen: the candidate
// never receives the leader's shutdown checkpoint, so the leader keeps the
// lock, starts again as primary, refuses the request and loses no commit.
// The healthy switchover is TestSwitchover.
func TestSwitchoverToAFrozenReplica(t *testing.T) {
	h := newHarness(t, 2, fastProfile, nil)
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	candidate := ""
	for _, name := range h.names() {
		if name != leader {
			candidate = name
		}
	}
	receiver, err := h.queryInt(candidate, "SELECT pid FROM pg_stat_wal_receiver")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(int(receiver), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(int(receiver), syscall.SIGCONT) })
	writeSome(t, h, leader, 1000) // 100 kB: within maximum_lag_on_failover

	code, body := h.post(leader, "/switchover", map[string]string{"leader": leader, "candidate": candidate})
	if code != 412 || !strings.Contains(body, "did not receive the shutdown checkpoint") {
		t.Errorf("POST /switchover to a frozen replica: %d %s; want 412 saying the checkpoint did not reach it", code, body)
	}
	h.waitFor(leader+" primary again", 30*time.Second, func() bool { return h.primary() == leader })
	if n, err := h.queryInt(leader, "SELECT count(*) FROM filler"); err != nil || n != 1000 {
		t.Errorf("%d rows on %s after the refused switchover (%v), want 1000", n, leader, err)
	}
	if l := h.lease(); *l.Spec.HolderIdentity != leader {
		t.Errorf("the lock moved to %s", *l.Spec.HolderIdentity)
	}
	_ = syscall.Kill(int(receiver), syscall.SIGCONT)
	h.waitHealthy(60 * time.Second)
	h.waitFor("the rows on "+candidate, 30*time.Second, func() bool {
		n, err := h.queryInt(candidate, "SELECT count(*) FROM filler")
		return err == nil && n == 1000
	})
}

// A former primary that pg_rewind cannot rewind (one of its files is
// unreadable) is cloned again, and its old data directory is kept aside,
// not deleted: it holds what it did not send before the failover.
func TestFailedRewindKeepsTheOldData(t *testing.T) {
	h := newHarness(t, 2, fastProfile, nil)
	h.startAll()
	old := h.waitHealthy(90 * time.Second)
	writeSome(t, h, old, 1000)
	// The table must reach the replica before the crash, so that both
	// data directories hold the same relation file (the one made
	// unreadable below).
	for _, name := range h.names() {
		if name != old {
			h.waitFor(name+" has the rows", 10*time.Second, func() bool {
				n, err := h.queryInt(name, "SELECT count(*) FROM filler")
				return err == nil && n == 1000
			})
		}
	}
	h.kill9(old)
	leader, _ := h.waitPrimary(time.Duration(h.prof.ttl+10)*time.Second, old)
	writeSome(t, h, leader, 1000)
	var file string
	func() {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, err := h.connect(ctx, leader)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, "SELECT pg_relation_filepath('filler')").Scan(&file); err != nil {
			t.Fatal(err)
		}
	}()
	dataDir := h.member(old).dataDir
	if err := os.Chmod(filepath.Join(dataDir, file), 0); err != nil {
		t.Fatal(err)
	}

	h.start(old)
	h.waitHealthy(90 * time.Second)
	if !strings.Contains(h.log(old), "keeping the old data directory aside") {
		t.Errorf("%s rejoined without a failed pg_rewind: the test did not test anything", old)
	}
	kept, _ := filepath.Glob(dataDir + ".failed-*")
	if len(kept) != 1 {
		t.Fatalf("kept data directories %v, want one", kept)
	}
	if _, err := os.Stat(filepath.Join(kept[0], "PG_VERSION")); err != nil {
		t.Errorf("the kept copy is not a data directory: %v", err)
	}
	if st, err := h.status(old); err != nil || st.KeptData != kept[0] {
		t.Errorf("%s's status says keptData %q (%v), want %s", old, st.KeptData, err, kept[0])
	}
	h.waitFor("the rows on "+old, 10*time.Second, func() bool {
		n, err := h.queryInt(old, "SELECT count(*) FROM filler")
		return err == nil && n == 2000
	})
}
