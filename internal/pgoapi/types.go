package pgoapi

import "time"

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	// Code repeats the HTTP status code.
	Code int `json:"code"`
	// Reason is a short word for the kind of error: BadRequest,
	// Unauthorized, Forbidden, NotFound, Conflict, Invalid, Internal.
	Reason string `json:"reason"`
	// Message says what is wrong and what to change.
	Message string `json:"message"`
	// Fields are the request fields at fault, when the request was invalid.
	Fields []FieldError `json:"fields,omitempty"`
}

// FieldError is one invalid field of a request.
type FieldError struct {
	// Field is the JSON name of the field, such as "cpu" or "labels[team]".
	Field string `json:"field"`
	// Message says what the field must look like.
	Message string `json:"message"`
}

// Error reasons.
const (
	ReasonBadRequest   = "BadRequest"
	ReasonUnauthorized = "Unauthorized"
	ReasonForbidden    = "Forbidden"
	ReasonNotFound     = "NotFound"
	ReasonConflict     = "Conflict"
	ReasonInvalid      = "Invalid"
	ReasonInternal     = "Internal"
	ReasonUnavailable  = "Unavailable"
	// ReasonTooManyRequests (429): too many failed logins; Retry-After
	// says when to try again.
	ReasonTooManyRequests = "TooManyRequests"
)

// Error implements error, so that a client can return it as is.
func (e *Error) Error() string { return e.Message }

