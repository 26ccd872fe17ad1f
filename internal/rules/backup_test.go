package rules

import (
	"strings"
	"testing"
)

func TestBackupOption(t *testing.T) {
	checkVerdicts(t, "BackupOption", BackupOption, []verdict{
		{in: "--start-fast"},
		{in: "--start-fast=y"},
		{in: "--no-archive-check"},
		{in: "--process-max=4"},
		{in: "--compress-type=zst"},
		{in: "start-fast", says: "is not a pgBackRest long option"},
		{in: "--repo1-path=/elsewhere", says: "--repo1-path is not an option pgo passes"},
		{in: "--repo-path=/elsewhere", says: "is not an option pgo passes"},
		{in: "--cmd=/bin/sh", says: "--cmd is not an option pgo passes"},
		{in: "--config=/tmp/x.conf", says: "is not an option pgo passes"},
		{in: "--stanza=other", says: "is not an option pgo passes"},
		{in: "--type=full", says: "is not an option pgo passes"},
		{in: "--no-process-max", says: "is not an option pgo passes"},
		{in: "--io-timeout=" + strings.Repeat("9", MaxBackRestOptionLength), says: "characters long"},
	})
}
