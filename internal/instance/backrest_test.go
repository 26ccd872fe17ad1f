package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgbackrest"
)

// backRest gives the harness's members a pgBackRest repository (a local
// directory they share, standing for the repository host) and archiving
// through it, as PGO_ARCHIVE=pgbackrest does in a database pod.
type backRest struct {
	h    *harness
	repo string
}

func withBackRest(h *harness) *backRest {
	b := &backRest{h: h, repo: filepath.Join(h.dir, "repo")}
	if err := os.MkdirAll(b.repo, 0o750); err != nil {
		h.t.Fatal(err)
	}
	h.chown(b.repo)
	for _, name := range h.names() {
		m := h.member(name)
		h.writeFile(name+"-pgbackrest.conf", fmt.Sprintf(`[global]
repo1-path=%s
lock-path=%s
spool-path=%s
archive-async=y
log-level-console=info
log-level-file=off
start-fast=y

[db]
pg1-path=%s
pg1-socket-path=%s
pg1-port=5432
`, b.repo, filepath.Join(h.dir, name, "lock"), filepath.Join(h.dir, name, "spool"), m.dataDir, m.socketDir))
	}
	h.memberEnv = func(m *member) []string {
		return []string{instanceapi.EnvArchive + "=" + instanceapi.ArchivePgBackRest, "PGBACKREST_CONFIG=" + h.files[m.name+"-pgbackrest.conf"]}
	}
	return b
}

