// Package instance is the instance manager: PID 1 of every database pod and
// the only thing that starts, stops, promotes or demotes PostgreSQL. Each
// run of its loop observes PostgreSQL, the DCS and (during elections) the
// other members, lets ha.Decide choose the actions, and carries them out. It
// serves Patroni's REST API and Prometheus metrics.
package instance

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"pgo.dev/pgo/internal/naming"
)

// Options configure one instance manager.
type Options struct {
	// Cluster, Namespace and Name (the member: its pod's name).
	Cluster, Namespace, Name string
	// PodIP is the address PostgreSQL and the REST API listen on, and that
	// other members connect to.
	PodIP string
	// DataDir is PostgreSQL's data directory; BinDir holds its programs;
	// SocketDir its Unix socket (keep the path short).
	DataDir, BinDir, SocketDir string
	// Port of PostgreSQL.
	Port int
	// APIAddress is where the REST API listens (PodIP:8008 by default).
	APIAddress string
	// Files holding the superuser's password, and the password of the
	// REST API's user for POST requests.
	SuperuserPasswordFile    string
	APIUser, APIPasswordFile string
	// PostgreSQL's certificate and key, and the CA that issued them (the
	// cluster's CA unless the user gave the certificate).
	CertFile, KeyFile, CAFile string
	// ClusterCAFile is the cluster's own CA: it issued the replication
	// user's client certificate, the only way a replica logs in.
	ClusterCAFile                           string
	ReplicationCertFile, ReplicationKeyFile string
	// APICertFile and APIKeyFile: the REST API's certificate, the
	// cluster's server certificate (CertFile and KeyFile when empty).
	APICertFile, APIKeyFile string
	// WALDir puts pg_wal on a volume of its own.
	WALDir string
	// AppUser, AppDatabase and AppPasswordFile: the application user and
	// database the bootstrap creates (none when AppUser is empty).
	AppUser, AppDatabase, AppPasswordFile string
	// FailoverPriority ranks this member in elections; 0 never promotes it.
	FailoverPriority int
	// NoSync keeps it from being chosen as synchronous standby.
	NoSync bool
	// Archive is how WAL is archived (instanceapi.ArchivePgBackRest), or
	// not at all when empty.
	Archive string
	// Tags are the user's tags, which health checks with ?tag_KEY=VALUE
	// compare (noloadbalance=true takes the member out of /replica).
	Tags map[string]string
}

// Validate checks the options and fills in defaults.
func (o *Options) Validate() error {
	var errs []error
	need := func(v, flag string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("--%s is required", flag))
		}
	}
	need(o.Cluster, "cluster")
	need(o.Namespace, "namespace")
	need(o.Name, "name")
	need(o.PodIP, "pod-ip")
	need(o.DataDir, "data-dir")
	need(o.SuperuserPasswordFile, "superuser-password-file")
	need(o.CertFile, "tls-cert-file")
	need(o.KeyFile, "tls-key-file")
	need(o.ClusterCAFile, "cluster-ca-file")
	need(o.ReplicationCertFile, "replication-cert-file")
	need(o.ReplicationKeyFile, "replication-key-file")
	if o.CAFile == "" {
		o.CAFile = o.ClusterCAFile
	}
	if o.APICertFile == "" && o.APIKeyFile == "" {
		o.APICertFile, o.APIKeyFile = o.CertFile, o.KeyFile
	}
	if o.PodIP != "" && net.ParseIP(o.PodIP) == nil {
		errs = append(errs, fmt.Errorf("--pod-ip %q is not an IP address", o.PodIP))
	}
	if o.Port == 0 {
		o.Port = naming.PostgresPort
	}
	if o.APIAddress == "" && o.PodIP != "" {
		o.APIAddress = net.JoinHostPort(o.PodIP, strconv.Itoa(naming.APIPort))
	}
	if o.SocketDir == "" {
		o.SocketDir = "/tmp"
	}
	if o.FailoverPriority < 0 {
		errs = append(errs, fmt.Errorf("--failover-priority must be 0 or more, not %d", o.FailoverPriority))
	}
	for k := range o.Tags {
		if k == "" || strings.ContainsAny(k, "=,&?") {
			errs = append(errs, fmt.Errorf("--tag %q: a tag's key is a word without '=', ',', '&' or '?'", k))
		}
	}
	if o.AppUser != "" && (o.AppDatabase == "" || o.AppPasswordFile == "") {
		errs = append(errs, errors.New("--app-user needs --app-database and --app-password-file"))
	}
	if o.BinDir == "" && len(errs) == 0 {
		dir, err := FindBinDir()
		if err != nil {
			errs = append(errs, err)
		}
		o.BinDir = dir
	}
	return errors.Join(errs...)
}

// FindBinDir finds PostgreSQL's programs: from pg_config on the PATH, or the
// newest /usr/lib/postgresql/<major>/bin.
func FindBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestMajor := "", 0
	for _, dir := range dirs {
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		if _, statErr := os.Stat(filepath.Join(dir, "postgres")); err == nil && statErr == nil && major > bestMajor {
			best, bestMajor = dir, major
		}
	}
	if best == "" {
		return "", errors.New("PostgreSQL's programs were not found: install PostgreSQL, put pg_config on the PATH, or give --bin-dir")
	}
	return best, nil
}

func readSecret(path, what string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the %s: %w", what, err)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", fmt.Errorf("the %s in %s is empty", what, path)
	}
	return s, nil
}

// ParseTags reads tags written KEY=VALUE,KEY=VALUE; an entry without '='
// is a tag set to "true".
func ParseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v = "true"
		}
		tags[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return tags
}
