package repohost

import (
	"fmt"
	"testing"

	"pgo.dev/pgo/internal/repohostapi"
)

// The manager keeps the last KeptBackups statuses, and never forgets the
// one that runs, however old.
func TestKeptStatuses(t *testing.T) {
	m := &Manager{backups: map[string]*repohostapi.BackupStatus{}}
	m.keep(&repohostapi.BackupStatus{ID: "running"})
	m.running = "running"
	for i := range 2 * repohostapi.KeptBackups {
		m.keep(&repohostapi.BackupStatus{ID: fmt.Sprint("b", i)})
	}
	if len(m.backups) != repohostapi.KeptBackups || len(m.order) != repohostapi.KeptBackups {
		t.Fatalf("%d statuses (%d in order), want %d", len(m.backups), len(m.order), repohostapi.KeptBackups)
	}
	if _, ok := m.backups["running"]; !ok || m.order[0] != "running" {
		t.Error("the running backup was forgotten")
	}
	if _, ok := m.backups["b50"]; ok {
		t.Error("an old status was kept")
	}
	if _, ok := m.backups[fmt.Sprint("b", 2*repohostapi.KeptBackups-1)]; !ok {
		t.Error("the newest status was forgotten")
	}
}