// run runs pgbackrest as a member would, as the postgres user.
func (b *backRest) run(member string, args ...string) string {
	b.h.t.Helper()
	out, err := b.try(member, args...)
	if err != nil {
		b.h.t.Fatalf("pgbackrest %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (b *backRest) try(member string, args ...string) (string, error) {
	cmd := exec.Command("pgbackrest", append([]string{"--stanza=" + pgbackrest.Stanza}, args...)...)
	cmd.Env = append(os.Environ(), "PGBACKREST_CONFIG="+b.h.files[member+"-pgbackrest.conf"],
		"PGPASSFILE="+filepath.Join(b.h.member(member).socketDir, ".pgpass"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.h.creds}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// memberState is what a member published on its pod.
func (h *harness) memberState(name string) dcs.MemberStatus {
	h.t.Helper()
	pod, err := h.env.Clientset.CoreV1().Pods(h.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var st dcs.MemberStatus
	_ = json.Unmarshal([]byte(pod.Annotations[naming.AnnotationStatus]), &st)
	return st
}

// TestArchivingAndRestoreFromRepository, against real PostgreSQL and
// pgBackRest:
//   - the primary archives through pgBackRest and says so in its state;
//   - a replica that joins once a backup exists is restored from it (its
//     backup_label names the pgBackRest backup; its state says so), then
//     streams; one that joins before is cloned with pg_basebackup;
//   - a repository that refuses WAL shows in the primary's state (failing
//     since) and metrics within a loop or two;
//   - after a hard kill of the primary while archiving fails, the promoted
//     replica archives the segments it received from the old primary, so
//     that none is missing from the archive when the repository is back.
func TestArchivingAndRestoreFromRepository(t *testing.T) {
	h := newHarness(t, 3, fastProfile, nil)
	b := withBackRest(h)

	// The first member bootstraps; the second joins before any backup.
	h.start("hippo-0")
	primary, _ := h.waitPrimary(60 * time.Second)
	h.start("hippo-1")
	h.waitFor("hippo-1 to stream", 60*time.Second, func() bool { return h.memberState("hippo-1").State == "streaming" })
	if got := h.memberState("hippo-1").DataSource; got != "pg_basebackup from "+primary {
		t.Errorf("hippo-1, which joined before any backup, was made by %q", got)
	}
	if got := h.memberState(primary).DataSource; got != "initdb" {
		t.Errorf("the primary was made by %q", got)
	}
	if v := h.memberState(primary).Volumes; v["data"] <= 0 || v["data"] > 100 {
		t.Errorf("the primary's volumes: %v", v)
	}

	b.run(primary, "stanza-create")
	b.run(primary, "check")
	h.waitFor("the primary to report archiving", 30*time.Second, func() bool {
		a := h.memberState(primary).Archive
		return a != nil && a.LastArchivedWAL != "" && a.FailingSince == ""
	})
	b.run(primary, "backup", "--type=full")
	if err := h.exec(primary, "CREATE TABLE after_backup AS SELECT generate_series(1, 1000) AS id"); err != nil {
		t.Fatal(err)
	}

	// The third member joins with a backup in the repository.
	h.start("hippo-2")
	h.waitFor("hippo-2 to stream", 90*time.Second, func() bool { return h.memberState("hippo-2").State == "streaming" })
	source := h.memberState("hippo-2").DataSource
	if !strings.HasPrefix(source, "pgbackrest backup ") {
		t.Fatalf("hippo-2 joined after a backup but was made by %q", source)
	}
	label, err := os.ReadFile(filepath.Join(h.member("hippo-2").dataDir, "backup_label.old"))
	if err != nil || !strings.Contains(string(label), "LABEL: pgBackRest backup started at") {
		t.Errorf("hippo-2's backup_label does not name a pgBackRest backup (%v):\n%s", err, label)
	}
	h.waitReplicated(primary)
	if n, err := h.queryInt("hippo-2", "SELECT count(*) FROM after_backup"); err != nil || n != 1000 {
		t.Errorf("hippo-2 has %d rows written after the backup (%v)", n, err)
	}

	// The repository refuses WAL: the primary says so.
	if err := os.Chmod(b.repo, 0); err != nil {
		t.Fatal(err)
	}
	first := ""
	for i := range 3 {
		seg, err := h.queryText(primary, "SELECT pg_walfile_name(pg_current_wal_lsn())")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = seg
		}
		if err := h.exec(primary, fmt.Sprintf("INSERT INTO after_backup SELECT generate_series(1, 1000); SELECT pg_switch_wal() -- %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	last, err := h.queryText(primary, "SELECT pg_walfile_name(pg_current_wal_lsn())")
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("the primary to report failing archiving", 60*time.Second, func() bool {
		a := h.memberState(primary).Archive
		return a != nil && a.FailingSince != "" && a.LastFailedWAL != ""
	})
	if m := h.get(primary, instanceapi.PathMetrics); !strings.Contains(m, "pgo_wal_archive_failing_seconds ") || strings.Contains(m, "pgo_wal_archive_failing_seconds 0\n") {
		t.Errorf("the metrics do not show failing archiving:\n%s", lineWith(m, "pgo_wal_archive"))
	}
	h.waitReplicated(primary)

	// A hard kill of the primary; a replica takes over; the repository
	// comes back: every segment of the old timeline is archived.
	h.kill9(primary)
	next, _ := h.waitPrimary(60*time.Second, primary)
	if err := os.Chmod(b.repo, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, seg := range walSegments(t, first, last) {
		h.waitFor("segment "+seg+" in the archive", 90*time.Second, func() bool {
			_, err := b.try(next, "archive-get", seg, filepath.Join(h.dir, "got-"+seg))
			return err == nil
		})
	}
	t.Logf("segments %s to %s archived after %s took over", first, last, next)
}

// walSegments are the segments from first to just before last, on first's
// timeline: the whole ones the old primary wrote.
func walSegments(t *testing.T, first, last string) []string {
	t.Helper()
	var tl, log, seg, logEnd, segEnd uint64
	if _, err := fmt.Sscanf(first, "%08X%08X%08X", &tl, &log, &seg); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(last[8:], "%08X%08X", &logEnd, &segEnd); err != nil {
		t.Fatal(err)
	}
	var out []string
	for log*256+seg < logEnd*256+segEnd {
		out = append(out, fmt.Sprintf("%08X%08X%08X", tl, log, seg))
		if seg++; seg == 256 {
			log, seg = log+1, 0
		}
	}
	return out
}
