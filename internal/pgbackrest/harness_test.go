package pgbackrest_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "pgo.dev/pgo/internal/pgbackrest"

	"github.com/jackc/pgx/v5"

	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/testenv"
)

// The integration tests run a real PostgreSQL 15, real pgBackRest 2.45
// processes (a "database pod" and a "repository host", each with its own
// configuration and its own TLS server on a loopback port) and the real S3
// server, all as the postgres user when the tests run as root.

const pgBin = "/usr/lib/postgresql/15/bin"

// world is the files and processes of one test.
type world struct {
	t     *testing.T
	dir   string
	creds *syscall.Credential
	uid   int
	gid   int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	for _, bin := range []string{filepath.Join(pgBin, "postgres"), "/usr/bin/pgbackrest"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s is needed (`make deps` installs it): %v", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "pgo-pgbackrest-")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: dir, uid: os.Getuid(), gid: os.Getgid()}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("files kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		w.uid, _ = strconv.Atoi(u.Uid)
		w.gid, _ = strconv.Atoi(u.Gid)
		w.creds = &syscall.Credential{Uid: uint32(w.uid), Gid: uint32(w.gid)}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.chown(dir)
	return w
}

func (w *world) chown(path string) {
	if w.creds != nil {
		if err := os.Chown(path, w.uid, w.gid); err != nil {
			w.t.Fatal(err)
		}
	}
}

// path is a path in the test's directory.
func (w *world) path(parts ...string) string {
	return filepath.Join(append([]string{w.dir}, parts...)...)
}

// mkdir makes a directory the postgres user owns.
func (w *world) mkdir(parts ...string) string {
	p := w.path(parts...)
	w.mkdirAll(p)
	if err := os.Chmod(p, 0o700); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// mkdirAll makes a directory and its parents under the test's directory,
// owned by the postgres user.
func (w *world) mkdirAll(p string) {
	if p == w.dir || len(p) < len(w.dir) {
		return
	}
	if _, err := os.Stat(p); err == nil {
		return
	}
	w.mkdirAll(filepath.Dir(p))
	if err := os.Mkdir(p, 0o755); err != nil {
		w.t.Fatal(err)
	}
	w.chown(p)
}

// write writes a file the postgres user owns and alone reads.
func (w *world) write(name string, content []byte) string {
	p := w.path(name)
	w.mkdirAll(filepath.Dir(p))
	if err := os.WriteFile(p, content, 0o600); err != nil {
		w.t.Fatal(err)
	}
	w.chown(p)
	return p
}

// command is a command run as the postgres user.
func (w *world) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: w.creds, Setpgid: true}
	cmd.Env = append(os.Environ(), "HOME="+w.dir)
	return cmd
}

