package testenv

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

	"github.com/go-logr/logr/funcr"
	"github.com/jackc/pgx/v5"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/pki"
)

// A World is what an integration test of pgBackRest runs: a real
// PostgreSQL 15, real pgBackRest 2.45 processes (a "database pod" and a
// "repository host", each with its own configuration and its own TLS
// server on a loopback port) and, for S3 repositories, the real S3 server;
// PostgreSQL and pgBackRest as the postgres user when the tests run as
// root, as PostgreSQL refuses root.

// PGBinDir holds PostgreSQL 15's programs (Debian's packages).
const PGBinDir = "/usr/lib/postgresql/15/bin"

// World is the files and processes of one test, under one directory.
type World struct {
	T   testing.TB
	Dir string
	// Creds run processes as the postgres user when the test runs as root;
	// nil otherwise.
	Creds    *syscall.Credential
	UID, GID int
}

// NewWorld makes a test's directory. It is removed when the test passes,
// kept (and named in the log) when it fails.
func NewWorld(t testing.TB) *World {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs PostgreSQL and pgBackRest; run without -short")
	}
	for _, bin := range []string{filepath.Join(PGBinDir, "postgres"), "/usr/bin/pgbackrest"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s is needed (`make deps` installs it): %v", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "pgo-pgbackrest-")
	if err != nil {
		t.Fatal(err)
	}
	w := &World{T: t, Dir: dir, UID: os.Getuid(), GID: os.Getgid()}
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
		w.UID, _ = strconv.Atoi(u.Uid)
		w.GID, _ = strconv.Atoi(u.Gid)
		w.Creds = &syscall.Credential{Uid: uint32(w.UID), Gid: uint32(w.GID)}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.Chown(dir)
	return w
}

// Chown gives a path to the postgres user.
func (w *World) Chown(path string) {
	if w.Creds != nil {
		if err := os.Chown(path, w.UID, w.GID); err != nil {
			w.T.Fatal(err)
		}
	}
}

// Path is a path in the test's directory.
func (w *World) Path(parts ...string) string {
	return filepath.Join(append([]string{w.Dir}, parts...)...)
}

// Mkdir makes a directory the postgres user owns and alone reads.
func (w *World) Mkdir(parts ...string) string {
	p := w.Path(parts...)
	w.mkdirAll(p)
	if err := os.Chmod(p, 0o700); err != nil {
		w.T.Fatal(err)
	}
	return p
}

// mkdirAll makes a directory and its parents under the test's directory,
// owned by the postgres user.
func (w *World) mkdirAll(p string) {
	if p == w.Dir || len(p) < len(w.Dir) {
		return
	}
	if _, err := os.Stat(p); err == nil {
		return
	}
	w.mkdirAll(filepath.Dir(p))
	if err := os.Mkdir(p, 0o755); err != nil {
		w.T.Fatal(err)
	}
	w.Chown(p)
}

// Write writes a file (a path in the test's directory) the postgres user
// owns and alone reads, and returns its path.
func (w *World) Write(name string, content []byte) string {
	p := w.Path(name)
	w.mkdirAll(filepath.Dir(p))
	if err := os.WriteFile(p, content, 0o600); err != nil {
		w.T.Fatal(err)
	}
	w.Chown(p)
	return p
}

// Command is a command run as the postgres user.
func (w *World) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: w.Creds, Setpgid: true}
	cmd.Env = append(os.Environ(), "HOME="+w.Dir)
	return cmd
}

// Exec runs pgbackrest as the postgres user, its output in the test's log.
func (w *World) Exec(env ...string) *pgbackrest.Exec {
	return &pgbackrest.Exec{Env: append([]string{"HOME=" + w.Dir}, env...), Credential: w.Creds, Lines: pgbackrest.NewLines(testWriter{w.T})}
}

