package apiserver

import (
	"context"
	"fmt"
	"slices"
	"time"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/specs"
)

// Backups: pgo backup starts one as a PGTask the controller runs on the
// repository host; pgo show backup and pgo delete backup ask the repository
// host (pgbackrest info, pgbackrest expire).

// repoHostTimeout bounds a call to a repository host: reading S3
// repositories takes seconds.
const repoHostTimeout = time.Minute

// createBackup answers CreateBackup.
func (s *Server) createBackup(ctx context.Context, r *request) (any, error) {
	var req pgoapi.CreateBackupRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	var v checks
	b, why := rules.BackupOptions(req.BackupOpts)
	v.rule("backupOpts", req.BackupOpts, why)
	repo := b.Repo
	if req.Repo != "" {
		v.rule("repo", req.Repo, rules.RepoName(req.Repo))
		if repo != "" && repo != pgov1.RepoName(req.Repo) {
			v.add("repo", "is %s but backupOpts say --repo=%s; give one of them", req.Repo, repo[len("repo"):])
		}
		repo = pgov1.RepoName(req.Repo)
	}
	repos := specs.Repos(c)
	if repo == "" {
		repo = repos[0].Name
	}
	if why == "" && !slices.ContainsFunc(repos, func(x pgov1.PGBackupRepo) bool { return x.Name == repo }) {
		v.add("repo", "cluster %s has no repository %s; it has %s", c.Name, repo, repoList(repos))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if c.Spec.Shutdown {
		return nil, conflict("cluster %s is shut down; start it with pgo update cluster %s --startup", c.Name, c.Name)
	}
	if b.Type == "" {
		b.Type = pgov1.BackupFull
	}
	id, err := s.startTask(ctx, c, pgov1.PGTaskSpec{Type: pgov1.TaskBackup, Backup: &pgov1.PGBackupParameters{Type: b.Type, RepoName: repo, Options: b.Options}})
	if err != nil {
		return nil, err
	}
	task := taskName(c.Name, pgov1.TaskBackup, id)
	return pgoapi.CreateBackupResponse{Name: c.Name, Task: task, Type: string(b.Type), Repo: string(repo), WorkflowID: id,
		Message: fmt.Sprintf("created PGTask %s: backup (%s) of cluster %s to %s", task, b.Type, c.Name, repo)}, nil
}

func repoList(repos []pgov1.PGBackupRepo) string {
	var names []string
	for _, r := range repos {
		names = append(names, string(r.Name))
	}
	return fmt.Sprint(names)
}

// repoInfo reads pgbackrest info from a cluster's repository host.
func (s *Server) repoInfo(ctx context.Context, c *pgov1.PGCluster) (pgbackrest.StanzaInfo, error) {
	api, err := repohostapi.ForCluster(ctx, s.Client, c, repoHostTimeout)
	if err != nil {
		return pgbackrest.StanzaInfo{}, unavailable("cluster %s's repository host does not answer yet: %v", c.Name, err)
	}
	raw, err := api.Info(ctx)
	if err != nil {
		return pgbackrest.StanzaInfo{}, unavailable("cluster %s's repository host: %v", c.Name, err)
	}
	stanzas, err := pgbackrest.ParseInfo(raw)
	if err != nil {
		return pgbackrest.StanzaInfo{}, err
	}
	st, _ := pgbackrest.Find(stanzas, pgbackrest.Stanza)
	return st, nil
}

// showBackup answers ShowBackup.
func (s *Server) showBackup(ctx context.Context, r *request) (any, error) {
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	info, err := s.repoInfo(ctx, c)
	if err != nil {
		return nil, err
	}
	return showBackupResponse(c, info), nil
}

// showBackupResponse is the table of `pgo show backup`.
func showBackupResponse(c *pgov1.PGCluster, info pgbackrest.StanzaInfo) pgoapi.ShowBackupResponse {
	out := pgoapi.ShowBackupResponse{Name: c.Name, Stanza: pgbackrest.Stanza}
	for _, repo := range specs.Repos(c) {
		key := specs.RepoIndex(repo.Name)
		br := pgoapi.BackupRepo{Name: string(repo.Name), Kind: "posix", Status: "no stanza yet", Backups: []pgoapi.Backup{}}
		if repo.S3 != nil {
			br.Kind = "s3"
		}
		for _, ri := range info.Repos {
			if ri.Key == key {
				br.Status, br.Cipher = ri.Status.Message, ri.Cipher
			}
		}
		for _, db := range info.DB {
			if db.RepoKey == key {
				br.PostgresVersion = db.Version
			}
		}
		if a, ok := info.ArchiveIn(key); ok {
			br.WALMin, br.WALMax = a.Min, a.Max
		}
		for _, b := range info.InRepo(key) {
			br.Backups = append(br.Backups, pgoapi.Backup{
				Label: b.Label, Type: b.Type, StartTime: b.Started(), StopTime: b.Stopped(),
				WALStart: b.Archive.Start, WALStop: b.Archive.Stop,
				DatabaseSize: b.Info.Size, BackupSize: b.Info.Delta, RepoSize: b.Info.Repository.Size, RepoBackupSize: b.Info.Repository.Delta,
				Reference: b.Reference, Annotations: b.Annotation, Error: b.Error,
			})
		}
		out.Repos = append(out.Repos, br)
	}
	return out
}

// deleteBackup answers DeleteBackup: pgbackrest expire --set.
func (s *Server) deleteBackup(ctx context.Context, r *request) (any, error) {
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	label, repo := r.PathValue(pgoapi.ParamLabel), r.URL.Query().Get(pgoapi.QueryRepo)
	var v checks
	if repo != "" {
		v.rule(pgoapi.QueryRepo, repo, rules.RepoName(repo))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	info, err := s.repoInfo(ctx, c)
	if err != nil {
		return nil, err
	}
	key, why, code := expireDecision(info, label, repo, r.URL.Query().Get(pgoapi.QueryForce) == "true")
	switch code {
	case 404:
		return nil, notFound("%s", why)
	case 409:
		return nil, conflict("%s", why)
	case 422:
		v.add(pgoapi.QueryRepo, "%s", why)
		return nil, v.err()
	}
	api, err := repohostapi.ForCluster(ctx, s.Client, c, repoHostTimeout)
	if err != nil {
		return nil, unavailable("cluster %s's repository host does not answer: %v", c.Name, err)
	}
	if _, err := api.Expire(ctx, repohostapi.ExpireRequest{Repo: key, Set: label}); err != nil {
		return nil, fmt.Errorf("expiring backup %s: %w", label, err)
	}
	s.Log.Info("backup expired", "cluster", c.Name, "namespace", c.Namespace, "label", label, "repo", key, "user", r.user.Name)
	return pgoapi.DeleteBackupResponse{Name: c.Name, Label: label, Repo: fmt.Sprintf("repo%d", key),
		Message: fmt.Sprintf("expired backup %s (and the backups that depend on it) in repo%d of cluster %s", label, key, c.Name)}, nil
}

// expireDecision says whether one backup set may be expired, and in which
// repository: the one named, else the one that holds it (it must be
// one). Expiring the last full backup of a repository leaves nothing to
// restore from: refused without force. code is 0 when allowed, else 404,
// 409 or 422 with why.
func expireDecision(info pgbackrest.StanzaInfo, label, repo string, force bool) (key int, why string, code int) {
	var holders []int
	for _, b := range info.Backups {
		if b.Label == label && !slices.Contains(holders, b.Database.RepoKey) {
			holders = append(holders, b.Database.RepoKey)
		}
	}
	switch {
	case len(holders) == 0:
		return 0, fmt.Sprintf("no backup %s; pgo show backup lists them", label), 404
	case repo != "":
		key = specs.RepoIndex(pgov1.RepoName(repo))
		if !slices.Contains(holders, key) {
			return 0, fmt.Sprintf("%s holds no backup %s; repo%d does", repo, label, holders[0]), 404
		}
	case len(holders) > 1:
		return 0, fmt.Sprintf("backup %s is in several repositories (%v); name one with --repo", label, holders), 422
	default:
		key = holders[0]
	}
	fulls := 0
	isFull := false
	for _, b := range info.InRepo(key) {
		if b.Type == string(pgov1.BackupFull) && !b.Error {
			fulls++
			isFull = isFull || b.Label == label
		}
	}
	if isFull && fulls == 1 && !force {
		return 0, fmt.Sprintf("%s is the only full backup in repo%d: expiring it leaves nothing to restore from; give --force to expire it anyway", label, key), 409
	}
	return key, "", 0
}
