package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	pgov1 "pgo.dev/pgo/api/v1"
)

// pgBackRest: where backups go, and the options of a restore.

// Patterns and limits of pgBackRest options, as the CRD's markers write
// them.
const (
	// BackRestOptionPattern is a pgBackRest long option, with its value.
	BackRestOptionPattern = `^--[a-z][a-z0-9-]*(=.*)?$`
	// MaxBackRestOptions and MaxBackRestOptionLength limit the options
	// passed on to pgbackrest restore (spec.dataSource.options).
	MaxBackRestOptions      = 32
	MaxBackRestOptionLength = 256
	// MaxRepos is how many repositories pgBackRest takes: repo1 to repo4.
	MaxRepos = 4
	// RepoNamePattern names a repository.
	RepoNamePattern = `^repo[1-4]$`
	// MaxRecoveryTargetLength limits the value of --target.
	MaxRecoveryTargetLength = 256
	// XIDPattern and LSNPattern are the targets of --type=xid and lsn.
	XIDPattern = `^[0-9]{1,20}$`
	LSNPattern = `^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$`
	// BackupOptionPattern is an option that a backup passes on to
	// pgbackrest backup, besides its type and repository: the allow-list.
	BackupOptionPattern = `^--((no-)?(start-fast|checksum-page|resume|archive-copy)|start-fast=[yn]|annotation=[^=]+=.*|compress-type=(none|bz2|gz|lz4|zst)|compress-level=[0-9]{1,2}|process-max=[0-9]{1,2})$`
)

// BackupTypes are the types of a pgBackRest backup.
var BackupTypes = []string{string(pgov1.BackupFull), string(pgov1.BackupDifferential), string(pgov1.BackupIncremental)}

// backupOptionsAllowed is what a refused backup option is told.
const backupOptionsAllowed = "give --type, --repo, --start-fast, --annotation=KEY=VALUE, --compress-type, --compress-level, --process-max, --checksum-page, --resume or --archive-copy"

