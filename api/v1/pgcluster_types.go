package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PGCluster is a highly available PostgreSQL cluster: a primary, its streaming
// replicas, the Services in front of them, its users, TLS, backups and metrics.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pgc;pgcluster,categories=pgo
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.spec.postgresVersion`
// +kubebuilder:printcolumn:name="Primary",type=string,JSONPath=`.status.primary`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyInstances`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 40",message="metadata.name must be at most 40 characters, so that the names pgo derives from it (instances, Services, Jobs) fit Kubernetes limits"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must start with a lowercase letter and hold only lowercase letters, digits and '-', because it names Services"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.dataSource) || self.spec.dataSource.clusterName != self.metadata.name",message="spec.dataSource.clusterName must name another cluster; to restore this one in place, create a PGTask of type restore"
type PGCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PGClusterSpec `json:"spec"`

	// +optional
	Status PGClusterStatus `json:"status,omitempty"`
}

// PGClusterSpec is the cluster the user asks for.
//
// +kubebuilder:validation:XValidation:rule="!has(self.ha.synchronousModeStrict) || !self.ha.synchronousModeStrict || self.replicas >= 1",message="ha.synchronousModeStrict needs replicas of at least 1: with no standby to confirm commits, strict mode refuses every write",fieldPath=".ha.synchronousModeStrict"
// +kubebuilder:validation:XValidation:rule="has(self.walStorage) == has(oldSelf.walStorage)",message="walStorage cannot be added or removed after the cluster is created",fieldPath=".walStorage"
// +kubebuilder:validation:XValidation:rule="has(self.dataSource) == has(oldSelf.dataSource)",message="dataSource cannot be added or removed after the cluster is created; restore with a PGTask of type restore",fieldPath=".dataSource"
// +kubebuilder:validation:XValidation:rule="has(self.database) == has(oldSelf.database) && (!has(self.database) || self.database == oldSelf.database)",message="database cannot change after the cluster is created",fieldPath=".database"
// +kubebuilder:validation:XValidation:rule="!has(self.users) || !self.users.exists(u, u.name == self.user)",message="the cluster's user is created with it; leave it out of users",fieldPath=".users"
// +kubebuilder:validation:XValidation:rule="!has(self.standby) || !self.standby.enabled || !has(self.standby.repoName) || (has(self.backups) && self.backups.repos.exists(r, r.name == self.standby.repoName))",message="standby.repoName must name a repo in backups.repos",fieldPath=".standby.repoName"
type PGClusterSpec struct {
	// PostgresVersion is the major version of PostgreSQL. Raising it runs a
	// major upgrade with pg_upgrade (which is what `pgo upgrade` and a PGTask
	// of type upgrade do); it cannot go down.
	// +optional
	// +kubebuilder:default=15
	// +kubebuilder:validation:Minimum=13
	// +kubebuilder:validation:Maximum=17
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="postgresVersion cannot go down"
	PostgresVersion int32 `json:"postgresVersion,omitempty"`

	// Image holds PostgreSQL and pgBackRest; the instance manager is copied
	// into every pod by an init container, so any such image works. The
	// operator's default image when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// Port PostgreSQL listens on. 8008 and 9187 are the instance manager's
	// API and metrics ports in the same pod.
	// +optional
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:validation:XValidation:rule="!(self in [8008, 9187])",message="port must not be 8008 or 9187: the instance manager's API and metrics use them"
	Port int32 `json:"port,omitempty"`

	// Replicas is the number of streaming replicas besides the primary. Each
	// is a PGReplica object owned by the cluster.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32
	Replicas int32 `json:"replicas,omitempty"`

	// Database is the application database created with the cluster; the
	// cluster's name when empty.
	// +optional
	Database DatabaseName `json:"database,omitempty"`

	// User is the application user created with the cluster, owner of the
	// database. More users go in users.
	// +optional
	// +kubebuilder:default=testuser
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="user cannot change after the cluster is created; add users in users"
	User RoleName `json:"user,omitempty"`

	// PasswordType is how passwords are stored and checked.
	// +optional
	// +kubebuilder:default=scram-sha-256
	PasswordType PasswordType `json:"passwordType,omitempty"`

	// Users are more database users, managed by pgo.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(u, self.all(v, u.name == v.name || u.name.replace('_', '-') != v.name.replace('_', '-')))",message="user names must differ in more than '_' and '-': they name the users' Secrets, where '_' is written '-'"
	Users []PGUser `json:"users,omitempty"`

	// Resources of the PostgreSQL container of every instance (a PGReplica
	// may override them). Changing them rolls the replicas, switches over and
	// then restarts the old primary.
	// +optional
	Resources Resources `json:"resources,omitempty"`

	// PrimaryStorage is the data volume of the first instance.
	// +required
	PrimaryStorage PGStorage `json:"primaryStorage"`

	// ReplicaStorage is the data volume of replicas; primaryStorage when
	// left out.
	// +optional
	ReplicaStorage *PGStorage `json:"replicaStorage,omitempty"`

	// WALStorage puts pg_wal on a volume of its own, for every instance.
	// +optional
	WALStorage *PGStorage `json:"walStorage,omitempty"`

	// HA configures leader election and failover, run by the instance
	// manager in every pod.
	// +optional
	// +kubebuilder:default={enabled: true, ttl: 30, loopWait: 10, retryTimeout: 10, maximumLagOnFailover: 1048576}
	HA PGHASpec `json:"ha,omitempty"`

	// TLS for client and replication connections. TLS is always on; pgo
	// issues certificates from its own CA unless secrets are given here.
	// +optional
	TLS *PGTLSSpec `json:"tls,omitempty"`

	// Monitoring exports Prometheus metrics from every instance.
	// +optional
	Monitoring *PGMonitoringSpec `json:"monitoring,omitempty"`

	// PgBouncer runs a connection pooler in front of the primary.
	// +optional
	PgBouncer *PGBouncerSpec `json:"pgBouncer,omitempty"`

	// NodeAffinity places instances on nodes with a label.
	// +optional
	NodeAffinity *PGNodeAffinity `json:"nodeAffinity,omitempty"`

	// PodAntiAffinity keeps the cluster's pods (instances, the repository
	// host and PgBouncer) on different nodes from the other pods of the same
	// kind: preferred (default), required, or disabled.
	// +optional
	// +kubebuilder:default=preferred
	PodAntiAffinity PodAntiAffinityType `json:"podAntiAffinity,omitempty"`

	// Tolerations of the instance pods.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Config is custom PostgreSQL configuration.
	// +optional
	Config *PGConfigSpec `json:"config,omitempty"`

	// Backups configures pgBackRest repositories. Without it, pgo backs up to
	// one volume repository (repo1) as large as primaryStorage.
	// +optional
	Backups *PGBackupsSpec `json:"backups,omitempty"`

	// DataSource creates the cluster from another cluster's backups (clone,
	// optionally to a point in time). It is fixed at creation.
	// +optional
	DataSource *PGDataSource `json:"dataSource,omitempty"`

	// Standby runs the whole cluster as a standby of another one, replaying
	// its WAL from a backup repository or streaming from a host.
	// +optional
	Standby *PGStandbySpec `json:"standby,omitempty"`

	// Shutdown stops every instance, keeping their volumes.
	// +optional
	Shutdown bool `json:"shutdown,omitempty"`

	// Deletion says what deleting the cluster keeps: by default it removes
	// everything the cluster owns, volumes and backups included.
	// +optional
	Deletion *PGDeletionSpec `json:"deletion,omitempty"`

	// ServiceType of the primary and replica Services.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	ServiceType corev1.ServiceType `json:"serviceType,omitempty"`

	// Metadata are labels and annotations put on every object pgo creates for
	// the cluster.
	// +optional
	Metadata *PGMetadata `json:"metadata,omitempty"`
}

