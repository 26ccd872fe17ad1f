package postgres

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// UsedPercent is how full a file system is, as df's Use% counts it: the
// blocks in use over those in use plus those an unprivileged process may
// still take (the root reserve left out), rounded up.
func UsedPercent(blocks, free, avail uint64) int32 {
	used := blocks - free
	if used+avail == 0 {
		return 0
	}
	return int32((used*100 + used + avail - 1) / (used + avail))
}

// DiskUsage is how full the file system that holds path is.
func DiskUsage(path string) (int32, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("reading the space of %s: %w", path, err)
	}
	return UsedPercent(st.Blocks, st.Bfree, st.Bavail), nil
}
