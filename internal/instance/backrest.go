package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"pgo.dev/pgo/internal/pgbackrest"
)

// restoreFromRepository makes the member's data directory from the newest
// backup of the cluster's repositories (through the repository host), as
// a standby that then streams from the leader, and returns the backup's
// label. It leaves no data behind when it fails, so that pg_basebackup
// can take over.
func (m *Manager) restoreFromRepository(ctx context.Context) (string, error) {
	out, err := m.backrest(ctx, "info", "--output=json", "--log-level-console=warn")
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
	if _, err := m.backrest(ctx, "restore", "--delta", "--type=standby", "--set="+b.Label, "--repo="+strconv.Itoa(repo)); err != nil {
		if werr := m.pg.WipeData(); werr != nil {
			m.log.Error(werr, "removing what the failed restore left")
		}
		return "", err
	}
	return b.Label, nil
}

// backrest runs pgbackrest for the cluster's stanza (its configuration is in
// the environment); its output goes to the log, and is returned.
func (m *Manager) backrest(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "pgbackrest", append([]string{"--stanza=" + pgbackrest.Stanza}, args...)...)
	var stdout, stderr bytes.Buffer
	log := m.pg.Output
	if log == nil {
		log = io.Discard
	}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, log), io.MultiWriter(&stderr, log)
	if args[0] == "info" {
		cmd.Stdout = &stdout // JSON, not for the log
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pgbackrest %s: %w: %s", args[0], err, lastLine(stderr.String()+stdout.String()))
	}
	return stdout.Bytes(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
