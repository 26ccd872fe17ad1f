package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/specs"
)

// A backup runs on the repository host: the task asks it to start and
// follows it. pgBackRest finds the primary among the cluster's instances
// and copies from it (not from a standby: one copy path, whatever the
// replicas' lag), and expires what retention no longer keeps afterwards.
// The backup's log is the repository host's (kubectl logs).
var backupWorkflow = workflow{
	// A new cluster's stanza is created by its first backup's task.
	{Name: "stanza ready", Timeout: 30 * time.Minute, Retries: 10, Run: ensureStanza},
	{Name: "backup started", Timeout: 10 * time.Minute, Retries: 10, Run: startBackup},
	// A large cluster's full backup takes hours.
	{Name: "backup completed", Timeout: 24 * time.Hour, Retries: 20, Run: awaitBackup},
	{Name: "backup status updated", Timeout: 5 * time.Minute, Retries: 5, Run: refreshBackups},
}

// repoHostTimeout bounds one call to the repository host's API; creating
// a stanza and reading S3 repositories take seconds.
const repoHostTimeout = 2 * time.Minute

// ensureStanza creates the stanza when the cluster's status does not say
// it exists yet: once the repository host and the primary run. Creating it
// again does nothing, so a lost answer is safe.
func ensureStanza(ctx context.Context, tc *taskContext) (stepResult, error) {
	c := tc.cluster
	if r := specs.Repos(c); !hasRepo(r, backupRepo(tc.task)) {
		return stepResult{}, permanent(fmt.Errorf("cluster %s has no repository %s; it has %s", c.Name, backupRepo(tc.task), repoNames(r)))
	}
	if c.Status.Backups != nil && c.Status.Backups.StanzaCreated {
		return done("the stanza exists"), nil
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterBackupsReady); cond != nil && cond.Reason != "StanzaNotCreated" {
		return notYet(observeInterval, "%s", cond.Message), nil
	}
	if !meta.IsStatusConditionTrue(c.Status.Conditions, pgov1.ClusterReady) && c.Status.Primary == "" {
		return notYet(observeInterval, "waiting for the primary"), nil
	}
	api, err := repohostapi.ForCluster(ctx, tc.client, c, repoHostTimeout)
	if errors.Is(err, repohostapi.ErrDown) {
		return notYet(observeInterval, "%v", err), nil
	}
	if err != nil {
		return stepResult{}, err
	}
	var repos []int
	for _, r := range specs.Repos(c) {
		repos = append(repos, specs.RepoIndex(r.Name))
	}
	reply, err := api.Stanza(ctx, repohostapi.StanzaRequest{Repos: repos})
	if err != nil {
		return stepResult{}, fmt.Errorf("creating the stanza: %w", err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	if c.Status.Backups == nil {
		c.Status.Backups = &pgov1.PGBackupsStatus{}
	}
	c.Status.Backups.StanzaCreated = true
	if err := tc.client.Status().Patch(ctx, c, patch); err != nil {
		return stepResult{}, fmt.Errorf("noting the stanza in the cluster's status: %w", err)
	}
	return done("%s", reply.Message), nil
}

// backupRepo is the repository a backup task writes to.
func backupRepo(t *pgov1.PGTask) pgov1.RepoName {
	if t.Spec.Backup != nil && t.Spec.Backup.RepoName != "" {
		return t.Spec.Backup.RepoName
	}
	return "repo1"
}

func hasRepo(repos []pgov1.PGBackupRepo, name pgov1.RepoName) bool {
	for _, r := range repos {
		if r.Name == name {
			return true
		}
	}
	return false
}

func repoNames(repos []pgov1.PGBackupRepo) string {
	s := ""
	for i, r := range repos {
		if i > 0 {
			s += ", "
		}
		s += string(r.Name)
	}
	return s
}

// startBackup asks the repository host to start the backup; asking again
// (after a lost answer, or a restart of the operator) is safe: the backup's
// id is the task's (backupID).
func startBackup(ctx context.Context, tc *taskContext) (stepResult, error) {
	api, err := repohostapi.ForCluster(ctx, tc.client, tc.cluster, repoHostTimeout)
	if err != nil {
		return stepResult{}, err
	}
	b := tc.task.Spec.Backup
	req := repohostapi.BackupRequest{ID: backupID(tc.task), Type: string(pgov1.BackupFull), Repo: specs.RepoIndex(backupRepo(tc.task))}
	if b != nil {
		if b.Type != "" {
			req.Type = string(b.Type)
		}
		req.Options = b.Options
	}
	st, err := api.StartBackup(ctx, req)
	switch code := repohostapi.StatusCode(err); {
	case err == nil:
		return done("%s backup to %s started", st.Type, backupRepo(tc.task)), nil
	case code == http.StatusConflict:
		// Another backup (not a task of this type: those wait in line)
		// runs: wait for it.
		return notYet(30*time.Second, "waiting: %v", err), nil
	case code == http.StatusBadRequest:
		return stepResult{}, permanent(err)
	}
	return stepResult{}, err
}

// backupID names a task's backup on the repository host: the task's name
// and the start of its UID, so that a task made again under the same name
// (the first backup, retried) is a new backup, not the old one's status.
func backupID(t *pgov1.PGTask) string {
	uid := string(t.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	if uid == "" {
		return t.Name
	}
	return t.Name + "." + uid
}

// awaitBackup follows the backup until it ends.
func awaitBackup(ctx context.Context, tc *taskContext) (stepResult, error) {
	api, err := repohostapi.ForCluster(ctx, tc.client, tc.cluster, repoHostTimeout)
	if err != nil {
		return stepResult{}, err
	}
	st, err := api.Backup(ctx, backupID(tc.task))
	if repohostapi.StatusCode(err) == http.StatusNotFound {
		return stepResult{}, permanent(errors.New("the repository host does not know the backup: it restarted before pgBackRest recorded it; create another task"))
	}
	if err != nil {
		return stepResult{}, err
	}
	switch st.Phase {
	case repohostapi.PhaseSucceeded:
		return done("backup %s completed", st.Label), nil
	case repohostapi.PhaseFailed:
		return stepResult{}, permanent(fmt.Errorf("the backup failed: %s", st.Message))
	}
	if st.Label != "" {
		return notYet(10*time.Second, "backup %s running since %s", st.Label, st.StartTime.UTC().Format(time.RFC3339)), nil
	}
	return notYet(10*time.Second, "running since %s", st.StartTime.UTC().Format(time.RFC3339)), nil
}

// refreshBackups writes what the repositories hold into the cluster's
// status.
func refreshBackups(ctx context.Context, tc *taskContext) (stepResult, error) {
	if err := refreshRepoStatus(ctx, tc.client, tc.cluster, tc.now); err != nil {
		return stepResult{}, err
	}
	return done("the cluster's status shows the repositories"), nil
}

// refreshRepoStatus reads what the repositories hold and writes it into
// the cluster's status.
func refreshRepoStatus(ctx context.Context, c client.Client, cluster *pgov1.PGCluster, now time.Time) error {
	repos, err := readRepos(ctx, c, cluster)
	if err != nil {
		return err
	}
	patch := client.MergeFrom(cluster.DeepCopy())
	if cluster.Status.Backups == nil {
		cluster.Status.Backups = &pgov1.PGBackupsStatus{}
	}
	cluster.Status.Backups.Repos = repos
	cluster.Status.Backups.RefreshTime = &metav1.Time{Time: now}
	if err := c.Status().Patch(ctx, cluster, patch); err != nil {
		return fmt.Errorf("writing the repositories into the cluster's status: %w", err)
	}
	return nil
}

// readRepos reads `pgbackrest info` from the repository host: each
// repository's status and backups.
func readRepos(ctx context.Context, c client.Reader, cluster *pgov1.PGCluster) ([]pgov1.PGRepoStatus, error) {
	api, err := repohostapi.ForCluster(ctx, c, cluster, repoHostTimeout)
	if err != nil {
		return nil, err
	}
	raw, err := api.Info(ctx)
	if err != nil {
		return nil, err
	}
	stanzas, err := pgbackrest.ParseInfo(raw)
	if err != nil {
		return nil, err
	}
	s, _ := pgbackrest.Find(stanzas, pgbackrest.Stanza)
	return repoStatuses(s, specs.Repos(cluster)), nil
}

// repoStatuses are the repositories of a cluster as pgbackrest info shows
// them.
func repoStatuses(s pgbackrest.StanzaInfo, repos []pgov1.PGBackupRepo) []pgov1.PGRepoStatus {
	var out []pgov1.PGRepoStatus
	for _, r := range repos {
		key := specs.RepoIndex(r.Name)
		st := pgov1.PGRepoStatus{Name: r.Name, Status: "no stanza yet"}
		for _, ri := range s.Repos {
			if ri.Key == key {
				st.Status, st.Cipher = ri.Status.Message, ri.Cipher
			}
		}
		st.Backups = int32(len(s.InRepo(key)))
		latest := s.Latest(key)
		at := func(typ string) *metav1.Time {
			if b, ok := latest[typ]; ok {
				return &metav1.Time{Time: b.Stopped()}
			}
			return nil
		}
		st.LastFull, st.LastDiff, st.LastIncr = at("full"), at("diff"), at("incr")
		if a, ok := s.ArchiveIn(key); ok {
			st.WALMin, st.WALMax = a.Min, a.Max
		}
		out = append(out, st)
	}
	return out
}
