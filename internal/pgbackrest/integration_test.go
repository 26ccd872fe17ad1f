package pgbackrest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "pgo.dev/pgo/internal/pgbackrest"
)

// cluster is one test cluster: PostgreSQL with its pgBackRest TLS server
// (the database pod) and a repository host with its own.
type cluster struct {
	w        *world
	pg       *postgres
	repoConf string // the repository host's configuration
	pgConf   string // the database pod's configuration
	repoPort int
	id       identity
}

// newCluster sets up a cluster whose repository host holds repos, with
// the secret options in secrets.
func newCluster(t *testing.T, w *world, name string, repos []Repo, secrets Secrets, hostOpts func(*RepoHost)) *cluster {
	t.Helper()
	c := &cluster{w: w, repoPort: freePort(t)}
	c.id = w.newIdentity(name+"/tls", name+"-pgbackrest")
	pgPort := freePort(t)
	indexes := make([]int, len(repos))
	for i, r := range repos {
		indexes[i] = r.Index
	}

	// The database pod.
	c.pgConf = w.path(name, "pod", "pgbackrest.conf")
	c.repoConf = w.path(name, "repo", "pgbackrest.conf")
	repoFiles := Files{Config: c.repoConf, IncludePath: w.mkdir(name, "repo", "conf.d")}
	podFiles := Files{Config: c.pgConf, IncludePath: w.mkdir(name, "pod", "conf.d")}
	c.pg = w.initdb(name, c.pgConf)
	w.write(filepath.Join(name, "pod", "pgbackrest.conf"), []byte(InstanceConfig(Instance{
		Postgres:      Postgres{Path: c.pg.data, Port: c.pg.port, SocketDir: c.pg.socket},
		RepoHost:      "localhost",
		RepoHostPort:  c.repoPort,
		RepoHostFiles: repoFiles,
		Repos:         indexes,
		SpoolPath:     w.mkdir(name, "spool"),
		LockPath:      w.mkdir(name, "pod-lock"),
		TLS:           c.id.tls,
		ClientName:    c.id.name,
	})))
	c.pg.start()
	w.server(c.pgConf, pgPort)

	// The repository host.
	host := RepoHost{
		Postgres:   []Postgres{{Host: "localhost", HostPort: pgPort, Path: c.pg.data, Port: c.pg.port, SocketDir: c.pg.socket, Files: podFiles}},
		Repos:      repos,
		LockPath:   w.mkdir(name, "repo-lock"),
		TLS:        c.id.tls,
		ClientName: c.id.name,
	}
	if hostOpts != nil {
		hostOpts(&host)
	}
	c.repoConf = w.write(filepath.Join(name, "repo", "pgbackrest.conf"), []byte(RepoHostConfig(host)))
	w.write(filepath.Join(name, "repo", "conf.d", "secret.conf"), []byte(SecretConfig(secrets)))
	w.server(c.repoConf, c.repoPort)
	return c
}

// repo runs pgbackrest on the repository host.
func (c *cluster) repo(args ...string) string {
	c.w.t.Helper()
	return c.w.backrest(c.repoConf, nil, append([]string{"--config-include-path=" + filepath.Join(filepath.Dir(c.repoConf), "conf.d")}, args...)...)
}

// info is what the repository host's pgbackrest info says.
func (c *cluster) info() StanzaInfo {
	c.w.t.Helper()
	return c.w.info(c.repoConf, "--config-include-path="+filepath.Join(filepath.Dir(c.repoConf), "conf.d"))
}

// switchWAL writes a row and closes the WAL segment, and returns its name.
func (c *cluster) switchWAL() string {
	c.w.t.Helper()
	c.pg.query("CREATE TABLE IF NOT EXISTS t (id serial PRIMARY KEY, v text)")
	c.pg.query("INSERT INTO t (v) SELECT md5(i::text) FROM generate_series(1, 1000) i")
	seg := c.pg.query("SELECT pg_walfile_name(pg_current_wal_lsn())")
	c.pg.query("SELECT pg_switch_wal()")
	return seg
}

