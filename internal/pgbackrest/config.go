// Package pgbackrest renders pgBackRest's configuration for a cluster's
// pods, reads what `pgbackrest info` says, and runs pgbackrest.
//
// Every cluster has one stanza, "db", and up to four repositories. The
// repository host (one pod per cluster) holds them: a volume repository is
// its volume, and it reaches S3 repositories with the cluster's keys.
// Database pods never see a repository themselves: their pgbackrest
// (archive-push from PostgreSQL, archive-get and restore) reaches every
// repository through the repository host's TLS server, and the repository
// host reaches PostgreSQL through each database pod's TLS server. So the
// S3 keys and the repositories' cipher passphrases stay on the repository
// host, and a database pod holds only its TLS certificate.
//
// Both ends authenticate with certificates from the cluster's own CA; a
// server lets in only the cluster's pgBackRest client name (tls-server-auth),
// so another cluster's pods, or this cluster's other certificates, are
// refused.
package pgbackrest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Names every configuration shares.
const (
	// Stanza is the one stanza of a cluster.
	Stanza = "db"
	// ServerPort is where pgbackrest server listens in every pod of a
	// cluster (pgBackRest's default).
	ServerPort = 8432
	// CipherType is how an encrypted repository is encrypted.
	CipherType = "aes-256-cbc"
	// DefaultCompressType is the compression pgo ships: lz4 keeps a backup
	// close to the speed of copying the files, at a fair ratio.
	DefaultCompressType = "lz4"
)

// TLS is where a pgbackrest process finds its certificate and key, and the
// CA it trusts.
type TLS struct {
	CAFile, CertFile, KeyFile string
}

// Files are where a pgbackrest process reads its configuration. A remote
// (the process a TLS server starts for a client) reads the files the
// client names, so each side names the other's.
type Files struct {
	// Config is the configuration file.
	Config string
	// IncludePath is a directory of more *.conf files (the secret ones).
	IncludePath string
}

// Repo is one repository, as the repository host reaches it.
type Repo struct {
	// Index is the repository's number, 1 to 4.
	Index int
	// Path is where the repository lives: a directory on the repository
	// host's volume, or a path in an S3 bucket.
	Path string
	// S3 is the bucket of an S3 repository; nil for a volume.
	S3 *S3
	// Encrypted repositories are encrypted with CipherType; the passphrase
	// is in the secret configuration.
	Encrypted bool
	// Retention of full and differential backups; pgBackRest's default
	// (keep everything, with a warning) when zero.
	RetentionFull     int
	RetentionFullType string // count (the default) or time
	RetentionDiff     int
}

// S3 is an S3 bucket.
type S3 struct {
	Bucket   string
	Endpoint string // host name
	Port     int    // 443 when 0
	Region   string
	URIStyle string // host (the default) or path
	// VerifyTLS checks the endpoint's certificate, against CAFile when set.
	VerifyTLS bool
	CAFile    string
}

// Postgres is how a pgbackrest process reaches a PostgreSQL server: on its
// own host (Host empty) or through the TLS server of the pod that runs it.
type Postgres struct {
	// Host is the DNS name of the pod; empty for the local server.
	Host string
	// HostPort is the pod's pgbackrest server port; ServerPort when 0.
	HostPort int
	// Path is the data directory.
	Path string
	// Port and SocketDir are where PostgreSQL listens.
	Port      int
	SocketDir string
	// User is the superuser pgBackRest connects as; without it, libpq
	// takes the operating system's user name, which is not the database
	// superuser's in a pod.
	User string
	// Files are the configuration of the pod's pgbackrest.
	Files Files
}

// Instance is the configuration of a database pod.
type Instance struct {
	Postgres Postgres
	// RepoHost is the DNS name of the repository host; RepoHostPort its
	// pgbackrest server port (ServerPort when 0).
	RepoHost     string
	RepoHostPort int
	// RepoHostFiles are the configuration of the repository host's
	// pgbackrest.
	RepoHostFiles Files
	// Repos are the indexes of the cluster's repositories.
	Repos []int
	// SpoolPath keeps the queue of asynchronous archive-push and
	// archive-get: on the data volume, so that it survives a restart.
	SpoolPath string
	// LockPath holds pgBackRest's lock files.
	LockPath string
	// TLS of the pod's pgbackrest, as server and as client.
	TLS TLS
	// ClientName is the common name of the cluster's pgBackRest
	// certificate: the only client the pod's server lets in.
	ClientName string
}