// VersionResponse answers GET /api/v1/version.
type VersionResponse struct {
	// Version of the apiserver (and the operator: one binary).
	Version string `json:"version"`
	// GoVersion the apiserver was built with.
	GoVersion string `json:"goVersion,omitempty"`
	// KubernetesVersion of the Kubernetes API server.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// StatusResponse answers GET /api/v1/status: counts over the namespaces the
// pgo user may access (or those given with ?namespace=).
type StatusResponse struct {
	// Namespaces counted.
	Namespaces []string `json:"namespaces"`
	// Clusters is the number of PGClusters.
	Clusters int `json:"clusters"`
	// Instances is the number of PostgreSQL instances (primaries and
	// replicas) in status.
	Instances int `json:"instances"`
	// ReadyInstances is how many of them are ready.
	ReadyInstances int `json:"readyInstances"`
	// NotReady lists "namespace/cluster" of the clusters whose phase is not
	// Ready.
	NotReady []string `json:"notReady,omitempty"`
	// Volumes is the number of PersistentVolumeClaims of clusters.
	Volumes int `json:"volumes"`
	// VolumeCapacity is their requested size in total, such as "12Gi".
	VolumeCapacity string `json:"volumeCapacity"`
	// Phases counts clusters by phase.
	Phases map[string]int `json:"phases,omitempty"`
	// Nodes lists the nodes that run instances.
	Nodes []string `json:"nodes,omitempty"`
	// Labels counts the labels (key=value) on PGClusters.
	Labels map[string]int `json:"labels,omitempty"`
}

// Namespace is one namespace in a ShowNamespace answer.
type Namespace struct {
	// Name of the namespace.
	Name string `json:"name"`
	// Watched is true when pgo serves clusters in it.
	Watched bool `json:"watched"`
	// CreatedByPgo is true for namespaces created with `pgo create namespace`
	// (only those can be deleted with pgo).
	CreatedByPgo bool `json:"createdByPgo"`
	// Clusters is the number of PGClusters in it.
	Clusters int `json:"clusters"`
}

// ShowNamespaceResponse answers GET /api/v1/namespaces with the namespaces
// the pgo user may access.
type ShowNamespaceResponse struct {
	// Namespaces, sorted by name.
	Namespaces []Namespace `json:"namespaces"`
}

// CreateNamespaceRequest is the body of POST /api/v1/namespaces.
type CreateNamespaceRequest struct {
	// Name of the namespace: a DNS label (RFC 1123), at most 63 characters.
	Name string `json:"name"`
}

// CreateNamespaceResponse answers CreateNamespace.
type CreateNamespaceResponse struct {
	Namespace Namespace `json:"namespace"`
}

// DeleteNamespaceResponse answers DELETE /api/v1/namespaces/{ns}.
type DeleteNamespaceResponse struct {
	// Name of the deleted namespace.
	Name string `json:"name"`
}

// CreateClusterRequest is the body of POST .../clusters: every flag of
// `pgo create cluster`. Sizes and CPU are Kubernetes quantities ("1Gi",
// "500m"); left-out fields take the operator's defaults.
type CreateClusterRequest struct {
	// Name of the cluster: lowercase letters, digits and '-', starting with
	// a letter, at most 40 characters.
	Name string `json:"name"`
	// ReplicaCount is the number of replicas besides the primary (0-32).
	ReplicaCount int32 `json:"replicaCount,omitempty"`
	// PostgresVersion is the major version (13-17); 15 by default.
	PostgresVersion int32 `json:"postgresVersion,omitempty"`
	// Image is the database image; the operator's default when empty.
	Image string `json:"image,omitempty"`
	// Metrics exports Prometheus metrics from every instance.
	Metrics bool `json:"metrics,omitempty"`

	// CPU and Memory are requests; CPULimit and MemoryLimit limits.
	CPU         string `json:"cpu,omitempty"`
	Memory      string `json:"memory,omitempty"`
	CPULimit    string `json:"cpuLimit,omitempty"`
	MemoryLimit string `json:"memoryLimit,omitempty"`

	// PVCSize is the size of the data volumes; 1Gi by default.
	PVCSize string `json:"pvcSize,omitempty"`
	// StorageConfig is the StorageClass of the primary's data volume (and
	// of replicas unless ReplicaStorageConfig is given); the Kubernetes
	// default class when empty.
	StorageConfig string `json:"storageConfig,omitempty"`
	// ReplicaStorageConfig is the StorageClass of replica data volumes.
	ReplicaStorageConfig string `json:"replicaStorageConfig,omitempty"`
	// WALStorageConfig and WALStorageSize put pg_wal on volumes of its own;
	// either one turns that on (the size defaults to PVCSize).
	WALStorageConfig string `json:"walStorageConfig,omitempty"`
	WALStorageSize   string `json:"walStorageSize,omitempty"`

	// Username is the application user; "testuser" by default.
	Username string `json:"username,omitempty"`
	// Password of the application user; generated when empty.
	Password string `json:"password,omitempty"`
	// Database is the application database; the cluster's name by default.
	Database string `json:"database,omitempty"`
	// PasswordType is scram-sha-256 (default) or md5.
	PasswordType string `json:"passwordType,omitempty"`

	// SyncReplication turns on synchronous replication.
	SyncReplication bool `json:"syncReplication,omitempty"`
	// NodeLabel "key=value" places instances on nodes with that label;
	// NodeAffinityType is preferred (default) or required.
	NodeLabel        string `json:"nodeLabel,omitempty"`
	NodeAffinityType string `json:"nodeAffinityType,omitempty"`
	// PodAntiAffinity is preferred (default), required or disabled.
	PodAntiAffinity string `json:"podAntiAffinity,omitempty"`
	// Tolerations as `pgo create cluster --toleration`: "key[=value]:Effect"
	// with Effect NoSchedule, PreferNoSchedule or NoExecute.
	Tolerations []string `json:"tolerations,omitempty"`

	// TLSOnly refuses connections without TLS.
	TLSOnly bool `json:"tlsOnly,omitempty"`
	// ServerCASecret (key ca.crt) and ServerTLSSecret (kubernetes.io/tls)
	// give the server certificate; both or neither.
	ServerCASecret  string `json:"serverCASecret,omitempty"`
	ServerTLSSecret string `json:"serverTLSSecret,omitempty"`

	// PgBouncer runs a connection pooler in front of the primary.
	PgBouncer bool `json:"pgBouncer,omitempty"`
	// CustomConfig is a ConfigMap in the namespace whose entries are
	// PostgreSQL settings (key = setting name), except "pg_hba.conf", whose
	// lines are pg_hba rules. It is copied into the cluster's spec.
	CustomConfig string `json:"customConfig,omitempty"`
	// Labels and Annotations go on the PGCluster and every object pgo
	// creates for it.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// ServiceType of the cluster's Services: ClusterIP (default), NodePort,
	// LoadBalancer.
	ServiceType string `json:"serviceType,omitempty"`

	// PgBackRestStorageType is "posix" (default), "s3" or "posix,s3".
	PgBackRestStorageType string `json:"pgBackRestStorageType,omitempty"`
	// PgBackRestS3* configure the S3 repository. Key and KeySecret are
	// stored in the Secret "<cluster>-pgbackrest-s3"; CASecret names a
	// Secret with the endpoint's CA in key aws-s3-ca.crt, copied there.
	PgBackRestS3Bucket    string `json:"pgBackRestS3Bucket,omitempty"`
	PgBackRestS3Endpoint  string `json:"pgBackRestS3Endpoint,omitempty"`
	PgBackRestS3Region    string `json:"pgBackRestS3Region,omitempty"`
	PgBackRestS3Key       string `json:"pgBackRestS3Key,omitempty"`
	PgBackRestS3KeySecret string `json:"pgBackRestS3KeySecret,omitempty"`
	PgBackRestS3URIStyle  string `json:"pgBackRestS3URIStyle,omitempty"`
	PgBackRestS3VerifyTLS *bool  `json:"pgBackRestS3VerifyTLS,omitempty"`
	PgBackRestS3CASecret  string `json:"pgBackRestS3CASecret,omitempty"`
	// PgBackRestPVCSize and PgBackRestStorageConfig are the size (default
	// PVCSize) and StorageClass of the volume repository.
	PgBackRestPVCSize       string `json:"pgBackRestPVCSize,omitempty"`
	PgBackRestStorageConfig string `json:"pgBackRestStorageConfig,omitempty"`
	// PgBackRestRepos are options of the repositories by name: repo1 is
	// the volume (or S3 alone), repo2 the S3 one of posix,s3.
	PgBackRestRepos []RepoOptions `json:"pgBackRestRepos,omitempty"`

	// RestoreFrom clones the cluster from the backups of another cluster
	// in the namespace; RestoreOpts are pgBackRest restore options, such as
	// "--type=time --target=2026-11-27 11:59:59+00" or "--repo=2" or
	// "--set=20261127-010000F".
	RestoreFrom string `json:"restoreFrom,omitempty"`
	RestoreOpts string `json:"restoreOpts,omitempty"`
}

// CreateClusterResponse answers CreateCluster.
type CreateClusterResponse struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// WorkflowID follows the creation with ShowWorkflow.
	WorkflowID string `json:"workflowID"`
	// Database, Username and Password of the application user.
	Database string `json:"database"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Resources are CPU and memory requests and limits, as quantities.
type Resources struct {
	CPU         string `json:"cpu,omitempty"`
	Memory      string `json:"memory,omitempty"`
	CPULimit    string `json:"cpuLimit,omitempty"`
	MemoryLimit string `json:"memoryLimit,omitempty"`
}

// Storage is one volume role of a cluster.
type Storage struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass,omitempty"`
	AccessMode   string `json:"accessMode,omitempty"`
}

