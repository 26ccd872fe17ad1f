package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
)

// workflows are the steps each task type runs. Step names are what `pgo
// show workflow` prints; keep them stable.
//
// A task type becomes available with one entry here and its name in the CEL
// rule on PGTaskSpec (api/v1/pgtask_types.go) that refuses the types with
// no workflow; TestWorkflowsMatchTheCRD checks that the two agree.
var workflows = map[pgov1.TaskType]workflow{
	// Spec changes the cluster reconciler carries out: the apiserver has
	// made the change when it creates the task, which follows the
	// cluster's status.
	pgov1.TaskCreateCluster: {
		requested("cluster requested"),
		{Name: "primary ready", Timeout: 30 * time.Minute, Retries: observeRetries, Run: waitFor(primaryUp, nil)},
		{Name: "cluster ready", Timeout: time.Hour, Retries: observeRetries, Run: waitFor(clusterUp, nil)},
	},
	pgov1.TaskScale: {
		requested("replicas requested"),
		{Name: "replicas created", Timeout: 10 * time.Minute, Retries: observeRetries, Run: waitFor(replicasCreated, nil)},
		// A new replica copies the primary's data directory first.
		{Name: "replicas ready", Timeout: 2 * time.Hour, Retries: observeRetries, Run: waitFor(replicasUp, nil)},
	},
	pgov1.TaskScaledown: {
		requested("replica removal requested"),
		{Name: "replica removed", Timeout: 30 * time.Minute, Retries: observeRetries, Run: waitFor(replicaRemoved, observeReplica)},
	},
	pgov1.TaskUpdateCluster: {
		requested("update requested"),
		{Name: "update rolled out", Timeout: time.Hour, Retries: observeRetries, Run: waitFor(updateRolledOut, nil)},
	},

	// Operations the task carries out itself.
	pgov1.TaskSwitchover: failoverWorkflow,
	pgov1.TaskFailover:   failoverWorkflow,
	pgov1.TaskBackup:     backupWorkflow,
	pgov1.TaskRestart: {
		{Name: "rolling restart requested", Timeout: time.Minute, Retries: 3, Run: requestRestart},
		{Name: "pods restarted", Timeout: time.Hour, Retries: observeRetries, Run: waitFor(podsRestarted, observeRollout)},
	},
}

// failoverWorkflow asks the instance managers to move the primary role, as
// the cluster reconciler does before it restarts a primary, and waits for
// the new primary. The instance managers choose, and may refuse (a
// candidate not caught up yet): the request is then made again, with
// back-off, until the step's retries are used.
var failoverWorkflow = workflow{
	{Name: "failover requested", Timeout: time.Minute, Retries: 3, Run: requestFailover},
	// Room for the retries of a refused request (5 s … 80 s) and a slow
	// hand-over.
	{Name: "new primary elected", Timeout: 5 * time.Minute, Retries: 5, Run: awaitNewPrimary},
}

// observeRetries is how many failed reads a step that follows the cluster
// survives.
const observeRetries = 5

// observeInterval is how often a step that follows the cluster looks again
// (a change of the cluster wakes it sooner).
const observeInterval = 5 * time.Second

// requested is the first step of a spec change: done when the task starts,
// since its creator made the change.
func requested(name string) step {
	return step{Name: name, Timeout: time.Minute, Run: func(context.Context, *taskContext) (stepResult, error) {
		return done(""), nil
	}}
}

// ---- steps that follow the cluster ----

// observation is what a step that follows the cluster looks at.
type observation struct {
	Cluster *pgov1.PGCluster
	Task    *pgov1.PGTask
	// ReplicaExists tells whether the PGReplica of a scaledown still
	// exists.
	ReplicaExists bool
	// RolledOut is true when every instance's pod runs its StatefulSet's
	// latest template, which holds the restart asked for, and is ready.
	RolledOut bool
}

// clusterCheck tells whether what a step waits for is there, and if not,
// what it waits for.
type clusterCheck func(o observation) (bool, string)

// waitFor is a step that is done when check passes. gather, when not nil,
// reads more than the cluster. A cluster in phase Failed fails the step.
func waitFor(check clusterCheck, gather func(ctx context.Context, tc *taskContext, o *observation) error) func(context.Context, *taskContext) (stepResult, error) {
	return func(ctx context.Context, tc *taskContext) (stepResult, error) {
		o := observation{Cluster: tc.cluster, Task: tc.task}
		if o.Cluster.Status.Phase == pgov1.PhaseFailed {
			return stepResult{}, permanent(fmt.Errorf("the cluster failed: %s", readyMessage(o.Cluster)))
		}
		if gather != nil {
			if err := gather(ctx, tc, &o); err != nil {
				return stepResult{}, err
			}
		}
		if ok, waiting := check(o); !ok {
			return notYet(observeInterval, "%s", waiting), nil
		}
		return done(""), nil
	}
}