// RepoHost is the configuration of a repository host.
type RepoHost struct {
	// Postgres are the cluster's instances; pgBackRest finds the primary
	// among them.
	Postgres []Postgres
	Repos    []Repo
	LockPath string
	TLS      TLS
	// ClientName is the common name of the cluster's pgBackRest
	// certificate.
	ClientName string
	// CompressType of backups; DefaultCompressType when empty.
	CompressType string
	// ProcessMax is how many processes copy files in a backup; pgBackRest's
	// default (1) when 0.
	ProcessMax int
}

// section is one [name] of a pgBackRest configuration file.
type section struct {
	name   string
	values map[string]string
}

// render writes sections in order, their keys sorted (numbered options
// sort by number, so pg2 comes before pg10).
func render(sections ...section) string {
	var b strings.Builder
	b.WriteString("# Written by pgo: changes here are overwritten.\n")
	for i, s := range sections {
		if len(s.values) == 0 {
			continue
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "[%s]\n", s.name)
		keys := slices.SortedFunc(maps.Keys(s.values), compareOptions)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s\n", k, s.values[k])
		}
	}
	return b.String()
}

// compareOptions orders option names with their index read as a number.
func compareOptions(a, b string) int {
	pa, na, ra := splitIndex(a)
	pb, nb, rb := splitIndex(b)
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	if na != nb {
		return na - nb
	}
	return strings.Compare(ra, rb)
}

// splitIndex splits "pg12-host" into "pg", 12, "-host".
func splitIndex(s string) (string, int, string) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return s, 0, ""
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(s[i:j])
	return s[:i], n, s[j:]
}

// common are the options of every pgbackrest process of a cluster.
func common(lockPath string, tls TLS, clientName string) map[string]string {
	return map[string]string{
		// Logs go to the container's output (and from archive-push to
		// PostgreSQL's); no log files.
		"log-level-file":    "off",
		"log-level-console": "info",
		"log-level-stderr":  "off",
		"lock-path":         lockPath,
		// The pod's pgbackrest server (its address comes from the
		// environment, PGBACKREST_TLS_SERVER_ADDRESS: it is the pod's).
		"tls-server-port":      strconv.Itoa(ServerPort),
		"tls-server-ca-file":   tls.CAFile,
		"tls-server-cert-file": tls.CertFile,
		"tls-server-key-file":  tls.KeyFile,
		"tls-server-auth":      clientName + "=" + Stanza,
	}
}

func port(p int) int {
	if p == 0 {
		return ServerPort
	}
	return p
}

// InstanceConfig renders the configuration of a database pod: PostgreSQL is
// local, every repository is on the repository host.
func InstanceConfig(in Instance) string {
	global := common(in.LockPath, in.TLS, in.ClientName)
	global["archive-async"] = "y"
	global["spool-path"] = in.SpoolPath
	// archive-get fetches ahead of a replica's recovery, from the same
	// spool.
	global["archive-get-queue-max"] = "128MiB"
	for _, i := range in.Repos {
		p := fmt.Sprintf("repo%d-host", i)
		global[p] = in.RepoHost
		global[p+"-type"] = "tls"
		global[p+"-port"] = strconv.Itoa(port(in.RepoHostPort))
		global[p+"-ca-file"] = in.TLS.CAFile
		global[p+"-cert-file"] = in.TLS.CertFile
		global[p+"-key-file"] = in.TLS.KeyFile
		files(global, p, in.RepoHostFiles)
	}
	stanza := map[string]string{}
	pg(stanza, 1, in.Postgres, in.TLS)
	return render(section{"global", global}, section{Stanza, stanza})
}

