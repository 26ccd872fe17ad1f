// Package repohostapi is the contract of the repository host's REST API:
// the paths, the bodies and the environment. The repository host (one pod
// per cluster, `postgres-operator repohost`) holds the cluster's pgBackRest
// repositories and runs its backups; the controller and the apiserver call
// it, over TLS (the cluster's pgBackRest certificate, from the cluster's
// CA) with HTTP basic authentication (the Secret
// "<cluster>-pgbackrest-api"). Nothing here is secret.
package repohostapi

import "time"

// Port is where the API listens, on the pod's IP.
const Port = 8009

// Paths.
const (
	// PathHealth answers 200 while `pgbackrest server` runs (the readiness
	// probe); no authentication.
	PathHealth = "/healthz"
	// PathStanza (POST) creates the stanza in every repository, and each
	// S3 repository's bucket when it is missing; it does nothing to a
	// stanza that exists. It answers when done.
	PathStanza = "/stanza"
	// PathBackups (POST, BackupRequest) starts a backup and answers 202
	// with its BackupStatus; 409 while another backup runs.
	PathBackups = "/backups"
	// PathBackup (GET, PathBackups + "/" + id) is a backup's BackupStatus;
	// 404 when the repository host does not know it (it restarted).
	PathBackup = "/backups/"
	// PathInfo (GET) is `pgbackrest info --output=json`, as is.
	PathInfo = "/info"
	// PathExpire (POST, ExpireRequest) expires one backup set.
	PathExpire = "/expire"
)

// BackupRequest starts a backup.
type BackupRequest struct {
	// ID names the backup for PathBackup: the PGTask's name.
	ID string `json:"id"`
	// Type is full, diff or incr.
	Type string `json:"type"`
	// Repo is the repository's number, 1 to 4.
	Repo int `json:"repo"`
	// Options are more options of `pgbackrest backup`, already checked
	// against the allow-list (rules.BackupOptions).
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
// say.
type Reply struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// The repository host's environment: Kubernetes sets POD_IP; the operator
// sets the others. pgBackRest reads its own (PGBACKREST_CONFIG,
// PGBACKREST_CONFIG_INCLUDE_PATH) too.
const (
	EnvPodIP           = "POD_IP"
	EnvCertFile        = "PGO_REPOHOST_CERT_FILE"
	EnvKeyFile         = "PGO_REPOHOST_KEY_FILE"
	EnvCAFile          = "PGO_REPOHOST_CA_FILE"
	EnvAPIUser         = "PGO_REPOHOST_API_USER"
	EnvAPIPassword     = "PGO_REPOHOST_API_PASSWORD_FILE"
	EnvBackRestConfig  = "PGBACKREST_CONFIG"
	EnvBackRestInclude = "PGBACKREST_CONFIG_INCLUDE_PATH"
)