// Run runs a command and fails the test if it fails.
func (w *World) Run(cmd *exec.Cmd) string {
	w.T.Helper()
	out, err := w.Try(cmd)
	if err != nil {
		w.T.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return out
}

// Try runs a command and returns its output.
func (w *World) Try(cmd *exec.Cmd) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// FreePort is a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ReadFile is a file's content; the test fails if it cannot be read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Identity is a cluster's CA and the pgBackRest certificate issued from it.
type Identity struct {
	CA   pki.Pair
	TLS  pgbackrest.TLS
	Name string
}

// NewIdentity writes a cluster CA and a pgBackRest certificate with the
// common name cn, valid for localhost, under dir.
func (w *World) NewIdentity(dir, cn string) Identity {
	w.T.Helper()
	ca, err := pki.NewCA("pgo cluster CA "+dir, time.Now())
	if err != nil {
		w.T.Fatal(err)
	}
	return w.Issue(dir, ca, cn)
}

// Issue writes a certificate from ca with the common name cn, valid for
// localhost, under dir (ca.crt, tls.crt, tls.key), over what is there.
func (w *World) Issue(dir string, ca pki.Pair, cn string) Identity {
	w.T.Helper()
	leaf, err := pki.Issue(ca, pki.Leaf{CommonName: cn, Names: []string{"localhost"}, Server: true}, time.Now())
	if err != nil {
		w.T.Fatal(err)
	}
	return Identity{CA: ca, Name: cn, TLS: pgbackrest.TLS{
		CAFile:   w.Write(filepath.Join(dir, "ca.crt"), ca.Cert),
		CertFile: w.Write(filepath.Join(dir, "tls.crt"), leaf.Cert),
		KeyFile:  w.Write(filepath.Join(dir, "tls.key"), leaf.Key),
	}}
}

// Postgres is a PostgreSQL server whose WAL pgBackRest archives.
type Postgres struct {
	w      *World
	Data   string
	Socket string
	Port   int
	// Conf is the database pod's pgBackRest configuration.
	Conf    string
	LogFile string
}

// NewPostgres describes a server of the data directory data, with its
// socket and log under name, archiving with the configuration conf.
func (w *World) NewPostgres(name, data, conf string) *Postgres {
	return &Postgres{w: w, Data: data, Socket: w.Mkdir(name, "run"), Port: FreePort(w.T), Conf: conf, LogFile: w.Path(name, "postgres.log")}
}

// Initdb makes a data directory, name/data, with archiving through
// pgBackRest.
func (w *World) Initdb(name, conf string) *Postgres {
	w.T.Helper()
	p := w.NewPostgres(name, w.Path(name, "data"), conf)
	w.Run(w.Command(filepath.Join(PGBinDir, "initdb"), "--pgdata", p.Data, "--username", "postgres", "--auth-local", "trust",
		"--auth-host", "reject", "--encoding", "UTF8", "--locale", "C.UTF-8", "--data-checksums"))
	p.Configure()
	return p
}

// Configure writes the settings pgo gives PostgreSQL for archiving.
func (p *Postgres) Configure() {
	conf := fmt.Sprintf(`listen_addresses = ''
port = %d
unix_socket_directories = '%s'
archive_mode = 'on'
archive_command = 'pgbackrest --config=%s --stanza=db archive-push "%%p"'
restore_command = 'pgbackrest --config=%s --stanza=db archive-get %%f "%%p"'
archive_timeout = 60
wal_level = replica
`, p.Port, p.Socket, p.Conf, p.Conf)
	p.w.Write(filepath.Join(strings.TrimPrefix(p.Data, p.w.Dir), "postgresql.auto.conf"), []byte(conf))
}

// Start starts the server; it stops when the test ends.
func (p *Postgres) Start() {
	p.w.T.Helper()
	p.w.Run(p.w.Command(filepath.Join(PGBinDir, "pg_ctl"), "start", "--pgdata", p.Data, "--wait", "--log", p.LogFile))
	p.w.T.Cleanup(p.Stop)
}

// Stop stops the server at once.
func (p *Postgres) Stop() {
	_, _ = p.w.Try(p.w.Command(filepath.Join(PGBinDir, "pg_ctl"), "stop", "--pgdata", p.Data, "--mode", "immediate", "--wait"))
}

// Query runs SQL and returns the first column of the first row as text.
func (p *Postgres) Query(sql string, args ...any) string {
	p.w.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		p.w.T.Fatal(err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database = p.Socket, uint16(p.Port), "postgres", "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		p.w.T.Fatalf("connecting to %s: %v", p.Data, err)
	}
	defer conn.Close(ctx)
	var out *string
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		p.w.T.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	if rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			p.w.T.Fatalf("%s: %v", sql, err)
		}
		s := fmt.Sprint(v)
		out = &s
	}
	if err := rows.Err(); err != nil {
		p.w.T.Fatalf("%s: %v", sql, err)
	}
	if out == nil {
		return ""
	}
	return *out
}

