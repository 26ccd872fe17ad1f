package rules

import (
	"strings"
	"testing"
)

func TestBackupOption(t *testing.T) {
	checkVerdicts(t, "BackupOption", BackupOption, []verdict{
		{in: "--start-fast"},
		{in: "--start-fast=y"},
		{in: "--no-archive-copy"},
		{in: "--annotation=reason=before the upgrade"},
		{in: "--process-max=4"},
		{in: "--compress-type=zst"},
		{in: "start-fast", says: "is not a pgBackRest long option"},
		{in: "--repo1-path=/elsewhere", says: "--repo1-path is set by pgo; remove it"},
		{in: "--repo-path=/elsewhere", says: "is not an option pgo passes"},
		{in: "--cmd=/bin/sh", says: "--cmd is set by pgo; remove it"},
		{in: "--config=/tmp/x.conf", says: "--config is set by pgo"},
		{in: "--stanza=other", says: "--stanza is set by pgo"},
		{in: "--type=full", says: "--type is set by pgo"},
		{in: "--exclude=base", says: "--exclude is not an option pgo passes to pgbackrest backup"},
		{in: "--no-process-max", says: "is not an option pgo passes"},
		{in: "--annotation=a=" + strings.Repeat("9", MaxBackRestOptionLength), says: "characters long"},
	})
}
