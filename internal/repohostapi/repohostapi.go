// Package repohostapi is the contract of the repository host's REST API:
// the paths, the bodies and the environment. The repository host (one pod
// per cluster, `postgres-operator repohost`) holds the cluster's pgBackRest
// repositories and runs its backups; the controller and the apiserver call
// it, over TLS (the cluster's pgBackRest certificate, from the cluster's
// CA) with HTTP basic authentication (the Secret
// "<cluster>-pgbackrest-api"). Nothing here is secret. The server is
// internal/repohost; Client and API are its callers' side.
package repohostapi

import (
	"time"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgbackrest"
)

// Port is where the API listens, on the pod's IP.
const Port = 8009

// Paths.
const (
	// PathHealth answers 200 while `pgbackrest server` runs (the readiness
	// probe); no authentication.
	PathHealth = "/healthz"
	// PathStanza (POST, StanzaRequest) creates the stanza in every
	// repository of the repository host's configuration, and each S3
	// repository's bucket when it is missing; it does nothing to a stanza
	// that exists. It answers when done: 200 with a StanzaReply; 409 when a
	// repository holds the stanza of another PostgreSQL cluster (another
	// system identifier: the error says so); 503, with Retry-After, when the
	// configuration lacks a repository the request names (the kubelet has
	// not yet updated the mounted ConfigMap).
	PathStanza = "/stanza"
	// PathBackups (POST, BackupRequest) starts a backup and answers 202
	// with its BackupStatus; 409 while another backup runs (Reply.Backup
	// names it); 200 with the status when the ID is known already (409 if
	// with another type or repository), so that a caller that did not hear
	// the answer can send the request again.
	PathBackups = "/backups"
	// PathBackup (GET, PathBackups + "/" + id) is a backup's BackupStatus.
	// A backup the repository host no longer remembers (it restarted, or
	// keeps only the last KeptBackups) is found in the repositories by its
	// annotation (AnnotationID): Succeeded. 404 when neither knows it.
	PathBackup = "/backups/"
	// PathInfo (GET) is `pgbackrest info --stanza=db --output=json`, as is.
	PathInfo = "/info"
	// PathExpire (POST, ExpireRequest) expires one backup set: 200; 404
	// when the repository has no such set; 409 while a backup runs.
	PathExpire = "/expire"
)

// KeptBackups is how many BackupStatuses the repository host keeps.
const KeptBackups = 50

// AnnotationID is the pgBackRest annotation (backup --annotation) that
// holds a backup's BackupRequest.ID, in `pgbackrest info`.
const AnnotationID = "pgo-backup-id"

// IDPattern is what a BackupRequest.ID looks like: a Kubernetes object's
// name (a PGTask's).
const IDPattern = `^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`

// StanzaRequest creates the stanza.
type StanzaRequest struct {
	// Repos are the repositories the caller has configured (optional):
	// the request is refused (503) until the repository host's
	// configuration has them all.
	Repos []int `json:"repos,omitempty"`
}

// StanzaReply says what PathStanza did.
type StanzaReply struct {
	Message string `json:"message"`
	// Repos are the repositories that hold the stanza now.
	Repos []int `json:"repos"`
	// BucketsCreated are the S3 repositories whose bucket was created.
	BucketsCreated []int `json:"bucketsCreated,omitempty"`
}

// BackupRequest starts a backup.
type BackupRequest struct {
	// ID names the backup for PathBackup: the PGTask's name.
	ID string `json:"id"`
	// Type is full, diff or incr.
	Type string `json:"type"`
	// Repo is the repository's number, 1 to 4.
	Repo int `json:"repo"`
	// Options are more options of `pgbackrest backup`, such as
	// --start-fast; the repository host refuses (400) what
	// rules.BackupOption refuses.
	Options []string `json:"options,omitempty"`
}

// Backup phases.
const (
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
)

// BackupStatus is where a backup is.
type BackupStatus struct {
	ID             string     `json:"id"`
	Type           string     `json:"type"`
	Repo           int        `json:"repo"`
	Phase          string     `json:"phase"`
	StartTime      time.Time  `json:"startTime"`
	CompletionTime *time.Time `json:"completionTime,omitempty"`
	// Label is the new backup's label, once pgBackRest names it.
	Label string `json:"label,omitempty"`
	// Message is the error, for a failed backup: pgBackRest's last ERROR
	// lines.
	Message string `json:"message,omitempty"`
}

// ExpireRequest expires one backup set (and the backups that depend on
// it).
type ExpireRequest struct {
	Repo int    `json:"repo"`
	Set  string `json:"set"`
}

// Reply is the body of an error, or of a change that has nothing else to
// say. Errors: 400, a request refused as it is (the error says why); 401
// without the credentials; 404; 409, a conflict that waiting alone may not
// end (another backup runs, another pgBackRest command holds the stanza's
// lock, a repository holds another cluster's stanza, a bucket name belongs
// to another account); 503, try again later (Retry-After); 504, pgbackrest
// ran out of time; 500, pgbackrest failed otherwise (its ERROR lines).
type Reply struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
	// Backup is the backup that runs, with a 409.
	Backup string `json:"backup,omitempty"`
}

// The repository host's environment: Kubernetes sets POD_IP; the operator
// sets the others. pgBackRest reads its own (PGBACKREST_CONFIG,
// PGBACKREST_CONFIG_INCLUDE_PATH) too. The database pods' pgBackRest server
// (`postgres-operator pgbackrest-server`) reads POD_IP and pgBackRest's.
const (
	EnvPodIP           = "POD_IP"
	EnvCertFile        = "PGO_REPOHOST_CERT_FILE"
	EnvKeyFile         = "PGO_REPOHOST_KEY_FILE"
	EnvCAFile          = "PGO_REPOHOST_CA_FILE"
	EnvAPIUser         = "PGO_REPOHOST_API_USER"
	EnvAPIPassword     = "PGO_REPOHOST_API_PASSWORD_FILE"
	EnvBackRestConfig  = pgbackrest.EnvConfig
	EnvBackRestInclude = pgbackrest.EnvConfigIncludePath
	// Optional: the API's address (POD_IP:Port by default), the longest a
	// backup and any other pgbackrest command may run (Go durations), and
	// how often pgbackrest server's files are compared (the database pods'
	// too).
	EnvAPIAddress     = "PGO_REPOHOST_API_ADDRESS"
	EnvBackupTimeout  = "PGO_REPOHOST_BACKUP_TIMEOUT"
	EnvCommandTimeout = "PGO_REPOHOST_COMMAND_TIMEOUT"
	EnvServerPoll     = "PGO_PGBACKREST_POLL_INTERVAL"
)

// ServerName is the name callers check on the repository host's
// certificate (the cluster's pgBackRest certificate): its pod's name under
// the cluster's headless Service.
func ServerName(cluster, namespace string) string {
	return naming.PodOfInstance(naming.RepoHost(cluster)) + "." + naming.PodsDomain(cluster, namespace)
}