// TestBackupsThroughRepositoryHost: a database pod archives its WAL to a
// volume repository on the repository host, which takes full, differential
// and incremental backups of it, all over pgBackRest's TLS protocol with
// the cluster's certificates; retention expires the oldest full backup; a
// restore through the repository host gives back the data, with the
// backup's label in backup_label.
func TestBackupsThroughRepositoryHost(t *testing.T) {
	w := newWorld(t)
	c := newCluster(t, w, "hippo", []Repo{{Index: 1, Path: w.mkdir("hippo", "repo1"), RetentionFull: 2}}, Secrets{}, nil)

	c.repo("stanza-create")
	c.repo("check")
	seg := c.switchWAL()
	waitArchived(t, c, 1, seg)

	c.repo("backup", "--type=full", "--start-fast")
	c.pg.query("INSERT INTO t (v) VALUES ('after full')")
	c.repo("backup", "--type=diff", "--start-fast")
	c.pg.query("INSERT INTO t (v) VALUES ('after diff')")
	c.repo("backup", "--type=incr", "--start-fast")

	raw := c.repo("info", "--output=json", "--log-level-console=warn")
	if *update {
		// The parser's unit test reads real output.
		if err := os.WriteFile(filepath.Join("testdata", "info.json"), []byte(raw), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := c.info()
	backups := s.InRepo(1)
	if got := types(backups); !slices.Equal(got, []string{"full", "diff", "incr"}) {
		t.Fatalf("backups are %v, want full, diff, incr", got)
	}
	full, diff, incr := backups[0], backups[1], backups[2]
	if diff.Prior == nil || *diff.Prior != full.Label || !slices.Equal(diff.Reference, []string{full.Label}) {
		t.Errorf("the diff backup %s refers to %v (prior %v), want the full %s", diff.Label, diff.Reference, diff.Prior, full.Label)
	}
	if incr.Prior == nil || *incr.Prior != diff.Label || !slices.Contains(incr.Reference, full.Label) || !slices.Contains(incr.Reference, diff.Label) {
		t.Errorf("the incr backup %s refers to %v (prior %v), want %s and %s", incr.Label, incr.Reference, incr.Prior, full.Label, diff.Label)
	}
	for _, b := range backups {
		if b.Info.Size == 0 || b.Info.Repository.Size == 0 || b.Archive.Start == "" || b.Archive.Stop == "" || b.Timestamp.Stop < b.Timestamp.Start {
			t.Errorf("backup %s lacks sizes, WAL or times: %+v", b.Label, b)
		}
	}
	if latest := s.Latest(1); latest["full"].Label != full.Label || latest["incr"].Label != incr.Label {
		t.Errorf("latest backups: %v", latest)
	}
	if s.Status.Code != 0 || s.Cipher != "none" || len(s.DB) != 1 || s.DB[0].Version != "15" {
		t.Errorf("stanza: status %+v, cipher %s, db %+v", s.Status, s.Cipher, s.DB)
	}

	// Two more full backups: retention (2) expires the first, with the
	// diff and incr that depend on it.
	c.repo("backup", "--type=full", "--start-fast")
	c.repo("backup", "--type=full", "--start-fast")
	after := c.info().InRepo(1)
	if got := types(after); !slices.Equal(got, []string{"full", "full"}) {
		t.Fatalf("after two more full backups with retention-full=2: %v", got)
	}
	if after[0].Label == full.Label {
		t.Errorf("the oldest full backup %s was not expired", full.Label)
	}

	// Every segment from the first backup's start is in the archive:
	// archive-get of each from the database pod (through the repository
	// host) gives a whole segment.
	arch, ok := c.info().ArchiveIn(1)
	if !ok {
		t.Fatal("no archive in repo1")
	}
	for _, name := range segments(t, after[0].Archive.Start, arch.Max) {
		dest := w.path("got-" + name)
		w.backrest(c.pgConf, nil, "archive-get", name, dest)
		if st, err := os.Stat(dest); err != nil || st.Size() != 16<<20 {
			t.Errorf("archive-get %s: %v, %v", name, st, err)
		}
	}

	// Restore the latest backup, through the repository host, into a new
	// data directory: the rows are there, and backup_label names the
	// pgBackRest backup.
	restored := w.path("restored", "data")
	w.mkdir("restored", "data")
	conf := w.write("restored/pgbackrest.conf", []byte(strings.Replace(readFile(t, c.pgConf), "pg1-path="+c.pg.data, "pg1-path="+restored, 1)))
	w.backrest(conf, nil, "restore", "--type=immediate", "--target-action=promote")
	label := readFile(t, filepath.Join(restored, "backup_label"))
	if !strings.Contains(label, "LABEL: pgBackRest backup started at") {
		t.Errorf("backup_label of the restore does not name a pgBackRest backup:\n%s", label)
	}
	r := &postgres{w: w, data: restored, socket: w.mkdir("restored", "run"), port: freePort(t), conf: conf, logFile: w.path("restored", "postgres.log")}
	r.configure()
	r.start()
	waitRecovered(t, r)
	if got := r.query("SELECT count(*) FROM t WHERE v IN ('after full', 'after diff')"); got != "2" {
		t.Errorf("the restored cluster has %s of the 2 rows written before the last backups", got)
	}
}

// TestBothRepositoriesAndEncryption: WAL goes to a volume and an encrypted
// S3 repository at once; a backup to each; the S3 copy is encrypted (no
// plain-text file in the bucket) and the repository host alone holds the
// keys and the passphrase.
func TestBothRepositoriesAndEncryption(t *testing.T) {
	w := newWorld(t)
	s3repo, keys, s3 := w.s3Repo(2, "pgo-both")
	s3repo.Encrypted = true
	repos := []Repo{{Index: 1, Path: w.mkdir("hippo", "repo1")}, s3repo}
	secrets := Secrets{S3Keys: map[int][2]string{2: keys}, CipherPasses: map[int]string{2: "a passphrase of the test"}}
	c := newCluster(t, w, "hippo", repos, secrets, nil)

	c.repo("repo-create", "--repo=2")
	c.repo("stanza-create")
	seg := c.switchWAL()
	waitArchived(t, c, 1, seg)
	waitArchived(t, c, 2, seg)
	c.repo("backup", "--repo=1", "--type=full", "--start-fast")
	c.repo("backup", "--repo=2", "--type=full", "--start-fast")

	s := c.info()
	if len(s.InRepo(1)) != 1 || len(s.InRepo(2)) != 1 {
		t.Fatalf("backups: repo1 %v, repo2 %v", types(s.InRepo(1)), types(s.InRepo(2)))
	}
	for _, r := range s.Repos {
		want := map[int]string{1: "none", 2: CipherType}[r.Key]
		if r.Cipher != want || r.Status.Code != 0 {
			t.Errorf("repo%d: cipher %s, status %+v; want cipher %s, ok", r.Key, r.Cipher, r.Status, want)
		}
	}
	// Every file pgBackRest wrote to the bucket is encrypted: OpenSSL's
	// "Salted__" header, no plain text.
	n := 0
	err := filepath.Walk(filepath.Join(s3.Dir, "pgo-both"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.Contains(p, ".sgw") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if !bytes.HasPrefix(b, []byte("Salted__")) {
			t.Errorf("%s is not encrypted: %q", p, b[:min(len(b), 40)])
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walking the bucket: %v (%d files)", err, n)
	}
	// Neither the database pod's configuration nor its environment has the
	// S3 keys or the passphrase.
	pod := readFile(t, c.pgConf)
	for _, secret := range []string{keys[0], keys[1], "a passphrase"} {
		if strings.Contains(pod, secret) || strings.Contains(readFile(t, c.repoConf), secret) {
			t.Errorf("a configuration file outside the secret one holds %q", secret)
		}
	}
}

// TestOtherClustersAreRefused: the repository host lets in only its own
// cluster's pgBackRest certificate. Another cluster's (its own CA, even
// with the same name) and another certificate of the same CA (another
// common name) cannot read the repository.
func TestOtherClustersAreRefused(t *testing.T) {
	w := newWorld(t)
	c := newCluster(t, w, "hippo", []Repo{{Index: 1, Path: w.mkdir("hippo", "repo1")}}, Secrets{}, nil)
	c.repo("stanza-create")
	if _, err := w.tryBackrest(c.pgConf, "info"); err != nil {
		t.Fatalf("the cluster's own pod cannot read its repository: %v", err)
	}

	// Another cluster's certificate (its own CA, the same common name),
	// presented by a client that trusts this cluster's CA; and another
	// certificate of this cluster's CA, with another common name.
	other := w.newIdentity("rhino/tls", c.id.name)
	other.tls.CAFile = c.id.tls.CAFile
	sameCA := w.issue("hippo-other/tls", c.id.ca, "replicator")
	for name, id := range map[string]identity{"another cluster's certificate": other, "another certificate of the cluster's CA": sameCA} {
		conf := readFile(t, c.pgConf)
		for _, f := range [][2]string{{c.id.tls.CertFile, id.tls.CertFile}, {c.id.tls.KeyFile, id.tls.KeyFile}} {
			conf = strings.ReplaceAll(conf, f[0], f[1])
		}
		path := w.write(strings.ReplaceAll(name, " ", "-")+".conf", []byte(conf))
		start := time.Now()
		s := w.info(path)
		if len(s.Repos) != 1 || s.Repos[0].Status.Code == 0 || len(s.DB) != 0 {
			t.Errorf("%s read the repository: %+v", name, s)
			continue
		}
		t.Logf("%s refused in %v: %s", name, time.Since(start).Round(time.Millisecond), s.Repos[0].Status.Message)
	}
}