// PasswordType is how PostgreSQL stores a password.
// +kubebuilder:validation:Enum=scram-sha-256;md5
type PasswordType string

// Password types.
const (
	PasswordSCRAM PasswordType = "scram-sha-256"
	PasswordMD5   PasswordType = "md5"
)

// PodAntiAffinityType says how strongly instances are kept apart.
// +kubebuilder:validation:Enum=preferred;required;disabled
type PodAntiAffinityType string

// Pod anti-affinity types.
const (
	PodAntiAffinityPreferred PodAntiAffinityType = "preferred"
	PodAntiAffinityRequired  PodAntiAffinityType = "required"
	PodAntiAffinityDisabled  PodAntiAffinityType = "disabled"
)

// PGUser is a database user that pgo creates and keeps as specified. Its
// password is in the Secret "<cluster>-<name>-secret" (with '_' written as
// '-'), generated unless that Secret exists.
type PGUser struct {
	// Name of the role.
	// +required
	Name RoleName `json:"name"`

	// Databases the user may connect to and create objects in.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Databases []DatabaseName `json:"databases,omitempty"`

	// Options are role attributes in upper case, separated by spaces, such
	// as "CREATEDB NOINHERIT" or "CONNECTION LIMIT 10". LOGIN is implied.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^((NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)|CONNECTION LIMIT -?[0-9]+)( ((NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)|CONNECTION LIMIT -?[0-9]+))*$')",message="options are role attributes separated by single spaces: SUPERUSER, CREATEDB, CREATEROLE, INHERIT, LOGIN, REPLICATION, BYPASSRLS (each may start with NO) or CONNECTION LIMIT n"
	Options string `json:"options,omitempty"`

	// PasswordType overrides the cluster's password type for this user.
	// +optional
	PasswordType PasswordType `json:"passwordType,omitempty"`

	// ValidUntil is when the password expires; never when left out.
	// +optional
	ValidUntil *metav1.Time `json:"validUntil,omitempty"`
}

