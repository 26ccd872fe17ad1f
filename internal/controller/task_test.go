package controller

// The task engine against a real kube-apiserver and etcd (internal/testenv),
// with workflows made for the tests in place of some registered ones, and
// the registered switchover, failover and restart workflows. Nothing else
// runs: the tests play the cluster reconciler, the instance managers and
// the StatefulSet controller by writing the objects those steps look at.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/specs"
	"pgo.dev/pgo/internal/testenv"
)

type taskEnv struct {
	t testing.TB
	c client.Client // direct, uncached
}

// startTasks runs a TaskReconciler with flows in place of the registered
// workflows of their types, and quick retries (100 ms doubling up to
// 400 ms).
func startTasks(t testing.TB, flows map[pgov1.TaskType]workflow) *taskEnv {
	t.Helper()
	api := testenv.Start(t)
	if os.Getenv("PGO_TEST_VERBOSE") != "" {
		ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	}
	mgr, err := ctrl.NewManager(api.Config, ctrl.Options{
		Scheme:     kubescheme.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      CacheOptions(nil),
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	all := map[pgov1.TaskType]workflow{}
	for typ, w := range workflows {
		all[typ] = w
	}
	for typ, w := range flows {
		all[typ] = w
	}
	r := &TaskReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("pgo"),
		workflows: all, retry: &retryPolicy{First: 100 * time.Millisecond, Max: 400 * time.Millisecond}}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &taskEnv{t: t, c: api.Client}
}

func (e *taskEnv) create(obj client.Object) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), obj); err != nil {
		e.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// cluster creates a PGCluster in a new namespace of the same name, with a
// ready primary "<name>-aaaa" and a replica "<name>-bbbb" in its status.
func (e *taskEnv) cluster(name string) *pgov1.PGCluster {
	e.t.Helper()
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	c := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: name},
		Spec: pgov1.PGClusterSpec{Replicas: 1, PrimaryStorage: pgov1.PGStorage{Size: resource.MustParse("1Gi")}}}
	e.create(c)
	e.setStatus(c, name+"-aaaa")
	return c
}

// setStatus writes what the cluster reconciler would: ready, led by primary.
func (e *taskEnv) setStatus(c *pgov1.PGCluster, primary string) {
	e.t.Helper()
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(c), c); err != nil {
		e.t.Fatal(err)
	}
	c.Status = pgov1.PGClusterStatus{Phase: pgov1.PhaseReady, Primary: primary, ReadyInstances: 2, Replicas: 1, ObservedGeneration: c.Generation}
	for _, inst := range []string{c.Name + "-aaaa", c.Name + "-bbbb"} {
		role := pgov1.RoleReplica
		if inst == primary {
			role = pgov1.RolePrimary
		}
		c.Status.Instances = append(c.Status.Instances, pgov1.PGInstanceStatus{Name: inst, Role: role, Ready: true})
	}
	if err := e.c.Status().Update(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
}

func (e *taskEnv) task(ns, name string, typ pgov1.TaskType, change func(*pgov1.PGTask)) *pgov1.PGTask {
	e.t.Helper()
	t := &pgov1.PGTask{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: pgov1.PGTaskSpec{ClusterName: pgov1.ClusterName(ns), Type: typ}}
	if change != nil {
		change(t)
	}
	e.create(t)
	return t
}

func (e *taskEnv) get(t *pgov1.PGTask) *pgov1.PGTask {
	e.t.Helper()
	out := &pgov1.PGTask{}
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(t), out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *taskEnv) eventually(what string, timeout time.Duration, check func() error) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// phase waits for a task to reach phase, and returns it.
func (e *taskEnv) phase(t *pgov1.PGTask, phase pgov1.TaskPhase, timeout time.Duration) *pgov1.PGTask {
	e.t.Helper()
	var got *pgov1.PGTask
	e.eventually(t.Name+" "+string(phase), timeout, func() error {
		got = e.get(t)
		if got.Status.Phase != phase {
			return fmt.Errorf("phase %q, message %q, steps %+v", got.Status.Phase, got.Status.Message, got.Status.Steps)
		}
		return nil
	})
	return got
}

