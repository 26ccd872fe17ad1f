package controller

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
)

// observed is what the controller saw of a cluster's instances.
type observed struct {
	instances []specs.Instance
	pods      map[string]*corev1.Pod // by instance
	lease     *coordinationv1.Lease
	// progressing says why pgo is changing the cluster; empty when not.
	progressing string
	// resizeBlocked says why a larger volume could not be applied.
	resizeBlocked string
	// backupProblem says what keeps the repository host from running.
	backupProblem string
	// repoHost is the repository host's pod.
	repoHost *corev1.Pod
	// backups are the backups' status as pgo changed it in this pass.
	backups *pgov1.PGBackupsStatus
	// archiveThreshold is how long archiving may fail before the cluster
	// says so; recheck is when to look again (0: no need).
	archiveThreshold time.Duration
	recheck          time.Duration
	now              time.Time
}

// leader is the instance holding the leader lock.
func leader(lease *coordinationv1.Lease, now time.Time) string {
	return dcs.LeaderInstance(lease, now)
}

func podReady(pod *corev1.Pod) bool {
	if pod == nil || pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// memberStatus is what an instance manager published on its pod.
func memberStatus(pod *corev1.Pod) (dcs.MemberStatus, bool) {
	var st dcs.MemberStatus
	if pod == nil {
		return st, false
	}
	raw, ok := pod.Annotations[naming.AnnotationStatus]
	if !ok {
		return st, false
	}
	return st, json.Unmarshal([]byte(raw), &st) == nil
}

// clusterStatus computes a cluster's status from what was observed; it keeps
// the transition times of conditions that did not change.
func clusterStatus(c *pgov1.PGCluster, o observed) pgov1.PGClusterStatus {
	st := pgov1.PGClusterStatus{
		ObservedGeneration: c.Generation,
		Conditions:         append([]metav1.Condition(nil), c.Status.Conditions...),
		WorkflowID:         c.Status.WorkflowID,
		Selector:           naming.LabelCluster + "=" + c.Name + "," + naming.LabelRole + "=" + naming.RoleReplica,
		Replicas:           int32(len(o.instances) - 1),
	}
	primary := leader(o.lease, o.now)
	var optime uint64
	if o.lease != nil {
		optime, _ = strconv.ParseUint(o.lease.Annotations[naming.AnnotationOptime], 10, 64)
	}
	for _, inst := range o.instances {
		pod := o.pods[inst.Name]
		is := pgov1.PGInstanceStatus{Name: inst.Name, Role: pgov1.RoleUnknown, Ready: podReady(pod)}
		if pod != nil {
			is.Node = pod.Spec.NodeName
		}
		if ms, ok := memberStatus(pod); ok {
			switch ms.Role {
			case ha.RolePrimary:
				is.Role = pgov1.RolePrimary
			case ha.RoleReplica:
				is.Role = pgov1.RoleReplica
			case ha.RoleStandbyLeader:
				is.Role = pgov1.RoleStandbyLeader
			}
			is.Timeline, is.PendingRestart, is.KeptData, is.Problem = ms.Timeline, ms.PendingRestart, ms.KeptData, ms.Problem
			is.DataSource = ms.DataSource
			if len(ms.Volumes) > 0 {
				is.DiskUsage = maps.Clone(ms.Volumes)
			}
			if is.Role == pgov1.RoleReplica && ms.Running {
				lag := int64(0)
				if optime > ms.WAL {
					lag = int64(optime - ms.WAL)
				}
				is.LagBytes = &lag
			}
		}
		if is.Ready {
			st.ReadyInstances++
		}
		st.Instances = append(st.Instances, is)
	}
	if primary != "" {
		if pod := o.pods[primary]; pod != nil {
			st.Primary = primary
		}
	}

	all := len(o.instances)
	ready := st.Primary != "" && podReady(o.pods[st.Primary]) && int(st.ReadyInstances) == all
	gen := c.Generation
	set := func(typ string, ok bool, reason, msg string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
	}
	switch {
	case c.Spec.Shutdown:
		st.Phase = pgov1.PhaseShutdown
		set(pgov1.ClusterReady, false, "Shutdown", "the cluster is shut down")
		set(pgov1.ClusterDegraded, false, "Shutdown", "the cluster is shut down")
	case ready:
		st.Phase = pgov1.PhaseReady
		set(pgov1.ClusterReady, true, "AllInstancesReady", fmt.Sprintf("%s is primary; %d of %d instances ready", st.Primary, st.ReadyInstances, all))
		set(pgov1.ClusterDegraded, false, "AllInstancesReady", "every instance is ready")
	case st.Primary == "" && c.Status.Primary == "" && st.ReadyInstances == 0:
		st.Phase = pgov1.PhaseCreating
		set(pgov1.ClusterReady, false, "Creating", "waiting for the first instance to bootstrap the cluster")
		set(pgov1.ClusterDegraded, false, "Creating", "the cluster is being created")
	case st.Primary != "" && neverReady(c.Status):
		// A new cluster whose replicas are still being made is not
		// degraded: it has not been ready yet.
		st.Phase = pgov1.PhaseInitializing
		set(pgov1.ClusterReady, false, "Initializing", fmt.Sprintf("%s is primary; %d of %d instances ready", st.Primary, st.ReadyInstances, all))
		set(pgov1.ClusterDegraded, false, "Initializing", "the cluster is being created")
	case st.Primary == "":
		st.Phase = pgov1.PhaseDegraded
		set(pgov1.ClusterReady, false, "NoPrimary", "no instance holds the leader lock")
		set(pgov1.ClusterDegraded, true, "NoPrimary", "no instance holds the leader lock")
	default:
		st.Phase = pgov1.PhaseDegraded
		set(pgov1.ClusterReady, false, "InstancesNotReady", fmt.Sprintf("%d of %d instances ready", st.ReadyInstances, all))
		set(pgov1.ClusterDegraded, true, "InstancesNotReady", fmt.Sprintf("%d of %d instances ready", st.ReadyInstances, all))
	}
	if o.progressing != "" {
		set(pgov1.ClusterProgressing, true, "Changing", o.progressing)
		if st.Phase == pgov1.PhaseReady || st.Phase == pgov1.PhaseDegraded {
			st.Phase = pgov1.PhaseUpdating
		}
	} else {
		set(pgov1.ClusterProgressing, false, "Stable", "the cluster matches its spec")
	}
	st.Backups = c.Status.Backups.DeepCopy()
	if o.backups != nil {
		st.Backups = o.backups
	}
	if ms, ok := memberStatus(o.pods[st.Primary]); ok && st.Primary != "" && ms.Archive != nil {
		if st.Backups == nil {
			st.Backups = &pgov1.PGBackupsStatus{}
		}
		st.Backups.Archive = archiveStatus(ms.Archive)
		ok, reason, msg := walArchiving(ms.Archive, o.now, o.archiveThreshold)
		set(pgov1.ClusterWALArchiving, ok, reason, msg)
	}
	switch reason, msg := backupsReady(c, o, st.Backups); {
	case c.Spec.Shutdown:
	case reason == "":
		set(pgov1.ClusterBackupsReady, true, "StanzaCreated", "the repository host runs and the stanza exists; WAL is archived")
	default:
		set(pgov1.ClusterBackupsReady, false, reason, msg)
	}
	if full := fullVolumes(st.Instances); len(full) > 0 {
		set(pgov1.ClusterDiskPressure, true, "VolumesFilling", strings.Join(full, "; ")+
			"; PostgreSQL stops when a volume is full: grow it (spec.primaryStorage.size, replicaStorage.size, walStorage.size) or free space")
	} else if meta.FindStatusCondition(st.Conditions, pgov1.ClusterDiskPressure) != nil || len(st.Instances) > 0 {
		set(pgov1.ClusterDiskPressure, false, "EnoughSpace", fmt.Sprintf("every volume is less than %d%% full", DiskPressurePercent))
	}
	if o.resizeBlocked != "" {
		set(pgov1.ClusterStorageResized, false, "ExpansionNotAllowed", o.resizeBlocked)
	} else {
		meta.RemoveStatusCondition(&st.Conditions, pgov1.ClusterStorageResized)
	}
	return st
}

// neverReady reports a cluster that has not been ready yet: its Ready
// condition is missing or still says it is being created.
func neverReady(st pgov1.PGClusterStatus) bool {
	cond := meta.FindStatusCondition(st.Conditions, pgov1.ClusterReady)
	return cond == nil || cond.Reason == "Creating" || cond.Reason == "Initializing"
}

// backupsReady says what the cluster's backups wait for, with the
// condition's reason; "" when they are ready.
func backupsReady(c *pgov1.PGCluster, o observed, st *pgov1.PGBackupsStatus) (reason, message string) {
	switch {
	case o.backupProblem != "":
		return "RepoHostNotConfigured", o.backupProblem
	case !podReady(o.repoHost):
		return "RepoHostNotReady", "waiting for the repository host " + naming.PodOfInstance(naming.RepoHost(c.Name))
	case st == nil || !st.StanzaCreated:
		return "StanzaNotCreated", "waiting for the first backup's task to create the stanza"
	}
	return "", ""
}

// DefaultArchiveFailureThreshold is how long WAL archiving may fail before
// a cluster says so: a repository that is down for a minute is worth a
// warning, a retry or two is not.
const DefaultArchiveFailureThreshold = time.Minute

// walArchiving is the WALArchiving condition from the primary's archiving:
// false once it has failed for threshold.
func walArchiving(a *dcs.ArchiveState, now time.Time, threshold time.Duration) (ok bool, reason, message string) {
	if a.FailingSince != "" {
		since, err := time.Parse(time.RFC3339, a.FailingSince)
		if err == nil && now.Sub(since) >= threshold {
			return false, "ArchiveFailing", fmt.Sprintf("WAL archiving has failed since %s (last failed segment %s at %s); WAL stays in pg_wal until the repository takes it",
				a.FailingSince, a.LastFailedWAL, a.LastFailedTime)
		}
	}
	if a.LastArchivedWAL == "" {
		return true, "Archiving", "the primary has archived no WAL segment yet"
	}
	return true, "Archiving", fmt.Sprintf("the primary archives WAL: last segment %s at %s", a.LastArchivedWAL, a.LastArchivedTime)
}

// archiveRecheck is when a failure that has not yet passed the threshold
// does (0 when none is pending).
func archiveRecheck(a *dcs.ArchiveState, now time.Time, threshold time.Duration) time.Duration {
	if a == nil || a.FailingSince == "" {
		return 0
	}
	since, err := time.Parse(time.RFC3339, a.FailingSince)
	if err != nil || now.Sub(since) >= threshold {
		return 0
	}
	return since.Add(threshold).Sub(now) + time.Second
}

// archiveStatus is the primary's archiving as the cluster's status shows it.
func archiveStatus(a *dcs.ArchiveState) *pgov1.PGArchiveStatus {
	at := func(s string) *metav1.Time {
		t, err := time.Parse(time.RFC3339, s)
		if s == "" || err != nil {
			return nil
		}
		return &metav1.Time{Time: t}
	}
	return &pgov1.PGArchiveStatus{LastArchivedWAL: a.LastArchivedWAL, LastArchivedTime: at(a.LastArchivedTime),
		LastFailedWAL: a.LastFailedWAL, LastFailedTime: at(a.LastFailedTime), FailingSince: at(a.FailingSince)}
}

// DiskPressurePercent is how full a volume may be before the cluster says
// so: early enough to grow it before PostgreSQL stops.
const DiskPressurePercent = 80

// fullVolumes names the volumes at DiskPressurePercent or more.
func fullVolumes(instances []pgov1.PGInstanceStatus) []string {
	var out []string
	for _, is := range instances {
		for _, v := range slices.Sorted(maps.Keys(is.DiskUsage)) {
			if p := is.DiskUsage[v]; p >= DiskPressurePercent {
				out = append(out, fmt.Sprintf("the %s volume of %s is %d%% full", v, is.Name, p))
			}
		}
	}
	return out
}
