package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PGTask is one operation on a cluster (a backup, a restore, a switchover …),
// run by the controller in timed steps under a workflow id. A task does not
// change once created; to run an operation again, create another task.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pgt;pgtask,categories=pgo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Workflow",type=string,JSONPath=`.status.workflowID`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters: the task's Job shares its name"
type PGTask struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PGTaskSpec `json:"spec"`

	// +optional
	Status PGTaskStatus `json:"status,omitempty"`
}

// TaskType is the operation a PGTask runs.
// +kubebuilder:validation:Enum=backup;restore;clone;switchover;failover;restart;upgrade;applyPolicy;deleteData;createCluster;scale;scaledown;updateCluster
type TaskType string

// Task types.
const (
	TaskBackup      TaskType = "backup"
	TaskRestore     TaskType = "restore"
	TaskClone       TaskType = "clone"
	TaskSwitchover  TaskType = "switchover"
	TaskFailover    TaskType = "failover"
	TaskRestart     TaskType = "restart"
	TaskUpgrade     TaskType = "upgrade"
	TaskApplyPolicy TaskType = "applyPolicy"
	TaskDeleteData  TaskType = "deleteData"

	// The spec changes the cluster reconciler carries out on its own. Their
	// tasks only follow the cluster's status, so that every long operation
	// has a workflow in the one place `pgo show workflow` reads. They are
	// named for the pgo commands that make them (`pgo create cluster`, `pgo
	// scale`, `pgo scaledown`, `pgo update cluster`), in the lower camel
	// case of the other types; createCluster and updateCluster keep their
	// noun so that they do not read as operations on tasks.
	TaskCreateCluster TaskType = "createCluster"
	TaskScale         TaskType = "scale"
	TaskScaledown     TaskType = "scaledown"
	TaskUpdateCluster TaskType = "updateCluster"
)

// Operation is how `pgo show workflow` names the operation of a task of
// this type: as pgo names the command that starts it (a switchover is
// `pgo failover` without --force).
func (t TaskType) Operation() string {
	switch t {
	case TaskCreateCluster:
		return "create cluster"
	case TaskUpdateCluster:
		return "update cluster"
	case TaskSwitchover:
		return "failover"
	case TaskRestart:
		return "rolling restart"
	}
	return string(t)
}

