package pgbackrest_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/testenv"
)

// The integration tests run a real PostgreSQL 15, real pgBackRest 2.45
// processes (a "database pod" and a "repository host", each with its own
// configuration and its own TLS server on a loopback port) and the real S3
// server (testenv's World and BackRestCluster).

// newCluster sets up a cluster whose repository host, with its TLS server,
// holds repos.
func newCluster(t *testing.T, w *testenv.World, name string, repos []pgbackrest.Repo, secrets pgbackrest.Secrets, hostOpts func(*pgbackrest.RepoHost)) *testenv.BackRestCluster {
	t.Helper()
	c := testenv.NewBackRestCluster(w, name, repos, secrets, hostOpts)
	c.StartRepoHost()
	return c
}

// TestBackupsThroughRepositoryHost: a database pod archives its WAL to a
// volume repository on the repository host, which takes full, differential
// and incremental backups of it, all over pgBackRest's TLS protocol with
// the cluster's certificates; retention expires the oldest full backup; a
// restore through the repository host gives back the data, with the
// backup's label in backup_label.
func TestBackupsThroughRepositoryHost(t *testing.T) {
	w := testenv.NewWorld(t)
	c := newCluster(t, w, "hippo", []pgbackrest.Repo{{Index: 1, Path: w.Mkdir("hippo", "repo1"), RetentionFull: 2}}, pgbackrest.Secrets{}, nil)

	c.Repo("stanza-create")
	c.Repo("check")
	seg := c.SwitchWAL()
	c.WaitArchived(1, seg)

	c.Repo("backup", "--type=full", "--start-fast")
	c.PG.Query("INSERT INTO t (v) VALUES ('after full')")
	c.Repo("backup", "--type=diff", "--start-fast")
	c.PG.Query("INSERT INTO t (v) VALUES ('after diff')")
	c.Repo("backup", "--type=incr", "--start-fast")

	raw := c.Repo("info", "--output=json", "--log-level-console=warn")
	if pgbackrest.UpdateGolden() {
		// The parser's unit test reads real output.
		if err := os.WriteFile(filepath.Join("testdata", "info.json"), []byte(raw), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := c.Info()
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
	c.Repo("backup", "--type=full", "--start-fast")
	c.Repo("backup", "--type=full", "--start-fast")
	after := c.Info().InRepo(1)
	if got := types(after); !slices.Equal(got, []string{"full", "full"}) {
		t.Fatalf("after two more full backups with retention-full=2: %v", got)
	}
	if after[0].Label == full.Label {
		t.Errorf("the oldest full backup %s was not expired", full.Label)
	}

	// Every segment from the first backup's start is in the archive:
	// archive-get of each from the database pod (through the repository
	// host) gives a whole segment.
	arch, ok := c.Info().ArchiveIn(1)
	if !ok {
		t.Fatal("no archive in repo1")
	}
	for _, name := range segments(t, after[0].Archive.Start, arch.Max) {
		dest := w.Path("got-" + name)
		w.Backrest(c.PGConf, nil, "archive-get", name, dest)
		if st, err := os.Stat(dest); err != nil || st.Size() != 16<<20 {
			t.Errorf("archive-get %s: %v, %v", name, st, err)
		}
	}

	// Restore the latest backup, through the repository host, into a new
	// data directory: the rows are there, and backup_label names the
	// pgBackRest backup.
	restored := w.Path("restored", "data")
	w.Mkdir("restored", "data")
	conf := w.Write("restored/pgbackrest.conf", []byte(strings.Replace(testenv.ReadFile(t, c.PGConf), "pg1-path="+c.PG.Data, "pg1-path="+restored, 1)))
	w.Backrest(conf, nil, "restore", "--type=immediate", "--target-action=promote")
	label := testenv.ReadFile(t, filepath.Join(restored, "backup_label"))
	if !strings.Contains(label, "LABEL: pgBackRest backup started at") {
		t.Errorf("backup_label of the restore does not name a pgBackRest backup:\n%s", label)
	}
	r := w.NewPostgres("restored", restored, conf)
	r.Configure()
	r.Start()
	r.WaitRecovered()
	if got := r.Query("SELECT count(*) FROM t WHERE v IN ('after full', 'after diff')"); got != "2" {
		t.Errorf("the restored cluster has %s of the 2 rows written before the last backups", got)
	}
}

// TestBothRepositoriesAndEncryption: WAL goes to a volume and an encrypted
// S3 repository at once; a backup to each; the S3 copy is encrypted (no
// plain-text file in the bucket) and the repository host alone holds the
// keys and the passphrase.
func TestBothRepositoriesAndEncryption(t *testing.T) {
	w := testenv.NewWorld(t)
	s3repo, keys, s3 := w.S3Repo(2, "pgo-both")
	s3repo.Encrypted = true
	repos := []pgbackrest.Repo{{Index: 1, Path: w.Mkdir("hippo", "repo1")}, s3repo}
	secrets := pgbackrest.Secrets{S3Keys: map[int][2]string{2: keys}, CipherPasses: map[int]string{2: "a passphrase of the test"}}
	c := newCluster(t, w, "hippo", repos, secrets, nil)

	c.Repo("repo-create", "--repo=2")
	c.Repo("stanza-create")
	seg := c.SwitchWAL()
	c.WaitArchived(1, seg)
	c.WaitArchived(2, seg)
	c.Repo("backup", "--repo=1", "--type=full", "--start-fast")
	c.Repo("backup", "--repo=2", "--type=full", "--start-fast")

	s := c.Info()
	if len(s.InRepo(1)) != 1 || len(s.InRepo(2)) != 1 {
		t.Fatalf("backups: repo1 %v, repo2 %v", types(s.InRepo(1)), types(s.InRepo(2)))
	}
	for _, r := range s.Repos {
		want := map[int]string{1: "none", 2: pgbackrest.CipherType}[r.Key]
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
	pod := testenv.ReadFile(t, c.PGConf)
	for _, secret := range []string{keys[0], keys[1], "a passphrase"} {
		if strings.Contains(pod, secret) || strings.Contains(testenv.ReadFile(t, c.RepoConf), secret) {
			t.Errorf("a configuration file outside the secret one holds %q", secret)
		}
	}
}

// TestOtherClustersAreRefused: the repository host lets in only its own
// cluster's pgBackRest certificate. Another cluster's (its own CA, even
// with the same name) and another certificate of the same CA (another
// common name) cannot read the repository.
func TestOtherClustersAreRefused(t *testing.T) {
	w := testenv.NewWorld(t)
	c := newCluster(t, w, "hippo", []pgbackrest.Repo{{Index: 1, Path: w.Mkdir("hippo", "repo1")}}, pgbackrest.Secrets{}, nil)
	c.Repo("stanza-create")
	if _, err := w.TryBackrest(c.PGConf, "info"); err != nil {
		t.Fatalf("the cluster's own pod cannot read its repository: %v", err)
	}

	// Another cluster's certificate (its own CA, the same common name),
	// presented by a client that trusts this cluster's CA; and another
	// certificate of this cluster's CA, with another common name.
	other := w.NewIdentity("rhino/tls", c.ID.Name)
	other.TLS.CAFile = c.ID.TLS.CAFile
	sameCA := w.Issue("hippo-other/tls", c.ID.CA, "replicator")
	for name, id := range map[string]testenv.Identity{"another cluster's certificate": other, "another certificate of the cluster's CA": sameCA} {
		conf := testenv.ReadFile(t, c.PGConf)
		for _, f := range [][2]string{{c.ID.TLS.CertFile, id.TLS.CertFile}, {c.ID.TLS.KeyFile, id.TLS.KeyFile}} {
			conf = strings.ReplaceAll(conf, f[0], f[1])
		}
		path := w.Write(strings.ReplaceAll(name, " ", "-")+".conf", []byte(conf))
		start := time.Now()
		s := w.Info(path)
		if len(s.Repos) != 1 || s.Repos[0].Status.Code == 0 || len(s.DB) != 0 {
			t.Errorf("%s read the repository: %+v", name, s)
			continue
		}
		t.Logf("%s refused in %v: %s", name, time.Since(start).Round(time.Millisecond), s.Repos[0].Status.Message)
	}
}

var types = pgbackrest.Types

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
