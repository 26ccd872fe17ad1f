package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
)

// A PGTask runs as a workflow: an ordered list of timed steps. What to do
// next with a task is decided by decideTask, a pure function of the task's
// status, its workflow, the other tasks of its cluster and type, and the
// time; the reconciler (task.go) only reads, runs the step decided on and
// writes what came of it.

// step is one step of a workflow.
type step struct {
	// Name is what `pgo show workflow` prints, such as "backup started".
	Name string
	// Timeout bounds the step from its start to its completion, retries
	// included: a step still not done then fails the task.
	Timeout time.Duration
	// Retries is how many failed attempts are tried again before the task
	// fails.
	Retries int32
	// Run makes one attempt. An error is a failed attempt; one wrapped
	// with permanent fails the task at once.
	Run func(ctx context.Context, tc *taskContext) (stepResult, error)
}

// workflow is the steps of a task type, in order.
type workflow []step

// stepResult is what an attempt that did not fail gave.
type stepResult struct {
	// Done is true when the step is complete.
	Done bool
	// After is when to look again at a step that is not done (when 0,
	// defaultStepRecheck).
	After time.Duration
	// Message says what the step did, or what it waits for.
	Message string
}

// defaultStepRecheck is how soon a step that is not done is run again.
const defaultStepRecheck = 5 * time.Second

// done is a completed step.
func done(format string, args ...any) stepResult {
	return stepResult{Done: true, Message: fmt.Sprintf(format, args...)}
}

// notYet is a step that waits, to be run again after a while.
func notYet(after time.Duration, format string, args ...any) stepResult {
	return stepResult{After: after, Message: fmt.Sprintf(format, args...)}
}

