package postgres

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestToArchiveAfterPromotion(t *testing.T) {
	files := []string{
		"000000010000000000000003.done",         // timeline 1: received, to archive
		"000000010000000000000004.done",         // idem
		"000000010000000000000005.ready",        // already waiting
		"000000010000000000000005.done",         // (both: left alone)
		"000000010000000000000006.partial.done", // PostgreSQL archives partial segments
		"00000002.history.done",                 // and history files
		"000000020000000000000006.done",         // the new timeline: archived by the new primary
		"000000020000000000000007.ready",
		"000000030000000000000001.done", // a later timeline (not ours): never
		"0000000100000000000000AB.done",
		"garbage.done",
	}
	got := ToArchiveAfterPromotion(files, 2)
	want := []string{"000000010000000000000003", "000000010000000000000004", "0000000100000000000000AB"}
	if !slices.Equal(got, want) {
		t.Errorf("ToArchiveAfterPromotion = %v, want %v", got, want)
	}
	if got := ToArchiveAfterPromotion(files, 1); len(got) != 0 {
		t.Errorf("on timeline 1: %v", got)
	}
}

func TestArchiveReceivedSegments(t *testing.T) {
	dir := t.TempDir()
	status := filepath.Join(dir, "data", "pg_wal", "archive_status")
	if err := os.MkdirAll(status, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"000000010000000000000003.done", "000000020000000000000004.done"} {
		if err := os.WriteFile(filepath.Join(status, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	i := &Instance{DataDir: filepath.Join(dir, "data")}
	if n, err := i.ArchiveReceivedSegments(2); err != nil || n != 1 {
		t.Fatalf("marked %d, %v", n, err)
	}
	for f, want := range map[string]bool{"000000010000000000000003.ready": true, "000000010000000000000003.done": false, "000000020000000000000004.done": true} {
		if _, err := os.Stat(filepath.Join(status, f)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", f, err == nil, want)
		}
	}

	if got := i.DataSource(); got != "" {
		t.Errorf("no data source recorded, got %q", got)
	}
	if err := i.SetDataSource("pgbackrest backup 20261207-010203F"); err != nil {
		t.Fatal(err)
	}
	if got := i.DataSource(); got != "pgbackrest backup 20261207-010203F" {
		t.Errorf("data source %q", got)
	}
}

func TestFailingSince(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	ok := Archiver{LastArchived: "A", LastArchivedTime: t0, LastFailed: "B", LastFailedTime: t0.Add(-time.Minute)}
	failing := Archiver{LastArchived: "A", LastArchivedTime: t0, LastFailed: "B", LastFailedTime: t0.Add(time.Minute)}
	neverArchived := Archiver{LastFailed: "B", LastFailedTime: t0}
	now := t0.Add(2 * time.Minute)
	was := t0.Add(90 * time.Second)
	for _, c := range []struct {
		name string
		was  *time.Time
		a    Archiver
		want *time.Time
	}{
		{"never failed", nil, Archiver{}, nil},
		{"failed before the last success", &was, ok, nil},
		{"starts failing", nil, failing, &now},
		{"keeps failing: the start stays", &was, failing, &was},
		{"fails before archiving anything", nil, neverArchived, &now},
	} {
		got := FailingSince(c.was, c.a, now)
		if (got == nil) != (c.want == nil) || (got != nil && !got.Equal(*c.want)) {
			t.Errorf("%s: FailingSince = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestUsedPercent(t *testing.T) {
	for _, c := range []struct {
		blocks, free, avail uint64
		want                int32
	}{
		{1000, 1000, 1000, 0},
		{1000, 200, 200, 80},
		{1000, 250, 200, 79}, // 750 used, 200 for users: 78.9 %, rounded up
		{1000, 300, 250, 74}, // a root reserve of 50 blocks
		{1000, 0, 0, 100},
		{0, 0, 0, 0},
	} {
		if got := UsedPercent(c.blocks, c.free, c.avail); got != c.want {
			t.Errorf("UsedPercent(%d, %d, %d) = %d, want %d", c.blocks, c.free, c.avail, got, c.want)
		}
	}
	if p, err := DiskUsage(t.TempDir()); err != nil || p < 0 || p > 100 {
		t.Errorf("DiskUsage of a temporary directory: %d, %v", p, err)
	}
}
