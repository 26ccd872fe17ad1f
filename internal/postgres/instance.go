package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Instance is one PostgreSQL server: its data directory, its process (a child
// of the instance manager) and a connection to it over its Unix socket.
type Instance struct {
	// BinDir holds postgres, initdb, pg_ctl, pg_basebackup, pg_rewind and
	// pg_controldata.
	BinDir  string
	DataDir string
	// WALDir holds pg_wal when set (a volume of its own).
	WALDir string
	// SocketDir is the Unix socket directory; keep its path short.
	SocketDir string
	Port      int
	// Passfile is a libpq password file with the superuser's and the
	// replication user's passwords.
	Passfile          string
	SuperuserPassword string
	// Output receives PostgreSQL's log and the tools' output.
	Output io.Writer

	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	startedAt time.Time
	stopping  bool
	crashed   bool
	pool      *pgxpool.Pool
}

// ProcessState is the state of the PostgreSQL process.
type ProcessState struct {
	// Alive is true while the postmaster runs.
	Alive     bool
	StartedAt time.Time
	// Crashed is true when it exited without being asked to.
	Crashed bool
}

func (i *Instance) bin(name string) string { return filepath.Join(i.BinDir, name) }

// HasData reports whether the data directory holds a cluster.
func (i *Instance) HasData() bool {
	_, err := os.Stat(filepath.Join(i.DataDir, "PG_VERSION"))
	return err == nil
}

// IsStandby reports whether the data directory is set up as a standby.
func (i *Instance) IsStandby() bool {
	_, err := os.Stat(filepath.Join(i.DataDir, "standby.signal"))
	return err == nil
}

// WipeData removes the data directory's contents (the directory itself may
// be a mount point).
func (i *Instance) WipeData() error {
	entries, err := os.ReadDir(i.DataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the data directory: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(i.DataDir, e.Name())); err != nil {
			return fmt.Errorf("wiping the data directory: %w", err)
		}
	}
	return nil
}

// WriteConfig writes postgresql.conf and pg_hba.conf, and standby.signal for
// a standby.
func (i *Instance) WriteConfig(s Settings, hba string) error {
	files := map[string]string{
		"postgresql.conf": PostgresqlConf(s),
		"pg_hba.conf":     hba,
	}
	for name, content := range files {
		if err := writeFileAtomic(filepath.Join(i.DataDir, name), []byte(content), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	signal := filepath.Join(i.DataDir, "standby.signal")
	if s.Standby {
		if err := os.WriteFile(signal, nil, 0o600); err != nil {
			return fmt.Errorf("writing standby.signal: %w", err)
		}
	} else if err := os.Remove(signal); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing standby.signal: %w", err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// run runs one of PostgreSQL's tools, its output going to Output.
func (i *Instance) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, i.bin(name), args...)
	var out bytes.Buffer
	w := io.MultiWriter(&out, i.output())
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), "PGPASSFILE="+i.Passfile, "PGCONNECT_TIMEOUT=5")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, lastLines(out.String(), 5))
	}
	return nil
}