// PGHASpec configures the instance manager's leader election, with Patroni's
// meanings and defaults.
//
// +kubebuilder:validation:XValidation:rule="self.loopWait + 2 * self.retryTimeout <= self.ttl",message="loopWait + 2*retryTimeout must not exceed ttl, so that a primary that cannot renew its lock demotes itself before the lock expires"
// +kubebuilder:validation:XValidation:rule="!has(self.synchronousModeStrict) || !self.synchronousModeStrict || (has(self.synchronousMode) && self.synchronousMode)",message="synchronousModeStrict needs synchronousMode: true",fieldPath=".synchronousModeStrict"
type PGHASpec struct {
	// Enabled turns automatic failover on (the default) or off (Crunchy's
	// autofail). Off is Patroni's pause mode: the instance managers take no
	// automatic action but still hold the leader lock.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// TTL is how many seconds the leader lock lasts without being renewed.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=20
	// +kubebuilder:validation:Maximum=3600
	TTL int32 `json:"ttl,omitempty"`

	// LoopWait is how many seconds the instance manager sleeps between runs
	// of its loop.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	LoopWait int32 `json:"loopWait,omitempty"`

	// RetryTimeout is how many seconds the instance manager retries the
	// Kubernetes API and PostgreSQL before giving up; a leader that cannot
	// renew its lock within it demotes itself.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=3
	// +kubebuilder:validation:Maximum=3600
	RetryTimeout int32 `json:"retryTimeout,omitempty"`

	// MaximumLagOnFailover is how many bytes of WAL a replica may be behind
	// and still be promoted.
	// +optional
	// +kubebuilder:default=1048576
	// +kubebuilder:validation:Minimum=0
	MaximumLagOnFailover *int64 `json:"maximumLagOnFailover,omitempty"`

	// SynchronousMode makes commits wait for a synchronous standby, and only
	// that standby may be promoted, so that no acknowledged commit is lost.
	// +optional
	SynchronousMode bool `json:"synchronousMode,omitempty"`

	// SynchronousModeStrict refuses writes rather than run without a
	// synchronous standby.
	// +optional
	SynchronousModeStrict bool `json:"synchronousModeStrict,omitempty"`
}

// PGTLSSpec gives the certificates for TLS. Without secrets pgo issues them
// from its own CA.
//
// +kubebuilder:validation:XValidation:rule="has(self.caSecret) == has(self.tlsSecret)",message="caSecret and tlsSecret go together: give both to use your own certificates, or neither to have pgo issue them"
// +kubebuilder:validation:XValidation:rule="!has(self.replicationTLSSecret) || has(self.tlsSecret)",message="replicationTLSSecret needs caSecret and tlsSecret",fieldPath=".replicationTLSSecret"
type PGTLSSpec struct {
	// CASecret is a Secret with the CA certificate (key ca.crt) that signed
	// the server and client certificates.
	// +optional
	CASecret ObjectName `json:"caSecret,omitempty"`

	// TLSSecret is a kubernetes.io/tls Secret with the server certificate.
	// +optional
	TLSSecret ObjectName `json:"tlsSecret,omitempty"`

	// ReplicationTLSSecret is a kubernetes.io/tls Secret with the client
	// certificate replicas authenticate with; pgo issues one when left out.
	// +optional
	ReplicationTLSSecret ObjectName `json:"replicationTLSSecret,omitempty"`

	// TLSOnly refuses connections that do not use TLS.
	// +optional
	TLSOnly bool `json:"tlsOnly,omitempty"`
}

