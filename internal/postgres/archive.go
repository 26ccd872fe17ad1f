package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Archiving: what the archiver reports, the segments a promoted standby
// must archive, and where an instance's data came from.

// Archiver is pg_stat_archiver: the last segment archived and the last
// that failed, with their times (zero when none).
type Archiver struct {
	LastArchived     string
	LastArchivedTime time.Time
	LastFailed       string
	LastFailedTime   time.Time
}

// Failing tells whether the last attempt failed: a failure after the last
// success.
func (a Archiver) Failing() bool {
	return !a.LastFailedTime.IsZero() && a.LastFailedTime.After(a.LastArchivedTime)
}

// FailingSince is since when archiving fails, as the instance manager sees
// it: when it first saw the failure (now), kept while it fails, cleared
// when it succeeds.
func FailingSince(was *time.Time, a Archiver, now time.Time) *time.Time {
	switch {
	case !a.Failing():
		return nil
	case was != nil:
		return was
	}
	return &now
}

// Archiver reads pg_stat_archiver.
func (i *Instance) Archiver(ctx context.Context) (Archiver, error) {
	pool, err := i.Pool(ctx)
	if err != nil {
		return Archiver{}, err
	}
	var a Archiver
	var archived, failed *string
	var archivedAt, failedAt *time.Time
	if err := pool.QueryRow(ctx, `SELECT last_archived_wal, last_archived_time, last_failed_wal, last_failed_time FROM pg_stat_archiver`).
		Scan(&archived, &archivedAt, &failed, &failedAt); err != nil {
		return a, fmt.Errorf("reading pg_stat_archiver: %w", err)
	}
	if archived != nil && archivedAt != nil {
		a.LastArchived, a.LastArchivedTime = *archived, archivedAt.UTC()
	}
	if failed != nil && failedAt != nil {
		a.LastFailed, a.LastFailedTime = *failed, failedAt.UTC()
	}
	return a, nil
}

// segmentDone is the archive status of a whole WAL segment already
// archived, or received by a standby (which marks what it streams as done,
// with archive_mode on).
var segmentDone = regexp.MustCompile(`^([0-9A-F]{8})[0-9A-F]{16}\.done$`)

// ToArchiveAfterPromotion are the segments of earlier timelines that a
// promoted standby received (marked done) and must archive itself: the
// former primary may have died before archiving them. Segments already
// waiting (ready) are left alone; partial segments and history files are
// archived by PostgreSQL. The archive takes the same segment twice when it
// is the same (pgBackRest compares checksums).
func ToArchiveAfterPromotion(statusFiles []string, timeline int64) []string {
	ready := map[string]bool{}
	for _, f := range statusFiles {
		if seg, ok := strings.CutSuffix(f, ".ready"); ok {
			ready[seg] = true
		}
	}
	var out []string
	for _, f := range statusFiles {
		m := segmentDone.FindStringSubmatch(f)
		if m == nil {
			continue
		}
		tli, err := strconv.ParseInt(m[1], 16, 64)
		seg := strings.TrimSuffix(f, ".done")
		if err == nil && tli < timeline && !ready[seg] {
			out = append(out, seg)
		}
	}
	return out
}

// ArchiveReceivedSegments marks the segments of earlier timelines that the
// instance received as a standby ready to archive again, after its
// promotion to timeline; PostgreSQL's archiver then pushes them. It returns
// how many it marked.
func (i *Instance) ArchiveReceivedSegments(timeline int64) (int, error) {
	dir := filepath.Join(i.DataDir, "pg_wal", "archive_status")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", dir, err)
	}
	names := make([]string, len(entries))
	for n, e := range entries {
		names[n] = e.Name()
	}
	marked := 0
	for _, seg := range ToArchiveAfterPromotion(names, timeline) {
		// The checkpointer may remove a done segment meanwhile: then it is
		// gone from pg_wal too, and there is nothing to archive.
		err := os.Rename(filepath.Join(dir, seg+".done"), filepath.Join(dir, seg+".ready"))
		switch {
		case err == nil:
			marked++
		case !errors.Is(err, os.ErrNotExist):
			return marked, fmt.Errorf("marking %s to archive: %w", seg, err)
		}
	}
	return marked, nil
}

// dataSourceFile records how an instance's data directory was made, next
// to it on the data volume, so that it survives restarts.
func (i *Instance) dataSourceFile() string {
	return filepath.Join(filepath.Dir(i.DataDir), "pgo-data-source")
}

// SetDataSource records how the data directory was made: "initdb",
// "pg_basebackup from <member>", "pgbackrest backup <label>".
func (i *Instance) SetDataSource(source string) error {
	if err := writeFileAtomic(i.dataSourceFile(), []byte(source+"\n"), 0o600); err != nil {
		return fmt.Errorf("recording the data source: %w", err)
	}
	return nil
}

// DataSource is how the data directory was made, if recorded.
func (i *Instance) DataSource() string {
	b, err := os.ReadFile(i.dataSourceFile())
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
