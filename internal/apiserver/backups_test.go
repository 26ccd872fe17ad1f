package apiserver

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/pgoapi"
)

// realInfo is real pgbackrest info output (internal/pgbackrest's
// testdata): a full, a diff and an incr backup in repo1.
func realInfo(t *testing.T) pgbackrest.StanzaInfo {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "pgbackrest", "testdata", "info.json"))
	if err != nil {
		t.Fatal(err)
	}
	stanzas, err := pgbackrest.ParseInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := pgbackrest.Find(stanzas, pgbackrest.Stanza)
	return s
}

// `pgo show backup` shows each repository of the cluster, even one that
// holds no stanza yet, and each backup with its sizes, WAL and references.
func TestShowBackupResponse(t *testing.T) {
	c := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Namespace: "ns"}, Spec: pgov1.PGClusterSpec{
		Backups: &pgov1.PGBackupsSpec{Repos: []pgov1.PGBackupRepo{
			{Name: "repo1", Volume: &pgov1.PGStorage{Size: resource.MustParse("1Gi")}},
			{Name: "repo2", S3: &pgov1.PGS3Repo{Bucket: "b"}},
		}},
	}}
	got := showBackupResponse(c, realInfo(t))
	if got.Stanza != "db" || len(got.Repos) != 2 {
		t.Fatalf("%+v", got)
	}
	r1, r2 := got.Repos[0], got.Repos[1]
	if r1.Kind != "posix" || r1.Status != "ok" || r1.Cipher != "none" || r1.PostgresVersion != "15" || r1.WALMax != "000000010000000000000008" || len(r1.Backups) != 3 {
		t.Errorf("repo1: %+v", r1)
	}
	diff := r1.Backups[1]
	if diff.Type != "diff" || diff.Label != "20261207-210900F_20261207-210905D" || !slices.Equal(diff.Reference, []string{"20261207-210900F"}) ||
		diff.DatabaseSize != 23197505 || diff.BackupSize != 139530 || diff.RepoSize != 4592452 || diff.RepoBackupSize != 55134 ||
		diff.WALStart != "000000010000000000000006" || diff.StopTime.Before(diff.StartTime) {
		t.Errorf("the diff backup: %+v", diff)
	}
	if r2.Kind != "s3" || r2.Status != "no stanza yet" || r2.Backups == nil || len(r2.Backups) != 0 {
		t.Errorf("repo2 without a stanza: %+v", r2)
	}
}

// Expiring a backup: the repository that holds it, or the one named; the
// only full backup of a repository needs force.
func TestExpireDecision(t *testing.T) {
	info := realInfo(t)
	full, diff := "20261207-210900F", "20261207-210900F_20261207-210905D"
	for _, c := range []struct {
		name, label, repo string
		force             bool
		key, code         int
		says              string
	}{
		{name: "a diff", label: diff, key: 1},
		{name: "a diff, repository named", label: diff, repo: "repo1", key: 1},
		{name: "the only full", label: full, code: 409, says: "is the only full backup in repo1"},
		{name: "the only full, forced", label: full, force: true, key: 1},
		{name: "unknown", label: "20200101-000000F", code: 404, says: "no backup 20200101-000000F"},
		{name: "in another repository", label: diff, repo: "repo2", code: 404, says: "repo2 holds no backup"},
	} {
		key, why, code := expireDecision(info, c.label, c.repo, c.force)
		if key != c.key || code != c.code || !strings.Contains(why, c.says) {
			t.Errorf("%s: repo%d, %d %q; want repo%d, %d %q", c.name, key, code, why, c.key, c.code, c.says)
		}
	}
	// A second full backup makes the first one expirable; one in two
	// repositories needs --repo.
	twin := info.Backups[0]
	twin.Label = "20261208-000000F"
	twin.Timestamp.Stop += 3600
	info.Backups = append(info.Backups, twin)
	if key, why, code := expireDecision(info, full, "", false); code != 0 || key != 1 {
		t.Errorf("with two full backups: %d %q", code, why)
	}
	copyIn2 := info.Backups[1]
	copyIn2.Database.RepoKey = 2
	info.Backups = append(info.Backups, copyIn2)
	if _, why, code := expireDecision(info, diff, "", false); code != 422 || !strings.Contains(why, "name one with --repo") {
		t.Errorf("a label in two repositories: %d %q", code, why)
	}
}

// pgo backup: the options are read and checked, the repository must be
// the cluster's, and a PGTask of type backup records what was asked.
func TestCreateBackup(t *testing.T) {
	h := newHarness(t, "ns1")
	ctx := context.Background()
	h.mustAdmin("POST", pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "hippo"}, http.StatusCreated, nil)

	for _, c := range []struct {
		req   pgoapi.CreateBackupRequest
		field string
		says  string
	}{
		{pgoapi.CreateBackupRequest{BackupOpts: "--type=weekly"}, "backupOpts", "--type=weekly is not one of full, diff, incr"},
		{pgoapi.CreateBackupRequest{BackupOpts: "--stanza=x"}, "backupOpts", "--stanza is set by pgo"},
		{pgoapi.CreateBackupRequest{BackupOpts: "--exclude=base"}, "backupOpts", "--exclude is not an option pgo passes"},
		{pgoapi.CreateBackupRequest{Repo: "repo9"}, "repo", "is not a repository"},
		{pgoapi.CreateBackupRequest{Repo: "repo2"}, "repo", "cluster hippo has no repository repo2; it has [repo1]"},
		{pgoapi.CreateBackupRequest{Repo: "repo1", BackupOpts: "--repo=2"}, "repo", "backupOpts say --repo=2"},
	} {
		a := h.admin("POST", pgoapi.BackupsPath("ns1", "hippo"), c.req)
		e := a.apiError(t)
		if a.code != http.StatusUnprocessableEntity || len(e.Fields) == 0 || e.Fields[0].Field != c.field || !strings.Contains(e.Fields[0].Message, c.says) {
			t.Errorf("%+v: %d %s, want 422 on %s saying %q", c.req, a.code, a.body, c.field, c.says)
		}
	}
	var tasks pgov1.PGTaskList
	if err := h.c.List(ctx, &tasks); err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks.Items {
		if task.Spec.Type == pgov1.TaskBackup {
			t.Fatalf("a refused request created task %s", task.Name)
		}
	}

	var resp pgoapi.CreateBackupResponse
	h.mustAdmin("POST", pgoapi.BackupsPath("ns1", "hippo"), pgoapi.CreateBackupRequest{BackupOpts: `--type=diff --start-fast "--annotation=why=before the upgrade"`}, http.StatusCreated, &resp)
	task := &pgov1.PGTask{}
	if err := h.c.Get(ctx, objectKey("ns1", resp.Task), task); err != nil {
		t.Fatal(err)
	}
	b := task.Spec.Backup
	if task.Spec.Type != pgov1.TaskBackup || b == nil || b.Type != pgov1.BackupDifferential || b.RepoName != "repo1" ||
		!slices.Equal(b.Options, pgov1.PgBackRestOptions{"--start-fast", "--annotation=why=before the upgrade"}) || resp.WorkflowID == "" {
		t.Errorf("task %+v, response %+v", task.Spec, resp)
	}
}