// PGMonitoringSpec turns on metrics.
//
// +kubebuilder:validation:XValidation:rule="!has(self.customQueries) || (has(self.enabled) && self.enabled)",message="customQueries needs enabled: true",fieldPath=".customQueries"
type PGMonitoringSpec struct {
	// Enabled serves Prometheus metrics on port 9187 of every instance and
	// annotates the pods for scraping.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// CustomQueries is a ConfigMap whose key queries.yaml holds more
	// queries, in the postgres_exporter format.
	// +optional
	CustomQueries ObjectName `json:"customQueries,omitempty"`
}

// PGBouncerSpec runs PgBouncer in front of the primary, behind the Service
// "<cluster>-pgbouncer".
type PGBouncerSpec struct {
	// Replicas of the PgBouncer Deployment.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	Replicas int32 `json:"replicas,omitempty"`

	// Resources of the PgBouncer container.
	// +optional
	Resources Resources `json:"resources,omitempty"`

	// ServiceType of the PgBouncer Service.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	ServiceType corev1.ServiceType `json:"serviceType,omitempty"`
}

// ParameterValue is a postgresql.conf value.
// +kubebuilder:validation:MaxLength=4096
type ParameterValue string

// PGConfigSpec is custom PostgreSQL configuration.
type PGConfigSpec struct {
	// Parameters are postgresql.conf settings, as strings ("200", "on",
	// "0.9", "128MB"). Settings pgo needs to run the cluster (ports, paths,
	// replication, archiving, TLS files, logging to stdout) are refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=256
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z][a-z0-9_]*(\\\\.[a-z][a-z0-9_]*)?$'))",message="parameter names are lowercase PostgreSQL setting names, such as work_mem or pg_stat_statements.max"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['archive_command', 'archive_mode', 'cluster_name', 'config_file', 'data_directory', 'external_pid_file', 'hba_file', 'hot_standby', 'ident_file', 'listen_addresses', 'logging_collector', 'password_encryption', 'port', 'primary_conninfo', 'primary_slot_name', 'promote_trigger_file', 'recovery_target', 'recovery_target_action', 'recovery_target_inclusive', 'recovery_target_lsn', 'recovery_target_name', 'recovery_target_time', 'recovery_target_timeline', 'recovery_target_xid', 'restore_command', 'ssl', 'ssl_ca_file', 'ssl_cert_file', 'ssl_key_file', 'synchronous_standby_names', 'unix_socket_directories', 'wal_log_hints']))",messageExpression="'parameter ' + self.filter(k, k in ['archive_command', 'archive_mode', 'cluster_name', 'config_file', 'data_directory', 'external_pid_file', 'hba_file', 'hot_standby', 'ident_file', 'listen_addresses', 'logging_collector', 'password_encryption', 'port', 'primary_conninfo', 'primary_slot_name', 'promote_trigger_file', 'recovery_target', 'recovery_target_action', 'recovery_target_inclusive', 'recovery_target_lsn', 'recovery_target_name', 'recovery_target_time', 'recovery_target_timeline', 'recovery_target_xid', 'restore_command', 'ssl', 'ssl_ca_file', 'ssl_cert_file', 'ssl_key_file', 'synchronous_standby_names', 'unix_socket_directories', 'wal_log_hints'])[0] + ' is set by pgo; remove it (use spec.port, spec.passwordType, spec.tls or spec.ha instead where they apply)'"
	// +kubebuilder:validation:XValidation:rule="!('wal_level' in self) || self['wal_level'] in ['replica', 'logical']",message="wal_level must be replica or logical: streaming replicas need at least replica"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !self[k].matches('[\\\\x00\\\\n\\\\r]'))",message="a parameter value holds a line break or NUL, which would add a line to postgresql.conf; give the value on one line"
	Parameters map[string]ParameterValue `json:"parameters,omitempty"`

	// PgHBA are pg_hba.conf rules, such as "hostssl all all 0.0.0.0/0
	// scram-sha-256". They come after the rules pgo needs for replication and
	// its own users, and before a final rule that rejects everything else.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.all(r, r.matches('^(local(\\\\s+\\\\S+){3}|(host|hostssl|hostnossl|hostgssenc|hostnogssenc)(\\\\s+\\\\S+){4}).*$'))",message="each rule is a pg_hba.conf line: local DATABASE USER METHOD, or host (hostssl, hostnossl, hostgssenc, hostnogssenc) DATABASE USER ADDRESS METHOD"
	// +kubebuilder:validation:XValidation:rule="self.all(r, !r.matches('[\\\\x00\\\\n\\\\r]'))",message="a rule holds a line break or NUL, which would add a rule to pg_hba.conf; give one rule per entry"
	// +kubebuilder:validation:XValidation:rule="self.all(r, !r.matches('^(local(\\\\s+\\\\S+){2}|host\\\\S*(\\\\s+\\\\S+){3}|host\\\\S*(\\\\s+\\\\S+){4})\\\\s+trust(\\\\s|$)'))",message="a rule uses the trust method, which lets anyone who reaches the server in without a password; use scram-sha-256 or cert"
	PgHBA []string `json:"pgHBA,omitempty"`
}