func (i *Instance) output() io.Writer {
	if i.Output == nil {
		return io.Discard
	}
	return i.Output
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Initdb creates a new cluster with data checksums and SCRAM authentication.
func (i *Instance) Initdb(ctx context.Context) error {
	pwfile := filepath.Join(i.SocketDir, "initdb.pw")
	if err := os.WriteFile(pwfile, []byte(i.SuperuserPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the superuser password for initdb: %w", err)
	}
	defer os.Remove(pwfile)
	if err := i.WipeData(); err != nil {
		return err
	}
	args := []string{"--pgdata", i.DataDir, "--data-checksums", "--auth", "scram-sha-256",
		"--username", SuperUser, "--pwfile", pwfile, "--encoding", "UTF8", "--locale", "C.UTF-8"}
	if i.WALDir != "" {
		if err := os.RemoveAll(i.WALDir); err != nil {
			return fmt.Errorf("emptying the WAL directory: %w", err)
		}
		args = append(args, "--waldir", i.WALDir)
	}
	return i.run(ctx, "initdb", args...)
}

// BaseBackup replaces the data directory with a copy of the server at
// connInfo (as the replication user). The copy goes to a directory beside
// the data directory first, so that a failed copy leaves the data alone.
func (i *Instance) BaseBackup(ctx context.Context, connInfo string) error {
	return i.baseBackup(ctx, connInfo, "")
}

// keptPrefix names the copy of a data directory kept aside: at most one
// exists, <pgdata>.failed-<time>.
const keptPrefix = ".failed-"

// BaseBackupKeeping is BaseBackup that keeps the current data directory
// aside, as <pgdata>.failed-<time> (replacing an earlier kept copy), rather
// than deleting it: what a failed pg_rewind leaves is the only copy of the
// commits the former primary did not send. It refuses, with ErrNoSpace,
// when the volume cannot hold both the kept copy and a new one. It returns
// the kept copy's path.
func (i *Instance) BaseBackupKeeping(ctx context.Context, connInfo string, now time.Time) (string, error) {
	if err := i.DropKept(); err != nil {
		return "", err
	}
	need, err := dirSize(i.DataDir)
	if err != nil {
		return "", fmt.Errorf("measuring the data directory: %w", err)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(i.DataDir), &fs); err != nil {
		return "", fmt.Errorf("reading the free space of the data volume: %w", err)
	}
	// The new copy is about as large as the old one; leave a tenth free.
	if free := fs.Bavail * uint64(fs.Bsize); free < need+need/10 {
		return "", fmt.Errorf("%w: keeping the old data directory (%d MiB) needs as much free space again for the new copy, and %d MiB are free",
			ErrNoSpace, need>>20, free>>20)
	}
	kept := i.DataDir + keptPrefix + now.UTC().Format("20060102T150405Z")
	return kept, i.baseBackup(ctx, connInfo, kept)
}

// ErrNoSpace means the data volume cannot hold what was asked.
var ErrNoSpace = errors.New("not enough free space on the data volume")

// Kept is the data directory kept aside after a failed rewind, if any.
func (i *Instance) Kept() string {
	matches, _ := filepath.Glob(i.DataDir + keptPrefix + "*")
	if len(matches) == 0 {
		return ""
	}
	return matches[len(matches)-1]
}

// DropKept removes the kept data directory, if any.
func (i *Instance) DropKept() error {
	matches, _ := filepath.Glob(i.DataDir + keptPrefix + "*")
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil {
			return fmt.Errorf("removing the kept data directory %s: %w", m, err)
		}
	}
	return nil
}

func dirSize(dir string) (uint64, error) {
	var total uint64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			total += uint64(info.Size())
		}
		return nil
	})
	return total, err
}

func (i *Instance) baseBackup(ctx context.Context, connInfo, keepAs string) error {
	clone, cloneWAL := i.DataDir+".clone", ""
	dirs := []string{clone}
	if i.WALDir != "" {
		cloneWAL = i.WALDir + ".clone"
		dirs = append(dirs, cloneWAL)
	}
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing an earlier copy: %w", err)
		}
	}
	args := []string{"--pgdata", clone, "--wal-method", "stream", "--checkpoint", "fast", "--no-password", "--dbname", connInfo}
	if i.WALDir != "" {
		args = append(args, "--waldir", cloneWAL)
	}
	if err := i.run(ctx, "pg_basebackup", args...); err != nil {
		for _, dir := range dirs {
			_ = os.RemoveAll(dir)
		}
		return err
	}
	if i.WALDir != "" {
		if err := i.replaceWAL(clone, cloneWAL); err != nil {
			return err
		}
	}
	return i.replaceData(clone, keepAs)
}

// replaceWAL puts a copy's WAL directory in place and points the copy's
// pg_wal at it.
func (i *Instance) replaceWAL(clone, cloneWAL string) error {
	if err := os.RemoveAll(i.WALDir); err != nil {
		return fmt.Errorf("removing the old WAL directory: %w", err)
	}
	if err := os.Rename(cloneWAL, i.WALDir); err != nil {
		return fmt.Errorf("moving the copied WAL into place: %w", err)
	}
	link := filepath.Join(clone, "pg_wal")
	if err := os.Remove(link); err != nil {
		return err
	}
	return os.Symlink(i.WALDir, link)
}