// events are the Events of a namespace about an object of kind, as
// "Type Reason: message".
func (e *taskEnv) events(ns, kind, name string) []string {
	e.t.Helper()
	var list corev1.EventList
	if err := e.c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		e.t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Event) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	var out []string
	for _, ev := range list.Items {
		if ev.InvolvedObject.Kind == kind && ev.InvolvedObject.Name == name {
			out = append(out, ev.Type+" "+ev.Reason+": "+ev.Message)
		}
	}
	return out
}

func (e *taskEnv) wantEvents(ns, kind, name string, want ...string) {
	e.t.Helper()
	e.eventually("events of "+kind+" "+name, 10*time.Second, func() error {
		got := e.events(ns, kind, name)
		for _, w := range want {
			if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
				return fmt.Errorf("no event %q in %q", w, got)
			}
		}
		return nil
	})
}

// gates open steps that wait for the test, by task name.
type gates struct{ open sync.Map }

func (g *gates) release(name string) { g.open.Store(name, true) }

func (g *gates) step(name string) step {
	return step{Name: name, Timeout: time.Minute, Run: func(_ context.Context, tc *taskContext) (stepResult, error) {
		if _, ok := g.open.Load(tc.task.Name); ok {
			return done("released"), nil
		}
		return notYet(50*time.Millisecond, "waiting for the test"), nil
	}}
}

func immediate(name string) step {
	return step{Name: name, Timeout: time.Minute, Run: func(context.Context, *taskContext) (stepResult, error) {
		return done("%s done", name), nil
	}}
}