// Pod is one pod of a cluster.
type Pod struct {
	Name string `json:"name"`
	// Instance the pod runs, for database pods.
	Instance string `json:"instance,omitempty"`
	// Role: primary, replica, pgbouncer, repo-host, or "" when unknown.
	Role  string `json:"role,omitempty"`
	Node  string `json:"node,omitempty"`
	Phase string `json:"phase"`
	Ready bool   `json:"ready"`
	// IP of the pod.
	IP string `json:"ip,omitempty"`
}

// PVC is one PersistentVolumeClaim of a cluster.
type PVC struct {
	Name         string `json:"name"`
	Size         string `json:"size"`
	StorageClass string `json:"storageClass,omitempty"`
	Phase        string `json:"phase"`
}

// Workload is one StatefulSet or Deployment of a cluster.
type Workload struct {
	Name     string `json:"name"`
	Desired  int32  `json:"desired"`
	Ready    int32  `json:"ready"`
	Instance string `json:"instance,omitempty"`
}

// Service is one Service of a cluster.
type Service struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	ClusterIP  string   `json:"clusterIP"`
	ExternalIP string   `json:"externalIP,omitempty"`
	Ports      []string `json:"ports,omitempty"`
}

// Instance is one PostgreSQL instance as the cluster's status reports it.
type Instance struct {
	Name     string `json:"name"`
	Role     string `json:"role,omitempty"`
	Ready    bool   `json:"ready"`
	Node     string `json:"node,omitempty"`
	Timeline int64  `json:"timeline,omitempty"`
	// LagBytes is how far a replica is behind the primary; nil when
	// unknown.
	LagBytes       *int64 `json:"lagBytes,omitempty"`
	PendingRestart bool   `json:"pendingRestart,omitempty"`
}

