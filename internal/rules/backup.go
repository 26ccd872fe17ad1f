package rules

import (
	"fmt"
	"slices"
	"strings"
)

// BackupOptionNames are the options of `pgbackrest backup` a user may
// give: how a backup is taken, never where from or to, nor what runs (pgo
// sets the stanza, the repository, the type and the configuration). The
// boolean ones may be negated (--no-archive-check).
var BackupOptionNames = []string{
	"archive-check", "archive-copy", "archive-timeout", "backup-standby", "buffer-size", "checksum-page",
	"compress-level", "compress-level-network", "compress-type", "db-timeout", "delta", "io-timeout",
	"manifest-save-threshold", "process-max", "protocol-timeout", "resume", "start-fast", "stop-auto",
}

// backupBooleans are the BackupOptionNames that take no value.
var backupBooleans = []string{"archive-check", "archive-copy", "backup-standby", "checksum-page", "delta", "resume", "start-fast", "stop-auto"}

// BackupOption checks one option of a backup, such as --start-fast or
// --process-max=4. The reason names the option itself (it follows a
// colon).
func BackupOption(option string) string {
	name, _, _ := strings.Cut(option, "=")
	bare := strings.TrimPrefix(name, "--")
	switch {
	case !backRestOption.MatchString(option):
		return fmt.Sprintf("%q is not a pgBackRest long option; give options such as --start-fast or --process-max=4", option)
	case len(option) > MaxBackRestOptionLength:
		return fmt.Sprintf("%s is %d characters long; give options of at most %d", name, len(option), MaxBackRestOptionLength)
	case strings.HasPrefix(bare, "no-") && slices.Contains(backupBooleans, strings.TrimPrefix(bare, "no-")):
		return ""
	case !slices.Contains(BackupOptionNames, bare):
		return fmt.Sprintf("%s is not an option pgo passes to pgbackrest backup; give one of --%s", name, strings.Join(BackupOptionNames, ", --"))
	}
	return ""
}
