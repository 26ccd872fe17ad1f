package apiserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/specs"
)

// Workflows. A long operation (create a cluster, scale, update, fail over,
// roll the pods) answers at once with a workflow id; `pgo show workflow ID`
// shows its timed steps. Every such operation is a PGTask, which the
// controller's task engine runs: a switchover, a failover or a rolling
// restart is carried out by the task's steps; a cluster created, scaled or
// updated is the spec change the apiserver makes, carried out by the
// cluster reconciler, and its task's steps follow the cluster's status.
// The task's status is the one record of the workflow.
//
// The apiserver chooses the workflow id and labels the task with it
// (pgoapi.LabelWorkflow), so that the answer carries the id at once and
// ShowWorkflow finds the task by it; the controller keeps the id. The task
// is owned by the PGCluster, so it goes away with the cluster.

// startTask creates the PGTask of an operation on a cluster, and notes its
// workflow id in the cluster's status.
func (s *Server) startTask(ctx context.Context, c *pgov1.PGCluster, spec pgov1.PGTaskSpec) (string, error) {
	id := pgoapi.NewWorkflowID()
	spec.ClusterName = pgov1.ClusterName(c.Name)
	labels := specs.ClusterLabels(c.Name)
	labels[pgoapi.LabelWorkflow] = id
	t := &pgov1.PGTask{
		ObjectMeta: metav1.ObjectMeta{Name: taskName(c.Name, spec.Type, id), Namespace: c.Namespace, Labels: labels},
		Spec:       spec,
	}
	if err := controllerutil.SetOwnerReference(c, t, kubescheme.Scheme); err != nil {
		return "", err
	}
	if err := s.Client.Create(ctx, t, fieldOwner); err != nil {
		return "", fmt.Errorf("creating task %s for workflow %s: %w", t.Name, id, err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Status.WorkflowID = id
	if err := s.Client.Status().Patch(ctx, c, patch, fieldOwner); err != nil {
		s.Log.Error(err, "noting the workflow in the cluster's status", "cluster", c.Name, "namespace", c.Namespace)
	}
	return id, nil
}

// taskName names the task of a workflow: "<cluster>-<type>-<the id's first
// 8 digits>", at most 40 + 1 + 13 + 1 + 8 = 63 characters, the limit of a
// task's name.
func taskName(cluster string, typ pgov1.TaskType, id string) string {
	return cluster + "-" + strings.ToLower(string(typ)) + "-" + id[:8]
}

// showWorkflow answers ShowWorkflow.
func (s *Server) showWorkflow(ctx context.Context, r *request) (any, error) {
	ns, id := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamID)
	var v checks
	v.rule("id", id, rules.WorkflowID(id))
	if err := v.err(); err != nil {
		return nil, err
	}
	var tasks pgov1.PGTaskList
	if err := s.Client.List(ctx, &tasks, client.InNamespace(ns), client.MatchingLabels{pgoapi.LabelWorkflow: id}); err != nil {
		return nil, fmt.Errorf("finding the task of workflow %s: %w", id, err)
	}
	if len(tasks.Items) == 0 {
		return nil, notFound("workflow %s not found in namespace %s", id, ns)
	}
	return workflowOf(&tasks.Items[0], id), nil
}

// workflowOf is the workflow a task's status records. It was submitted when
// the task was created; a task the controller has not taken up yet is
// Pending, with no steps.
func workflowOf(t *pgov1.PGTask, id string) pgoapi.Workflow {
	w := pgoapi.Workflow{ID: id, Namespace: t.Namespace, Cluster: string(t.Spec.ClusterName), Operation: t.Spec.Type.Operation(),
		Phase: string(t.Status.Phase), StartTime: t.CreationTimestamp.UTC(), CompletionTime: timePtr(t.Status.CompletionTime),
		Message: t.Status.Message, Steps: []pgoapi.WorkflowStep{}}
	if w.Phase == "" {
		w.Phase = pgoapi.WorkflowPending
	}
	for _, st := range t.Status.Steps {
		w.Steps = append(w.Steps, pgoapi.WorkflowStep{Name: st.Name, Phase: string(st.Phase), Message: st.Message,
			StartTime: timePtr(st.StartTime), CompletionTime: timePtr(st.CompletionTime)})
	}
	return w
}

func timePtr(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
