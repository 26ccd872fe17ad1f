package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PGSchedule runs a pgBackRest backup or a policy on a cluster on a cron
// schedule, by creating a PGTask each time it fires.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pgs;pgschedule,categories=pgo
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 52",message="metadata.name must be at most 52 characters, so that the names of the tasks it creates fit Kubernetes limits"
type PGSchedule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PGScheduleSpec `json:"spec"`

	// +optional
	Status PGScheduleStatus `json:"status,omitempty"`
}

// ScheduleType is what a schedule runs.
// +kubebuilder:validation:Enum=backup;policy
type ScheduleType string

// Schedule types.
const (
	ScheduleBackup ScheduleType = "backup"
	SchedulePolicy ScheduleType = "policy"
)

// PGScheduleSpec is when and what to run.
//
// +kubebuilder:validation:XValidation:rule="!has(self.backup) || self.type == 'backup'",message="backup is only for schedules of type backup",fieldPath=".backup"
// +kubebuilder:validation:XValidation:rule="!has(self.policy) || self.type == 'policy'",message="policy is only for schedules of type policy",fieldPath=".policy"
// +kubebuilder:validation:XValidation:rule="self.type != 'policy' || has(self.policy)",message="a policy schedule needs policy.policyName",fieldPath=".policy"
type PGScheduleSpec struct {
	// ClusterName is the PGCluster to run on.
	// +required
	ClusterName ClusterName `json:"clusterName"`

	// Schedule in cron format: five fields (minute, hour, day of month,
	// month, day of week), such as "0 1 * * *", or a descriptor such as
	// @daily or "@every 6h". The scheduler parses it fully and reports an
	// invalid schedule in the Valid condition.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every ([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+|(([0-9]+|[*?]|[A-Za-z]{3})([-/][0-9A-Za-z]+)*)(,([0-9]+|[*?]|[A-Za-z]{3})([-/][0-9A-Za-z]+)*)*( +(([0-9]+|[*?]|[A-Za-z]{3})([-/][0-9A-Za-z]+)*)(,([0-9]+|[*?]|[A-Za-z]{3})([-/][0-9A-Za-z]+)*)*){4})$')",message="schedule is five cron fields (minute hour day-of-month month day-of-week), such as \"0 1 * * *\", or @hourly, @daily, @weekly, @monthly, @yearly, or \"@every 6h\""
	Schedule string `json:"schedule"`

	// TimeZone the schedule is read in, such as Europe/Berlin; UTC when
	// empty.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+/-]*$`
	TimeZone string `json:"timeZone,omitempty"`

	// Type is backup or policy.
	// +required
	Type ScheduleType `json:"type"`

	// Backup to run; a full backup to repo1 when left out.
	// +optional
	Backup *PGBackupParameters `json:"backup,omitempty"`

	// Policy to run.
	// +optional
	Policy *PGApplyPolicyParameters `json:"policy,omitempty"`

	// Suspend stops the schedule from firing; it resumes from the next
	// time after it is lifted, without catching up.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Condition types of a PGSchedule.
const (
	// ScheduleValid is false when the schedule or time zone cannot be
	// parsed; the message says why.
	ScheduleValid = "Valid"
)

// PGScheduleStatus is when the schedule last fired and will fire next.
type PGScheduleStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastScheduleTime is when a task was last created.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// LastTaskName is the last task created.
	// +optional
	LastTaskName string `json:"lastTaskName,omitempty"`

	// NextScheduleTime is when the schedule fires next.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// Conditions: Valid.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true

// PGScheduleList is a list of PGSchedules.
type PGScheduleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PGSchedule `json:"items"`
}