func readyMessage(c *pgov1.PGCluster) string {
	for _, cond := range c.Status.Conditions {
		if cond.Type == pgov1.ClusterReady && cond.Message != "" {
			return cond.Message
		}
	}
	return string(c.Status.Phase)
}

// primaryReady tells whether the instance the status names as primary is
// ready.
func primaryReady(c *pgov1.PGCluster) bool {
	st := c.Status
	return st.Primary != "" && slices.ContainsFunc(st.Instances, func(i pgov1.PGInstanceStatus) bool { return i.Name == st.Primary && i.Ready })
}

func primaryUp(o observation) (bool, string) {
	return primaryReady(o.Cluster), "waiting for the primary to be ready"
}

func clusterUp(o observation) (bool, string) {
	return o.Cluster.Status.Phase == pgov1.PhaseReady, fmt.Sprintf("waiting for the cluster to be ready (it is %s)", phaseOf(o.Cluster))
}

func phaseOf(c *pgov1.PGCluster) string {
	if c.Status.Phase == "" {
		return "not reported yet"
	}
	return string(c.Status.Phase)
}

func scaleTo(t *pgov1.PGTask) int32 {
	if t.Spec.Scale == nil {
		return 0
	}
	return t.Spec.Scale.Replicas
}

func replicasCreated(o observation) (bool, string) {
	want, st := scaleTo(o.Task), o.Cluster.Status
	return st.Replicas >= want, fmt.Sprintf("waiting for %d replicas (%d so far)", want, st.Replicas)
}

func replicasUp(o observation) (bool, string) {
	want, st := scaleTo(o.Task)+1, o.Cluster.Status
	return st.ReadyInstances >= want && primaryReady(o.Cluster), fmt.Sprintf("waiting for %d ready instances with the primary (%d are ready)", want, st.ReadyInstances)
}

func scaledownOf(t *pgov1.PGTask) string {
	if t.Spec.Scaledown == nil {
		return ""
	}
	return string(t.Spec.Scaledown.Replica)
}

