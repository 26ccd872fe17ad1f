package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	pgov1 "pgo.dev/pgo/api/v1"
)

// SplitWords is the one tokeniser of option strings: pgo and the apiserver
// read --restore-opts alike, backslashes included.
func TestSplitWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		says string
	}{
		{in: "", want: nil},
		{in: `--target='a b' --set=x\ y`, want: []string{"--target=a b", "--set=x y"}},
		{in: `--a=1  --b="x y" --c='p "q"'` + "\t--d", want: []string{"--a=1", "--b=x y", `--c=p "q"`, "--d"}},
		{in: `--type=time "--target=2026-11-27 11:59:59+00" --set='x y'`, want: []string{"--type=time", "--target=2026-11-27 11:59:59+00", "--set=x y"}},
		{in: `--x="a \"b\" \\ c"`, want: []string{`--x=a "b" \ c`}},
		{in: `--x='a\b'`, want: []string{`--x=a\b`}},
		{in: `--x=a\\b`, want: []string{`--x=a\b`}},
		{in: `--x=''`, want: []string{"--x="}},
		{in: `''`, want: []string{""}},
		{in: `--target='x`, says: "an opening ' has no closing one"},
		{in: `--target="x`, says: `an opening " has no closing one`},
		{in: `--x=a\`, says: "the last backslash escapes nothing"},
	} {
		got, why := SplitWords(c.in)
		if reasonOK(t, fmt.Sprintf("SplitWords(%q)", c.in), why, c.says) && !slices.Equal(got, c.want) {
			t.Errorf("SplitWords(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRestoreOptions(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Restore
		says string
	}{
		{in: "", want: Restore{}},
		{in: "--type=default", want: Restore{}},
		{in: `--type=time --target="2026-11-27 11:59:59+00" --repo=2 --set=20261127-010000F`, want: Restore{
			Target:  &pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetTime, Value: "2026-11-27 11:59:59+00"},
			Repo:    "repo2",
			Options: pgov1.PgBackRestOptions{"--set=20261127-010000F"},
		}},
		{in: "--type=immediate --target-exclusive", want: Restore{Target: &pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetImmediate, Exclusive: true}}},
		{in: "--type=xid --target=1234 --target-exclusive=n", want: Restore{Target: &pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetXID, Value: "1234"}}},
		{in: "--type=lsn --target=0/3000060", want: Restore{Target: &pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetLSN, Value: "0/3000060"}}},
		{in: `--type=name --target='a b' --set=x\ y`, want: Restore{Target: &pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetName, Value: "a b"}, Options: pgov1.PgBackRestOptions{"--set=x y"}}},
		{in: "type=time", says: `"type=time" is not a pgBackRest long option`},
		{in: "--type=later", says: "--type=later is not one of time, xid, lsn, name, immediate, default"},
		{in: "--type=xid", says: "--type=xid needs --target"},
		{in: "--type=xid --target=abc", says: "--target=abc is not a transaction number"},
		{in: "--type=lsn --target=3000060", says: "--target=3000060 is not an LSN"},
		{in: "--type=time --target=" + strings.Repeat("1", 257), says: "--target is 257 characters long; give at most 256"},
		{in: "--target=x", says: "--target needs --type=time, xid, lsn or name"},
		{in: "--type=immediate --target=x", says: "--type=immediate takes no --target"},
		{in: "--repo=5", says: "--repo=5 is not a repository number from 1 to 4"},
		{in: "--repo=", says: "--repo= is not a repository number"},
		{in: "--stanza=db", says: "--stanza is set by pgo; remove it"},
		{in: "--pg1-path=/x", says: "--pg1-path is set by pgo"},
		{in: "--set=" + strings.Repeat("x", 251), says: "--set is 257 characters long; give options of at most 256"},
		{in: strings.Repeat("--process-max=2 ", 33), says: "there are 33 options besides --type, --target and --repo; give at most 32"},
		{in: `--target="open`, says: "an opening \" has no closing one"},
	} {
		got, why := RestoreOptions(c.in)
		if reasonOK(t, fmt.Sprintf("RestoreOptions(%q)", c.in), why, c.says) && !reflect.DeepEqual(got, c.want) {
			t.Errorf("RestoreOptions(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	// 32 options passed on are fine.
	if _, why := RestoreOptions(strings.Repeat("--process-max=2 ", 32) + "--type=immediate --repo=1"); why != "" {
		t.Errorf("32 options: %q", why)
	}
}

func TestBackupOptions(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Backup
		says string
	}{
		{in: "", want: Backup{}},
		{in: "--type=incr --repo=2", want: Backup{Type: pgov1.BackupIncremental, Repo: "repo2"}},
		{in: `--type=full --start-fast "--annotation=reason=before upgrade" --compress-type=zst --compress-level=3 --process-max=2`, want: Backup{
			Type:    pgov1.BackupFull,
			Options: pgov1.PgBackRestOptions{"--start-fast", "--annotation=reason=before upgrade", "--compress-type=zst", "--compress-level=3", "--process-max=2"},
		}},
		{in: "--no-start-fast --start-fast=y --checksum-page --no-resume --archive-copy", want: Backup{
			Options: pgov1.PgBackRestOptions{"--no-start-fast", "--start-fast=y", "--checksum-page", "--no-resume", "--archive-copy"},
		}},
		{in: "--type=weekly", says: "--type=weekly is not one of full, diff, incr"},
		{in: "--repo=0", says: "--repo=0 is not a repository number from 1 to 4"},
		{in: "full", says: `"full" is not a pgBackRest long option`},
		{in: "--stanza=other", says: "--stanza is set by pgo; remove it"},
		{in: "--pg1-host=evil", says: "--pg1-host is set by pgo; remove it"},
		{in: "--repo1-path=/tmp", says: "--repo1-path is set by pgo; remove it"},
		{in: "--cmd=/bin/sh", says: "--cmd is set by pgo; remove it"},
		{in: "--config=/tmp/x", says: "--config is set by pgo; remove it"},
		{in: "--log-path=/tmp", says: "--log-path is set by pgo; remove it"},
		{in: "--backup-standby", says: "--backup-standby is set by pgo; remove it"},
		{in: "--exclude=base", says: "--exclude is not an option pgo passes to pgbackrest backup; give --type, --repo"},
		{in: "--compress-type=rar", says: "--compress-type is not an option pgo passes"},
		{in: "--annotation=novalue", says: "--annotation is not an option pgo passes"},
		{in: "--start-fast=maybe", says: "--start-fast is not an option pgo passes"},
		{in: "--annotation=k=" + strings.Repeat("v", 250), says: "--annotation is 265 characters long; give options of at most 256"},
		{in: strings.Repeat("--start-fast ", 33), says: "there are 33 options besides --type and --repo; give at most 32"},
		{in: `"--annotation=a=b`, says: "an opening \" has no closing one"},
	} {
		got, why := BackupOptions(c.in)
		if reasonOK(t, fmt.Sprintf("BackupOptions(%q)", c.in), why, c.says) && !reflect.DeepEqual(got, c.want) {
			t.Errorf("BackupOptions(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	// What BackupOptions passes on, the CRD's pattern takes (and only that).
	for _, o := range []string{"--start-fast", "--annotation=a=b c", "--process-max=12", "--no-archive-copy"} {
		if !backupOption.MatchString(o) {
			t.Errorf("%s is refused by BackupOptionPattern", o)
		}
	}
}

func TestBackRestStorage(t *testing.T) {
	for _, c := range []struct {
		in        string
		posix, s3 bool
		says      string
	}{
		{in: "", posix: true},
		{in: "posix", posix: true},
		{in: "s3", s3: true},
		{in: "posix,s3", posix: true, s3: true},
		{in: "s3,posix", posix: true, s3: true},
		{in: "posix, s3", posix: true, s3: true},
		{in: "gcs", says: "is not one of posix, s3, posix,s3"},
		{in: ",", says: "is not one of"},
		{in: "posix,", says: "is not one of"},
	} {
		posix, s3, why := BackRestStorage(c.in)
		if reasonOK(t, fmt.Sprintf("BackRestStorage(%q)", c.in), why, c.says) && (posix != c.posix || s3 != c.s3) {
			t.Errorf("BackRestStorage(%q) = %v, %v", c.in, posix, s3)
		}
	}
}

func TestS3(t *testing.T) {
	checkVerdicts(t, "S3Bucket", S3Bucket, []verdict{
		{"backups", ""},
		{"my.bucket-1", ""},
		{"abc", ""},
		{"ab", "bucket names have 3 to 63"},
		{strings.Repeat("b", 64), "bucket names have 3 to 63"},
		{"Backups", "is invalid"},
		{"-backups", "is invalid"},
	})
	checkVerdicts(t, "S3Endpoint", S3Endpoint, []verdict{
		{"s3.example.com", ""},
		{"minio.storage.svc:9000", ""},
		{"https://s3.example.com", "without https://"},
		{"s3.example.com:", "is invalid"},
		{"s3.example.com/path", "is invalid"},
		{strings.Repeat("a", 254), "is invalid"},
	})
	checkVerdicts(t, "S3Region", S3Region, []verdict{
		{"us-east-1", ""},
		{strings.Repeat("r", 64), ""},
		{strings.Repeat("r", 65), "is 65 characters long; give at most 64"},
	})
}