// Patterns and limits of an S3 repository, as the CRD's markers write them.
const (
	S3BucketPattern      = `^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	MinS3BucketLength    = 3
	MaxS3BucketLength    = 63
	S3EndpointPattern    = `^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$`
	MaxS3EndpointLength  = 253
	MaxS3RegionLength    = 64
	backRestStorageTypes = "posix, s3, posix,s3"
)

// RecoveryTypes are the values of --type: the ones that name a target,
// immediate (the end of the backup) and default (the end of the WAL).
var RecoveryTypes = []string{
	string(pgov1.RecoveryTargetTime), string(pgov1.RecoveryTargetXID), string(pgov1.RecoveryTargetLSN),
	string(pgov1.RecoveryTargetName), string(pgov1.RecoveryTargetImmediate), "default",
}

var (
	backRestOption = regexp.MustCompile(BackRestOptionPattern)
	repoNumber     = regexp.MustCompile(`^[1-` + fmt.Sprint(MaxRepos) + `]$`)
	xid            = regexp.MustCompile(XIDPattern)
	lsn            = regexp.MustCompile(LSNPattern)
	backupOption   = regexp.MustCompile(BackupOptionPattern)
	s3Bucket       = regexp.MustCompile(S3BucketPattern)
	s3Endpoint     = regexp.MustCompile(S3EndpointPattern)
	// managedOption matches the options pgo sets itself.
	managedOption = regexp.MustCompile(`^--(stanza|pg[0-9]+-|repo[0-9]+-|config|log-path|lock-path|spool-path|archive-|delta|force|link-map|tablespace-map)`)
)

var repoName = regexp.MustCompile(RepoNamePattern)

// RepoName checks the name of a repository.
func RepoName(name string) string {
	if !repoName.MatchString(name) {
		return fmt.Sprintf("is not a repository: give repo1 to repo%d", MaxRepos)
	}
	return ""
}

// BackRestStorage reads where backups go: posix (a volume, the default), s3,
// or both, comma-separated in either order.
func BackRestStorage(s string) (posix, s3 bool, why string) {
	if s == "" {
		return true, false, ""
	}
	for _, kind := range strings.Split(s, ",") {
		switch strings.TrimSpace(kind) {
		case "posix":
			posix = true
		case "s3":
			s3 = true
		default:
			return false, false, "is not one of " + backRestStorageTypes
		}
	}
	return posix, s3, ""
}

// S3Bucket checks the name of an S3 bucket.
func S3Bucket(b string) string {
	if len(b) < MinS3BucketLength || len(b) > MaxS3BucketLength || !s3Bucket.MatchString(b) {
		return fmt.Sprintf("is invalid: bucket names have %d to %d lowercase letters, digits, '.' and '-', and start and end with a letter or digit", MinS3BucketLength, MaxS3BucketLength)
	}
	return ""
}

// S3Endpoint checks the endpoint of an S3 service: a host name with an
// optional port; pgBackRest always uses HTTPS.
func S3Endpoint(e string) string {
	if len(e) > MaxS3EndpointLength || strings.Contains(e, "://") || !s3Endpoint.MatchString(e) {
		return "is invalid: give a host name with an optional port, such as s3.example.com:9000, without https://"
	}
	return ""
}

// MaxRetention bounds retention counts and days, as the CRD does.
const MaxRetention = 9999999

// RetentionTypes are how full backups are counted for retention.
var RetentionTypes = []string{string(pgov1.RetentionCount), string(pgov1.RetentionTime)}

// Retention checks a retention count (or days).
func Retention(n int) string { return Range(n, 1, MaxRetention) }

// MaxS3KeyLength limits S3 access keys and secret keys.
const MaxS3KeyLength = 256

// S3Key checks an S3 access key or secret key: it goes on a line of
// pgBackRest's configuration, so it is printable, without spaces.
func S3Key(k string) string {
	switch {
	case k == "":
		return "is empty"
	case len(k) > MaxS3KeyLength:
		return fmt.Sprintf("is %d characters long; give at most %d", len(k), MaxS3KeyLength)
	}
	for _, r := range k {
		if r <= ' ' || r > '~' {
			return "holds a space, a line break or a character that is not printable ASCII; S3 keys are printable ASCII"
		}
	}
	return ""
}

// S3Region checks the region of an S3 bucket.
func S3Region(r string) string {
	if len(r) > MaxS3RegionLength {
		return fmt.Sprintf("is %d characters long; give at most %d", len(r), MaxS3RegionLength)
	}
	return ""
}

// Restore is what restore options ask for.
type Restore struct {
	// Target is where recovery stops; nil: at the end of the WAL.
	Target *pgov1.PGRecoveryTarget
	// Repo is the repository to restore from; empty: the default.
	Repo pgov1.RepoName
	// Options are the other options, passed on to pgbackrest restore.
	Options pgov1.PgBackRestOptions
}

// RestoreOptions reads pgBackRest restore options, such as `--type=time
// --target='2026-11-27 11:59:59+00'`, split by SplitWords. --type, --target,
// --target-exclusive and --repo become the Restore's target and repository;
// the options pgo sets itself are refused; the others are passed on. The
// reason follows a colon.
func RestoreOptions(s string) (Restore, string) {
	var r Restore
	words, why := SplitWords(s)
	if why != "" {
		return r, why
	}
	var typ, target string
	var hasTarget, exclusive bool
	for _, w := range words {
		name, value, hasValue := strings.Cut(w, "=")
		switch {
		case !backRestOption.MatchString(w):
			return r, fmt.Sprintf(`%q is not a pgBackRest long option; give options such as --type=time "--target=2026-11-27 11:59:59+00"`, w)
		case name == "--type":
			if typ = value; !slices.Contains(RecoveryTypes, typ) {
				return r, fmt.Sprintf("--type=%s is not one of %s", typ, strings.Join(RecoveryTypes, ", "))
			}
		case name == "--target":
			target, hasTarget = value, true
		case name == "--target-exclusive":
			exclusive = !hasValue || value == "y"
		case name == "--repo":
			if !repoNumber.MatchString(value) {
				return r, fmt.Sprintf("--repo=%s is not a repository number from 1 to %d", value, MaxRepos)
			}
			r.Repo = pgov1.RepoName("repo" + value)
		case managedOption.MatchString(w):
			return r, name + " is set by pgo; remove it"
		case len(w) > MaxBackRestOptionLength:
			return r, fmt.Sprintf("%s is %d characters long; give options of at most %d", name, len(w), MaxBackRestOptionLength)
		default:
			r.Options = append(r.Options, w)
		}
	}
	if len(r.Options) > MaxBackRestOptions {
		return r, fmt.Sprintf("there are %d options besides --type, --target and --repo; give at most %d", len(r.Options), MaxBackRestOptions)
	}
	switch typ {
	case "", "default":
		if hasTarget {
			return r, "--target needs --type=time, xid, lsn or name"
		}
	case string(pgov1.RecoveryTargetImmediate):
		if hasTarget {
			return r, "--type=immediate takes no --target"
		}
		r.Target = &pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetImmediate, Exclusive: exclusive}
	default:
		if why := recoveryTarget(typ, target); why != "" {
			return r, why
		}
		r.Target = &pgov1.PGRecoveryTarget{Type: pgov1.RecoveryTargetType(typ), Value: target, Exclusive: exclusive}
	}
	return r, ""
}