func observeReplica(ctx context.Context, tc *taskContext, o *observation) error {
	name := scaledownOf(tc.task)
	err := tc.client.Get(ctx, client.ObjectKey{Namespace: tc.task.Namespace, Name: name}, &pgov1.PGReplica{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading PGReplica %s: %w", name, err)
	}
	o.ReplicaExists = err == nil
	return nil
}

func replicaRemoved(o observation) (bool, string) {
	name := scaledownOf(o.Task)
	listed := slices.ContainsFunc(o.Cluster.Status.Instances, func(i pgov1.PGInstanceStatus) bool { return i.Name == name })
	return !listed && !o.ReplicaExists, fmt.Sprintf("waiting for replica %s to be removed", name)
}

func updateRolledOut(o observation) (bool, string) {
	var want int64
	if o.Task.Spec.UpdateCluster != nil {
		want = o.Task.Spec.UpdateCluster.Generation
	}
	c := o.Cluster
	st := c.Status
	settled := st.Phase == pgov1.PhaseReady || (c.Spec.Shutdown && st.Phase == pgov1.PhaseShutdown)
	return st.ObservedGeneration >= want && settled,
		fmt.Sprintf("waiting for the cluster to carry out generation %d (it has observed %d and is %s)", want, st.ObservedGeneration, phaseOf(c))
}

// ---- switchover and failover ----

// candidateOf is the replica a switchover or failover task names ("" for
// the healthiest).
func candidateOf(t *pgov1.PGTask) string {
	switch {
	case t.Spec.Type == pgov1.TaskFailover && t.Spec.Failover != nil:
		return string(t.Spec.Failover.Candidate)
	case t.Spec.Type == pgov1.TaskSwitchover && t.Spec.Switchover != nil:
		return string(t.Spec.Switchover.Candidate)
	}
	return ""
}

// newPrimaryElected: the candidate, or without one any instance but the
// former primary, is the primary and ready.
func newPrimaryElected(o observation) (bool, string) {
	candidate, former := candidateOf(o.Task), o.Task.Status.FormerPrimary
	st := o.Cluster.Status
	if candidate != "" {
		return st.Primary == candidate && primaryReady(o.Cluster), fmt.Sprintf("waiting for %s to be the primary and ready", candidate)
	}
	return st.Primary != "" && st.Primary != former && primaryReady(o.Cluster), fmt.Sprintf("waiting for a replica to take over from %s and be ready", orNone(former))
}

func orNone(s string) string {
	if s == "" {
		return "no primary"
	}
	return s
}

// clusterOps are the cluster reconciler's own requests (the leader lock,
// a switchover), made on behalf of a task: they use only the client and
// the scheme.
func (tc *taskContext) clusterOps() *ClusterReconciler {
	return &ClusterReconciler{Client: tc.client, Scheme: tc.scheme}
}

// askForFailover writes the request the instance managers read from the
// cluster's failover ConfigMap: a switchover names the current leader, a
// failover only the candidate. It returns the leader it saw, and whether it
// asked: not when the lock has moved as asked already (before the status
// says so), as a request would only be refused. The same request is not
// written twice.
func askForFailover(ctx context.Context, tc *taskContext) (string, bool, error) {
	c, t := tc.cluster, tc.task
	lease, err := tc.clusterOps().lease(ctx, c)
	if err != nil {
		return "", false, err
	}
	holder := leader(lease, tc.now)
	candidate := candidateOf(t)
	moved := candidate == "" && t.Status.FormerPrimary != "" && holder != t.Status.FormerPrimary
	if holder != "" && (holder == candidate || moved) {
		return holder, false, nil
	}
	from := ""
	if t.Spec.Type == pgov1.TaskSwitchover {
		if holder == "" {
			return "", false, errors.New("no instance holds the leader lock, so there is no primary to switch over from (a failover task promotes a replica without one)")
		}
		from = holder
	}
	if err := tc.clusterOps().requestSwitchover(ctx, c, from, candidate); err != nil {
		return "", false, err
	}
	return holder, true, nil
}

func requestFailover(ctx context.Context, tc *taskContext) (stepResult, error) {
	c, t := tc.cluster, tc.task
	if c.Spec.Shutdown {
		return stepResult{}, fmt.Errorf("cluster %s is shut down; start it with pgo update cluster %s --startup", c.Name, c.Name)
	}
	candidate := candidateOf(t)
	holder, asked, err := askForFailover(ctx, tc)
	if err != nil {
		return stepResult{}, err
	}
	if !asked {
		// Already so: asked twice, or the request went through before
		// a restart of the operator.
		return done("%s leads already", holder), nil
	}
	if t.Status.FormerPrimary == "" {
		t.Status.FormerPrimary = holder
	}
	to := candidate
	if to == "" {
		to = "the healthiest replica"
	}
	return done("asked %s to hand over to %s", orNone(holder), to), nil
}

func awaitNewPrimary(ctx context.Context, tc *taskContext) (stepResult, error) {
	c := tc.cluster
	if c.Status.Phase == pgov1.PhaseFailed {
		return stepResult{}, permanent(fmt.Errorf("the cluster failed: %s", readyMessage(c)))
	}
	o := observation{Cluster: c, Task: tc.task}
	ok, waiting := newPrimaryElected(o)
	if ok {
		return done("%s is the primary", c.Status.Primary), nil
	}
	if tc.retry {
		if _, _, err := askForFailover(ctx, tc); err != nil {
			return stepResult{}, err
		}
		return notYet(2*time.Second, "asked again: %s", waiting), nil
	}
	cm := &corev1.ConfigMap{}
	err := tc.client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.FailoverConfigMap(c.Name)}, cm)
	if err != nil && !apierrors.IsNotFound(err) {
		return stepResult{}, fmt.Errorf("reading the failover request: %w", err)
	}
	// The leader clears a request it refuses, and says why.
	if refused := cm.Data[naming.KeyRefused]; refused != "" && cm.Data[naming.KeyLeader] == "" && cm.Data[naming.KeyCandidate] == "" {
		return stepResult{}, errors.New(refused)
	}
	return notYet(2*time.Second, "%s", waiting), nil
}

// ---- rolling restart ----

// restartTargets are the instances a restart task rolls: those it names,
// else all.
func restartTargets(t *pgov1.PGTask, all []string) []string {
	if t.Spec.Restart == nil || len(t.Spec.Restart.Instances) == 0 {
		return all
	}
	var out []string
	for _, i := range t.Spec.Restart.Instances {
		out = append(out, string(i))
	}
	return out
}