// PGBackupsSpec configures pgBackRest.
type PGBackupsSpec struct {
	// Repos are the pgBackRest repositories, repo1 to repo4. WAL is archived
	// to all of them.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	Repos []PGBackupRepo `json:"repos"`

	// Resources of the repository host and of backup Jobs.
	// +optional
	Resources Resources `json:"resources,omitempty"`
}

// PGBackupRepo is one pgBackRest repository: a volume or an S3 bucket.
//
// +kubebuilder:validation:XValidation:rule="has(self.volume) != has(self.s3)",message="a repo is either a volume or s3: give exactly one of them"
// +kubebuilder:validation:XValidation:rule="(has(self.encrypted) && self.encrypted) == (has(oldSelf.encrypted) && oldSelf.encrypted)",message="encrypted cannot change: the repository's backups are (or are not) encrypted already; add another repository instead",fieldPath=".encrypted"
type PGBackupRepo struct {
	// Name of the repository in pgBackRest: repo1, repo2, repo3 or repo4.
	// +required
	Name RepoName `json:"name"`

	// Volume keeps the repository on a PersistentVolumeClaim mounted by the
	// repository host.
	// +optional
	Volume *PGStorage `json:"volume,omitempty"`

	// S3 keeps the repository in an S3-compatible bucket.
	// +optional
	S3 *PGS3Repo `json:"s3,omitempty"`

	// Retention says which backups to keep; pgBackRest expires the others
	// (and the WAL only they need) after each backup.
	// +optional
	Retention *PGRetention `json:"retention,omitempty"`

	// Encrypted encrypts the repository (pgBackRest's aes-256-cbc) with a
	// passphrase pgo generates and keeps in the Secret
	// "<cluster>-pgbackrest-secret". It is fixed when the repository is
	// made.
	// +optional
	Encrypted bool `json:"encrypted,omitempty"`
}

// URIStyle is how an S3 bucket is addressed.
// +kubebuilder:validation:Enum=host;path
type URIStyle string

// URI styles.
const (
	URIStyleHost URIStyle = "host"
	URIStylePath URIStyle = "path"
)

// PGS3Repo is a repository in an S3-compatible bucket.
type PGS3Repo struct {
	// Bucket name.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][a-z0-9.-]*[a-z0-9]$')",message="bucket names have 3 to 63 lowercase letters, digits, '.' and '-', and start and end with a letter or digit"
	Bucket string `json:"bucket"`

	// Endpoint is the host name of the S3 service with an optional port,
	// such as s3.eu-west-1.amazonaws.com or minio.storage.svc:9000.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",message="endpoint is a host name with an optional port, without a scheme such as https:// (pgBackRest always uses HTTPS)"
	// +kubebuilder:validation:XValidation:rule="self.contains('://') || self.matches('^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$')",message="endpoint is a host name with an optional port, such as s3.example.com:9000"
	Endpoint string `json:"endpoint"`

	// Region of the bucket, such as us-east-1.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region"`

	// URIStyle is "host" (bucket.endpoint, the default) or "path"
	// (endpoint/bucket, which most S3-compatible servers need).
	// +optional
	// +kubebuilder:default=host
	URIStyle URIStyle `json:"uriStyle,omitempty"`

	// VerifyTLS checks the endpoint's certificate (the default).
	// +optional
	// +kubebuilder:default=true
	VerifyTLS *bool `json:"verifyTLS,omitempty"`

	// Path in the bucket under which the repository lives; pgo uses
	// /pgbackrest/<namespace>/<cluster> when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path,omitempty"`

	// CredentialsSecret is a Secret in the cluster's namespace with the keys
	// aws-s3-key and aws-s3-key-secret, and optionally aws-s3-ca.crt (the CA
	// of an endpoint whose certificate a private CA signed).
	// +required
	CredentialsSecret ObjectName `json:"credentialsSecret"`
}

