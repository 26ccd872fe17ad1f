// Command patroni-golden records the status codes that Patroni answers on its
// health-check paths, for GET, HEAD and OPTIONS, in each member state, by
// driving live Patroni members (Debian's patroni package) with PostgreSQL 15
// and etcd on loopback addresses. The result is the golden data that the
// instance manager's health checks are compared with
// (internal/instanceapi/testdata). Run it with `make golden-patroni`; it
// needs root (PostgreSQL runs as the postgres user).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pgo.dev/pgo/internal/instanceapi"
)

const (
	etcdAddr = "127.0.44.10"
	pgBin    = "/usr/lib/postgresql/15/bin"
	loopWait = 3
)

var (
	methods = []string{http.MethodGet, http.MethodHead, http.MethodOptions}
	creds   *syscall.Credential
	dir     string
)

type member struct {
	name, scope, ip string
	tags            map[string]any
	params          map[string]string
	extra           string
	cmd             *exec.Cmd
}

func (m *member) data() string   { return filepath.Join(dir, m.name, "data") }
func (m *member) config() string { return filepath.Join(dir, m.name+".yml") }
func (m *member) api() string    { return "http://" + m.ip + ":8008" }

func main() {
	out := flag.String("out", "internal/instanceapi/testdata/patroni-3.0.2.json", "where the golden data goes")
	etcd := flag.String("etcd", filepath.Join(os.Getenv("HOME"), ".cache/pgo/k8s/v1.37.2/etcd"), "the etcd binary")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if err := run(*out, *etcd); err != nil {
		log.Fatal(err)
	}
}

