package postgres

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A failed rewind keeps the old data directory aside only when the volume
// can hold it and a new copy: on a full volume it refuses before copying
// anything, and says so.
func TestKeepingNeedsRoomForBoth(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs: runs as root")
	}
	volume := t.TempDir()
	if err := syscall.Mount("tmpfs", volume, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatalf("mounting a 16 MiB tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(volume, 0) })
	data := filepath.Join(volume, "pg15")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "base"), make([]byte, 10<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	earlier := data + keptPrefix + "20260101T000000Z"
	if err := os.Mkdir(earlier, 0o700); err != nil {
		t.Fatal(err)
	}

	i := &Instance{DataDir: data, BinDir: "/nonexistent"}
	_, err := i.BaseBackupKeeping(t.Context(), "host=127.0.0.1 port=1", time.Now())
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "MiB are free") {
		t.Fatalf("keeping 10 MiB on a 16 MiB volume: %v; want ErrNoSpace saying how much is free", err)
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		t.Errorf("the data directory was touched: %v", err)
	}
	if _, err := os.Stat(earlier); !os.IsNotExist(err) {
		t.Errorf("an earlier kept copy is still there (%v): at most one is kept", err)
	}
	if got := i.Kept(); got != "" {
		t.Errorf("Kept() = %q with no copy kept", got)
	}
}