// permanentError is a failure that trying again cannot mend.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// permanent marks err as a failure that fails the task at once.
func permanent(err error) error { return permanentError{err: err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// retryPolicy spaces the attempts of a failing step: First after the first
// failure, doubling after each next one, never more than Max.
type retryPolicy struct {
	First, Max time.Duration
}

// defaultRetryPolicy: 5 s, 10 s, 20 s … up to 2 minutes.
var defaultRetryPolicy = retryPolicy{First: 5 * time.Second, Max: 2 * time.Minute}

// delay is the wait after the given number of failed attempts (1 or more).
func (p retryPolicy) delay(attempts int32) time.Duration {
	d := p.First
	for i := int32(1); i < attempts && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// taskState is what the decision about a task looks at.
type taskState struct {
	// Task is the task: its status, creation time and name.
	Task *pgov1.PGTask
	// Steps is the workflow of its type; nil when none is registered.
	Steps workflow
	// Siblings are the other tasks of the same cluster and type.
	Siblings []pgov1.PGTask
	// ClusterProblem says why the task cannot work on its cluster (it does
	// not exist, or is being deleted); "" when it can.
	ClusterProblem string
	Now            time.Time
}

// taskAction is what to do next with a task.
type taskAction string

const (
	// taskEnded: the task succeeded or failed; nothing is left to do.
	taskEnded taskAction = "ended"
	// taskQueue: stay Pending behind another task of the same cluster and
	// type.
	taskQueue taskAction = "queue"
	// taskStart: start running; the first step starts now.
	taskStart taskAction = "start"
	// taskRun: make an attempt at step Step.
	taskRun taskAction = "run"
	// taskWait: look again at At, when a failed step is due to be retried.
	taskWait taskAction = "wait"
	// taskFail: the task failed, for Reason and Message.
	taskFail taskAction = "fail"
	// taskSucceed: every step is done.
	taskSucceed taskAction = "succeed"
)

// Reasons a task fails, as its Failed condition and Warning Event give them.
const (
	reasonNotAvailable    = "NotAvailable"
	reasonClusterNotFound = "ClusterNotFound"
	reasonWorkflowChanged = "WorkflowChanged"
	reasonStepFailed      = "StepFailed"
	reasonStepTimedOut    = "StepTimedOut"
)

// taskDecision is the next thing to do with a task.
type taskDecision struct {
	Action taskAction
	// Step is the step to run (taskRun) or wait for (taskWait).
	Step int
	// Retry is true when the run is the retry of a failed attempt.
	Retry bool
	// At is the step's deadline (taskRun) or when to retry it (taskWait,
	// never after the deadline).
	At time.Time
	// Reason (taskFail) and Message (taskQueue, taskFail).
	Reason, Message string
}

// decideTask decides what to do next with a task. A task runs only when no
// other task of its cluster and type runs and none waits ahead of it; it
// then runs its steps in order, each within its timeout, a failed attempt
// being tried again (after a back-off the reconciler wrote into the step's
// retryTime) until the step's retries are used.
func decideTask(s taskState) taskDecision {
	t := s.Task
	st := t.Status
	switch {
	case ended(t):
		return taskDecision{Action: taskEnded}
	case s.Steps == nil:
		return taskDecision{Action: taskFail, Reason: reasonNotAvailable,
			Message: fmt.Sprintf("tasks of type %s are not available yet", t.Spec.Type)}
	case s.ClusterProblem != "":
		return taskDecision{Action: taskFail, Reason: reasonClusterNotFound, Message: s.ClusterProblem}
	case st.Phase != pgov1.TaskRunning:
		if other := ahead(t, s.Siblings); other != "" {
			return taskDecision{Action: taskQueue, Message: "queued behind " + other}
		}
		return taskDecision{Action: taskStart}
	case !sameSteps(st.Steps, s.Steps):
		// The operator was upgraded while the task ran: its recorded
		// steps are not those the operator knows any more.
		return taskDecision{Action: taskFail, Reason: reasonWorkflowChanged,
			Message: "the operator's workflow for this task changed while it ran; create the task again"}
	}
	i := slices.IndexFunc(st.Steps, func(p pgov1.PGTaskStep) bool { return p.Phase != pgov1.TaskSucceeded })
	if i < 0 {
		return taskDecision{Action: taskSucceed}
	}
	spec, cur := s.Steps[i], st.Steps[i]
	started := s.Now
	if cur.StartTime != nil {
		started = cur.StartTime.Time
	}
	deadline := started.Add(spec.Timeout)
	switch {
	case cur.Phase == pgov1.TaskFailed:
		return taskDecision{Action: taskFail, Step: i, Reason: reasonStepFailed,
			Message: fmt.Sprintf("step %q failed: %s", spec.Name, cur.Message)}
	case !s.Now.Before(deadline):
		return taskDecision{Action: taskFail, Step: i, Reason: reasonStepTimedOut,
			Message: fmt.Sprintf("step %q did not complete within %s%s", spec.Name, spec.Timeout, lastWord(cur.Message))}
	case cur.Attempts > spec.Retries:
		return taskDecision{Action: taskFail, Step: i, Reason: reasonStepFailed,
			Message: fmt.Sprintf("step %q failed %d times: %s", spec.Name, cur.Attempts, cur.Message)}
	case cur.RetryTime != nil && s.Now.Before(cur.RetryTime.Time):
		return taskDecision{Action: taskWait, Step: i, At: earliest(cur.RetryTime.Time, deadline)}
	}
	return taskDecision{Action: taskRun, Step: i, Retry: cur.RetryTime != nil, At: deadline}
}

func lastWord(message string) string {
	if message == "" {
		return ""
	}
	return ": " + message
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ended tells whether a task succeeded or failed.
func ended(t *pgov1.PGTask) bool {
	return t.Status.Phase == pgov1.TaskSucceeded || t.Status.Phase == pgov1.TaskFailed
}

// sameSteps tells whether the recorded steps are those of the workflow.
func sameSteps(recorded []pgov1.PGTaskStep, w workflow) bool {
	if len(recorded) != len(w) {
		return false
	}
	for i := range w {
		if recorded[i].Name != w[i].Name {
			return false
		}
	}
	return true
}

// inLineBefore orders the tasks of one cluster and type: the oldest first,
// then by name.
func inLineBefore(a, b *pgov1.PGTask) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// ahead names what a task that has not started waits for: the running task
// of its cluster and type, else the first of those still waiting ahead of
// it; "" when it may start.
func ahead(t *pgov1.PGTask, siblings []pgov1.PGTask) string {
	first := ""
	var firstTask *pgov1.PGTask
	for i := range siblings {
		o := &siblings[i]
		switch {
		case o.Name == t.Name || ended(o) || o.DeletionTimestamp != nil:
		case o.Status.Phase == pgov1.TaskRunning:
			return o.Name
		case inLineBefore(o, t) && (firstTask == nil || inLineBefore(o, firstTask)):
			first, firstTask = o.Name, o
		}
	}
	return first
}

// startStatus starts a task: every step listed, the first one running.
func startStatus(st *pgov1.PGTaskStatus, w workflow, now time.Time) {
	at := metav1.NewTime(now)
	st.Phase, st.StartTime, st.Message = pgov1.TaskRunning, &at, ""
	st.Steps = make([]pgov1.PGTaskStep, len(w))
	for i, s := range w {
		st.Steps[i] = pgov1.PGTaskStep{Name: s.Name, Phase: pgov1.TaskPending}
	}
	if len(st.Steps) > 0 {
		st.Steps[0].Phase, st.Steps[0].StartTime = pgov1.TaskRunning, &at
	}
}

// recordAttempt notes in the status what an attempt at step i gave, and
// reports whether the step completed. A step that completes starts the next
// one at once; a failed attempt is retried after the policy's delay; a
// permanent failure marks the step failed (decideTask then fails the task).
func recordAttempt(st *pgov1.PGTaskStatus, i int, res stepResult, err error, p retryPolicy, now time.Time) bool {
	s := &st.Steps[i]
	at := metav1.NewTime(now)
	s.RetryTime = nil
	switch {
	case err != nil && isPermanent(err):
		s.Phase, s.Message = pgov1.TaskFailed, err.Error()
	case err != nil:
		s.Attempts++
		retry := metav1.NewTime(now.Add(p.delay(s.Attempts)))
		s.Message, s.RetryTime = err.Error(), &retry
	case res.Done:
		s.Phase, s.CompletionTime, s.Message = pgov1.TaskSucceeded, &at, res.Message
		if i+1 < len(st.Steps) {
			st.Steps[i+1].Phase, st.Steps[i+1].StartTime = pgov1.TaskRunning, &at
		}
		st.Message = ""
		return true
	default:
		s.Message = res.Message
	}
	st.Message = s.Message
	return false
}

// endStatus ends a task: succeeded, or failed for reason with message (the
// running step fails with it).
func endStatus(st *pgov1.PGTaskStatus, generation int64, succeeded bool, reason, message string, now time.Time) {
	at := metav1.NewTime(now)
	st.CompletionTime, st.Message = &at, message
	cond := metav1.Condition{Type: pgov1.TaskConditionSucceeded, Status: metav1.ConditionTrue, Reason: "Succeeded",
		Message: "every step completed", ObservedGeneration: generation}
	st.Phase = pgov1.TaskSucceeded
	if !succeeded {
		st.Phase = pgov1.TaskFailed
		cond = metav1.Condition{Type: pgov1.TaskConditionFailed, Status: metav1.ConditionTrue, Reason: reason,
			Message: message, ObservedGeneration: generation}
		for i := range st.Steps {
			if s := &st.Steps[i]; s.Phase == pgov1.TaskRunning || s.Phase == pgov1.TaskFailed {
				s.Phase, s.CompletionTime, s.RetryTime = pgov1.TaskFailed, &at, nil
			}
		}
	}
	meta.SetStatusCondition(&st.Conditions, cond)
}

// tasksToPrune picks, of the ended tasks of one cluster and type, those
// beyond the newest keep.
func tasksToPrune(tasks []pgov1.PGTask, keep int) []pgov1.PGTask {
	var done []pgov1.PGTask
	for _, t := range tasks {
		if ended(&t) && t.DeletionTimestamp == nil {
			done = append(done, t)
		}
	}
	if len(done) <= keep {
		return nil
	}
	slices.SortFunc(done, func(a, b pgov1.PGTask) int {
		if inLineBefore(&a, &b) {
			return 1
		}
		if inLineBefore(&b, &a) {
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return done[keep:]
}