// Cluster is one cluster in a ShowCluster answer.
type Cluster struct {
	Name            string `json:"name"`
	Namespace       string `json:"namespace"`
	Phase           string `json:"phase,omitempty"`
	PostgresVersion int32  `json:"postgresVersion"`
	// Generation is the PGCluster's metadata.generation and
	// ObservedGeneration its status.observedGeneration: the operator has
	// carried out the latest spec when they are equal (`pgo ... --wait`
	// waits for that).
	Generation         int64  `json:"generation,omitempty"`
	ObservedGeneration int64  `json:"observedGeneration,omitempty"`
	Image              string `json:"image,omitempty"`
	// Primary is the instance that holds the leader lock.
	Primary string `json:"primary,omitempty"`
	// Replicas is the number of replicas asked for.
	Replicas       int32  `json:"replicas"`
	ReadyInstances int32  `json:"readyInstances"`
	Database       string `json:"database,omitempty"`
	User           string `json:"user,omitempty"`
	// Autofail is automatic failover (spec.ha.enabled).
	Autofail        bool       `json:"autofail"`
	Shutdown        bool       `json:"shutdown,omitempty"`
	Metrics         bool       `json:"metrics,omitempty"`
	PgBouncer       bool       `json:"pgBouncer,omitempty"`
	SyncReplication bool       `json:"syncReplication,omitempty"`
	Resources       Resources  `json:"resources"`
	PrimaryStorage  Storage    `json:"primaryStorage"`
	ReplicaStorage  *Storage   `json:"replicaStorage,omitempty"`
	WALStorage      *Storage   `json:"walStorage,omitempty"`
	Instances       []Instance `json:"instances,omitempty"`
	Pods            []Pod      `json:"pods,omitempty"`
	PVCs            []PVC      `json:"pvcs,omitempty"`
	StatefulSets    []Workload `json:"statefulSets,omitempty"`
	Deployments     []Workload `json:"deployments,omitempty"`
	Services        []Service  `json:"services,omitempty"`
	// ReplicaNames are the cluster's PGReplicas.
	ReplicaNames []string          `json:"replicaNames,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	WorkflowID   string            `json:"workflowID,omitempty"`
	CreationTime time.Time         `json:"creationTime"`
	// Backups are the repositories with their newest backups, and
	// WALArchiving whether the primary archives its WAL.
	Backups      []RepoSummary `json:"backups,omitempty"`
	WALArchiving *Check        `json:"walArchiving,omitempty"`
}

// RepoSummary is one repository of a cluster, as ShowCluster shows it.
type RepoSummary struct {
	Name     string     `json:"name"`
	Status   string     `json:"status,omitempty"`
	Backups  int32      `json:"backups"`
	LastFull *time.Time `json:"lastFull,omitempty"`
	LastDiff *time.Time `json:"lastDiff,omitempty"`
	LastIncr *time.Time `json:"lastIncr,omitempty"`
}

// Check is a condition of a cluster that pgo test reports: OK, and why
// (or why not).
type Check struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// ShowClusterResponse answers GET .../clusters and .../clusters/{name}.
type ShowClusterResponse struct {
	Clusters []Cluster `json:"clusters"`
}

// UpdateClusterRequest is the body of PATCH .../clusters/{name}; fields left
// out do not change. An empty quantity ("") removes that request or limit.
type UpdateClusterRequest struct {
	CPU         *string `json:"cpu,omitempty"`
	Memory      *string `json:"memory,omitempty"`
	CPULimit    *string `json:"cpuLimit,omitempty"`
	MemoryLimit *string `json:"memoryLimit,omitempty"`
	// Autofail turns automatic failover on or off (--enable-autofail,
	// --disable-autofail).
	Autofail *bool `json:"autofail,omitempty"`
	// Shutdown stops (true, --shutdown) or starts (false, --startup) the
	// cluster.
	Shutdown *bool `json:"shutdown,omitempty"`
}

// UpdateClusterResponse answers UpdateCluster.
type UpdateClusterResponse struct {
	Name string `json:"name"`
	// Changed lists the spec fields that changed; empty when nothing did.
	Changed    []string `json:"changed"`
	WorkflowID string   `json:"workflowID,omitempty"`
}

// DeleteClusterResponse answers DELETE .../clusters/{name}?keepData&keepBackups.
type DeleteClusterResponse struct {
	Name        string `json:"name"`
	KeepData    bool   `json:"keepData"`
	KeepBackups bool   `json:"keepBackups"`
	WorkflowID  string `json:"workflowID,omitempty"`
}

// Endpoint is one connection tested by TestCluster.
type Endpoint struct {
	// Kind is "service" or "instance".
	Kind string `json:"kind"`
	// Name of the Service, or of the instance's pod.
	Name string `json:"name"`
	// Role: primary, replica or pgbouncer.
	Role string `json:"role,omitempty"`
	// Address connected to, host:port.
	Address string `json:"address"`
	// Status is StatusUp or StatusDown.
	Status string `json:"status"`
	// Message says why a connection failed.
	Message string `json:"message,omitempty"`
}

// Endpoint kinds.
const (
	EndpointService  = "service"
	EndpointInstance = "instance"
)

// TestClusterResponse answers GET .../clusters/{name}/test.
type TestClusterResponse struct {
	Name      string     `json:"name"`
	Endpoints []Endpoint `json:"endpoints"`
	// WALArchiving says whether the primary archives its WAL.
	WALArchiving *Check `json:"walArchiving,omitempty"`
	// AllUp is true when every endpoint is up (and WAL is archived).
	AllUp bool `json:"allUp"`
}

// ScaleClusterRequest is the body of POST .../clusters/{name}/scale.
type ScaleClusterRequest struct {
	// ReplicaCount is how many replicas to add, as `pgo scale
	// --replica-count` in Crunchy 4.x (at least 1).
	ReplicaCount int32 `json:"replicaCount"`
}

