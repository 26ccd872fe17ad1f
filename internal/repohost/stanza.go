package repohost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohostapi"
)

// createStanza creates each S3 repository's missing bucket, then the
// stanza in every repository. The repositories are the configuration's:
// the file pgBackRest reads is the one description of them, and the
// caller's list (req.Repos) only says what it must hold already.
func (m *Manager) createStanza(ctx context.Context, req repohostapi.StanzaRequest) (repohostapi.StanzaReply, error) {
	m.stanzaMu.Lock()
	defer m.stanzaMu.Unlock()
	var reply repohostapi.StanzaReply
	cfg, err := pgbackrest.ReadConfig(m.opts.Config, m.opts.IncludePath)
	if err != nil {
		return reply, err
	}
	repos := cfg.Repos()
	for _, r := range repos {
		reply.Repos = append(reply.Repos, r.Index)
	}
	var missing []string
	for _, n := range req.Repos {
		if !slices.Contains(reply.Repos, n) {
			missing = append(missing, "repo"+strconv.Itoa(n))
		}
	}
	if len(missing) > 0 {
		return reply, errStatus{code: http.StatusServiceUnavailable, err: fmt.Errorf(
			"the repository host's configuration has no %s yet (the kubelet updates a mounted ConfigMap within a minute or so); try again",
			strings.Join(missing, ", "))}
	}
	if len(repos) == 0 {
		return reply, errStatus{code: http.StatusConflict, err: fmt.Errorf("the configuration %s defines no repository", m.opts.Config)}
	}

	for _, r := range repos {
		if r.Type != "s3" {
			continue
		}
		created, err := m.ensureBucket(ctx, r)
		if err != nil {
			return reply, err
		}
		if created {
			reply.BucketsCreated = append(reply.BucketsCreated, r.Index)
		}
	}

	err = m.exec.Run(ctx, m.opts.CommandTimeout, "stanza-create: ", []string{"stanza-create", "--stanza=" + pgbackrest.Stanza}, nil)
	if err != nil {
		return reply, m.explainStanzaError(ctx, err)
	}
	reply.Message = fmt.Sprintf("stanza %s is in %s", pgbackrest.Stanza, repoNames(reply.Repos))
	if len(reply.BucketsCreated) > 0 {
		reply.Message += "; created the bucket of " + repoNames(reply.BucketsCreated)
	}
	m.log.Info("stanza created", "repos", reply.Repos, "bucketsCreated", reply.BucketsCreated)
	return reply, nil
}

func repoNames(indexes []int) string {
	names := make([]string, len(indexes))
	for i, n := range indexes {
		names[i] = "repo" + strconv.Itoa(n)
	}
	return strings.Join(names, ", ")
}

// ensureBucket creates an S3 repository's bucket when it is missing, and
// says whether it did. It looks first (repo-ls), so that a key allowed to
// use a bucket but not to create one works with a bucket that exists.
func (m *Manager) ensureBucket(ctx context.Context, r pgbackrest.ConfiguredRepo) (bool, error) {
	repo := "--repo=" + strconv.Itoa(r.Index)
	// Quiet: a missing bucket is no error here, and an error comes back.
	_, err := m.exec.Output(ctx, m.opts.CommandTimeout, "", []string{"repo-ls", repo})
	switch {
	case err == nil:
		return false, nil
	case !says(err, "<Code>NoSuchBucket</Code>"):
		return false, fmt.Errorf("looking for the bucket %s of repo%d: %w", r.Bucket, r.Index, err)
	}
	m.log.Info("creating the bucket of an S3 repository", "repo", r.Index, "bucket", r.Bucket)
	err = m.exec.Run(ctx, m.opts.CommandTimeout, "repo-create: ", []string{"repo-create", repo}, nil)
	switch {
	case err == nil:
		return true, nil
	case says(err, "<Code>BucketAlreadyOwnedByYou</Code>"):
		// Created meanwhile, by these keys.
		return false, nil
	case says(err, "<Code>BucketAlreadyExists</Code>"):
		return false, errStatus{code: http.StatusConflict, err: fmt.Errorf(
			"the bucket %s of repo%d belongs to another account of the S3 service: choose another bucket name", r.Bucket, r.Index)}
	}
	return false, fmt.Errorf("creating the bucket %s of repo%d: %w", r.Bucket, r.Index, err)
}

// says tells whether pgBackRest's error messages hold s.
func says(err error, s string) bool {
	var e *pgbackrest.Error
	return errors.As(err, &e) && strings.Contains(strings.Join(e.Messages, "\n"), s)
}

// explainStanzaError names the cause of a stanza-create that found a
// repository with another cluster's stanza: the system identifiers differ.
func (m *Manager) explainStanzaError(ctx context.Context, err error) error {
	if pgbackrest.ErrorCode(err) != pgbackrest.ErrFileInvalid || !says(err, "do not match the database") {
		return err
	}
	held := "another"
	if out, infoErr := m.info(ctx); infoErr == nil {
		if stanzas, parseErr := pgbackrest.ParseInfo(out); parseErr == nil {
			if s, ok := pgbackrest.Find(stanzas, pgbackrest.Stanza); ok {
				var ids []string
				for _, db := range s.DB {
					ids = append(ids, fmt.Sprintf("repo%d: system identifier %d, PostgreSQL %s", db.RepoKey, db.SystemID, db.Version))
				}
				if len(ids) > 0 {
					held = strings.Join(ids, "; ")
				}
			}
		}
	}
	return errStatus{code: http.StatusConflict, err: fmt.Errorf(
		"a repository holds stanza %s of another PostgreSQL cluster (%s), not of this cluster's PostgreSQL: "+
			"give this cluster a repository path of its own, or empty the repository if its backups are no longer needed: %w",
		pgbackrest.Stanza, held, err)}
}

// info is `pgbackrest info --stanza=db --output=json`.
func (m *Manager) info(ctx context.Context) ([]byte, error) {
	return m.exec.Output(ctx, m.opts.CommandTimeout, "info: ", []string{"info", "--stanza=" + pgbackrest.Stanza, "--output=json"})
}