func run(out, etcdBin string) error {
	var err error
	if dir, err = os.MkdirTemp("", "patroni-golden-"); err != nil {
		return err
	}
	log.Printf("state in %s", dir)
	if err := usePostgresUser(); err != nil {
		return err
	}
	etcd := exec.Command(etcdBin, "--data-dir", filepath.Join(dir, "etcd"), "--name", "golden",
		"--listen-client-urls", "http://"+etcdAddr+":2379", "--advertise-client-urls", "http://"+etcdAddr+":2379",
		"--listen-peer-urls", "http://"+etcdAddr+":2380", "--initial-advertise-peer-urls", "http://"+etcdAddr+":2380",
		"--initial-cluster", "golden=http://"+etcdAddr+":2380")
	if err := startLogged(etcd, "etcd", nil); err != nil {
		return err
	}
	var members []*member
	defer func() {
		for _, m := range members {
			if m.cmd != nil {
				_ = m.cmd.Process.Signal(syscall.SIGTERM)
				_, _ = m.cmd.Process.Wait()
			}
		}
		_ = etcd.Process.Kill()
		_, _ = etcd.Process.Wait()
	}()
	m0 := &member{name: "m0", scope: "golden", ip: "127.0.44.1", tags: map[string]any{"zone": "a"}}
	m1 := &member{name: "m1", scope: "golden", ip: "127.0.44.2", tags: map[string]any{"zone": "a"}}
	// m2 starts slowly, so that its starting state can be probed: each
	// start asks the archive first, and the archive sleeps.
	m2 := &member{name: "m2", scope: "golden", ip: "127.0.44.3", tags: map[string]any{"zone": "b"},
		extra: "  recovery_conf:\n    restore_command: 'sleep 8; false'\n"}
	members = append(members, m0, m1, m2)

	g := golden{Patroni: patroniVersion(), Methods: methods, States: map[string]state{}}
	if err := m0.start(); err != nil {
		return err
	}
	if err := waitCode(m0, "/leader", 200, 90*time.Second); err != nil {
		return err
	}
	for _, m := range []*member{m1, m2} {
		if err := m.start(); err != nil {
			return err
		}
	}
	for _, m := range []*member{m1, m2} {
		if err := waitCode(m, "/replica", 200, 120*time.Second); err != nil {
			return err
		}
	}
	if err := waitStreaming(m0, 2); err != nil {
		return err
	}

	// record sweeps until two sweeps in a row agree: Patroni's answers
	// follow its loop, which may change the member's state mid-sweep.
	record := func(name string, m *member, why string) error {
		s, err := sweep(m)
		if err != nil {
			return err
		}
		for try := 0; ; try++ {
			again, err := sweep(m)
			if err != nil {
				return err
			}
			if reflect.DeepEqual(again.Codes, s.Codes) {
				break
			}
			if try == 20 {
				return fmt.Errorf("%s: %s's answers did not settle", name, m.name)
			}
			s = again
			time.Sleep(500 * time.Millisecond)
		}
		s.Description = why
		g.States[name] = s
		log.Printf("recorded %s from %s: %s/%s", name, m.name, s.Patroni["role"], s.Patroni["state"])
		return nil
	}

	if err := record("leader", m0, "the leader lock holder, running as primary, asynchronous replication, tag zone=a"); err != nil {
		return err
	}
	if err := record("replica", m1, "a streaming replica of the leader, asynchronous replication, tag zone=a"); err != nil {
		return err
	}

	// A replica whose replay is delayed while the leader writes 8 MB
	// (Patroni resumes a paused replay on PostgreSQL 14 and later).
	m1.params = map[string]string{"recovery_min_apply_delay": "1h"}
	if err := m1.reload(); err != nil {
		return err
	}
	if err := waitFor("m1's replay delay", 30*time.Second, func() bool {
		out, err := query(m1, "SHOW recovery_min_apply_delay")
		return err == nil && out == "1h"
	}); err != nil {
		return err
	}
	// Replay waits before a commit record: this one holds back the
	// filler's WAL behind it.
	if err := sql(m0, "CREATE TABLE gate (x int)"); err != nil {
		return err
	}
	if err := sql(m0, "CREATE TABLE filler AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 60000) g"); err != nil {
		return err
	}
	if err := waitCode(m1, "/replica?lag=1MB", 503, 30*time.Second); err != nil {
		return err
	}
	if err := record("replica-lagging", m1, "a replica whose replay is delayed 8 MB behind the leader's last position in the DCS, tag zone=a"); err != nil {
		return err
	}
	m1.params = map[string]string{"recovery_min_apply_delay": "0"}
	if err := m1.reload(); err != nil {
		return err
	}
	if err := waitCode(m1, "/replica?lag=1MB", 200, 60*time.Second); err != nil {
		return err
	}

	// A replica tagged noloadbalance.
	m2.tags["noloadbalance"] = true
	if err := m2.reload(); err != nil {
		return err
	}
	if err := waitCode(m2, "/replica", 503, 30*time.Second); err != nil {
		return err
	}
	if err := record("replica-noloadbalance", m2, "a streaming replica tagged noloadbalance, tag zone=b"); err != nil {
		return err
	}
	delete(m2.tags, "noloadbalance")
	if err := m2.reload(); err != nil {
		return err
	}
	if err := waitCode(m2, "/replica", 200, 30*time.Second); err != nil {
		return err
	}

	// Synchronous mode: one synchronous standby, one asynchronous.
	if err := patronictl(m0, "edit-config", "--force", "-s", "synchronous_mode=true"); err != nil {
		return err
	}
	if err := waitFor("a synchronous standby", 60*time.Second, func() bool {
		return code(m1, http.MethodGet, "/sync") == 200 || code(m2, http.MethodGet, "/sync") == 200
	}); err != nil {
		return err
	}
	syncM, asyncM := m1, m2
	if code(m2, http.MethodGet, "/sync") == 200 {
		syncM, asyncM = m2, m1
	}
	if err := record("leader-synchronous-mode", m0, "the leader in synchronous mode, tag zone=a"); err != nil {
		return err
	}
	if err := record("sync-standby", syncM, "the synchronous standby, tag zone="+fmt.Sprint(syncM.tags["zone"])); err != nil {
		return err
	}
	if err := record("async-standby", asyncM, "a replica in synchronous mode that is not the synchronous standby, tag zone="+fmt.Sprint(asyncM.tags["zone"])); err != nil {
		return err
	}
	if err := patronictl(m0, "edit-config", "--force", "-s", "synchronous_mode=false"); err != nil {
		return err
	}
	if err := waitFor("no synchronous standby", 60*time.Second, func() bool {
		return code(m1, http.MethodGet, "/async") == 200 && code(m2, http.MethodGet, "/async") == 200
	}); err != nil {
		return err
	}

	// Maintenance mode.
	if err := patronictl(m0, "pause", "--wait"); err != nil {
		return err
	}
	if err := record("leader-paused", m0, "the leader in maintenance mode (paused), tag zone=a"); err != nil {
		return err
	}
	if err := record("replica-paused", m1, "a streaming replica in maintenance mode (paused), tag zone=a"); err != nil {
		return err
	}
	if err := pgctl(m2, "stop", "-m", "fast"); err != nil {
		return err
	}
	if err := waitStopped(m2); err != nil {
		return err
	}
	if err := record("replica-stopped", m2, "a replica whose PostgreSQL is stopped (paused, so that Patroni does not start it), tag zone=b"); err != nil {
		return err
	}
	if err := pgctl(m0, "stop", "-m", "fast"); err != nil {
		return err
	}
	if err := waitStopped(m0); err != nil {
		return err
	}
	// Paused, Patroni removes the lock of a leader whose PostgreSQL
	// stopped.
	if err := waitCode(m0, "/leader", 503, 30*time.Second); err != nil {
		return err
	}
	if err := waitFor("m1 to lose its stream", 30*time.Second, func() bool { return !streamingFrom(m1) }); err != nil {
		return err
	}
	if err := record("leader-stopped-paused", m0, "the leader whose PostgreSQL is stopped in maintenance mode (paused), which makes Patroni release the lock, tag zone=a"); err != nil {
		return err
	}
	if err := record("replica-not-streaming", m1, "a running replica whose leader's PostgreSQL is stopped, so that it does not stream (paused), tag zone=a"); err != nil {
		return err
	}
	for _, m := range []*member{m0, m2} {
		if err := pgctl(m, "start", "-w", "-t", "60", "-l", filepath.Join(dir, m.name, "postgres.log")); err != nil {
			return err
		}
	}
	if err := patronictl(m0, "resume", "--wait"); err != nil {
		return err
	}
	if err := waitStreaming(m0, 2); err != nil {
		return err
	}
	for _, m := range []*member{m0, m1, m2} {
		if err := waitCode(m, "/health", 200, 60*time.Second); err != nil {
			return err
		}
	}

	// The leader's PostgreSQL crashes: probed before Patroni's next loop
	// starts it again.
	crashed := false
	for try := 0; try < 5 && !crashed; try++ {
		if err := waitCode(m0, "/health", 200, 60*time.Second); err != nil {
			return err
		}
		time.Sleep(time.Duration(loopWait) * time.Second / 3)
		if err := kill9Postmaster(m0); err != nil {
			return err
		}
		if err := waitCode(m0, "/health", 503, 10*time.Second); err != nil {
			return err
		}
		s, err := sweep(m0)
		if err != nil {
			return err
		}
		if code(m0, http.MethodGet, "/health") == 503 && s.Codes["/health"][0] == 503 && s.Codes["/health"][2] == 503 {
			s.Description = "the leader lock holder whose PostgreSQL crashed, before Patroni's next loop starts it again, tag zone=a"
			g.States["leader-crashed"] = s
			log.Printf("recorded leader-crashed: %s/%s", s.Patroni["role"], s.Patroni["state"])
			crashed = true
		}
	}
	if !crashed {
		return errors.New("no leader-crashed state: Patroni restarted the crashed leader before a whole sweep")
	}
	if err := waitCode(m0, "/primary", 200, 60*time.Second); err != nil {
		return err
	}
	if err := waitCode(m2, "/replica", 200, 60*time.Second); err != nil {
		return err
	}

	// A replica starting: its restart waits for the sleeping archive.
	go func() {
		req, _ := http.NewRequest(http.MethodPost, m2.api()+"/restart", strings.NewReader("{}"))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if err := waitFor("m2 starting", 30*time.Second, func() bool {
		st := patroniState(m2)
		return st["state"] == "starting" || st["state"] == "restarting"
	}); err != nil {
		return err
	}
	time.Sleep(time.Second)
	if err := record("replica-starting", m2, "a replica restarting whose PostgreSQL does not accept connections yet, tag zone=b"); err != nil {
		return err
	}
	if err := waitCode(m2, "/replica", 200, 90*time.Second); err != nil {
		return err
	}

	// A standby cluster's leader, replicating from this cluster's primary.
	m3 := &member{name: "m3", scope: "golden-standby", ip: "127.0.44.4", tags: map[string]any{"zone": "a"},
		extra: ""}
	members = append(members, m3)
	if err := m3.start(); err != nil {
		return err
	}
	if err := waitCode(m3, "/standby-leader", 200, 120*time.Second); err != nil {
		return err
	}
	if err := waitFor("m3 streaming", 60*time.Second, func() bool { return streamingFrom(m3) }); err != nil {
		return err
	}
	if err := record("standby-leader", m3, "the leader of a standby cluster, streaming from the primary of another, tag zone=a"); err != nil {
		return err
	}

	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	log.Printf("writing %s (%d states)", out, len(g.States))
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// golden is the recorded data: by state, by path, the codes for GET, HEAD
// and OPTIONS.
type golden struct {
	Patroni string           `json:"patroni"`
	Methods []string         `json:"methods"`
	States  map[string]state `json:"states"`
}

type state struct {
	Description string `json:"description"`
	// Patroni is what GET /patroni said of the member after the sweep.
	Patroni map[string]any   `json:"patroni"`
	Codes   map[string][]int `json:"codes"`
}

// sweep probes every path with every method.
func sweep(m *member) (state, error) {
	s := state{Codes: map[string][]int{}}
	for _, p := range instanceapi.HealthProbes {
		var codes []int
		for _, method := range methods {
			c := code(m, method, p)
			if c == 0 {
				return s, fmt.Errorf("%s %s%s did not answer", method, m.api(), p)
			}
			codes = append(codes, c)
		}
		s.Codes[p] = codes
	}
	st := patroniState(m)
	s.Patroni = map[string]any{}
	for _, k := range []string{"state", "role", "sync_standby", "pause", "cluster_unlocked", "tags"} {
		if v, ok := st[k]; ok {
			s.Patroni[k] = v
		}
	}
	return s, nil
}

func code(m *member, method, path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, m.api()+path, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func patroniState(m *member) map[string]any {
	resp, err := http.Get(m.api() + "/patroni")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st
}

func waitCode(m *member, path string, want int, timeout time.Duration) error {
	return waitFor(fmt.Sprintf("GET %s%s to answer %d", m.name, path, want), timeout, func() bool {
		return code(m, http.MethodGet, path) == want
	})
}

// waitStopped waits until Patroni's loop knows that PostgreSQL stopped
// (until then its checks answer from a stale state).
func waitStopped(m *member) error {
	return waitFor(m.name+" stopped in Patroni's view", 30*time.Second, func() bool {
		return patroniState(m)["state"] == "stopped"
	})
}

func waitFor(what string, timeout time.Duration, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s (logs in %s)", timeout, what, dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// waitStreaming waits until the primary has n streaming replicas.
func waitStreaming(m *member, n int) error {
	return waitFor(fmt.Sprintf("%d replicas streaming from %s", n, m.name), 90*time.Second, func() bool {
		out, err := query(m, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
		return err == nil && out == strconv.Itoa(n)
	})
}

func streamingFrom(m *member) bool {
	out, err := query(m, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")
	return err == nil && out == "1"
}

func sql(m *member, stmt string) error {
	_, err := query(m, stmt)
	return err
}

func query(m *member, stmt string) (string, error) {
	cmd := exec.Command("/usr/bin/psql", "-h", m.ip, "-U", "postgres", "-d", "postgres", "-XAtc", stmt)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql on %s: %s: %w", m.name, out, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func pgctl(m *member, args ...string) error {
	cmd := exec.Command(filepath.Join(pgBin, "pg_ctl"), append([]string{"-D", m.data()}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: creds}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v on %s: %s: %w", args, m.name, out, err)
	}
	return nil
}

func kill9Postmaster(m *member) error {
	b, err := os.ReadFile(filepath.Join(m.data(), "postmaster.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

func patronictl(m *member, args ...string) error {
	cmd := exec.Command("/usr/bin/patronictl", append([]string{"-c", m.config()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("patronictl %v: %s: %w", args, out, err)
	}
	return nil
}

func patroniVersion() string {
	out, err := exec.Command("/usr/bin/patroni", "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "patroni"))
}

func (m *member) writeConfig() error {
	var tags strings.Builder
	keys := make([]string, 0, len(m.tags))
	for k := range m.tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&tags, "  %s: %v\n", k, m.tags[k])
	}
	var params strings.Builder
	for k, v := range m.params {
		fmt.Fprintf(&params, "    %s: %s\n", k, v)
	}
	standby := ""
	if m.scope != "golden" {
		standby = "    standby_cluster:\n      host: 127.0.44.1\n      port: 5432\n      create_replica_methods: [basebackup]\n"
	}
	home := filepath.Join(dir, m.name)
	cfg := fmt.Sprintf(`scope: %[1]s
name: %[2]s
log:
  level: INFO
  dir: %[4]s
restapi:
  listen: %[3]s:8008
  connect_address: %[3]s:8008
etcd3:
  hosts: %[5]s:2379
bootstrap:
  dcs:
    ttl: 20
    loop_wait: %[7]d
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
%[8]s    postgresql:
      use_pg_rewind: false
      parameters:
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
  initdb: [{encoding: UTF8}, data-checksums]
  pg_hba:
  - local all all trust
  - host replication replicator 127.0.0.0/8 trust
  - host all all 127.0.0.0/8 trust
postgresql:
  listen: %[3]s:5432
  connect_address: %[3]s:5432
  data_dir: %[4]s/data
  bin_dir: %[6]s
  pgpass: %[4]s/pgpass
  authentication:
    replication: {username: replicator, password: rep}
    superuser: {username: postgres, password: postgres}
  parameters:
    unix_socket_directories: %[4]s
%[11]s  pg_hba:
  - local all all trust
  - host replication replicator 127.0.0.0/8 trust
  - host all all 127.0.0.0/8 trust
%[9]stags:
%[10]s`, m.scope, m.name, m.ip, home, etcdAddr, pgBin, loopWait, standby, m.extra, tags.String(), params.String())
	return os.WriteFile(m.config(), []byte(cfg), 0o644)
}

func (m *member) start() error {
	home := filepath.Join(dir, m.name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	if err := os.Chown(home, int(creds.Uid), int(creds.Gid)); err != nil {
		return err
	}
	if err := m.writeConfig(); err != nil {
		return err
	}
	m.cmd = exec.Command("/usr/bin/patroni", m.config())
	m.cmd.Env = append(os.Environ(), "HOME="+home)
	return startLogged(m.cmd, m.name, creds)
}

func (m *member) reload() error {
	if err := m.writeConfig(); err != nil {
		return err
	}
	return m.cmd.Process.Signal(syscall.SIGHUP)
}

func startLogged(cmd *exec.Cmd, name string, c *syscall.Credential) error {
	f, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c, Setpgid: true, Pdeathsig: syscall.SIGTERM}
	return cmd.Start()
}

func usePostgresUser() error {
	out, err := exec.Command("id", "-u", "postgres").Output()
	if err != nil {
		return fmt.Errorf("the postgres user (Debian's postgresql package creates it): %w", err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", "postgres").Output()
	if err != nil {
		return err
	}
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	creds = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return os.Chmod(dir, 0o755)
}