func TestTaskEngine(t *testing.T) {
	var g gates
	var flakyRuns atomic.Int32
	e := startTasks(t, map[pgov1.TaskType]workflow{
		// Three steps; the second waits for the test.
		pgov1.TaskCreateCluster: {immediate("prepare"), g.step("wait for the gate"), immediate("finish")},
		// One step that never completes, within 2 seconds.
		pgov1.TaskScale: {{Name: "never done", Timeout: 2 * time.Second, Retries: 3, Run: func(context.Context, *taskContext) (stepResult, error) {
			return notYet(100*time.Millisecond, "still working"), nil
		}}},
		// One step that fails every time, retried twice.
		pgov1.TaskScaledown: {{Name: "flaky", Timeout: time.Minute, Retries: 2, Run: func(context.Context, *taskContext) (stepResult, error) {
			flakyRuns.Add(1)
			return stepResult{}, errors.New("boom")
		}}},
		// One step done at once.
		pgov1.TaskUpdateCluster: {immediate("only")},
	})
	ctx := context.Background()

	t.Run("steps run in order, with their times", func(t *testing.T) {
		e.t = t
		c := e.cluster("order")
		task := e.task("order", "first", pgov1.TaskCreateCluster, nil)
		var running *pgov1.PGTask
		e.eventually("the gate step running", 30*time.Second, func() error {
			running = e.get(task)
			if st := running.Status; st.Phase != pgov1.TaskRunning || len(st.Steps) != 3 || st.Steps[1].Phase != pgov1.TaskRunning {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
		st := running.Status
		if st.Steps[0].Phase != pgov1.TaskSucceeded || st.Steps[0].Message != "prepare done" || st.Steps[2].Phase != pgov1.TaskPending ||
			st.Steps[1].Message != "waiting for the test" || st.Message != "waiting for the test" || st.StartTime == nil {
			t.Errorf("while the gate is shut: %+v", st)
		}
		// The id, as ShowWorkflow finds it; the owner.
		if rules.WorkflowID(st.WorkflowID) != "" || running.Labels[pgoapi.LabelWorkflow] != st.WorkflowID {
			t.Errorf("workflow id %q, label %q", st.WorkflowID, running.Labels[pgoapi.LabelWorkflow])
		}
		if len(running.OwnerReferences) != 1 || running.OwnerReferences[0].UID != c.UID || running.OwnerReferences[0].Kind != "PGCluster" {
			t.Errorf("owners %+v", running.OwnerReferences)
		}

		g.release("first")
		done := e.phase(task, pgov1.TaskSucceeded, 30*time.Second)
		st = done.Status
		for i, s := range st.Steps {
			if s.Phase != pgov1.TaskSucceeded || s.StartTime == nil || s.CompletionTime == nil || s.CompletionTime.Before(s.StartTime) {
				t.Errorf("step %d: %+v", i, s)
			}
			if i > 0 && !s.StartTime.Equal(st.Steps[i-1].CompletionTime) {
				t.Errorf("step %s started at %v, not when %s completed (%v)", s.Name, s.StartTime, st.Steps[i-1].Name, st.Steps[i-1].CompletionTime)
			}
		}
		if !st.StartTime.Equal(st.Steps[0].StartTime) || !st.CompletionTime.Equal(st.Steps[2].CompletionTime) || st.Message != "" ||
			st.ObservedGeneration != done.Generation || st.WorkflowID != running.Status.WorkflowID {
			t.Errorf("status %+v", st)
		}
		if cond := meta.FindStatusCondition(st.Conditions, pgov1.TaskConditionSucceeded); cond == nil || cond.Status != metav1.ConditionTrue {
			t.Errorf("conditions %+v", st.Conditions)
		}
		// Events, on the task and on the cluster.
		e.wantEvents("order", "PGTask", "first",
			"Normal TaskStarted: started createCluster task first (workflow "+st.WorkflowID+")",
			`Normal TaskStepCompleted: step "prepare" completed: prepare done`,
			`Normal TaskStepCompleted: step "wait for the gate" completed: released`,
			`Normal TaskStepCompleted: step "finish" completed`,
			"Normal TaskSucceeded: createCluster task first succeeded")
		e.wantEvents("order", "PGCluster", "order",
			"Normal TaskStarted: task first: started createCluster task first",
			`Normal TaskStepCompleted: task first: step "finish" completed`,
			"Normal TaskSucceeded: task first: createCluster task first succeeded")
	})

	t.Run("a task waits behind a running one of its cluster and type", func(t *testing.T) {
		e.t = t
		e.cluster("queue")
		first := e.task("queue", "q-first", pgov1.TaskCreateCluster, nil)
		e.eventually("first running", 30*time.Second, func() error {
			if p := e.get(first).Status.Phase; p != pgov1.TaskRunning {
				return fmt.Errorf("phase %q", p)
			}
			return nil
		})
		second := e.task("queue", "q-second", pgov1.TaskCreateCluster, nil)
		third := e.task("queue", "q-third", pgov1.TaskCreateCluster, nil)
		// Another type runs alongside.
		other := e.task("queue", "other", pgov1.TaskUpdateCluster, func(t *pgov1.PGTask) {
			t.Spec.UpdateCluster = &pgov1.PGUpdateClusterParameters{Generation: 1}
		})
		e.phase(other, pgov1.TaskSucceeded, 30*time.Second)
		for _, w := range []struct {
			task   *pgov1.PGTask
			behind string
		}{{second, "q-first"}, {third, "q-first"}} {
			e.eventually(w.task.Name+" queued", 30*time.Second, func() error {
				if st := e.get(w.task).Status; st.Phase != pgov1.TaskPending || st.Message != "queued behind "+w.behind || st.StartTime != nil {
					return fmt.Errorf("status %+v", st)
				}
				return nil
			})
		}
		// The oldest waiting task goes next, then the one behind it.
		g.release("q-first")
		e.phase(first, pgov1.TaskSucceeded, 30*time.Second)
		e.eventually("second running, third behind it", 30*time.Second, func() error {
			if p := e.get(second).Status.Phase; p != pgov1.TaskRunning {
				return fmt.Errorf("second is %q", p)
			}
			if st := e.get(third).Status; st.Phase != pgov1.TaskPending || st.Message != "queued behind q-second" {
				return fmt.Errorf("third: %+v", st)
			}
			return nil
		})
		g.release("q-second")
		g.release("q-third")
		s := e.phase(second, pgov1.TaskSucceeded, 30*time.Second)
		th := e.phase(third, pgov1.TaskSucceeded, 30*time.Second)
		if th.Status.StartTime.Before(s.Status.CompletionTime) {
			t.Errorf("third started at %v, before second completed at %v", th.Status.StartTime, s.Status.CompletionTime)
		}
	})

	t.Run("a step past its timeout fails the task", func(t *testing.T) {
		e.t = t
		e.cluster("slow")
		task := e.task("slow", "slow", pgov1.TaskScale, func(t *pgov1.PGTask) { t.Spec.Scale = &pgov1.PGScaleParameters{Replicas: 2} })
		got := e.phase(task, pgov1.TaskFailed, 30*time.Second)
		st := got.Status
		want := `step "never done" did not complete within 2s: still working`
		if st.Message != want || st.CompletionTime == nil || st.Steps[0].Phase != pgov1.TaskFailed || st.Steps[0].CompletionTime == nil {
			t.Errorf("status %+v", st)
		}
		if took := st.CompletionTime.Sub(st.Steps[0].StartTime.Time); took < 2*time.Second || took > 10*time.Second {
			t.Errorf("failed %s after the step started", took)
		}
		cond := meta.FindStatusCondition(st.Conditions, pgov1.TaskConditionFailed)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != reasonStepTimedOut || cond.Message != want {
			t.Errorf("conditions %+v", st.Conditions)
		}
		e.wantEvents("slow", "PGTask", "slow", "Warning TaskFailed: StepTimedOut: "+want)
		e.wantEvents("slow", "PGCluster", "slow", "Warning TaskFailed: task slow: StepTimedOut: "+want)
	})

	t.Run("a failing step is retried, then fails the task", func(t *testing.T) {
		e.t = t
		e.cluster("flaky")
		task := e.task("flaky", "flaky", pgov1.TaskScaledown, func(t *pgov1.PGTask) {
			t.Spec.Scaledown = &pgov1.PGScaledownParameters{Replica: "flaky-bbbb"}
		})
		got := e.phase(task, pgov1.TaskFailed, 30*time.Second)
		st := got.Status
		want := `step "flaky" failed 3 times: flaky: boom`
		if st.Message != want || st.Steps[0].Attempts != 3 || st.Steps[0].RetryTime != nil || flakyRuns.Load() != 3 {
			t.Errorf("after %d runs: %+v", flakyRuns.Load(), st)
		}
		if cond := meta.FindStatusCondition(st.Conditions, pgov1.TaskConditionFailed); cond == nil || cond.Reason != reasonStepFailed {
			t.Errorf("conditions %+v", st.Conditions)
		}
		e.wantEvents("flaky", "PGTask", "flaky", "Warning TaskFailed: StepFailed: "+want)
	})

	t.Run("a task of a missing cluster fails", func(t *testing.T) {
		e.t = t
		e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "orphan"}})
		task := e.task("orphan", "lost", pgov1.TaskUpdateCluster, func(t *pgov1.PGTask) {
			t.Spec.ClusterName = "nothere"
			t.Spec.UpdateCluster = &pgov1.PGUpdateClusterParameters{Generation: 2}
		})
		got := e.phase(task, pgov1.TaskFailed, 30*time.Second)
		want := "cluster nothere does not exist in namespace orphan; a task works on an existing cluster"
		if got.Status.Message != want || got.Status.StartTime != nil || rules.WorkflowID(got.Status.WorkflowID) != "" {
			t.Errorf("status %+v", got.Status)
		}
		if cond := meta.FindStatusCondition(got.Status.Conditions, pgov1.TaskConditionFailed); cond == nil || cond.Reason != reasonClusterNotFound {
			t.Errorf("conditions %+v", got.Status.Conditions)
		}
		e.wantEvents("orphan", "PGTask", "lost", "Warning TaskFailed: ClusterNotFound: "+want)
	})

	t.Run("the newest 20 ended tasks of a cluster and type are kept", func(t *testing.T) {
		e.t = t
		e.cluster("prune")
		var names []string
		for i := range 23 {
			name := fmt.Sprintf("update-%02d", i)
			names = append(names, name)
			e.task("prune", name, pgov1.TaskUpdateCluster, func(t *pgov1.PGTask) {
				t.Spec.UpdateCluster = &pgov1.PGUpdateClusterParameters{Generation: 1}
			})
		}
		// Another type's tasks are counted apart.
		keep := e.task("prune", "created", pgov1.TaskCreateCluster, nil)
		g.release("created")
		e.phase(keep, pgov1.TaskSucceeded, 30*time.Second)
		e.eventually("20 tasks kept", 60*time.Second, func() error {
			var list pgov1.PGTaskList
			if err := e.c.List(ctx, &list, client.InNamespace("prune")); err != nil {
				return err
			}
			var left []string
			for _, t := range list.Items {
				if t.Spec.Type == pgov1.TaskUpdateCluster {
					if t.Status.Phase != pgov1.TaskSucceeded {
						return fmt.Errorf("%s is %q", t.Name, t.Status.Phase)
					}
					left = append(left, t.Name)
				}
			}
			slices.Sort(left)
			if !slices.Equal(left, names[3:]) {
				return fmt.Errorf("left %v", left)
			}
			return nil
		})
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(keep), &pgov1.PGTask{}); err != nil {
			t.Errorf("the createCluster task: %v", err)
		}
	})
}

