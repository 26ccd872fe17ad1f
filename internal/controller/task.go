package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// +kubebuilder:rbac:groups=pgo.dev,resources=pgtasks,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=pgo.dev,resources=pgtasks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=pgo.dev,resources=pgclusters;pgreplicas,verbs=get;list;watch

// TaskReconciler runs PGTasks: each as the workflow of its type
// (task_workflows.go), one step after the other, one task at a time per
// cluster and type, and records the steps with their times in the task's
// status, which `pgo show workflow` shows.
type TaskReconciler struct {
	Client client.Client
	// Reader reads the API directly: the line of a task about to start
	// must not come from a cache that lags, nor may a cluster created just
	// before its task be taken for missing.
	Reader   client.Reader
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// KeepCompleted is how many ended tasks of one cluster and type are
	// kept (DefaultKeepCompletedTasks when 0); older ones are deleted.
	KeepCompleted int
	// Workers is how many tasks are reconciled at once (4 when 0).
	Workers int
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// workflows replaces the registered workflows, and retry the policy
	// of retries, in tests.
	workflows map[pgov1.TaskType]workflow
	retry     *retryPolicy
}

// DefaultKeepCompletedTasks is how many ended tasks of one cluster and type
// are kept unless told otherwise.
const DefaultKeepCompletedTasks = 20

// queuedRecheck is how often a queued task looks at its line again, in case
// the event of the task ahead ending was missed.
const queuedRecheck = time.Minute

// taskClusterIndex indexes PGTasks by spec.clusterName in the cache.
const taskClusterIndex = "spec.clusterName"

// taskContext is what a step works with.
type taskContext struct {
	client client.Client
	scheme *runtime.Scheme
	task   *pgov1.PGTask
	// cluster exists and is not being deleted while steps run.
	cluster *pgov1.PGCluster
	now     time.Time
	// retry is true when this attempt follows a failed one.
	retry bool
}

func (r *TaskReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *TaskReconciler) workflowOf(t pgov1.TaskType) workflow {
	if r.workflows != nil {
		return r.workflows[t]
	}
	return workflows[t]
}

func (r *TaskReconciler) retryPolicy() retryPolicy {
	if r.retry != nil {
		return *r.retry
	}
	return defaultRetryPolicy
}

func (r *TaskReconciler) keep() int {
	if r.KeepCompleted > 0 {
		return r.KeepCompleted
	}
	return DefaultKeepCompletedTasks
}

// SetupWithManager registers the reconciler and what it watches: tasks; the
// end of a task, which lets the next one of its cluster and type start; and
// clusters, whose status the steps wait on.
func (r *TaskReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &pgov1.PGTask{}, taskClusterIndex, func(obj client.Object) []string {
		return []string{string(obj.(*pgov1.PGTask).Spec.ClusterName)}
	}); err != nil {
		return fmt.Errorf("indexing PGTasks by cluster: %w", err)
	}
	workers := r.Workers
	if workers == 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("pgtask").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		For(&pgov1.PGTask{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&pgov1.PGTask{}, handler.EnqueueRequestsFromMapFunc(r.nextInLine), builder.WithPredicates(taskEndedPredicate())).
		Watches(&pgov1.PGCluster{}, handler.EnqueueRequestsFromMapFunc(r.tasksOfCluster)).
		Complete(r)
}

// taskEndedPredicate passes a task that ended or went away.
func taskEndedPredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*pgov1.PGTask)
			n, ok2 := e.ObjectNew.(*pgov1.PGTask)
			return ok1 && ok2 && !ended(o) && ended(n)
		},
	}
}

// nextInLine wakes the tasks waiting behind one that ended.
func (r *TaskReconciler) nextInLine(ctx context.Context, obj client.Object) []reconcile.Request {
	t, ok := obj.(*pgov1.PGTask)
	if !ok {
		return nil
	}
	return r.unended(ctx, t.Namespace, string(t.Spec.ClusterName), func(o *pgov1.PGTask) bool {
		return o.Spec.Type == t.Spec.Type && o.Name != t.Name && o.Status.Phase != pgov1.TaskRunning
	})
}

// tasksOfCluster wakes the tasks of a cluster that changed.
func (r *TaskReconciler) tasksOfCluster(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.unended(ctx, obj.GetNamespace(), obj.GetName(), func(*pgov1.PGTask) bool { return true })
}

func (r *TaskReconciler) unended(ctx context.Context, ns, cluster string, keep func(*pgov1.PGTask) bool) []reconcile.Request {
	var list pgov1.PGTaskList
	if err := r.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{taskClusterIndex: cluster}); err != nil {
		log.FromContext(ctx).Error(err, "listing the tasks of a cluster", "cluster", cluster, "namespace", ns)
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if t := &list.Items[i]; !ended(t) && keep(t) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: t.Name}})
		}
	}
	return out
}