// ScaleClusterResponse answers ScaleCluster.
type ScaleClusterResponse struct {
	Name string `json:"name"`
	// Replicas is the new number of replicas.
	Replicas   int32  `json:"replicas"`
	WorkflowID string `json:"workflowID,omitempty"`
}

// ReplicasResponse answers GET .../clusters/{name}/replicas (`pgo scaledown
// --query`), GET .../failover (`pgo failover --query`) and GET .../restart
// (`pgo restart --query`).
type ReplicasResponse struct {
	Name    string `json:"name"`
	Primary string `json:"primary,omitempty"`
	// Replicas with their state, from the cluster's status: the instances
	// other than the primary, or for RestartQuery every instance (the
	// primary included, with role primary).
	Replicas []Instance `json:"replicas"`
}

// ScaledownResponse answers DELETE .../replicas/{replica}?keepData.
type ScaledownResponse struct {
	Name       string `json:"name"`
	Replica    string `json:"replica"`
	KeepData   bool   `json:"keepData"`
	WorkflowID string `json:"workflowID,omitempty"`
}

// FailoverRequest is the body of POST .../clusters/{name}/failover.
type FailoverRequest struct {
	// Target is the replica to promote; required for a failover, and the
	// healthiest replica for a switchover when empty.
	Target string `json:"target,omitempty"`
	// Force promotes Target even when the primary is not healthy (a
	// failover); without it the primary hands over in an orderly way (a
	// switchover).
	Force bool `json:"force,omitempty"`
}