// RetentionType is how full backups are counted for retention.
// +kubebuilder:validation:Enum=count;time
type RetentionType string

// Retention types.
const (
	RetentionCount RetentionType = "count"
	RetentionTime  RetentionType = "time"
)

// PGRetention is pgBackRest's retention for one repository.
type PGRetention struct {
	// Full is how many full backups to keep (fullType count) or for how many
	// days (fullType time).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9999999
	Full *int32 `json:"full,omitempty"`

	// FullType is count (the default) or time.
	// +optional
	// +kubebuilder:default=count
	FullType RetentionType `json:"fullType,omitempty"`

	// Diff is how many differential backups to keep.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9999999
	Diff *int32 `json:"diff,omitempty"`
}

// PGDataSource creates a cluster from another cluster's backups.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="dataSource cannot change after the cluster is created"
type PGDataSource struct {
	// ClusterName is the cluster (in the same namespace) whose repository
	// holds the backups.
	// +required
	ClusterName ClusterName `json:"clusterName"`

	// RepoName is the repository to restore from.
	// +optional
	// +kubebuilder:default=repo1
	RepoName RepoName `json:"repoName,omitempty"`

	// Target restores to a point in time; to the end of the WAL when left
	// out.
	// +optional
	Target *PGRecoveryTarget `json:"target,omitempty"`

	// Options are more `pgbackrest restore` options, such as --set=<label>.
	// +optional
	Options PgBackRestOptions `json:"options,omitempty"`
}

// PGStandbySpec runs a cluster as a standby of another one.
//
// +kubebuilder:validation:XValidation:rule="!self.enabled || has(self.repoName) || has(self.host)",message="a standby needs a source: repoName (a repo that receives the other cluster's WAL) or host (to stream from)"
// +kubebuilder:validation:XValidation:rule="!has(self.port) || has(self.host)",message="port needs host",fieldPath=".port"
type PGStandbySpec struct {
	// Enabled makes the cluster a standby; turning it off promotes it.
	// +required
	Enabled bool `json:"enabled"`

	// RepoName is a repository in backups.repos that the primary cluster
	// archives its WAL to.
	// +optional
	RepoName RepoName `json:"repoName,omitempty"`

	// Host of the primary cluster to stream WAL from.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$`
	Host string `json:"host,omitempty"`

	// Port of the primary cluster; 5432 when left out.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`
}