// PGTaskSpec is the operation to run. Only the parameters of its type may be
// given.
//
// The rule below accepts only the types whose workflow the controller runs
// (internal/controller/task_workflows.go): a type becomes available with one
// entry in that table and its name in this list.
//
// +kubebuilder:validation:XValidation:rule="self.type in ['createCluster', 'scale', 'scaledown', 'updateCluster', 'switchover', 'failover', 'restart', 'backup']",messageExpression="'tasks of type ' + self.type + ' are not available yet'",fieldPath=".type"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a task cannot change once created; create a new PGTask"
// +kubebuilder:validation:XValidation:rule="!has(self.backup) || self.type == 'backup'",message="backup is only for tasks of type backup",fieldPath=".backup"
// +kubebuilder:validation:XValidation:rule="!has(self.restore) || self.type == 'restore'",message="restore is only for tasks of type restore",fieldPath=".restore"
// +kubebuilder:validation:XValidation:rule="!has(self.clone) || self.type == 'clone'",message="clone is only for tasks of type clone",fieldPath=".clone"
// +kubebuilder:validation:XValidation:rule="!has(self.switchover) || self.type == 'switchover'",message="switchover is only for tasks of type switchover",fieldPath=".switchover"
// +kubebuilder:validation:XValidation:rule="!has(self.failover) || self.type == 'failover'",message="failover is only for tasks of type failover",fieldPath=".failover"
// +kubebuilder:validation:XValidation:rule="!has(self.restart) || self.type == 'restart'",message="restart is only for tasks of type restart",fieldPath=".restart"
// +kubebuilder:validation:XValidation:rule="!has(self.upgrade) || self.type == 'upgrade'",message="upgrade is only for tasks of type upgrade",fieldPath=".upgrade"
// +kubebuilder:validation:XValidation:rule="!has(self.applyPolicy) || self.type == 'applyPolicy'",message="applyPolicy is only for tasks of type applyPolicy",fieldPath=".applyPolicy"
// +kubebuilder:validation:XValidation:rule="!has(self.deleteData) || self.type == 'deleteData'",message="deleteData is only for tasks of type deleteData",fieldPath=".deleteData"
// +kubebuilder:validation:XValidation:rule="self.type != 'clone' || has(self.clone)",message="a clone task needs clone.targetClusterName",fieldPath=".clone"
// +kubebuilder:validation:XValidation:rule="self.type != 'failover' || (has(self.failover) && has(self.failover.candidate))",message="a failover task needs failover.candidate: the replica to promote",fieldPath=".failover"
// +kubebuilder:validation:XValidation:rule="!has(self.failover) || !has(self.failover.scheduledAt)",message="a failover happens at once; only a switchover can be scheduled",fieldPath=".failover.scheduledAt"
// +kubebuilder:validation:XValidation:rule="!has(self.switchover) || !has(self.switchover.scheduledAt)",message="scheduled switchovers are not available yet; create the task when the switchover is due",fieldPath=".switchover.scheduledAt"
// +kubebuilder:validation:XValidation:rule="!has(self.clone) || self.clone.targetClusterName != self.clusterName",message="clone.targetClusterName must name a new cluster, not the one cloned",fieldPath=".clone.targetClusterName"
// +kubebuilder:validation:XValidation:rule="self.type != 'upgrade' || has(self.upgrade)",message="an upgrade task needs upgrade.postgresVersion",fieldPath=".upgrade"
// +kubebuilder:validation:XValidation:rule="self.type != 'applyPolicy' || has(self.applyPolicy)",message="an applyPolicy task needs applyPolicy.policyName",fieldPath=".applyPolicy"
// +kubebuilder:validation:XValidation:rule="!has(self.scale) || self.type == 'scale'",message="scale is only for tasks of type scale",fieldPath=".scale"
// +kubebuilder:validation:XValidation:rule="!has(self.scaledown) || self.type == 'scaledown'",message="scaledown is only for tasks of type scaledown",fieldPath=".scaledown"
// +kubebuilder:validation:XValidation:rule="!has(self.updateCluster) || self.type == 'updateCluster'",message="updateCluster is only for tasks of type updateCluster",fieldPath=".updateCluster"
// +kubebuilder:validation:XValidation:rule="self.type != 'scale' || has(self.scale)",message="a scale task needs scale.replicas",fieldPath=".scale"
// +kubebuilder:validation:XValidation:rule="self.type != 'scaledown' || has(self.scaledown)",message="a scaledown task needs scaledown.replica",fieldPath=".scaledown"
// +kubebuilder:validation:XValidation:rule="self.type != 'updateCluster' || has(self.updateCluster)",message="an updateCluster task needs updateCluster.generation",fieldPath=".updateCluster"
type PGTaskSpec struct {
	// ClusterName is the PGCluster the task works on.
	// +required
	ClusterName ClusterName `json:"clusterName"`

	// Type of the operation.
	// +required
	Type TaskType `json:"type"`

	// Backup parameters.
	// +optional
	Backup *PGBackupParameters `json:"backup,omitempty"`

	// Restore parameters: restore the cluster in place.
	// +optional
	Restore *PGRestoreParameters `json:"restore,omitempty"`

	// Clone parameters: create a new cluster from this one's backups.
	// +optional
	Clone *PGCloneParameters `json:"clone,omitempty"`

	// Switchover parameters: hand the primary role over in an orderly way.
	// +optional
	Switchover *PGSwitchoverParameters `json:"switchover,omitempty"`

	// Failover parameters: promote a replica now, whatever the primary's
	// state.
	// +optional
	Failover *PGSwitchoverParameters `json:"failover,omitempty"`

	// Restart parameters.
	// +optional
	Restart *PGRestartParameters `json:"restart,omitempty"`

	// Upgrade parameters: a major PostgreSQL upgrade.
	// +optional
	Upgrade *PGUpgradeParameters `json:"upgrade,omitempty"`

	// ApplyPolicy parameters: run a PGPolicy's SQL on the cluster.
	// +optional
	ApplyPolicy *PGApplyPolicyParameters `json:"applyPolicy,omitempty"`

	// DeleteData parameters: remove a deleted cluster's volumes and backups.
	// +optional
	DeleteData *PGDeleteDataParameters `json:"deleteData,omitempty"`

	// Scale parameters: what a scale waits for.
	// +optional
	Scale *PGScaleParameters `json:"scale,omitempty"`

	// Scaledown parameters: the replica a scaledown waits to see removed.
	// +optional
	Scaledown *PGScaledownParameters `json:"scaledown,omitempty"`

	// UpdateCluster parameters: the spec an update waits to see rolled out.
	// +optional
	UpdateCluster *PGUpdateClusterParameters `json:"updateCluster,omitempty"`
}