// FailoverResponse answers CreateFailover.
type FailoverResponse struct {
	Name       string `json:"name"`
	Target     string `json:"target,omitempty"`
	WorkflowID string `json:"workflowID,omitempty"`
	Message    string `json:"message"`
}

// RestartRequest is the body of POST .../clusters/{name}/restart.
type RestartRequest struct {
	// Rolling restarts every pod (replicas first, then a switchover, then
	// the old primary) by changing the pod template; Targets must be empty.
	Rolling bool `json:"rolling,omitempty"`
	// Targets are the instances to restart PostgreSQL in; all when empty.
	Targets []string `json:"targets,omitempty"`
}

// RestartResult is one restarted instance.
type RestartResult struct {
	Instance string `json:"instance"`
	// Success is true when the instance manager restarted PostgreSQL.
	Success bool   `json:"success"`
	Message string `json:"message,omitempty"`
}

// RestartResponse answers Restart.
type RestartResponse struct {
	Name       string          `json:"name"`
	Rolling    bool            `json:"rolling"`
	Results    []RestartResult `json:"results,omitempty"`
	WorkflowID string          `json:"workflowID,omitempty"`
}

// User is one database user of a cluster.
type User struct {
	Cluster      string     `json:"cluster"`
	Name         string     `json:"name"`
	Databases    []string   `json:"databases,omitempty"`
	Options      string     `json:"options,omitempty"`
	PasswordType string     `json:"passwordType,omitempty"`
	ValidUntil   *time.Time `json:"validUntil,omitempty"`
	// Expired is true when ValidUntil has passed.
	Expired bool `json:"expired,omitempty"`
	// Password, only with ?showPassword=true and the ShowSecrets permission,
	// or when the apiserver generated or changed it.
	Password string `json:"password,omitempty"`
	// Secret holding the password.
	Secret string `json:"secret"`
	// Owner is true for the cluster's application user (spec.user), which
	// UpdateUser may change the password of but DeleteUser cannot remove.
	Owner bool `json:"owner,omitempty"`
}

// ShowUserResponse answers GET .../clusters/{name}/users.
type ShowUserResponse struct {
	Users []User `json:"users"`
}

// CreateUserRequest is the body of POST .../clusters/{name}/users.
type CreateUserRequest struct {
	// Username: lowercase letters, digits, '_' and '-', starting with a
	// letter, at most 63 characters, not a system user.
	Username string `json:"username"`
	// Password; generated when empty, PasswordLength characters long
	// (24 by default).
	Password       string `json:"password,omitempty"`
	PasswordLength int    `json:"passwordLength,omitempty"`
	// PasswordType is scram-sha-256 or md5; the cluster's when empty.
	PasswordType string `json:"passwordType,omitempty"`
	// ValidDays makes the password expire that many days from now; never
	// when 0.
	ValidDays int `json:"validDays,omitempty"`
	// Databases the user may connect to; the cluster's database when empty.
	Databases []string `json:"databases,omitempty"`
	// Options are role attributes, such as "CREATEDB".
	Options string `json:"options,omitempty"`
}

// UserResponse answers CreateUser and UpdateUser.
type UserResponse struct {
	User User `json:"user"`
}

