package controller

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
)

var taskT0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// testWorkflow: "copy" (1 minute, no retry), "check" (10 minutes, 2
// retries), "report" (5 minutes, 1 retry).
var testWorkflow = workflow{
	{Name: "copy", Timeout: time.Minute},
	{Name: "check", Timeout: 10 * time.Minute, Retries: 2},
	{Name: "report", Timeout: 5 * time.Minute, Retries: 1},
}

func at(d time.Duration) *metav1.Time {
	t := metav1.NewTime(taskT0.Add(d))
	return &t
}

// newTask is a task of cluster hippo created at taskT0+created.
func newTask(name string, created time.Duration, phase pgov1.TaskPhase) pgov1.PGTask {
	return pgov1.PGTask{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1", CreationTimestamp: *at(created)},
		Spec:       pgov1.PGTaskSpec{ClusterName: "hippo", Type: pgov1.TaskRestart},
		Status:     pgov1.PGTaskStatus{Phase: phase},
	}
}

// running is a task started at taskT0 whose steps are as given: "done" (from
// +0 to +1m each), "running" (since +1m), "pending".
func running(steps ...string) pgov1.PGTask {
	t := newTask("t", 0, pgov1.TaskRunning)
	t.Status.StartTime = at(0)
	for i, s := range steps {
		st := pgov1.PGTaskStep{Name: testWorkflow[i].Name}
		switch s {
		case "done":
			st.Phase, st.StartTime, st.CompletionTime = pgov1.TaskSucceeded, at(0), at(time.Minute)
		case "running":
			st.Phase, st.StartTime = pgov1.TaskRunning, at(time.Minute)
		default:
			st.Phase = pgov1.TaskPending
		}
		t.Status.Steps = append(t.Status.Steps, st)
	}
	return t
}

