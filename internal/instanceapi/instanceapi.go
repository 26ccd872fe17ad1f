// Package instanceapi is the contract of the instance manager's REST API
// (Patroni's, on port 8008) and of its environment: the paths, the request
// and response bodies, and the PGO_* variables. The server (internal/
// instance), its callers (the apiserver, the peers), the pod builder
// (internal/specs, for probes and the environment) and the command's flags
// all use these names, so that they cannot drift apart.
package instanceapi

import (
	"crypto/tls"
	"net/http"
	"time"

	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pki"
)

// Information.
const (
	// PathStatus (and PathPatroni) is the member's state, with PostgreSQL
	// asked live (within a second): peers compare it in an election.
	PathStatus  = "/status"
	PathPatroni = "/patroni"
	// PathHistory is the timeline history of the member's timeline
	// ([]ha.TimelineSwitch).
	PathHistory = "/history"
	PathMetrics = "/metrics"
)

// Changes: POST, with basic authentication.
const (
	PathSwitchover   = "/switchover"
	PathFailover     = "/failover"
	PathRestart      = "/restart"
	PathReinitialize = "/reinitialize"
	PathReload       = "/reload"
)

// Status is what PathStatus answers: the member as it is now.
type Status struct {
	Name           string  `json:"name"`
	Role           ha.Role `json:"role"`
	State          string  `json:"state"`
	Running        bool    `json:"running"`
	Timeline       int64   `json:"timeline,omitempty"`
	WAL            uint64  `json:"wal"`
	WALLSN         string  `json:"walLSN"`
	Streaming      bool    `json:"streaming,omitempty"`
	Upstream       string  `json:"upstream,omitempty"`
	Leader         string  `json:"leader,omitempty"`
	IsLeader       bool    `json:"isLeader"`
	Tags           ha.Tags `json:"tags"`
	PendingRestart bool    `json:"pendingRestart,omitempty"`
	KeptData       string  `json:"keptData,omitempty"`
	Problem        string  `json:"problem,omitempty"`
	Paused         bool    `json:"paused,omitempty"`
	DCSReachable   bool    `json:"dcsReachable"`
	Message        string  `json:"message"`
	LoopAt         string  `json:"loopAt"`
}

// FailoverRequest is the body of PathSwitchover and PathFailover, with
// Patroni's names.
type FailoverRequest struct {
	// Leader is the current leader (a switchover needs it).
	Leader string `json:"leader,omitempty"`
	// Candidate to promote (a failover needs it).
	Candidate string `json:"candidate,omitempty"`
	// ScheduledAt (RFC 3339) delays a switchover.
	ScheduledAt string `json:"scheduled_at,omitempty"`
	// Force lets a switchover go to a candidate lagging beyond
	// maximum_lag_on_failover.
	Force bool `json:"force,omitempty"`
}

// Reply is the body of every answer to a change: a message on success, an
// error otherwise; Leader names the new leader after a switchover.
type Reply struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
	Leader  string `json:"leader,omitempty"`
}

// The instance manager's environment. Kubernetes sets the POD_* ones from
// the pod (the downward API); the operator sets the others.
const (
	EnvPodName               = "POD_NAME"
	EnvPodNamespace          = "POD_NAMESPACE"
	EnvPodIP                 = "POD_IP"
	EnvDataDir               = "PGDATA"
	EnvCluster               = "PGO_CLUSTER"
	EnvBinDir                = "PGO_PG_BIN_DIR"
	EnvSocketDir             = "PGO_SOCKET_DIR"
	EnvPort                  = "PGO_PORT"
	EnvAPIAddress            = "PGO_API_ADDRESS"
	EnvSuperuserPasswordFile = "PGO_SUPERUSER_PASSWORD_FILE"
	EnvAPIUser               = "PGO_API_USER"
	EnvAPIPasswordFile       = "PGO_API_PASSWORD_FILE"
	EnvTLSCertFile           = "PGO_TLS_CERT_FILE"
	EnvTLSKeyFile            = "PGO_TLS_KEY_FILE"
	EnvTLSCAFile             = "PGO_TLS_CA_FILE"
	EnvClusterCAFile         = "PGO_CLUSTER_CA_FILE"
	EnvReplicationCertFile   = "PGO_REPLICATION_CERT_FILE"
	EnvReplicationKeyFile    = "PGO_REPLICATION_KEY_FILE"
	EnvAPICertFile           = "PGO_API_CERT_FILE"
	EnvAPIKeyFile            = "PGO_API_KEY_FILE"
	EnvWALDir                = "PGO_WAL_DIR"
	EnvAppUser               = "PGO_APP_USER"
	EnvAppDatabase           = "PGO_APP_DATABASE"
	EnvAppPasswordFile       = "PGO_APP_PASSWORD_FILE"
	EnvFailoverPriority      = "PGO_FAILOVER_PRIORITY"
	EnvNoSync                = "PGO_NOSYNC"
	EnvTags                  = "PGO_TAGS"
	// EnvArchive is how WAL is archived: ArchivePgBackRest, or not at all
	// when empty.
	EnvArchive = "PGO_ARCHIVE"
)

// ArchivePgBackRest archives WAL with pgbackrest archive-push (and restores
// it with archive-get); pgBackRest finds its configuration in its own
// environment variables.
const ArchivePgBackRest = "pgbackrest"

// The REST API is served over TLS with the cluster's server certificate.
// It names every member as "<pod>.<cluster>-pods.<namespace>.svc" (a
// wildcard), and it is the cluster CA's: callers check both, whichever
// address they dial.

// URL is a member's REST API address as published.
func URL(address string) string { return "https://" + address }

// ServerName is the name callers check on the certificate of a member of a
// cluster.
func ServerName(member, cluster, namespace string) string {
	return member + "." + naming.PodsDomain(cluster, namespace)
}

// ClientTLS is the TLS configuration of a caller of a cluster's members:
// their certificate must be the cluster CA's (caPEM) and name serverName.
func ClientTLS(caPEM []byte, serverName string) (*tls.Config, error) {
	return pki.ClientTLS(caPEM, serverName)
}

// Client is an HTTP client for the REST API of a cluster's members.
func Client(caPEM []byte, serverName string, timeout time.Duration) (*http.Client, error) {
	return pki.HTTPSClient(caPEM, serverName, timeout)
}
