package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"pgo.dev/pgo/internal/pgbackrest"
)

// Bounds of the pgbackrest commands the instance manager runs: a restore
// copies the whole data directory.
const (
	backRestInfoTimeout    = 5 * time.Minute
	backRestRestoreTimeout = 24 * time.Hour
)

// restoreFromRepository makes the member's data directory from the newest
// backup of the cluster's repositories (through the repository host), as
// a standby that then streams from the leader, and returns the backup's
// label. It leaves no data behind when it fails, so that pg_basebackup
// can take over.
func (m *Manager) restoreFromRepository(ctx context.Context) (string, error) {
	run := m.backRestExec()
	stanza := "--stanza=" + pgbackrest.Stanza
	out, err := run.Output(ctx, backRestInfoTimeout, "", []string{"info", stanza, "--output=json"})
	if err != nil {
		return "", err
	}
	stanzas, err := pgbackrest.ParseInfo(out)
	if err != nil {
		return "", err
	}
	s, _ := pgbackrest.Find(stanzas, pgbackrest.Stanza)
	b, repo, ok := s.Newest()
	if !ok {
		return "", errors.New("the repositories hold no backup yet")
	}
	if err := os.MkdirAll(m.pg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("making the data directory: %w", err)
	}
	m.log.Info("restoring from the repository", "backup", b.Label, "repo", repo)
	args := []string{"restore", stanza, "--delta", "--type=standby", "--set=" + b.Label, "--repo=" + strconv.Itoa(repo)}
	if err := run.Run(ctx, backRestRestoreTimeout, "pgbackrest restore: ", args, nil); err != nil {
		if werr := m.pg.WipeData(); werr != nil {
			m.log.Error(werr, "removing what the failed restore left")
		}
		return "", err
	}
	return b.Label, nil
}

// backRestExec runs pgbackrest (its configuration is in the environment),
// its output in the log.
func (m *Manager) backRestExec() *pgbackrest.Exec {
	out := m.pg.Output
	if out == nil {
		out = io.Discard
	}
	return &pgbackrest.Exec{Lines: pgbackrest.NewLines(out)}
}