// PGBackupParameters is a pgBackRest backup.
type PGBackupParameters struct {
	// Type is full (the default), diff or incr.
	// +optional
	// +kubebuilder:default=full
	Type BackupType `json:"type,omitempty"`

	// RepoName is the repository to back up to.
	// +optional
	// +kubebuilder:default=repo1
	RepoName RepoName `json:"repoName,omitempty"`

	// Options are more `pgbackrest backup` options, such as --start-fast:
	// --start-fast, --annotation=KEY=VALUE, --compress-type,
	// --compress-level, --process-max, --checksum-page, --resume and
	// --archive-copy (each may be negated with --no-). pgo sets the others.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.all(o, o.matches('^--((no-)?(start-fast|checksum-page|resume|archive-copy)|start-fast=[yn]|annotation=[^=]+=.*|compress-type=(none|bz2|gz|lz4|zst)|compress-level=[0-9]{1,2}|process-max=[0-9]{1,2})$'))",messageExpression="self.filter(o, !o.matches('^--((no-)?(start-fast|checksum-page|resume|archive-copy)|start-fast=[yn]|annotation=[^=]+=.*|compress-type=(none|bz2|gz|lz4|zst)|compress-level=[0-9]{1,2}|process-max=[0-9]{1,2})$'))[0].split('=')[0] + ' is not an option pgo passes to pgbackrest backup; give --start-fast, --annotation=KEY=VALUE, --compress-type, --compress-level, --process-max, --checksum-page, --resume or --archive-copy'"
	Options PgBackRestOptions `json:"options,omitempty"`
}