// PGMetadata are labels and annotations for every object of a cluster.
type PGMetadata struct {
	// Labels to add. Keys under pgo.dev/ are pgo's own and are refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('pgo.dev/'))",message="label keys under pgo.dev/ belong to pgo"
	Labels map[string]string `json:"labels,omitempty"`

	// Annotations to add. Keys under pgo.dev/ are pgo's own and are refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('pgo.dev/'))",message="annotation keys under pgo.dev/ belong to pgo"
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PGDeletionSpec is what deleting a cluster keeps (`pgo delete cluster
// --keep-data --keep-backups`). A PGTask of type deleteData removes it later.
type PGDeletionSpec struct {
	// KeepData keeps the instances' volumes.
	// +optional
	KeepData bool `json:"keepData,omitempty"`

	// KeepBackups keeps the backup repositories: the repository volumes, and
	// the backups in S3.
	// +optional
	KeepBackups bool `json:"keepBackups,omitempty"`
}

// PGClusterPhase summarises a cluster's state for people; conditions are the
// contract for programs.
// +kubebuilder:validation:Enum=Creating;Initializing;Ready;Degraded;Updating;Restoring;Upgrading;Shutdown;Failed
type PGClusterPhase string

// Cluster phases.
const (
	PhaseCreating     PGClusterPhase = "Creating"
	PhaseInitializing PGClusterPhase = "Initializing"
	PhaseReady        PGClusterPhase = "Ready"
	PhaseDegraded     PGClusterPhase = "Degraded"
	PhaseUpdating     PGClusterPhase = "Updating"
	PhaseRestoring    PGClusterPhase = "Restoring"
	PhaseUpgrading    PGClusterPhase = "Upgrading"
	PhaseShutdown     PGClusterPhase = "Shutdown"
	PhaseFailed       PGClusterPhase = "Failed"
)

// DefaultPostgresVersion is the PostgreSQL major version of a cluster that
// names none (the default marker of postgresVersion).
const DefaultPostgresVersion int32 = 15

// Condition types of a PGCluster.
const (
	// ClusterReady is true when the primary accepts connections and every
	// instance is ready.
	ClusterReady = "Ready"
	// ClusterProgressing is true while pgo changes the cluster (creating,
	// scaling, rolling out a change).
	ClusterProgressing = "Progressing"
	// ClusterDegraded is true when the cluster has no primary or an
	// instance is not ready.
	ClusterDegraded = "Degraded"
	// ClusterStorageResized is false when a larger volume size cannot be
	// applied; the message says why.
	ClusterStorageResized = "StorageResized"
	// ClusterBackupsReady is true once the repository host runs and the
	// stanza exists; false says what backups wait for (a missing S3
	// credentials Secret, the repository host, the primary).
	ClusterBackupsReady = "BackupsReady"
	// ClusterDiskPressure is true while a data or WAL volume of an
	// instance is 80 % full or more: PostgreSQL stops when it is full. The
	// message names the volumes; grow them (spec.primaryStorage.size …)
	// or free space.
	ClusterDiskPressure = "DiskPressure"
	// ClusterWALArchiving is false when the primary has failed to archive
	// WAL for longer than the operator's threshold; the message says since
	// when and the last error.
	ClusterWALArchiving = "WALArchiving"
	// ClusterRefused is true when pgo will not run the cluster where or
	// as it is (its namespace, PostgreSQL version or image is not allowed)
	// and has created nothing for it; the message says why.
	ClusterRefused = "Refused"
)

// PGClusterStatus is the cluster as pgo last observed it.
type PGClusterStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase summarises the cluster's state.
	// +optional
	Phase PGClusterPhase `json:"phase,omitempty"`

	// Conditions: Ready, Progressing, Degraded, StorageResized, BackupsReady,
	// WALArchiving, DiskPressure, Refused.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Primary is the instance that holds the leader lock.
	// +optional
	Primary string `json:"primary,omitempty"`

	// Instances, one entry each.
	// +optional
	// +listType=map
	// +listMapKey=name
	Instances []PGInstanceStatus `json:"instances,omitempty"`

	// Replicas is the number of replica instances that exist.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// ReadyInstances is the number of instances that pass their readiness
	// check.
	// +optional
	ReadyInstances int32 `json:"readyInstances,omitempty"`

	// Selector selects the cluster's replica pods, which the scale
	// subresource counts in replicas.
	// +optional
	Selector string `json:"selector,omitempty"`

	// WorkflowID of the last operation on the cluster; `pgo show workflow`
	// shows its steps.
	// +optional
	WorkflowID string `json:"workflowID,omitempty"`

	// Backups are the cluster's pgBackRest repositories and WAL archive as
	// pgo last saw them.
	// +optional
	Backups *PGBackupsStatus `json:"backups,omitempty"`
}

// PGBackupsStatus is the state of a cluster's backups.
type PGBackupsStatus struct {
	// StanzaCreated is true once the stanza exists in every repository;
	// WAL is archived from then on.
	// +optional
	StanzaCreated bool `json:"stanzaCreated,omitempty"`

	// InitialBackup is the PGTask of the first full backup, which pgo
	// takes once the stanza exists.
	// +optional
	InitialBackup string `json:"initialBackup,omitempty"`

	// Repos, one entry each, from pgbackrest info.
	// +optional
	// +listType=map
	// +listMapKey=name
	Repos []PGRepoStatus `json:"repos,omitempty"`

	// Archive is the primary's WAL archiving.
	// +optional
	Archive *PGArchiveStatus `json:"archive,omitempty"`

	// RefreshTime is when pgo last read the repositories.
	// +optional
	RefreshTime *metav1.Time `json:"refreshTime,omitempty"`
}