// RepoHostConfig renders the configuration of a repository host: the
// repositories are local (a volume or S3), every PostgreSQL is on its pod.
func RepoHostConfig(in RepoHost) string {
	global := common(in.LockPath, in.TLS, in.ClientName)
	global["compress-type"] = in.CompressType
	if in.CompressType == "" {
		global["compress-type"] = DefaultCompressType
	}
	if in.ProcessMax > 0 {
		global["process-max"] = strconv.Itoa(in.ProcessMax)
	}
	for _, r := range in.Repos {
		repo(global, r)
	}
	stanza := map[string]string{}
	for i, p := range in.Postgres {
		pg(stanza, i+1, p, in.TLS)
	}
	return render(section{"global", global}, section{Stanza, stanza})
}

// repo sets a repository's options.
func repo(values map[string]string, r Repo) {
	p := fmt.Sprintf("repo%d-", r.Index)
	values[p+"path"] = r.Path
	if s := r.S3; s != nil {
		values[p+"type"] = "s3"
		values[p+"s3-bucket"] = s.Bucket
		values[p+"s3-endpoint"] = s.Endpoint
		values[p+"s3-region"] = s.Region
		values[p+"s3-uri-style"] = "host"
		if s.URIStyle != "" {
			values[p+"s3-uri-style"] = s.URIStyle
		}
		if s.Port != 0 {
			values[p+"storage-port"] = strconv.Itoa(s.Port)
		}
		values[p+"storage-verify-tls"] = yn(s.VerifyTLS)
		if s.CAFile != "" {
			values[p+"storage-ca-file"] = s.CAFile
		}
	}
	if r.Encrypted {
		values[p+"cipher-type"] = CipherType
	}
	if r.RetentionFull > 0 {
		values[p+"retention-full"] = strconv.Itoa(r.RetentionFull)
		values[p+"retention-full-type"] = "count"
		if r.RetentionFullType != "" {
			values[p+"retention-full-type"] = r.RetentionFullType
		}
	}
	if r.RetentionDiff > 0 {
		values[p+"retention-diff"] = strconv.Itoa(r.RetentionDiff)
	}
}

// pg sets the options of PostgreSQL server number n.
func pg(values map[string]string, n int, p Postgres, tls TLS) {
	k := fmt.Sprintf("pg%d-", n)
	values[k+"path"] = p.Path
	values[k+"port"] = strconv.Itoa(p.Port)
	values[k+"socket-path"] = p.SocketDir
	if p.User != "" {
		values[k+"user"] = p.User
	}
	if p.Host == "" {
		return
	}
	values[k+"host"] = p.Host
	values[k+"host-type"] = "tls"
	values[k+"host-port"] = strconv.Itoa(port(p.HostPort))
	values[k+"host-ca-file"] = tls.CAFile
	values[k+"host-cert-file"] = tls.CertFile
	values[k+"host-key-file"] = tls.KeyFile
	files(values, k+"host", p.Files)
}

// files names the configuration of a remote.
func files(values map[string]string, prefix string, f Files) {
	if f.Config != "" {
		values[prefix+"-config"] = f.Config
	}
	if f.IncludePath != "" {
		values[prefix+"-config-include-path"] = f.IncludePath
	}
}

func yn(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

// Secrets are what the repository host's secret configuration holds.
type Secrets struct {
	// S3Keys are the access key and secret key of each S3 repository, by
	// index.
	S3Keys map[int][2]string
	// CipherPasses are the passphrases of encrypted repositories, by index.
	CipherPasses map[int]string
}

// SecretConfig renders the repository host's secret options: S3 keys and
// cipher passphrases. It goes in a Secret, never in a ConfigMap, a log or a
// command line.
func SecretConfig(s Secrets) string {
	global := map[string]string{}
	for i, k := range s.S3Keys {
		global[fmt.Sprintf("repo%d-s3-key", i)] = k[0]
		global[fmt.Sprintf("repo%d-s3-key-secret", i)] = k[1]
	}
	for i, pass := range s.CipherPasses {
		global[fmt.Sprintf("repo%d-cipher-pass", i)] = pass
	}
	return render(section{"global", global})
}
