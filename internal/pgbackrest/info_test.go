package pgbackrest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// testdata/info.json is real `pgbackrest info --output=json` output,
// written by TestBackupsThroughRepositoryHost -update: a full, a diff and
// an incr backup in repo1.
func TestParseInfo(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "info.json"))
	if err != nil {
		t.Fatal(err)
	}
	stanzas, err := ParseInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := Find(stanzas, "db")
	if !ok {
		t.Fatal("no stanza db")
	}
	if _, ok := Find(stanzas, "other"); ok {
		t.Error("found a stanza that is not there")
	}
	if s.Status.Code != 0 || s.Status.Lock == nil || s.Status.Lock.Backup.Held || s.Cipher != "none" {
		t.Errorf("stanza status %+v, cipher %q", s.Status, s.Cipher)
	}
	if len(s.DB) != 1 || s.DB[0].Version != "15" || s.DB[0].SystemID != 7716672114553185579 {
		t.Errorf("db: %+v", s.DB)
	}
	b := s.InRepo(1)
	if got := types(b); !slices.Equal(got, []string{"full", "diff", "incr"}) {
		t.Fatalf("backups: %v", got)
	}
	full, diff, incr := b[0], b[1], b[2]
	if full.Label != "20261207-210900F" || full.Prior != nil || full.Reference != nil {
		t.Errorf("full: %s prior %v reference %v", full.Label, full.Prior, full.Reference)
	}
	if *diff.Prior != full.Label || !slices.Equal(diff.Reference, []string{full.Label}) || *incr.Prior != diff.Label || len(incr.Reference) != 2 {
		t.Errorf("references: diff %v %v, incr %v %v", *diff.Prior, diff.Reference, *incr.Prior, incr.Reference)
	}
	if full.Info.Size != 23197505 || full.Info.Delta != 23197505 || full.Info.Repository.Size != 4592408 || full.Info.Repository.Delta != 4592408 {
		t.Errorf("full sizes: %+v", full.Info)
	}
	if full.Archive != (Range{"000000010000000000000003", "000000010000000000000004"}) || full.LSN != (Range{"0/3000028", "0/4000050"}) {
		t.Errorf("full WAL %+v, LSN %+v", full.Archive, full.LSN)
	}
	if got := full.Stopped(); !got.Equal(time.Unix(1796677744, 0)) || full.Started().After(got) {
		t.Errorf("full times %v to %v", full.Started(), got)
	}
	latest := s.Latest(1)
	if latest["full"].Label != full.Label || latest["diff"].Label != diff.Label || latest["incr"].Label != incr.Label {
		t.Errorf("latest: %v", latest)
	}
	if len(s.Latest(2)) != 0 || len(s.InRepo(2)) != 0 {
		t.Error("repo2 holds nothing")
	}
	a, ok := s.ArchiveIn(1)
	if !ok || a.Min != "000000010000000000000001" || a.Max != "000000010000000000000008" || a.ID != "15-1" {
		t.Errorf("archive of repo1: %+v, %v", a, ok)
	}
	if _, ok := s.ArchiveIn(2); ok {
		t.Error("repo2 has no archive")
	}
	if b, repo, ok := s.Newest(); !ok || repo != 1 || b.Label != incr.Label {
		t.Errorf("newest: %s in repo%d (%v)", b.Label, repo, ok)
	}
	// A backup in repo2 that stopped at the same time as the incr loses
	// the tie; one that failed never counts.
	twin := incr
	twin.Database.RepoKey, twin.Label = 2, "twin"
	broken := incr
	broken.Timestamp.Stop, broken.Error, broken.Label = incr.Timestamp.Stop+100, true, "broken"
	s.Backups = append(s.Backups, twin, broken)
	if b, repo, _ := s.Newest(); repo != 1 || b.Label != incr.Label {
		t.Errorf("newest with a twin in repo2 and a failed one: %s in repo%d", b.Label, repo)
	}
	if _, _, ok := (StanzaInfo{}).Newest(); ok {
		t.Error("a stanza without backups has a newest one")
	}
	if _, err := ParseInfo([]byte("ERROR: [055]")); err == nil {
		t.Error("ParseInfo took text that is not JSON")
	}
}

// types are the types of backups, in order.
func types(backups []BackupInfo) []string {
	out := make([]string, len(backups))
	for i, b := range backups {
		out[i] = b.Type
	}
	return out
}