// UpdateUserRequest is the body of PATCH .../users/{user}; fields left out do
// not change.
type UpdateUserRequest struct {
	// Password sets a new password.
	Password *string `json:"password,omitempty"`
	// RotatePassword generates a new password, PasswordLength characters.
	RotatePassword bool `json:"rotatePassword,omitempty"`
	PasswordLength int  `json:"passwordLength,omitempty"`
	// PasswordType changes how the password is stored; the password is
	// set again so it takes effect.
	PasswordType *string `json:"passwordType,omitempty"`
	// ValidDays sets the expiry that many days from now; 0 or less: never.
	ValidDays *int `json:"validDays,omitempty"`
	// ExpireUser makes the password expire now.
	ExpireUser bool `json:"expireUser,omitempty"`
	// Databases replaces the user's databases.
	Databases *[]string `json:"databases,omitempty"`
	// Options replaces the role attributes.
	Options *string `json:"options,omitempty"`
}

// DeleteUserResponse answers DELETE .../users/{user}.
type DeleteUserResponse struct {
	Cluster string `json:"cluster"`
	Name    string `json:"name"`
}

// Pgouser is a pgo user (never with its password).
type Pgouser struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Namespaces the user may access; empty with AllNamespaces.
	Namespaces    []string `json:"namespaces,omitempty"`
	AllNamespaces bool     `json:"allNamespaces"`
}

// ShowPgouserResponse answers GET /api/v1/pgousers[/{name}].
type ShowPgouserResponse struct {
	Pgousers []Pgouser `json:"pgousers"`
}

// CreatePgouserRequest is the body of POST /api/v1/pgousers.
type CreatePgouserRequest struct {
	// Name: a DNS label, at most 55 characters (the Secret is
	// "pgouser-<name>").
	Name string `json:"name"`
	// Password, at least 8 characters.
	Password string `json:"password"`
	// Roles are existing pgo roles; at least one.
	Roles []string `json:"roles"`
	// Namespaces the user may access; give them or AllNamespaces.
	Namespaces    []string `json:"namespaces,omitempty"`
	AllNamespaces bool     `json:"allNamespaces,omitempty"`
}

// UpdatePgouserRequest is the body of PATCH /api/v1/pgousers/{name}; fields
// left out do not change.
type UpdatePgouserRequest struct {
	Password      *string   `json:"password,omitempty"`
	Roles         *[]string `json:"roles,omitempty"`
	Namespaces    *[]string `json:"namespaces,omitempty"`
	AllNamespaces *bool     `json:"allNamespaces,omitempty"`
}

// PgouserResponse answers CreatePgouser and UpdatePgouser.
type PgouserResponse struct {
	Pgouser Pgouser `json:"pgouser"`
}

// Pgorole is a pgo role.
type Pgorole struct {
	Name string `json:"name"`
	// Permissions granted; ["*"] for all.
	Permissions []string `json:"permissions"`
}

// ShowPgoroleResponse answers GET /api/v1/pgoroles[/{name}].
type ShowPgoroleResponse struct {
	Pgoroles []Pgorole `json:"pgoroles"`
}

// CreatePgoroleRequest is the body of POST /api/v1/pgoroles.
type CreatePgoroleRequest struct {
	// Name: a DNS label, at most 55 characters.
	Name string `json:"name"`
	// Permissions: names from Permissions, or "*".
	Permissions []string `json:"permissions"`
}

// UpdatePgoroleRequest is the body of PATCH /api/v1/pgoroles/{name}.
type UpdatePgoroleRequest struct {
	Permissions []string `json:"permissions"`
}

// PgoroleResponse answers CreatePgorole and UpdatePgorole.
type PgoroleResponse struct {
	Pgorole Pgorole `json:"pgorole"`
}

// DeletedResponse answers DeletePgouser and DeletePgorole.
type DeletedResponse struct {
	Name string `json:"name"`
}

// Workflow phases.
const (
	WorkflowPending   = "Pending"
	WorkflowRunning   = "Running"
	WorkflowSucceeded = "Succeeded"
	WorkflowFailed    = "Failed"
)

// WorkflowStep is one timed step of a workflow.
type WorkflowStep struct {
	Name           string     `json:"name"`
	Phase          string     `json:"phase"`
	StartTime      *time.Time `json:"startTime,omitempty"`
	CompletionTime *time.Time `json:"completionTime,omitempty"`
	Message        string     `json:"message,omitempty"`
}