// TestTaskWorkflows runs the registered switchover, failover and restart
// workflows.
func TestTaskWorkflows(t *testing.T) {
	e := startTasks(t, nil)
	ctx := context.Background()

	// lead makes instance the leader lock's holder.
	lead := func(c *pgov1.PGCluster, instance string) {
		t.Helper()
		lease := &coordinationv1.Lease{}
		err := e.c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.LeaderLease(c.Name)}, lease)
		if apierrors.IsNotFound(err) {
			l, cms := specs.DCSObjects(c)
			e.create(l)
			for _, cm := range cms {
				e.create(cm)
			}
			lease = l
		} else if err != nil {
			t.Fatal(err)
		}
		lease.Spec.HolderIdentity = ptr.To(naming.PodOfInstance(instance))
		lease.Spec.LeaseDurationSeconds = ptr.To[int32](3600)
		lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		if err := e.c.Update(ctx, lease); err != nil {
			t.Fatal(err)
		}
	}
	failoverRequest := func(c *pgov1.PGCluster) map[string]string {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.FailoverConfigMap(c.Name)}, cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data
	}
	setFailoverRequest := func(c *pgov1.PGCluster, data map[string]string) {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.FailoverConfigMap(c.Name)}, cm); err != nil {
			t.Fatal(err)
		}
		cm.Data = data
		if err := e.c.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a switchover asks the leader to hand over, and waits for the new primary", func(t *testing.T) {
		e.t = t
		c := e.cluster("switch")
		lead(c, "switch-aaaa")
		task := e.task("switch", "switch", pgov1.TaskSwitchover, nil)
		e.eventually("the request", 30*time.Second, func() error {
			if got := failoverRequest(c); got[naming.KeyLeader] != "switch-aaaa-0" || got[naming.KeyCandidate] != "" {
				return fmt.Errorf("request %v", got)
			}
			return nil
		})
		// The leader refuses: the request is made again.
		setFailoverRequest(c, map[string]string{naming.KeyRefused: "switchover refused: no replica is healthy enough to take over"})
		e.eventually("the refusal counted and the request made again", 30*time.Second, func() error {
			st := e.get(task).Status
			if len(st.Steps) != 2 || st.Steps[1].Attempts < 1 {
				return fmt.Errorf("status %+v", st)
			}
			if got := failoverRequest(c); got[naming.KeyLeader] != "switch-aaaa-0" {
				return fmt.Errorf("request %v", got)
			}
			return nil
		})
		if st := e.get(task).Status; st.Phase != pgov1.TaskRunning || st.FormerPrimary != "switch-aaaa" ||
			st.Steps[0].Message != "asked switch-aaaa to hand over to the healthiest replica" {
			t.Errorf("status %+v", st)
		}
		// The replica takes over.
		lead(c, "switch-bbbb")
		setFailoverRequest(c, nil)
		e.setStatus(c, "switch-bbbb")
		got := e.phase(task, pgov1.TaskSucceeded, 30*time.Second)
		if st := got.Status; st.Steps[1].Message != "switch-bbbb is the primary" || st.Steps[0].Name != "failover requested" || st.Steps[1].Name != "new primary elected" {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("a failover names only the candidate; a refusal repeated fails the task", func(t *testing.T) {
		e.t = t
		c := e.cluster("promote")
		lead(c, "promote-aaaa")
		task := e.task("promote", "promote", pgov1.TaskFailover, func(t *pgov1.PGTask) {
			t.Spec.Failover = &pgov1.PGSwitchoverParameters{Candidate: "promote-bbbb"}
		})
		refusal := map[string]string{naming.KeyRefused: "switchover refused: promote-bbbb is not streaming from promote-aaaa-0"}
		var requests atomic.Int32
		e.eventually("the task failed", 60*time.Second, func() error {
			got := failoverRequest(c)
			if got[naming.KeyCandidate] != "" {
				if got[naming.KeyCandidate] != "promote-bbbb-0" || got[naming.KeyLeader] != "" {
					return fmt.Errorf("request %v", got)
				}
				requests.Add(1)
				setFailoverRequest(c, refusal)
			}
			if p := e.get(task).Status.Phase; p != pgov1.TaskFailed {
				return fmt.Errorf("phase %q", p)
			}
			return nil
		})
		st := e.get(task).Status
		want := `step "new primary elected" failed 6 times: new primary elected: switchover refused: promote-bbbb is not streaming from promote-aaaa-0`
		if st.Message != want || requests.Load() < 2 {
			t.Errorf("after %d requests: %+v", requests.Load(), st)
		}
	})

	t.Run("a rolling restart changes the pod templates and waits for the roll", func(t *testing.T) {
		e.t = t
		c := e.cluster("roll")
		instances := []string{"roll-aaaa", "roll-bbbb"}
		for _, inst := range instances {
			labels := specs.InstanceLabels("roll", inst)
			e.create(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "roll", Name: inst, Labels: labels},
				Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}},
				}}})
		}
		task := e.task("roll", "roll", pgov1.TaskRestart, nil)
		var stamp string
		e.eventually("the templates changed", 30*time.Second, func() error {
			for _, inst := range instances {
				sts := &appsv1.StatefulSet{}
				if err := e.c.Get(ctx, client.ObjectKey{Namespace: "roll", Name: inst}, sts); err != nil {
					return err
				}
				stamp = sts.Spec.Template.Annotations[naming.AnnotationRestartedAt]
				if stamp == "" {
					return fmt.Errorf("%s not asked to restart", inst)
				}
			}
			return nil
		})
		var st pgov1.PGTaskStatus
		e.eventually("the task running", 30*time.Second, func() error {
			if st = e.get(task).Status; st.StartTime == nil || len(st.Steps) != 2 {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
		if at, err := time.Parse(time.RFC3339, stamp); err != nil || !at.Equal(st.StartTime.Truncate(time.Second)) {
			t.Errorf("restarted-at %q, task started at %v", stamp, st.StartTime)
		}
		if st.Phase != pgov1.TaskRunning || st.Steps[1].Phase != pgov1.TaskRunning {
			t.Errorf("status %+v", st)
		}
		// The StatefulSet controller and the kubelet, played: new pods of
		// the new revision, ready.
		for _, inst := range instances {
			sts := &appsv1.StatefulSet{}
			if err := e.c.Get(ctx, client.ObjectKey{Namespace: "roll", Name: inst}, sts); err != nil {
				t.Fatal(err)
			}
			sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, UpdateRevision: inst + "-new"}
			if err := e.c.Status().Update(ctx, sts); err != nil {
				t.Fatal(err)
			}
			labels := specs.InstanceLabels("roll", inst)
			labels[appsv1.ControllerRevisionHashLabelKey] = inst + "-new"
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "roll", Name: naming.PodOfInstance(inst), Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}}}
			e.create(pod)
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			if err := e.c.Status().Update(ctx, pod); err != nil {
				t.Fatal(err)
			}
		}
		e.setStatus(c, "roll-bbbb")
		e.phase(task, pgov1.TaskSucceeded, 30*time.Second)
	})
}