// recoveryTarget checks the --target of a --type that needs one.
func recoveryTarget(typ, target string) string {
	switch {
	case target == "":
		return fmt.Sprintf("--type=%s needs --target, such as --target='2026-11-27 11:59:59+00'", typ)
	case len(target) > MaxRecoveryTargetLength:
		return fmt.Sprintf("--target is %d characters long; give at most %d", len(target), MaxRecoveryTargetLength)
	case typ == string(pgov1.RecoveryTargetXID) && !xid.MatchString(target):
		return fmt.Sprintf("--target=%s is not a transaction number, such as 1234", target)
	case typ == string(pgov1.RecoveryTargetLSN) && !lsn.MatchString(target):
		return fmt.Sprintf("--target=%s is not an LSN, such as 0/3000060", target)
	}
	return ""
}

// Backup is what backup options ask for.
type Backup struct {
	// Type is full, diff or incr; empty: the default (full).
	Type pgov1.BackupType
	// Repo is the repository; empty: the default (repo1).
	Repo pgov1.RepoName
	// Options are the other options, passed on to pgbackrest backup.
	Options pgov1.PgBackRestOptions
}

// BackupOptions reads `pgo backup --backup-opts`, such as "--type=incr
// --start-fast", split by SplitWords. --type and --repo become the
// Backup's type and repository; the other options must be on the
// allow-list (BackupOptionPattern): pgo sets the rest itself (the stanza,
// the paths, the hosts), or they would change what a backup is. The reason
// follows a colon.
func BackupOptions(s string) (Backup, string) {
	var b Backup
	words, why := SplitWords(s)
	if why != "" {
		return b, why
	}
	for _, w := range words {
		name, value, _ := strings.Cut(w, "=")
		switch {
		case !backRestOption.MatchString(w):
			return b, fmt.Sprintf("%q is not a pgBackRest long option; give options such as --type=incr --start-fast", w)
		case name == "--type":
			if !slices.Contains(BackupTypes, value) {
				return b, fmt.Sprintf("--type=%s is not one of %s", value, strings.Join(BackupTypes, ", "))
			}
			b.Type = pgov1.BackupType(value)
		case name == "--repo":
			if !repoNumber.MatchString(value) {
				return b, fmt.Sprintf("--repo=%s is not a repository number from 1 to %d", value, MaxRepos)
			}
			b.Repo = pgov1.RepoName("repo" + value)
		default:
			if why := BackupOption(w); why != "" {
				return b, why
			}
			b.Options = append(b.Options, w)
		}
	}
	if len(b.Options) > MaxBackRestOptions {
		return b, fmt.Sprintf("there are %d options besides --type and --repo; give at most %d", len(b.Options), MaxBackRestOptions)
	}
	return b, ""
}

// BackupOption checks one option a backup passes on to pgbackrest backup
// (besides its type and repository): the allow-list BackupOptionPattern,
// which the CRD's rule on spec.backup.options and the repository host
// apply too.
func BackupOption(o string) string {
	name, _, _ := strings.Cut(o, "=")
	switch {
	case !backRestOption.MatchString(o):
		return fmt.Sprintf("%q is not a pgBackRest long option; give options such as --start-fast", o)
	case len(o) > MaxBackRestOptionLength:
		return fmt.Sprintf("%s is %d characters long; give options of at most %d", name, len(o), MaxBackRestOptionLength)
	case backupOption.MatchString(o):
		return ""
	case managedOption.MatchString(o) || name == "--cmd" || name == "--backup-standby" || name == "--type":
		return name + " is set by pgo; remove it"
	}
	return name + " is not an option pgo passes to pgbackrest backup; " + backupOptionsAllowed
}