// Reconcile carries a task on as far as it can now: it reads the task, its
// cluster and its line, then lets decideTask choose each next move until
// the task waits or ends, and writes the status once.
func (r *TaskReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	t := &pgov1.PGTask{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ended(t) || t.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	logger := log.FromContext(ctx).WithValues("task", t.Name, "cluster", t.Spec.ClusterName, "type", t.Spec.Type)
	ctx = log.IntoContext(ctx, logger)

	c, problem, err := r.clusterOf(ctx, t)
	if err != nil {
		return ctrl.Result{}, err
	}
	id, err := r.adopt(ctx, t, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	var siblings []pgov1.PGTask
	if t.Status.Phase != pgov1.TaskRunning {
		if siblings, err = r.line(ctx, t); err != nil {
			return ctrl.Result{}, err
		}
	}

	before := t.DeepCopy()
	t.Status.ObservedGeneration, t.Status.WorkflowID = t.Generation, id
	s := taskState{Task: t, Steps: r.workflowOf(t.Spec.Type), Siblings: siblings, ClusterProblem: problem}
	result, runErr := r.advance(ctx, s, c)
	if !equality.Semantic.DeepEqual(before.Status, t.Status) {
		err := r.Client.Status().Patch(ctx, t, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		if apierrors.IsConflict(err) {
			// Read from a cache that lags behind the last write: the
			// steps are idempotent, so look again.
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("updating the status of task %s: %w", t.Name, err)
		}
	}
	if ended(t) {
		if err := r.prune(ctx, t); err != nil {
			return ctrl.Result{}, err
		}
	}
	return result, runErr
}

// clusterOf reads the task's cluster. It says why the task cannot run on
// it when it does not exist or is being deleted.
func (r *TaskReconciler) clusterOf(ctx context.Context, t *pgov1.PGTask) (*pgov1.PGCluster, string, error) {
	key := client.ObjectKey{Namespace: t.Namespace, Name: string(t.Spec.ClusterName)}
	c := &pgov1.PGCluster{}
	err := r.Client.Get(ctx, key, c)
	if apierrors.IsNotFound(err) && r.Reader != nil {
		err = r.Reader.Get(ctx, key, c)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Sprintf("cluster %s does not exist in namespace %s; a task works on an existing cluster", key.Name, key.Namespace), nil
	case err != nil:
		return nil, "", fmt.Errorf("reading cluster %s: %w", key.Name, err)
	case c.DeletionTimestamp != nil:
		return c, fmt.Sprintf("cluster %s is being deleted", key.Name), nil
	}
	return c, "", nil
}

// adopt returns the task's workflow id (the one it has, else the one the
// apiserver chose and put in the label, else a new one), labelled so that
// ShowWorkflow finds it, and makes the task the cluster's, so that it goes
// with the cluster.
func (r *TaskReconciler) adopt(ctx context.Context, t *pgov1.PGTask, c *pgov1.PGCluster) (string, error) {
	id := t.Status.WorkflowID
	if id == "" {
		id = t.Labels[pgoapi.LabelWorkflow]
	}
	if rules.WorkflowID(id) != "" {
		id = pgoapi.NewWorkflowID()
	}
	owned := c == nil || c.DeletionTimestamp != nil
	if c != nil {
		for _, ref := range t.OwnerReferences {
			owned = owned || ref.UID == c.UID
		}
	}
	if owned && t.Labels[pgoapi.LabelWorkflow] == id {
		return id, nil
	}
	patch := client.MergeFrom(t.DeepCopy())
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Labels[pgoapi.LabelWorkflow] = id
	if !owned {
		if err := controllerutil.SetOwnerReference(c, t, r.Scheme); err != nil {
			return "", fmt.Errorf("making task %s the cluster's: %w", t.Name, err)
		}
	}
	if err := r.Client.Patch(ctx, t, patch); err != nil {
		return "", fmt.Errorf("labelling task %s with its workflow id and owner: %w", t.Name, err)
	}
	return id, nil
}

// line lists the other tasks of the task's cluster and type, from the API:
// two tasks must not both think they are first.
func (r *TaskReconciler) line(ctx context.Context, t *pgov1.PGTask) ([]pgov1.PGTask, error) {
	reader := r.Reader
	if reader == nil {
		reader = r.Client
	}
	var list pgov1.PGTaskList
	if err := reader.List(ctx, &list, client.InNamespace(t.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the tasks of cluster %s: %w", t.Spec.ClusterName, err)
	}
	var out []pgov1.PGTask
	for _, o := range list.Items {
		if o.Spec.ClusterName == t.Spec.ClusterName && o.Spec.Type == t.Spec.Type && o.Name != t.Name {
			out = append(out, o)
		}
	}
	return out, nil
}

// advance applies decideTask's decisions until the task waits or ends. Each
// pass changes the status (a start, a step completed, a failed attempt
// noted), so the next decision differs.
func (r *TaskReconciler) advance(ctx context.Context, s taskState, c *pgov1.PGCluster) (ctrl.Result, error) {
	t := s.Task
	logger := log.FromContext(ctx)
	for {
		s.Now = r.now()
		d := decideTask(s)
		switch d.Action {
		case taskEnded:
			return ctrl.Result{}, nil
		case taskQueue:
			t.Status.Phase, t.Status.Message = pgov1.TaskPending, d.Message
			return ctrl.Result{RequeueAfter: queuedRecheck}, nil
		case taskStart:
			startStatus(&t.Status, s.Steps, s.Now)
			logger.Info("task started", "workflowID", t.Status.WorkflowID)
			r.event(t, c, corev1.EventTypeNormal, "TaskStarted", "Start", "started %s task %s (workflow %s)", t.Spec.Type, t.Name, t.Status.WorkflowID)
		case taskRun:
			res, err := r.attempt(ctx, s.Steps[d.Step], d, t, c)
			if recordAttempt(&t.Status, d.Step, res, err, r.retryPolicy(), r.now()) {
				name := s.Steps[d.Step].Name
				logger.Info("step completed", "step", name)
				r.event(t, c, corev1.EventTypeNormal, "TaskStepCompleted", name, "step %q completed%s", name, lastWord(res.Message))
				continue
			}
			if err != nil {
				logger.Info("step attempt failed", "step", s.Steps[d.Step].Name, "error", err.Error())
				continue
			}
			after := res.After
			if after <= 0 {
				after = defaultStepRecheck
			}
			return ctrl.Result{RequeueAfter: min(after, max(d.At.Sub(r.now()), time.Millisecond))}, nil
		case taskWait:
			return ctrl.Result{RequeueAfter: max(d.At.Sub(s.Now), time.Millisecond)}, nil
		case taskFail:
			endStatus(&t.Status, t.Generation, false, d.Reason, d.Message, s.Now)
			logger.Info("task failed", "reason", d.Reason, "message", d.Message)
			r.event(t, c, corev1.EventTypeWarning, "TaskFailed", "End", "%s: %s", d.Reason, d.Message)
			return ctrl.Result{}, nil
		case taskSucceed:
			endStatus(&t.Status, t.Generation, true, "", "", s.Now)
			logger.Info("task succeeded")
			r.event(t, c, corev1.EventTypeNormal, "TaskSucceeded", "End", "%s task %s succeeded", t.Spec.Type, t.Name)
			return ctrl.Result{}, nil
		}
	}
}

// maxAttemptTime bounds one attempt at a step, within the step's timeout:
// steps look and ask, they do not block.
const maxAttemptTime = time.Minute

// attempt runs one attempt at a step, within its deadline.
func (r *TaskReconciler) attempt(ctx context.Context, st step, d taskDecision, t *pgov1.PGTask, c *pgov1.PGCluster) (stepResult, error) {
	now := r.now()
	ctx, cancel := context.WithDeadline(ctx, earliest(d.At, now.Add(maxAttemptTime)))
	defer cancel()
	tc := &taskContext{client: r.Client, scheme: r.Scheme, task: t, cluster: c, now: now, retry: d.Retry}
	res, err := st.Run(ctx, tc)
	if err != nil {
		return res, fmt.Errorf("%s: %w", st.Name, err)
	}
	return res, nil
}

// prune deletes the ended tasks of the task's cluster and type beyond the
// newest KeepCompleted.
func (r *TaskReconciler) prune(ctx context.Context, t *pgov1.PGTask) error {
	var list pgov1.PGTaskList
	if err := r.Client.List(ctx, &list, client.InNamespace(t.Namespace), client.MatchingFields{taskClusterIndex: string(t.Spec.ClusterName)}); err != nil {
		return fmt.Errorf("listing the tasks of cluster %s: %w", t.Spec.ClusterName, err)
	}
	// The cache may not have seen this task end yet.
	tasks := []pgov1.PGTask{*t}
	for _, o := range list.Items {
		if o.Spec.Type == t.Spec.Type && o.Name != t.Name {
			tasks = append(tasks, o)
		}
	}
	for _, old := range tasksToPrune(tasks, r.keep()) {
		if err := r.Client.Delete(ctx, &old, client.Preconditions{UID: &old.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting the old task %s: %w", old.Name, err)
		}
		log.FromContext(ctx).Info("deleted an old task", "old", old.Name)
	}
	return nil
}

// event records an Event on the task and, when it exists, on its cluster.
// Messages name steps, instances and reasons: never a secret. The action
// of a step's Event is the step's name: Events that differ only in their
// message are merged into one series, and each step's completion is to be
// seen.
func (r *TaskReconciler) event(t *pgov1.PGTask, c *pgov1.PGCluster, typ, reason, action, format string, args ...any) {
	if r.Recorder == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	r.Recorder.Eventf(t, nil, typ, reason, action, "%s", msg)
	if c != nil {
		r.Recorder.Eventf(c, t, typ, reason, action, "task %s: %s", t.Name, msg)
	}
}