// replaceData puts the data directory at from in place of the current one,
// which it moves to keepAs (removes when empty).
func (i *Instance) replaceData(from, keepAs string) error {
	old := i.DataDir + ".old"
	if keepAs != "" {
		old = keepAs
	}
	_ = os.RemoveAll(old)
	if err := os.Rename(i.DataDir, old); err == nil {
		if err := os.Rename(from, i.DataDir); err != nil {
			return fmt.Errorf("moving the copy into place: %w", err)
		}
		if keepAs != "" {
			return nil
		}
		return os.RemoveAll(old)
	}
	// The data directory is a mount point: move the contents instead.
	if keepAs != "" {
		if err := moveContents(i.DataDir, keepAs); err != nil {
			return fmt.Errorf("keeping the old data directory: %w", err)
		}
	} else if err := i.WipeData(); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return fmt.Errorf("reading the copy: %w", err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(from, e.Name()), filepath.Join(i.DataDir, e.Name())); err != nil {
			return fmt.Errorf("moving the copy into place: %w", err)
		}
	}
	return os.RemoveAll(from)
}

// moveContents moves what dir holds into a new directory to.
func moveContents(dir, to string) error {
	if err := os.Mkdir(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// ErrSourceUnreachable means the server to copy or rewind from could not be
// reached; the data directory was left alone.
var ErrSourceUnreachable = errors.New("the source server cannot be reached")

// Rewind makes the stopped data directory follow the server at connInfo (as
// the superuser) with pg_rewind, which first runs crash recovery when the
// server did not stop cleanly. It checkpoints the source first: a freshly
// promoted source records its new timeline in its control file only at its
// next checkpoint, and pg_rewind reads it from there.
func (i *Instance) Rewind(ctx context.Context, connInfo string) error {
	if err := i.CheckpointSource(ctx, connInfo); err != nil {
		return err
	}
	return i.run(ctx, "pg_rewind", "--target-pgdata", i.DataDir, "--source-server", connInfo, "--progress")
}

// CheckpointSource connects to the server to rewind from (as the superuser)
// and checkpoints it; it fails with ErrSourceUnreachable when it cannot.
func (i *Instance) CheckpointSource(ctx context.Context, connInfo string) error {
	if err := checkpoint(ctx, connInfo, i.Passfile); err != nil {
		return fmt.Errorf("%w: %w", ErrSourceUnreachable, err)
	}
	return nil
}

func checkpoint(ctx context.Context, connInfo, passfile string) error {
	cfg, err := pgx.ParseConfig(connInfo)
	if err != nil {
		return err
	}
	if cfg.Password == "" {
		cfg.Password = passwordFor(passfile, cfg.User)
	}
	// libpq's keepalive settings are not server parameters.
	for k := range cfg.RuntimeParams {
		if strings.HasPrefix(k, "keepalives") {
			delete(cfg.RuntimeParams, k)
		}
	}
	// Nor is hostaddr, which pgx does not know: dial it, and check the
	// certificate under host's name as libpq does.
	if addr, ok := cfg.RuntimeParams["hostaddr"]; ok {
		delete(cfg.RuntimeParams, "hostaddr")
		cfg.Host = addr
		for _, fb := range cfg.Fallbacks {
			fb.Host = addr
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CHECKPOINT")
	return err
}

// passwordFor reads a user's password from a password file Passfile wrote.
func passwordFor(passfile, user string) string {
	data, err := os.ReadFile(passfile)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := splitPassfileLine(line)
		if len(fields) == 5 && fields[3] == user {
			return fields[4]
		}
	}
	return ""
}

func splitPassfileLine(line string) []string {
	var fields []string
	var cur strings.Builder
	for n := 0; n < len(line); n++ {
		switch c := line[n]; {
		case c == '\\' && n+1 < len(line):
			n++
			cur.WriteByte(line[n])
		case c == ':':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(fields, cur.String())
}

// ControlData runs pg_controldata.
func (i *Instance) ControlData(ctx context.Context) (ControlData, error) {
	cmd := exec.CommandContext(ctx, i.bin("pg_controldata"), "--pgdata", i.DataDir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		return ControlData{}, fmt.Errorf("pg_controldata: %w", err)
	}
	return ParseControlData(string(out))
}

// Start starts the postmaster as a child process. It returns once the
// process runs; Ready tells when it accepts connections.
func (i *Instance) Start() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cmd != nil {
		return errors.New("PostgreSQL is already running")
	}
	// A volume mounted with an fsGroup can leave the directory group
	// writable, which PostgreSQL refuses.
	if err := os.Chmod(i.DataDir, 0o700); err != nil {
		return fmt.Errorf("restricting the data directory to its owner: %w", err)
	}
	cmd := exec.Command(i.bin("postgres"), "-D", i.DataDir)
	cmd.Stdout, cmd.Stderr = i.output(), i.output()
	cmd.Env = append(os.Environ(), "PGPASSFILE="+i.Passfile)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	done := make(chan struct{})
	i.cmd, i.done, i.startedAt, i.stopping, i.crashed = cmd, done, time.Now(), false, false
	go func() {
		_ = cmd.Wait()
		i.mu.Lock()
		defer i.mu.Unlock()
		i.crashed = !i.stopping
		i.cmd = nil
		close(done)
	}()
	return nil
}

// Process is the state of the postmaster process.
func (i *Instance) Process() ProcessState {
	i.mu.Lock()
	defer i.mu.Unlock()
	return ProcessState{Alive: i.cmd != nil, StartedAt: i.startedAt, Crashed: i.cmd == nil && i.crashed}
}

// Stop shuts PostgreSQL down: fast (rolling back open transactions and
// writing a shutdown checkpoint that connected standbys receive), then
// immediate when that takes longer than timeout.
func (i *Instance) Stop(ctx context.Context, timeout time.Duration) error {
	i.mu.Lock()
	cmd, done := i.cmd, i.done
	i.stopping = true
	i.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
	case <-ctx.Done():
	}
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-done:
		return fmt.Errorf("PostgreSQL did not stop within %s: stopped it immediately", timeout)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("PostgreSQL did not stop: killed it")
	}
}

// Kill stops PostgreSQL at once, as a crash would (for tests).
func (i *Instance) Kill() {
	i.mu.Lock()
	cmd, done := i.cmd, i.done
	i.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-done
	}
}

// StopOrphan stops a postmaster this process did not start (left by an
// earlier instance manager), so that the manager owns the server it runs.
func (i *Instance) StopOrphan(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(i.DataDir, "postmaster.pid"))
	if err != nil {
		return nil //nolint:nilerr // no postmaster.pid: nothing runs
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return nil //nolint:nilerr // stale postmaster.pid
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && !strings.HasPrefix(string(comm), "postgres") {
		return nil // the PID was reused by another program
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	return fmt.Errorf("an earlier postmaster (PID %d) did not stop within a minute", pid)
}

// Pool is a pool of connections to the server as the superuser over its
// Unix socket; it reconnects after restarts by itself.
func (i *Instance) Pool(ctx context.Context) (*pgxpool.Pool, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.pool != nil {
		return i.pool, nil
	}
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc := cfg.ConnConfig
	cc.Host, cc.Port, cc.User, cc.Password, cc.Database = i.SocketDir, uint16(i.Port), SuperUser, i.SuperuserPassword, "postgres"
	cc.ConnectTimeout = 3 * time.Second
	cc.RuntimeParams["application_name"] = "pgo-instance-manager"
	cfg.MaxConns = 4
	cfg.MinConns = 0
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	i.pool = pool
	return pool, nil
}

// Close releases the connections.
func (i *Instance) Close() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.pool != nil {
		i.pool.Close()
		i.pool = nil
	}
}

// Ready reports whether the server accepts connections.
func (i *Instance) Ready(ctx context.Context) bool {
	pool, err := i.Pool(ctx)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return pool.Ping(ctx) == nil
}

// WaitReady waits until the server accepts connections, or stopped.
func (i *Instance) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if i.Ready(ctx) {
			return nil
		}
		if !i.Process().Alive {
			return errors.New("PostgreSQL exited while starting")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL did not accept connections within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