// PGRestoreParameters is an in-place restore: the cluster is stopped, its
// primary restored, and its replicas re-cloned.
type PGRestoreParameters struct {
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

// PGCloneParameters creates a new cluster from a cluster's backups.
type PGCloneParameters struct {
	// TargetClusterName is the new cluster's name.
	// +required
	TargetClusterName ClusterName `json:"targetClusterName"`

	// RepoName is the repository to restore from.
	// +optional
	// +kubebuilder:default=repo1
	RepoName RepoName `json:"repoName,omitempty"`

	// Target clones the cluster as it was at a point in time.
	// +optional
	Target *PGRecoveryTarget `json:"target,omitempty"`
}

// PGSwitchoverParameters picks the instances of a switchover or failover.
type PGSwitchoverParameters struct {
	// Candidate is the replica to promote; for a switchover, the healthiest
	// replica when left out.
	// +optional
	Candidate InstanceName `json:"candidate,omitempty"`

	// ScheduledAt runs a switchover at a later time.
	// +optional
	ScheduledAt *metav1.Time `json:"scheduledAt,omitempty"`
}

// PGRestartParameters restarts PostgreSQL.
type PGRestartParameters struct {
	// Instances to restart; every instance (replicas first) when empty.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=33
	Instances []InstanceName `json:"instances,omitempty"`
}

// PGUpgradeParameters upgrades PostgreSQL to a newer major version with
// pg_upgrade.
type PGUpgradeParameters struct {
	// PostgresVersion to upgrade to.
	// +required
	// +kubebuilder:validation:Minimum=14
	// +kubebuilder:validation:Maximum=17
	PostgresVersion int32 `json:"postgresVersion"`

	// Image with the new version; the operator's default image for that
	// version when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
}

// PGApplyPolicyParameters runs a PGPolicy on a cluster.
type PGApplyPolicyParameters struct {
	// PolicyName is the PGPolicy, in the cluster's namespace.
	// +required
	PolicyName ObjectName `json:"policyName"`

	// Database to run it in; the policy's database, else the cluster's.
	// +optional
	Database DatabaseName `json:"database,omitempty"`
}

// PGDeleteDataParameters removes what a deleted cluster left behind.
type PGDeleteDataParameters struct {
	// KeepData keeps the instances' volumes.
	// +optional
	KeepData bool `json:"keepData,omitempty"`

	// KeepBackups keeps the backup repositories.
	// +optional
	KeepBackups bool `json:"keepBackups,omitempty"`
}

// PGScaleParameters follow a cluster scaled up to Replicas.
type PGScaleParameters struct {
	// Replicas is the replica count the cluster was scaled to.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32
	Replicas int32 `json:"replicas"`
}

// PGScaledownParameters follow the removal of one replica.
type PGScaledownParameters struct {
	// Replica is the instance removed.
	// +required
	Replica InstanceName `json:"replica"`
}

// PGUpdateClusterParameters follow a change of a cluster's spec.
type PGUpdateClusterParameters struct {
	// Generation is the cluster's metadata.generation that holds the
	// change; the update is rolled out when the cluster has observed it
	// and is ready.
	// +required
	// +kubebuilder:validation:Minimum=1
	Generation int64 `json:"generation"`
}

// TaskPhase is where a task or one of its steps is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed
type TaskPhase string

// Task phases.
const (
	TaskPending   TaskPhase = "Pending"
	TaskRunning   TaskPhase = "Running"
	TaskSucceeded TaskPhase = "Succeeded"
	TaskFailed    TaskPhase = "Failed"
)

// PGTaskStatus is the task's progress.
type PGTaskStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase of the task.
	// +optional
	Phase TaskPhase `json:"phase,omitempty"`

	// WorkflowID identifies the operation for `pgo show workflow`.
	// +optional
	WorkflowID string `json:"workflowID,omitempty"`

	// StartTime is when the task started running.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the task succeeded or failed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Steps of the workflow, in order, with their times.
	// +optional
	// +listType=atomic
	Steps []PGTaskStep `json:"steps,omitempty"`

	// Message says why the task failed, or what it is waiting for.
	// +optional
	Message string `json:"message,omitempty"`

	// FormerPrimary is the instance a switchover or failover moves the
	// primary role away from, as it was when the request was made; a
	// switchover that names no candidate is done when another instance
	// leads.
	// +optional
	FormerPrimary string `json:"formerPrimary,omitempty"`

	// Conditions of the task: Succeeded or Failed, once it ends.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PGTaskStep is one timed step of a task's workflow.
type PGTaskStep struct {
	// Name of the step, such as "backup started".
	// +required
	Name string `json:"name"`

	// Phase of the step.
	// +optional
	Phase TaskPhase `json:"phase,omitempty"`

	// StartTime of the step.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime of the step.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// Message about the step: what it waits for, what it did, or its last
	// error.
	// +optional
	Message string `json:"message,omitempty"`

	// Attempts counts the step's failed attempts; the task fails when they
	// exceed the retries of the step.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// RetryTime is when the step is tried again after a failed attempt.
	// +optional
	RetryTime *metav1.Time `json:"retryTime,omitempty"`
}

// Condition types of a PGTask: one of them is set, true, when the task ends.
const (
	TaskConditionSucceeded = "Succeeded"
	TaskConditionFailed    = "Failed"
)

// +kubebuilder:object:root=true

// PGTaskList is a list of PGTasks.
type PGTaskList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PGTask `json:"items"`
}