// PGRepoStatus is one repository.
type PGRepoStatus struct {
	// Name of the repository.
	// +required
	Name RepoName `json:"name"`

	// Status is pgBackRest's status of the stanza in the repository: "ok",
	// or what is wrong.
	// +optional
	Status string `json:"status,omitempty"`

	// Cipher is none or aes-256-cbc.
	// +optional
	Cipher string `json:"cipher,omitempty"`

	// Backups is how many backups the repository holds.
	// +optional
	Backups int32 `json:"backups,omitempty"`

	// LastFull, LastDiff and LastIncr are when the newest backup of each
	// type finished.
	// +optional
	LastFull *metav1.Time `json:"lastFull,omitempty"`
	// +optional
	LastDiff *metav1.Time `json:"lastDiff,omitempty"`
	// +optional
	LastIncr *metav1.Time `json:"lastIncr,omitempty"`

	// WALMin and WALMax are the first and last WAL segments archived.
	// +optional
	WALMin string `json:"walMin,omitempty"`
	// +optional
	WALMax string `json:"walMax,omitempty"`
}

// PGArchiveStatus is the primary's WAL archiving, from pg_stat_archiver.
type PGArchiveStatus struct {
	// LastArchivedWAL and LastArchivedTime: the last segment archived.
	// +optional
	LastArchivedWAL string `json:"lastArchivedWAL,omitempty"`
	// +optional
	LastArchivedTime *metav1.Time `json:"lastArchivedTime,omitempty"`

	// LastFailedWAL and LastFailedTime: the last segment that failed.
	// +optional
	LastFailedWAL string `json:"lastFailedWAL,omitempty"`
	// +optional
	LastFailedTime *metav1.Time `json:"lastFailedTime,omitempty"`

	// FailingSince is when archiving started failing, while it fails.
	// +optional
	FailingSince *metav1.Time `json:"failingSince,omitempty"`
}

// InstanceRole is an instance's role in replication.
// +kubebuilder:validation:Enum=primary;replica;standby_leader;unknown
type InstanceRole string

// Instance roles.
const (
	RolePrimary       InstanceRole = "primary"
	RoleReplica       InstanceRole = "replica"
	RoleStandbyLeader InstanceRole = "standby_leader"
	RoleUnknown       InstanceRole = "unknown"
)

// PGInstanceStatus is one instance as its instance manager reports it.
type PGInstanceStatus struct {
	// Name of the instance (its StatefulSet and pod prefix).
	// +required
	Name string `json:"name"`

	// Role of the instance.
	// +optional
	Role InstanceRole `json:"role,omitempty"`

	// Ready is true when the instance passes its readiness check.
	// +optional
	Ready bool `json:"ready,omitempty"`

	// Node the instance's pod runs on.
	// +optional
	Node string `json:"node,omitempty"`

	// Timeline of the instance's PostgreSQL.
	// +optional
	Timeline int64 `json:"timeline,omitempty"`

	// LagBytes is how far a replica's replayed WAL is behind the primary.
	// +optional
	LagBytes *int64 `json:"lagBytes,omitempty"`

	// PendingRestart is true when a changed setting needs a restart.
	// +optional
	PendingRestart bool `json:"pendingRestart,omitempty"`

	// KeptData is the data directory the instance kept aside after
	// pg_rewind failed (it holds what the former primary did not send);
	// remove_data_directory_on_rewind_failure drops it instead.
	// +optional
	KeptData string `json:"keptData,omitempty"`

	// DiskUsage is how full the instance's volumes are, in percent: data,
	// and wal when pg_wal has a volume of its own.
	// +optional
	DiskUsage map[string]int32 `json:"diskUsage,omitempty"`

	// DataSource says how the instance's data directory was made: initdb,
	// "pg_basebackup from <member>", or "pgbackrest backup <label>" (a
	// restore from the repository, then streaming).
	// +optional
	DataSource string `json:"dataSource,omitempty"`

	// Problem says what keeps the instance from going on, when something
	// does.
	// +optional
	Problem string `json:"problem,omitempty"`
}

// +kubebuilder:object:root=true

// PGClusterList is a list of PGClusters.
type PGClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PGCluster `json:"items"`
}