// WaitRecovered waits until a restored server has finished recovery.
func (p *Postgres) WaitRecovered() {
	p.w.T.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.Query("SELECT pg_is_in_recovery()") != "false" {
		if time.Now().After(deadline) {
			p.w.T.Fatalf("%s is still in recovery:\n%s", p.Data, ReadFile(p.w.T, p.LogFile))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Server runs `pgbackrest server` with a configuration (pgo's supervisor,
// pgbackrest.Server) on a port of 127.0.0.1 until the test ends. Its
// output goes to conf + ".server.log".
func (w *World) Server(conf string, port int) *pgbackrest.Server {
	w.T.Helper()
	log, err := os.Create(conf + ".server.log")
	if err != nil {
		w.T.Fatal(err)
	}
	lines := pgbackrest.NewLines(log)
	exec := w.Exec(fmt.Sprintf("PGBACKREST_TLS_SERVER_PORT=%d", port))
	exec.Lines = lines
	s := &pgbackrest.Server{Exec: exec, Address: "127.0.0.1", Config: conf, Poll: 200 * time.Millisecond,
		Log: funcr.New(func(prefix, args string) { lines.Line("supervisor: ", prefix+" "+args) }, funcr.Options{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	w.T.Cleanup(func() {
		cancel()
		<-done
		_ = log.Close()
	})
	if err := WaitListening(fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second); err != nil {
		out, _ := os.ReadFile(conf + ".server.log")
		w.T.Fatalf("pgbackrest server: %v\n%s", err, out)
	}
	return s
}

// WaitListening waits until a TCP address accepts connections.
func WaitListening(address string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", address, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", address, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Backrest runs pgbackrest for the stanza with a configuration, as the
// postgres user, and fails the test if it fails.
func (w *World) Backrest(conf string, env []string, args ...string) string {
	w.T.Helper()
	cmd := w.Command("pgbackrest", append([]string{"--config=" + conf, "--stanza=" + pgbackrest.Stanza}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	return w.Run(cmd)
}

// TryBackrest runs pgbackrest and returns its output and error.
func (w *World) TryBackrest(conf string, args ...string) (string, error) {
	cmd := w.Command("pgbackrest", append([]string{"--config=" + conf, "--stanza=" + pgbackrest.Stanza}, args...)...)
	return w.Try(cmd)
}

// Info reads the stanza from pgbackrest info.
func (w *World) Info(conf string, args ...string) pgbackrest.StanzaInfo {
	w.T.Helper()
	out := w.Backrest(conf, nil, append([]string{"info", "--output=json", "--log-level-console=warn"}, args...)...)
	return FindStanza(w.T, []byte(out))
}

// FindStanza reads pgbackrest info --output=json and returns the stanza.
func FindStanza(t testing.TB, info []byte) pgbackrest.StanzaInfo {
	t.Helper()
	stanzas, err := pgbackrest.ParseInfo(info)
	if err != nil {
		t.Fatalf("%v\n%s", err, info)
	}
	s, ok := pgbackrest.Find(stanzas, pgbackrest.Stanza)
	if !ok {
		t.Fatalf("no stanza %s in %s", pgbackrest.Stanza, info)
	}
	return s
}

// S3Repo starts the S3 server and describes an S3 repository in bucket
// (which it does not create); the server's CA is copied where the postgres
// user can read it.
func (w *World) S3Repo(index int, bucket string) (pgbackrest.Repo, [2]string, *S3) {
	w.T.Helper()
	s3 := StartS3(w.T)
	ca, err := os.ReadFile(s3.CAFile)
	if err != nil {
		w.T.Fatal(err)
	}
	caFile := w.Write("s3-ca.crt", ca)
	return pgbackrest.Repo{Index: index, Path: "/pgbackrest/test/hippo/repo" + strconv.Itoa(index), S3: &pgbackrest.S3{
		Bucket: bucket, Endpoint: s3.Host, Port: s3.Port, Region: "us-east-1", URIStyle: "path", VerifyTLS: true, CAFile: caFile,
	}}, [2]string{s3.Key, s3.Secret}, s3
}

// testWriter writes to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
