package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// Workflows. A long operation (create a cluster, scale, update, fail over,
// roll the pods) answers at once with a workflow id; `pgo show workflow ID`
// shows its timed steps. The apiserver records each workflow in a ConfigMap
// "pgo-workflow-<id>" in the cluster's namespace, labelled with the id and
// owned by the PGCluster (so it goes away with the cluster). Its steps are
// not advanced by a background process: each ShowWorkflow compares the
// cluster's observed state (status, replicas, pods) with what the step waits
// for, completes the steps that are done, and writes the record back when it
// changed. Completion times are therefore the time the apiserver first saw
// the step done; a client that waits (`--wait`) polls, so they are close.
// A PGTask's workflow (status.workflowID and status.steps, written by the
// controller) is shown the same way.
//
// Workflows are not PGTasks because a PGTask is an operation the controller
// carries out, and these operations are spec changes the cluster reconciler
// already carries out; a PGTask of an unknown type would do nothing.

// Operations with workflows.
const (
	opCreate    = "create cluster"
	opScale     = "scale"
	opScaledown = "scaledown"
	opUpdate    = "update cluster"
	opFailover  = "failover"
	opRolling   = "rolling restart"
)

// workflowSteps are the steps of each operation; the first one is done
// when the workflow starts.
var workflowSteps = map[string][]string{
	opCreate:    {"cluster requested", "primary ready", "cluster ready"},
	opScale:     {"replicas requested", "replicas created", "replicas ready"},
	opScaledown: {"replica removal requested", "replica removed"},
	opUpdate:    {"update requested", "update rolled out"},
	opFailover:  {"failover requested", "new primary elected"},
	opRolling:   {"rolling restart requested", "pods restarted"},
}

// workflowParamsKey holds what the steps compare with (JSON).
const workflowParamsKey = "params.json"

// workflowParams are what an operation's steps wait for.
type workflowParams struct {
	// Replicas is the replica count a scale waits for.
	Replicas int32 `json:"replicas,omitempty"`
	// Replica is the replica a scaledown removes.
	Replica string `json:"replica,omitempty"`
	// Generation is the spec generation an update waits for.
	Generation int64 `json:"generation,omitempty"`
	// Primary is the primary before a failover, Target the one asked for.
	Primary string `json:"primary,omitempty"`
	Target  string `json:"target,omitempty"`
}

// newWorkflow is the record of an operation that starts now.
func newWorkflow(id, ns, cluster, op string, now time.Time) pgoapi.Workflow {
	w := pgoapi.Workflow{ID: id, Namespace: ns, Cluster: cluster, Operation: op, Phase: pgoapi.WorkflowRunning, StartTime: now.UTC()}
	for i, name := range workflowSteps[op] {
		step := pgoapi.WorkflowStep{Name: name, Phase: pgoapi.WorkflowPending}
		if i == 0 {
			t := now.UTC()
			step.Phase, step.StartTime, step.CompletionTime = pgoapi.WorkflowSucceeded, &t, &t
		}
		w.Steps = append(w.Steps, step)
	}
	return w
}

// observation is the state the steps of a workflow look at.
type observation struct {
	// Cluster is nil when it is gone.
	Cluster *pgov1.PGCluster
	// ReplicaExists tells whether the PGReplica of a scaledown still exists.
	ReplicaExists bool
	// RolledOut is true when every instance's pod runs its StatefulSet's
	// latest template and is ready.
	RolledOut bool
}

// stepDone decides whether step i of an operation is done.
func stepDone(op string, i int, p workflowParams, o observation) bool {
	c := o.Cluster
	if c == nil {
		return false
	}
	st := c.Status
	primaryReady := false
	for _, inst := range st.Instances {
		if inst.Name == st.Primary && inst.Ready {
			primaryReady = true
		}
	}
	switch op {
	case opCreate:
		if i == 1 {
			return primaryReady
		}
		return st.Phase == pgov1.PhaseReady
	case opScale:
		if i == 1 {
			return st.Replicas >= p.Replicas
		}
		return st.ReadyInstances >= p.Replicas+1 && primaryReady
	case opScaledown:
		for _, inst := range st.Instances {
			if inst.Name == p.Replica {
				return false
			}
		}
		return !o.ReplicaExists
	case opUpdate:
		return st.ObservedGeneration >= p.Generation && (st.Phase == pgov1.PhaseReady || (c.Spec.Shutdown && st.Phase == pgov1.PhaseShutdown))
	case opFailover:
		if p.Target != "" {
			return st.Primary == p.Target && primaryReady
		}
		return st.Primary != "" && st.Primary != p.Primary && primaryReady
	case opRolling:
		return o.RolledOut && st.Phase == pgov1.PhaseReady
	}
	return false
}

// advance completes the steps that are done, in order, and reports whether
// the workflow changed. A cluster in phase Failed fails the running step.
func advance(w *pgoapi.Workflow, p workflowParams, o observation, now time.Time) bool {
	if w.Phase != pgoapi.WorkflowRunning {
		return false
	}
	now = now.UTC()
	changed := false
	for i := range w.Steps {
		step := &w.Steps[i]
		if step.Phase == pgoapi.WorkflowSucceeded {
			continue
		}
		if step.StartTime == nil {
			// A step starts when the one before it completed.
			start := &now
			if i > 0 && w.Steps[i-1].CompletionTime != nil {
				start = w.Steps[i-1].CompletionTime
			}
			step.StartTime, step.Phase, changed = start, pgoapi.WorkflowRunning, true
		}
		if o.Cluster != nil && o.Cluster.Status.Phase == pgov1.PhaseFailed {
			step.Phase, step.CompletionTime, step.Message = pgoapi.WorkflowFailed, &now, "the cluster failed: "+readyMessage(o.Cluster)
			w.Phase, w.CompletionTime, w.Message = pgoapi.WorkflowFailed, &now, step.Message
			return true
		}
		if !stepDone(w.Operation, i, p, o) {
			return changed
		}
		step.Phase, step.CompletionTime, changed = pgoapi.WorkflowSucceeded, &now, true
	}
	w.Phase, w.CompletionTime = pgoapi.WorkflowSucceeded, &now
	return true
}