// restartStamp is the value of AnnotationRestartedAt a task sets: its start
// time, the same at every attempt.
func restartStamp(tc *taskContext) string {
	at := tc.now
	if tc.task.Status.StartTime != nil {
		at = tc.task.Status.StartTime.Time
	}
	return at.UTC().Format(time.RFC3339)
}

// instanceStatefulSets are the StatefulSets of a cluster's instances, by
// instance.
func instanceStatefulSets(ctx context.Context, tc *taskContext) (map[string]*appsv1.StatefulSet, error) {
	c := tc.cluster
	var list appsv1.StatefulSetList
	if err := tc.client.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return nil, fmt.Errorf("listing the StatefulSets of cluster %s: %w", c.Name, err)
	}
	out := map[string]*appsv1.StatefulSet{}
	for i := range list.Items {
		if inst := list.Items[i].Labels[naming.LabelInstance]; inst != "" {
			out[inst] = &list.Items[i]
		}
	}
	return out, nil
}

// requestRestart changes the pod template of the instances to restart; the
// cluster reconciler rolls them as any change: replicas first, then a
// switchover, then the old primary. What it refuses is read from the cache,
// which may lag (a cluster just started up, an instance just added): it is
// tried again.
func requestRestart(ctx context.Context, tc *taskContext) (stepResult, error) {
	c := tc.cluster
	if c.Spec.Shutdown {
		return stepResult{}, fmt.Errorf("cluster %s is shut down; start it with pgo update cluster %s --startup", c.Name, c.Name)
	}
	stss, err := instanceStatefulSets(ctx, tc)
	if err != nil {
		return stepResult{}, err
	}
	if len(stss) == 0 {
		return stepResult{}, fmt.Errorf("cluster %s has no instances yet; restart it when it runs", c.Name)
	}
	targets := restartTargets(tc.task, slices.Sorted(maps.Keys(stss)))
	stamp := restartStamp(tc)
	for _, inst := range targets {
		sts := stss[inst]
		if sts == nil {
			return stepResult{}, fmt.Errorf("%s is not an instance of cluster %s", inst, c.Name)
		}
		if sts.Spec.Template.Annotations[naming.AnnotationRestartedAt] == stamp {
			continue
		}
		patch := client.MergeFrom(sts.DeepCopy())
		if sts.Spec.Template.Annotations == nil {
			sts.Spec.Template.Annotations = map[string]string{}
		}
		sts.Spec.Template.Annotations[naming.AnnotationRestartedAt] = stamp
		if err := tc.client.Patch(ctx, sts, patch); err != nil {
			return stepResult{}, fmt.Errorf("asking for a restart of %s: %w", inst, err)
		}
	}
	return done("asked to restart %d %s", len(targets), plural(len(targets), "instance", "instances")), nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// observeRollout tells whether every instance's pod runs its StatefulSet's
// latest template and is ready, the templates of the instances restarted
// holding this task's restart (or a later one): until the cache has seen the
// change, the old pods look current.
func observeRollout(ctx context.Context, tc *taskContext, o *observation) error {
	stss, err := instanceStatefulSets(ctx, tc)
	if err != nil {
		return err
	}
	var pods corev1.PodList
	if err := tc.client.List(ctx, &pods, client.InNamespace(tc.cluster.Namespace), client.MatchingLabels(specs.ClusterLabels(tc.cluster.Name))); err != nil {
		return fmt.Errorf("listing the pods of cluster %s: %w", tc.cluster.Name, err)
	}
	podOf := map[string]*corev1.Pod{}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.Labels[naming.LabelInstance] != "" && p.DeletionTimestamp == nil {
			podOf[p.Labels[naming.LabelInstance]] = p
		}
	}
	stamp := restartStamp(tc)
	restarted := restartTargets(tc.task, slices.Sorted(maps.Keys(stss)))
	o.RolledOut = len(stss) > 0
	for inst, sts := range stss {
		pod := podOf[inst]
		if slices.Contains(restarted, inst) && sts.Spec.Template.Annotations[naming.AnnotationRestartedAt] < stamp {
			o.RolledOut = false
		}
		if sts.Status.ObservedGeneration < sts.Generation || !podReady(pod) ||
			pod.Labels[appsv1.ControllerRevisionHashLabelKey] != sts.Status.UpdateRevision {
			o.RolledOut = false
		}
	}
	return nil
}

func podsRestarted(o observation) (bool, string) {
	return o.RolledOut && o.Cluster.Status.Phase == pgov1.PhaseReady, "waiting for every pod to restart and be ready"
}