// Workflow answers GET /api/v1/namespaces/{ns}/workflows/{id}.
type Workflow struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Cluster   string `json:"cluster"`
	// Operation, such as "create cluster", "scale", "failover".
	Operation      string         `json:"operation"`
	Phase          string         `json:"phase"`
	StartTime      time.Time      `json:"startTime"`
	CompletionTime *time.Time     `json:"completionTime,omitempty"`
	Steps          []WorkflowStep `json:"steps"`
	Message        string         `json:"message,omitempty"`
}

// CreateBackupRequest is the body of POST .../clusters/{name}/backups.
type CreateBackupRequest struct {
	// BackupOpts are pgbackrest backup options, as `pgo backup
	// --backup-opts` takes them: --type=full|diff|incr, --start-fast,
	// --annotation=KEY=VALUE, … (rules.BackupOptions).
	BackupOpts string `json:"backupOpts,omitempty"`
	// Repo is the repository (repo1 to repo4); the first when empty.
	Repo string `json:"repo,omitempty"`
}

// CreateBackupResponse says which task runs the backup.
type CreateBackupResponse struct {
	Name       string `json:"name"`
	Task       string `json:"task"`
	Type       string `json:"type"`
	Repo       string `json:"repo"`
	WorkflowID string `json:"workflowID"`
	Message    string `json:"message"`
}

// ShowBackupResponse answers GET .../clusters/{name}/backups: each
// repository, from pgbackrest info.
type ShowBackupResponse struct {
	Name   string       `json:"name"`
	Stanza string       `json:"stanza"`
	Repos  []BackupRepo `json:"repos"`
}

// BackupRepo is one repository of a cluster.
type BackupRepo struct {
	Name string `json:"name"`
	// Kind is posix (a volume) or s3.
	Kind string `json:"kind"`
	// Status is pgBackRest's status of the stanza there: "ok" or what is
	// wrong.
	Status          string   `json:"status"`
	Cipher          string   `json:"cipher"`
	PostgresVersion string   `json:"postgresVersion,omitempty"`
	WALMin          string   `json:"walMin,omitempty"`
	WALMax          string   `json:"walMax,omitempty"`
	Backups         []Backup `json:"backups"`
}

// Backup is one backup set.
type Backup struct {
	Label string `json:"label"`
	// Type is full, diff or incr.
	Type      string    `json:"type"`
	StartTime time.Time `json:"startTime"`
	StopTime  time.Time `json:"stopTime"`
	WALStart  string    `json:"walStart"`
	WALStop   string    `json:"walStop"`
	// DatabaseSize is the database's; BackupSize what this backup
	// copied; RepoSize and RepoBackupSize the same in the repository
	// (compressed).
	DatabaseSize   int64 `json:"databaseSize"`
	BackupSize     int64 `json:"backupSize"`
	RepoSize       int64 `json:"repoSize"`
	RepoBackupSize int64 `json:"repoBackupSize"`
	// Reference are the backups this one needs (a diff its full, an incr
	// its full and diff).
	Reference   []string          `json:"reference,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Error       bool              `json:"error,omitempty"`
}

// DeleteBackupResponse answers DELETE .../backups/{label}.
type DeleteBackupResponse struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	Repo    string `json:"repo"`
	Message string `json:"message"`
}

// RepoOptions are the options of one repository of a new cluster.
type RepoOptions struct {
	Name string `json:"name"`
	// RetentionFull is how many full backups to keep (RetentionFullType
	// count, the default) or for how many days (time); RetentionDiff how
	// many differential ones.
	RetentionFull     *int32 `json:"retentionFull,omitempty"`
	RetentionFullType string `json:"retentionFullType,omitempty"`
	RetentionDiff     *int32 `json:"retentionDiff,omitempty"`
	// Encrypted encrypts the repository with a generated passphrase.
	Encrypted bool `json:"encrypted,omitempty"`
}