func readyMessage(c *pgov1.PGCluster) string {
	for _, cond := range c.Status.Conditions {
		if cond.Type == pgov1.ClusterReady {
			return cond.Message
		}
	}
	return string(c.Status.Phase)
}

// startWorkflow records a new workflow of an operation on a cluster and
// notes its id in the cluster's status.
func (s *Server) startWorkflow(ctx context.Context, c *pgov1.PGCluster, op string, p workflowParams) (string, error) {
	id := pgoapi.NewWorkflowID()
	w := newWorkflow(id, c.Namespace, c.Name, op, s.Now())
	wb, err := json.Marshal(w)
	if err != nil {
		return "", err
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: pgoapi.WorkflowConfigMap(id), Namespace: c.Namespace,
			Labels: map[string]string{pgoapi.LabelWorkflow: id},
		},
		Data: map[string]string{pgoapi.WorkflowKey: string(wb), workflowParamsKey: string(pb)},
	}
	if err := controllerutil.SetOwnerReference(c, cm, kubescheme.Scheme); err != nil {
		return "", err
	}
	if err := s.Client.Create(ctx, cm, fieldOwner); err != nil {
		return "", fmt.Errorf("recording workflow %s: %w", id, err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Status.WorkflowID = id
	if err := s.Client.Status().Patch(ctx, c, patch, fieldOwner); err != nil {
		s.Log.Error(err, "noting the workflow in the cluster's status", "cluster", c.Name, "namespace", c.Namespace)
	}
	return id, nil
}

// showWorkflow answers ShowWorkflow.
func (s *Server) showWorkflow(ctx context.Context, r *request) (any, error) {
	ns, id := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamID)
	var v checks
	v.rule("id", id, rules.WorkflowID(id))
	if err := v.err(); err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: pgoapi.WorkflowConfigMap(id)}, cm)
	if apierrors.IsNotFound(err) {
		return s.taskWorkflow(ctx, ns, id)
	}
	if err != nil {
		return nil, err
	}
	var w pgoapi.Workflow
	var p workflowParams
	if err := json.Unmarshal([]byte(cm.Data[pgoapi.WorkflowKey]), &w); err != nil {
		return nil, fmt.Errorf("reading workflow %s: %w", id, err)
	}
	_ = json.Unmarshal([]byte(cm.Data[workflowParamsKey]), &p)
	if w.Phase != pgoapi.WorkflowRunning {
		return w, nil
	}
	obs, err := s.observe(ctx, ns, w, p)
	if err != nil {
		return nil, err
	}
	if advance(&w, p, obs, s.Now()) {
		b, err := json.Marshal(w)
		if err != nil {
			return nil, err
		}
		cm.Data[pgoapi.WorkflowKey] = string(b)
		if err := s.Client.Update(ctx, cm, fieldOwner); err != nil && !apierrors.IsConflict(err) {
			return nil, fmt.Errorf("recording the progress of workflow %s: %w", id, err)
		}
	}
	return w, nil
}

// observe gathers what the steps of workflow w look at.
func (s *Server) observe(ctx context.Context, ns string, w pgoapi.Workflow, p workflowParams) (observation, error) {
	var o observation
	c := &pgov1.PGCluster{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: w.Cluster}, c)
	if apierrors.IsNotFound(err) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	o.Cluster = c
	switch w.Operation {
	case opScaledown:
		err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.Replica}, &pgov1.PGReplica{})
		if err != nil && !apierrors.IsNotFound(err) {
			return o, err
		}
		o.ReplicaExists = err == nil
	case opRolling:
		rolled, err := s.rolledOut(ctx, c)
		if err != nil {
			return o, err
		}
		o.RolledOut = rolled
	}
	return o, nil
}

// taskWorkflow shows the workflow of a PGTask.
func (s *Server) taskWorkflow(ctx context.Context, ns, id string) (any, error) {
	var tasks pgov1.PGTaskList
	if err := s.Client.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for _, t := range tasks.Items {
		if t.Status.WorkflowID != id {
			continue
		}
		w := pgoapi.Workflow{ID: id, Namespace: ns, Cluster: string(t.Spec.ClusterName), Operation: string(t.Spec.Type),
			Phase: string(t.Status.Phase), StartTime: t.CreationTimestamp.UTC(), Message: t.Status.Message}
		if w.Phase == "" {
			w.Phase = pgoapi.WorkflowPending
		}
		if t.Status.StartTime != nil {
			w.StartTime = t.Status.StartTime.UTC()
		}
		w.CompletionTime = timePtr(t.Status.CompletionTime)
		for _, st := range t.Status.Steps {
			w.Steps = append(w.Steps, pgoapi.WorkflowStep{Name: st.Name, Phase: string(st.Phase), Message: st.Message,
				StartTime: timePtr(st.StartTime), CompletionTime: timePtr(st.CompletionTime)})
		}
		return w, nil
	}
	return nil, notFound("workflow %s not found in namespace %s", id, ns)
}

func timePtr(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
