package pgoapi

import "net/url"

// Fixed paths.
const (
	// PathHealthz answers 200 "ok" without authentication.
	PathHealthz = "/healthz"
	// PathPrefix starts every API path.
	PathPrefix = "/api/v1"
	// PathOpenAPI is the OpenAPI 3 document of the API, without
	// authentication.
	PathOpenAPI    = PathPrefix + "/openapi.json"
	PathVersion    = PathPrefix + "/version"
	PathStatus     = PathPrefix + "/status"
	PathNamespaces = PathPrefix + "/namespaces"
	PathPgousers   = PathPrefix + "/pgousers"
	PathPgoroles   = PathPrefix + "/pgoroles"
)

// Path parameters of the route patterns (as in Go's http.ServeMux).
const (
	ParamNamespace = "ns"
	ParamName      = "name"
	ParamReplica   = "replica"
	ParamUser      = "user"
	ParamID        = "id"
	ParamLabel     = "label"
)

// Query parameters.
const (
	// QueryKeepData ("true") keeps volumes: DeleteCluster, ScaledownCluster.
	QueryKeepData = "keepData"
	// QueryKeepBackups ("true") keeps backup repositories: DeleteCluster.
	QueryKeepBackups = "keepBackups"
	// QuerySelector is a label selector that filters ShowCluster lists.
	QuerySelector = "selector"
	// QueryShowPassword ("true") adds passwords to ShowUser; it needs the
	// ShowSecrets permission too.
	QueryShowPassword = "showPassword"
	// QueryNamespace (repeatable) limits Status to some namespaces.
	QueryNamespace = "namespace"
	// QueryExpiring (days) limits ShowUser to passwords that expire within
	// that many days, as `pgo show user --expired`.
	QueryExpiring = "expiring"
	// QueryRepo (repo1 to repo4) names the repository of DeleteBackup.
	QueryRepo = "repo"
	// QueryForce ("true") lets DeleteBackup expire the last full backup.
	QueryForce = "force"
)

func seg(s string) string { return url.PathEscape(s) }

// NamespacePath is one namespace.
func NamespacePath(ns string) string { return PathNamespaces + "/" + seg(ns) }

// ClustersPath lists the clusters of a namespace (GET) and creates one (POST).
func ClustersPath(ns string) string { return NamespacePath(ns) + "/clusters" }

// ClusterPath is one cluster: GET, PATCH, DELETE.
func ClusterPath(ns, name string) string { return ClustersPath(ns) + "/" + seg(name) }

// ClusterTestPath tests a cluster's connections (GET).
func ClusterTestPath(ns, name string) string { return ClusterPath(ns, name) + "/test" }

// ClusterScalePath adds replicas (POST).
func ClusterScalePath(ns, name string) string { return ClusterPath(ns, name) + "/scale" }

// ClusterReplicasPath lists the replicas for scaledown (GET).
func ClusterReplicasPath(ns, name string) string { return ClusterPath(ns, name) + "/replicas" }

// ClusterReplicaPath is one replica: DELETE scales it down.
func ClusterReplicaPath(ns, name, replica string) string {
	return ClusterReplicasPath(ns, name) + "/" + seg(replica)
}

// ClusterFailoverPath: GET the candidates, POST a switchover or failover.
func ClusterFailoverPath(ns, name string) string { return ClusterPath(ns, name) + "/failover" }

// ClusterRestartPath: GET the instances, POST a restart.
func ClusterRestartPath(ns, name string) string { return ClusterPath(ns, name) + "/restart" }

// ClusterUsersPath lists (GET) and creates (POST) a cluster's users.
func ClusterUsersPath(ns, name string) string { return ClusterPath(ns, name) + "/users" }

// ClusterUserPath is one user: PATCH, DELETE.
func ClusterUserPath(ns, name, user string) string {
	return ClusterUsersPath(ns, name) + "/" + seg(user)
}

// WorkflowPath is one workflow (GET).
func WorkflowPath(ns, id string) string { return NamespacePath(ns) + "/workflows/" + seg(id) }

// PgouserPath is one pgo user: GET, PATCH, DELETE.
func PgouserPath(name string) string { return PathPgousers + "/" + seg(name) }

// PgorolePath is one pgo role: GET, PATCH, DELETE.
func PgorolePath(name string) string { return PathPgoroles + "/" + seg(name) }

// BackupsPath lists a cluster's backups (GET) and starts one (POST).
func BackupsPath(ns, name string) string { return ClusterPath(ns, name) + "/backups" }

// BackupPath is one backup set: DELETE expires it.
func BackupPath(ns, name, label string) string { return BackupsPath(ns, name) + "/" + seg(label) }