// run runs a command and fails the test if it fails.
func (w *world) run(cmd *exec.Cmd) string {
	w.t.Helper()
	out, err := w.try(cmd)
	if err != nil {
		w.t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return out
}

// try runs a command and returns its output.
func (w *world) try(cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// freePort is a free TCP port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// identity is a cluster's CA and the pgBackRest certificate issued from it.
type identity struct {
	ca   pki.Pair
	tls  TLS
	name string
}

// newIdentity writes a cluster CA and a pgBackRest certificate with the
// common name cn, valid for localhost, under dir.
func (w *world) newIdentity(dir, cn string) identity {
	w.t.Helper()
	now := time.Now()
	ca, err := pki.NewCA("pgo cluster CA "+dir, now)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.issue(dir, ca, cn)
}

// issue writes a certificate from ca with the common name cn.
func (w *world) issue(dir string, ca pki.Pair, cn string) identity {
	w.t.Helper()
	leaf, err := pki.Issue(ca, pki.Leaf{CommonName: cn, Names: []string{"localhost"}, Server: true}, time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	return identity{ca: ca, name: cn, tls: TLS{
		CAFile:   w.write(filepath.Join(dir, "ca.crt"), ca.Cert),
		CertFile: w.write(filepath.Join(dir, "tls.crt"), leaf.Cert),
		KeyFile:  w.write(filepath.Join(dir, "tls.key"), leaf.Key),
	}}
}

// postgres is a PostgreSQL server whose WAL pgBackRest archives.
type postgres struct {
	w       *world
	data    string
	socket  string
	port    int
	conf    string // the database pod's pgBackRest configuration
	logFile string
}

// initdb makes a data directory with archiving through pgBackRest.
func (w *world) initdb(name, conf string) *postgres {
	w.t.Helper()
	p := &postgres{w: w, data: w.path(name, "data"), socket: w.mkdir(name, "run"), port: freePort(w.t), conf: conf,
		logFile: w.path(name, "postgres.log")}
	w.run(w.command(filepath.Join(pgBin, "initdb"), "--pgdata", p.data, "--username", "postgres", "--auth-local", "trust",
		"--auth-host", "reject", "--encoding", "UTF8", "--locale", "C.UTF-8", "--data-checksums"))
	p.configure()
	return p
}

// configure writes the settings pgo gives PostgreSQL for archiving.
func (p *postgres) configure() {
	conf := fmt.Sprintf(`listen_addresses = ''
port = %d
unix_socket_directories = '%s'
archive_mode = 'on'
archive_command = 'pgbackrest --config=%s --stanza=db archive-push "%%p"'
restore_command = 'pgbackrest --config=%s --stanza=db archive-get %%f "%%p"'
archive_timeout = 60
wal_level = replica
`, p.port, p.socket, p.conf, p.conf)
	p.w.write(filepath.Join(strings.TrimPrefix(p.data, p.w.dir), "postgresql.auto.conf"), []byte(conf))
}

func (p *postgres) start() {
	p.w.t.Helper()
	p.w.run(p.w.command(filepath.Join(pgBin, "pg_ctl"), "start", "--pgdata", p.data, "--wait", "--log", p.logFile))
	p.w.t.Cleanup(p.stop)
}

func (p *postgres) stop() {
	_, _ = p.w.try(p.w.command(filepath.Join(pgBin, "pg_ctl"), "stop", "--pgdata", p.data, "--mode", "immediate", "--wait"))
}

// exec runs SQL and returns the first column of the first row as text.
func (p *postgres) query(sql string, args ...any) string {
	p.w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		p.w.t.Fatal(err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database = p.socket, uint16(p.port), "postgres", "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		p.w.t.Fatalf("connecting to %s: %v", p.data, err)
	}
	defer conn.Close(ctx)
	var out *string
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		p.w.t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	if rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			p.w.t.Fatalf("%s: %v", sql, err)
		}
		s := fmt.Sprint(v)
		out = &s
	}
	if err := rows.Err(); err != nil {
		p.w.t.Fatalf("%s: %v", sql, err)
	}
	if out == nil {
		return ""
	}
	return *out
}

// server runs `pgbackrest server` with a configuration, on a port of
// 127.0.0.1, until the test ends.
func (w *world) server(conf string, port int) {
	w.t.Helper()
	cmd := w.command("pgbackrest", "--config="+conf, "--tls-server-address=127.0.0.1", fmt.Sprintf("--tls-server-port=%d", port), "server")
	log, err := os.Create(conf + ".server.log")
	if err != nil {
		w.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		_ = log.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(conf + ".server.log")
			w.t.Fatalf("pgbackrest server on port %d did not listen: %v\n%s", port, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// backrest runs pgbackrest with a configuration, as the postgres user.
func (w *world) backrest(conf string, env []string, args ...string) string {
	w.t.Helper()
	cmd := w.command("pgbackrest", append([]string{"--config=" + conf, "--stanza=" + Stanza}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	return w.run(cmd)
}

// tryBackrest runs pgbackrest and returns its output and error.
func (w *world) tryBackrest(conf string, args ...string) (string, error) {
	cmd := w.command("pgbackrest", append([]string{"--config=" + conf, "--stanza=" + Stanza}, args...)...)
	return w.try(cmd)
}

// info reads the stanza from pgbackrest info.
func (w *world) info(conf string, args ...string) StanzaInfo {
	w.t.Helper()
	out := w.backrest(conf, nil, append([]string{"info", "--output=json", "--log-level-console=warn"}, args...)...)
	stanzas, err := ParseInfo([]byte(out))
	if err != nil {
		w.t.Fatalf("%v\n%s", err, out)
	}
	s, ok := Find(stanzas, Stanza)
	if !ok {
		w.t.Fatalf("no stanza %s in %s", Stanza, out)
	}
	return s
}

// s3Repo starts the S3 server with a bucket and describes it as a
// repository; its CA is copied where the postgres user can read it.
func (w *world) s3Repo(index int, bucket string) (Repo, [2]string, *testenv.S3) {
	w.t.Helper()
	s3 := testenv.StartS3(w.t)
	ca, err := os.ReadFile(s3.CAFile)
	if err != nil {
		w.t.Fatal(err)
	}
	caFile := w.write("s3-ca.crt", ca)
	return Repo{Index: index, Path: "/pgbackrest/test/hippo/repo" + strconv.Itoa(index), S3: &S3{
		Bucket: bucket, Endpoint: s3.Host, Port: s3.Port, Region: "us-east-1", URIStyle: "path", VerifyTLS: true, CAFile: caFile,
	}}, [2]string{s3.Key, s3.Secret}, s3
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// types are the types of backups, in order.
func types(backups []BackupInfo) []string {
	out := make([]string, len(backups))
	for i, b := range backups {
		out[i] = b.Type
	}
	return out
}

// waitArchived waits until a repository's archive reaches a segment.
func waitArchived(t *testing.T, c *cluster, repo int, segment string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		a, ok := c.info().ArchiveIn(repo)
		if ok && a.Max >= segment {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("repo%d did not archive %s (archive %+v); PostgreSQL's log:\n%s", repo, segment, a, readFile(t, c.pg.logFile))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitRecovered waits until a restored server has finished recovery.
func waitRecovered(t *testing.T, p *postgres) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.query("SELECT pg_is_in_recovery()") != "false" {
		if time.Now().After(deadline) {
			t.Fatalf("%s is still in recovery:\n%s", p.data, readFile(t, p.logFile))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// segments lists the WAL segment names from first to last, inclusive, on
// first's timeline (16 MiB segments: 256 per log file).
func segments(t *testing.T, first, last string) []string {
	t.Helper()
	if len(first) != 24 || len(last) != 24 {
		t.Fatalf("segment names %q, %q", first, last)
	}
	var tl, log, seg, logEnd, segEnd uint64
	if _, err := fmt.Sscanf(first, "%08X%08X%08X", &tl, &log, &seg); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(last[8:], "%08X%08X", &logEnd, &segEnd); err != nil {
		t.Fatal(err)
	}
	var out []string
	for log*256+seg <= logEnd*256+segEnd {
		out = append(out, fmt.Sprintf("%08X%08X%08X", tl, log, seg))
		if seg++; seg == 256 {
			log, seg = log+1, 0
		}
	}
	return out
}