func TestDecideTask(t *testing.T) {
	withStep := func(task pgov1.PGTask, i int, change func(*pgov1.PGTaskStep)) pgov1.PGTask {
		change(&task.Status.Steps[i])
		return task
	}
	deleting := newTask("older", -time.Minute, pgov1.TaskPending)
	deleting.DeletionTimestamp = at(0)
	cases := []struct {
		name     string
		task     pgov1.PGTask
		steps    workflow // testWorkflow unless noWorkflow
		none     bool     // no workflow registered for the type
		siblings []pgov1.PGTask
		problem  string
		now      time.Duration
		want     taskDecision
	}{
		// Ended tasks stay as they are.
		{name: "succeeded: nothing to do", task: newTask("t", 0, pgov1.TaskSucceeded), want: taskDecision{Action: taskEnded}},
		{name: "failed: nothing to do, even with its cluster gone", task: newTask("t", 0, pgov1.TaskFailed), problem: "cluster hippo does not exist",
			want: taskDecision{Action: taskEnded}},

		// Tasks that cannot run fail at once.
		{name: "a type with no workflow fails", task: newTask("t", 0, ""), none: true,
			want: taskDecision{Action: taskFail, Reason: reasonNotAvailable, Message: "tasks of type restart are not available yet"}},
		{name: "a type with no workflow fails, even when queued", task: newTask("t", 0, pgov1.TaskPending), none: true,
			siblings: []pgov1.PGTask{newTask("other", 0, pgov1.TaskRunning)},
			want:     taskDecision{Action: taskFail, Reason: reasonNotAvailable, Message: "tasks of type restart are not available yet"}},
		{name: "a new task of a missing cluster fails", task: newTask("t", 0, ""), problem: "cluster hippo does not exist",
			want: taskDecision{Action: taskFail, Reason: reasonClusterNotFound, Message: "cluster hippo does not exist"}},
		{name: "a running task whose cluster went fails", task: running("running", "pending", "pending"), problem: "cluster hippo is being deleted",
			want: taskDecision{Action: taskFail, Reason: reasonClusterNotFound, Message: "cluster hippo is being deleted"}},

		// One running task per cluster and type; the others wait, oldest
		// first.
		{name: "a new task alone starts", task: newTask("t", 0, ""), want: taskDecision{Action: taskStart}},
		{name: "ended tasks do not hold a new one", task: newTask("t", 0, ""),
			siblings: []pgov1.PGTask{newTask("a", -time.Hour, pgov1.TaskSucceeded), newTask("b", -time.Hour, pgov1.TaskFailed)},
			want:     taskDecision{Action: taskStart}},
		{name: "a running task holds a new one", task: newTask("t", 0, ""),
			siblings: []pgov1.PGTask{newTask("first", time.Hour, pgov1.TaskRunning)},
			want:     taskDecision{Action: taskQueue, Message: "queued behind first"}},
		{name: "a running task holds an older pending one", task: newTask("t", -time.Hour, pgov1.TaskPending),
			siblings: []pgov1.PGTask{newTask("older", -2*time.Hour, pgov1.TaskPending), newTask("first", 0, pgov1.TaskRunning)},
			want:     taskDecision{Action: taskQueue, Message: "queued behind first"}},
		{name: "an older pending task goes first", task: newTask("t", 0, pgov1.TaskPending),
			siblings: []pgov1.PGTask{newTask("newer", time.Second, pgov1.TaskPending), newTask("older", -time.Second, ""), newTask("oldest", -time.Minute, pgov1.TaskPending)},
			want:     taskDecision{Action: taskQueue, Message: "queued behind oldest"}},
		{name: "the oldest pending task starts when none runs", task: newTask("t", 0, pgov1.TaskPending),
			siblings: []pgov1.PGTask{newTask("newer", time.Second, pgov1.TaskPending), newTask("done", -time.Hour, pgov1.TaskSucceeded)},
			want:     taskDecision{Action: taskStart}},
		{name: "created in the same second: by name, after", task: newTask("b", 0, pgov1.TaskPending),
			siblings: []pgov1.PGTask{newTask("a", 0, pgov1.TaskPending)},
			want:     taskDecision{Action: taskQueue, Message: "queued behind a"}},
		{name: "created in the same second: by name, first", task: newTask("a", 0, pgov1.TaskPending),
			siblings: []pgov1.PGTask{newTask("b", 0, pgov1.TaskPending)},
			want:     taskDecision{Action: taskStart}},
		{name: "a task being deleted holds nothing", task: newTask("t", 0, pgov1.TaskPending), siblings: []pgov1.PGTask{deleting},
			want: taskDecision{Action: taskStart}},
		{name: "the task itself among its siblings does not hold it", task: newTask("t", 0, ""), siblings: []pgov1.PGTask{newTask("t", 0, "")},
			want: taskDecision{Action: taskStart}},
		{name: "a running task goes on whatever its siblings", task: running("running", "pending", "pending"), now: 2 * time.Minute / 2,
			siblings: []pgov1.PGTask{newTask("other", -time.Hour, pgov1.TaskRunning)},
			want:     taskDecision{Action: taskRun, Step: 0, At: taskT0.Add(2 * time.Minute)}},

		// Steps in order, each within its timeout.
		{name: "the first step runs until its deadline", task: running("running", "pending", "pending"), now: 90 * time.Second,
			want: taskDecision{Action: taskRun, Step: 0, At: taskT0.Add(2 * time.Minute)}},
		{name: "then the next", task: running("done", "running", "pending"), now: 2 * time.Minute,
			want: taskDecision{Action: taskRun, Step: 1, At: taskT0.Add(11 * time.Minute)}},
		{name: "a step with no start time runs from now", task: withStep(running("done", "running", "pending"), 1, func(s *pgov1.PGTaskStep) { s.StartTime = nil }),
			now: time.Hour, want: taskDecision{Action: taskRun, Step: 1, At: taskT0.Add(70 * time.Minute)}},
		{name: "every step done: succeeded", task: running("done", "done", "done"), now: time.Hour,
			want: taskDecision{Action: taskSucceed}},
		{name: "a step past its timeout fails the task, with what it waited for",
			task: withStep(running("done", "running", "pending"), 1, func(s *pgov1.PGTaskStep) { s.Message = "waiting for hippo-b to be ready" }),
			now:  11*time.Minute + time.Second,
			want: taskDecision{Action: taskFail, Step: 1, Reason: reasonStepTimedOut, Message: `step "check" did not complete within 10m0s: waiting for hippo-b to be ready`}},
		{name: "at its deadline exactly, a step has timed out", task: running("done", "done", "running"), now: 6 * time.Minute,
			want: taskDecision{Action: taskFail, Step: 2, Reason: reasonStepTimedOut, Message: `step "report" did not complete within 5m0s`}},
		{name: "a timeout beats a retry due", task: withStep(running("done", "running", "pending"), 1, func(s *pgov1.PGTaskStep) {
			s.Attempts, s.RetryTime, s.Message = 1, at(5*time.Minute), "boom"
		}), now: 12 * time.Minute,
			want: taskDecision{Action: taskFail, Step: 1, Reason: reasonStepTimedOut, Message: `step "check" did not complete within 10m0s: boom`}},

		// Retries.
		{name: "a failed attempt waits for its retry", task: withStep(running("done", "running", "pending"), 1, func(s *pgov1.PGTaskStep) {
			s.Attempts, s.RetryTime = 1, at(2*time.Minute+5*time.Second)
		}), now: 2 * time.Minute,
			want: taskDecision{Action: taskWait, Step: 1, At: taskT0.Add(2*time.Minute + 5*time.Second)}},
		{name: "a retry after the deadline waits for the deadline only", task: withStep(running("done", "done", "running"), 2, func(s *pgov1.PGTaskStep) {
			s.Attempts, s.RetryTime = 1, at(time.Hour)
		}), now: 2 * time.Minute,
			want: taskDecision{Action: taskWait, Step: 2, At: taskT0.Add(6 * time.Minute)}},
		{name: "a retry due runs, marked as a retry", task: withStep(running("done", "running", "pending"), 1, func(s *pgov1.PGTaskStep) {
			s.Attempts, s.RetryTime = 2, at(3*time.Minute)
		}), now: 3 * time.Minute,
			want: taskDecision{Action: taskRun, Step: 1, Retry: true, At: taskT0.Add(11 * time.Minute)}},
		{name: "attempts beyond the retries fail the task with the last error", task: withStep(running("done", "running", "pending"), 1, func(s *pgov1.PGTaskStep) {
			s.Attempts, s.RetryTime, s.Message = 3, at(3*time.Minute), "check: connection refused"
		}), now: 2 * time.Minute,
			want: taskDecision{Action: taskFail, Step: 1, Reason: reasonStepFailed, Message: `step "check" failed 3 times: check: connection refused`}},
		{name: "a step with no retries fails at its first failed attempt", task: withStep(running("running", "pending", "pending"), 0, func(s *pgov1.PGTaskStep) {
			s.Attempts, s.RetryTime, s.Message = 1, at(2*time.Minute), "copy: denied"
		}), now: 90 * time.Second,
			want: taskDecision{Action: taskFail, Step: 0, Reason: reasonStepFailed, Message: `step "copy" failed 1 times: copy: denied`}},
		{name: "a permanent failure fails the task at once", task: withStep(running("done", "running", "pending"), 1, func(s *pgov1.PGTaskStep) {
			s.Phase, s.Message = pgov1.TaskFailed, "check: the cluster failed: no primary"
		}), now: 2 * time.Minute,
			want: taskDecision{Action: taskFail, Step: 1, Reason: reasonStepFailed, Message: `step "check" failed: check: the cluster failed: no primary`}},

		// A task recorded by another version of the workflow.
		{name: "steps that are not the workflow's fail the task", task: running("done", "running"), now: 2 * time.Minute,
			want: taskDecision{Action: taskFail, Reason: reasonWorkflowChanged, Message: "the operator's workflow for this task changed while it ran; create the task again"}},
		{name: "renamed steps fail the task", task: withStep(running("done", "running", "pending"), 2, func(s *pgov1.PGTaskStep) { s.Name = "publish" }), now: 2 * time.Minute,
			want: taskDecision{Action: taskFail, Reason: reasonWorkflowChanged, Message: "the operator's workflow for this task changed while it ran; create the task again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps := testWorkflow
			if tc.none {
				steps = nil
			}
			task := tc.task
			got := decideTask(taskState{Task: &task, Steps: steps, Siblings: tc.siblings, ClusterProblem: tc.problem, Now: taskT0.Add(tc.now)})
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	p := defaultRetryPolicy
	for attempts, want := range map[int32]time.Duration{
		1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 4: 40 * time.Second, 5: 80 * time.Second,
		6: 2 * time.Minute, 30: 2 * time.Minute,
	} {
		if got := p.delay(attempts); got != want {
			t.Errorf("after %d failed attempts: %s, want %s", attempts, got, want)
		}
	}
}

func TestRecordAttempt(t *testing.T) {
	now := taskT0.Add(2 * time.Minute)
	p := retryPolicy{First: time.Second, Max: time.Minute}
	step := func(st pgov1.PGTaskStatus, i int) string {
		s := st.Steps[i]
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s attempts=%d", s.Phase, s.Message, s.Attempts)
		for _, tm := range []struct {
			name string
			t    *metav1.Time
		}{{"start", s.StartTime}, {"completion", s.CompletionTime}, {"retry", s.RetryTime}} {
			if tm.t != nil {
				fmt.Fprintf(&b, " %s=+%s", tm.name, tm.t.Sub(taskT0))
			}
		}
		return b.String()
	}
	cases := []struct {
		name      string
		task      pgov1.PGTask
		i         int
		res       stepResult
		err       error
		completed bool
		want      []string // steps i and i+1 (when there is one), then the task's message
	}{
		{"done: the next step starts now", running("done", "running", "pending"), 1, done("copied 3 files"), nil, true,
			[]string{"Succeeded copied 3 files attempts=0 start=+1m0s completion=+2m0s", "Running  attempts=0 start=+2m0s", ""}},
		{"done, the last step", running("done", "done", "running"), 2, done(""), nil, true,
			[]string{"Succeeded  attempts=0 start=+1m0s completion=+2m0s", ""}},
		{"not yet: says what it waits for", running("done", "running", "pending"), 1, notYet(time.Second, "waiting for hippo-b"), nil, false,
			[]string{"Running waiting for hippo-b attempts=0 start=+1m0s", "Pending  attempts=0", "waiting for hippo-b"}},
		{"a failed attempt: counted, retried after the back-off", withAttempts(running("done", "running", "pending"), 1, 2), 1, stepResult{}, errors.New("check: timeout"), false,
			[]string{"Running check: timeout attempts=3 start=+1m0s retry=+2m4s", "Pending  attempts=0", "check: timeout"}},
		{"a permanent failure marks the step failed", running("done", "running", "pending"), 1, stepResult{}, fmt.Errorf("check: %w", permanent(errors.New("no such instance"))), false,
			[]string{"Failed check: no such instance attempts=0 start=+1m0s", "Pending  attempts=0", "check: no such instance"}},
		{"a retry that runs clears its retry time", withAttempts(running("done", "running", "pending"), 1, 1), 1, notYet(time.Second, "asked again"), nil, false,
			[]string{"Running asked again attempts=1 start=+1m0s", "Pending  attempts=0", "asked again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.task.Status
			if got := recordAttempt(&st, tc.i, tc.res, tc.err, p, now); got != tc.completed {
				t.Errorf("completed %v, want %v", got, tc.completed)
			}
			got := []string{step(st, tc.i)}
			if tc.i+1 < len(st.Steps) {
				got = append(got, step(st, tc.i+1))
			}
			got = append(got, st.Message)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func withAttempts(t pgov1.PGTask, i int, n int32) pgov1.PGTask {
	t.Status.Steps[i].Attempts, t.Status.Steps[i].RetryTime = n, at(time.Minute)
	return t
}

func TestEndStatus(t *testing.T) {
	task := running("done", "running", "pending")
	endStatus(&task.Status, 1, false, reasonStepTimedOut, "too slow", taskT0.Add(time.Hour))
	st := task.Status
	if st.Phase != pgov1.TaskFailed || st.Message != "too slow" || !st.CompletionTime.Equal(at(time.Hour)) ||
		st.Steps[1].Phase != pgov1.TaskFailed || st.Steps[2].Phase != pgov1.TaskPending || st.Steps[0].Phase != pgov1.TaskSucceeded {
		t.Errorf("failed: %+v", st)
	}
	if len(st.Conditions) != 1 || st.Conditions[0].Type != pgov1.TaskConditionFailed || st.Conditions[0].Reason != reasonStepTimedOut ||
		st.Conditions[0].Status != metav1.ConditionTrue || st.Conditions[0].ObservedGeneration != 1 {
		t.Errorf("conditions: %+v", st.Conditions)
	}

	task = running("done", "done", "done")
	endStatus(&task.Status, 1, true, "", "", taskT0.Add(time.Hour))
	if st := task.Status; st.Phase != pgov1.TaskSucceeded || len(st.Conditions) != 1 || st.Conditions[0].Type != pgov1.TaskConditionSucceeded {
		t.Errorf("succeeded: %+v", st)
	}
}

func TestStartStatus(t *testing.T) {
	task := newTask("t", 0, pgov1.TaskPending)
	task.Status.Message = "queued behind other"
	startStatus(&task.Status, testWorkflow, taskT0.Add(time.Minute))
	st := task.Status
	if st.Phase != pgov1.TaskRunning || st.Message != "" || !st.StartTime.Equal(at(time.Minute)) || len(st.Steps) != 3 ||
		st.Steps[0].Phase != pgov1.TaskRunning || !st.Steps[0].StartTime.Equal(at(time.Minute)) ||
		st.Steps[1].Phase != pgov1.TaskPending || st.Steps[1].StartTime != nil || st.Steps[2].Name != "report" {
		t.Errorf("started: %+v", st)
	}
}

func TestTasksToPrune(t *testing.T) {
	var tasks []pgov1.PGTask
	for i := range 25 {
		tasks = append(tasks, newTask(fmt.Sprintf("done-%02d", i), time.Duration(i)*time.Minute, pgov1.TaskSucceeded))
	}
	tasks = append(tasks, newTask("running", -time.Hour, pgov1.TaskRunning), newTask("pending", -time.Hour, pgov1.TaskPending))
	tasks[3].Status.Phase = pgov1.TaskFailed
	var names []string
	for _, p := range tasksToPrune(tasks, 20) {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "done-04,done-03,done-02,done-01,done-00" {
		t.Errorf("pruned %s", got)
	}
	if got := tasksToPrune(tasks[:20], 20); got != nil {
		t.Errorf("pruned %d of 20", len(got))
	}
}
