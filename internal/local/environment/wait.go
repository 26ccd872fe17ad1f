package environment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/local/node"
)

// waitReport is how often a step that waits says what it waits for.
var waitReport = 10 * time.Second

// pollTimeout bounds each look at what a step waits for.
const pollTimeout = 5 * time.Second

// step runs one start-up step with a progress line. While the step waits,
// waitFor prints what is missing under it; the step's result then goes on
// a line of its own.
func (e *Env) step(n, total int, what string, fn func() error) error {
	start := time.Now()
	line := fmt.Sprintf("[%d/%d] %s", n, total, what)
	e.out.Lock()
	e.printLocked("%s ...", line)
	e.lineOpen = true
	e.out.Unlock()
	err := fn()
	e.out.Lock()
	defer e.out.Unlock()
	if !e.lineOpen {
		e.printLocked("%s", line)
	}
	e.lineOpen = false
	if err != nil {
		e.printLocked(" failed after %s\n", time.Since(start).Round(100*time.Millisecond))
		return fmt.Errorf("%s: %w", what, err)
	}
	e.printLocked(" ok (%.1fs)\n", time.Since(start).Seconds())
	return nil
}

// waiting prints a line about what a step waits for.
func (e *Env) waiting(format string, args ...any) {
	e.out.Lock()
	defer e.out.Unlock()
	if e.lineOpen {
		e.printLocked("\n")
		e.lineOpen = false
	}
	e.printLocked("      "+format+"\n", args...)
}

// waitFor polls cond every 200ms until it returns true, or timeout passes.
// cond's error says what is still missing: every waitReport it is printed
// ("waiting for what: …"), and past the deadline it is the error returned.
// Each poll has a deadline of its own, not the step's: near the step's end a
// client refuses requests that would outlast their context, and that
// refusal must not replace what was missing.
func (e *Env) waitFor(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	start := time.Now()
	step, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	report := time.NewTicker(waitReport)
	defer report.Stop()
	var missing error
	for {
		poll, cancelPoll := context.WithTimeout(ctx, pollTimeout)
		ok, err := cond(poll)
		cancelPoll()
		if ok {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			missing = err
		}
		select {
		case <-step.Done():
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
			if missing == nil {
				missing = step.Err()
			}
			return fmt.Errorf("waited %s for %s: %w", time.Since(start).Round(time.Second), what, missing)
		case <-report.C:
			if missing == nil {
				missing = errors.New("no answer yet")
			}
			e.waiting("waiting for %s (%s): %v", what, time.Since(start).Round(time.Second), missing)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// podProblem says why the pods with these labels are not ready: a pod that
// is not scheduled, a container waiting (and why), running but not ready
// (with its last probe failure), or that exited; each with the path of the
// container's log.
func (e *Env) podProblem(ctx context.Context, namespace string, labels map[string]string) error {
	var pods corev1.PodList
	if err := e.Client.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels(labels)); err != nil {
		return err
	}
	if len(pods.Items) == 0 {
		return errors.New("no pod yet")
	}
	sort.Slice(pods.Items, func(i, j int) bool {
		return pods.Items[i].CreationTimestamp.After(pods.Items[j].CreationTimestamp.Time)
	})
	var problems []string
	for i := range pods.Items {
		if p := e.whyNotReady(ctx, &pods.Items[i]); p != "" {
			problems = append(problems, fmt.Sprintf("pod %s: %s", pods.Items[i].Name, p))
		}
	}
	if len(problems) == 0 {
		return errors.New("its pods are ready; waiting for the Deployment to count them available")
	}
	return errors.New(strings.Join(problems, "; "))
}

// whyNotReady describes what keeps one pod from being ready, or "".
func (e *Env) whyNotReady(ctx context.Context, pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return "being deleted"
	}
	if pod.Spec.NodeName == "" {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Message != "" {
				return "not scheduled: " + c.Message
			}
		}
		return "not scheduled yet"
	}
	var out []string
	for _, cs := range pod.Status.InitContainerStatuses {
		if cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0 {
			continue
		}
		out = append(out, e.containerProblem(ctx, pod, cs, true))
	}
	if len(out) == 0 {
		for _, cs := range pod.Status.ContainerStatuses {
			if !cs.Ready {
				out = append(out, e.containerProblem(ctx, pod, cs, false))
			}
		}
	}
	if len(out) == 0 && len(pod.Status.ContainerStatuses) == 0 {
		return "on node " + pod.Spec.NodeName + ", no container started yet"
	}
	return strings.Join(out, "; ")
}

func (e *Env) containerProblem(ctx context.Context, pod *corev1.Pod, cs corev1.ContainerStatus, isInit bool) string {
	kind := "container"
	if isInit {
		kind = "init container"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s ", kind, cs.Name)
	switch st := cs.State; {
	case st.Waiting != nil:
		fmt.Fprintf(&b, "is waiting (%s)", st.Waiting.Reason)
		if st.Waiting.Message != "" {
			fmt.Fprintf(&b, ": %s", st.Waiting.Message)
		}
	case st.Running != nil && !isInit:
		b.WriteString("is running but not ready")
		if failure := e.lastEvent(ctx, pod, cs.Name, "Unhealthy"); failure != "" {
			fmt.Fprintf(&b, " (%s)", failure)
		}
	case st.Running != nil:
		b.WriteString("is running")
	case st.Terminated != nil:
		fmt.Fprintf(&b, "exited with code %d", st.Terminated.ExitCode)
	}
	if t := cs.LastTerminationState.Terminated; t != nil {
		fmt.Fprintf(&b, ", last exit code %d after %d restarts", t.ExitCode, cs.RestartCount)
	}
	if path := e.containerLog(pod, cs); path != "" {
		fmt.Fprintf(&b, "; log: %s", path)
	}
	return b.String()
}

// lastEvent is the message of the latest Event of reason about a container
// of pod, as its node recorded it, or "".
func (e *Env) lastEvent(ctx context.Context, pod *corev1.Pod, container, reason string) string {
	var events corev1.EventList
	sel := fields.Set{"involvedObject.uid": string(pod.UID), "reason": reason}.AsSelector()
	if err := e.Client.List(ctx, &events, client.InNamespace(pod.Namespace), client.MatchingFieldsSelector{Selector: sel}); err != nil {
		return ""
	}
	var last *corev1.Event
	for i, ev := range events.Items {
		if ev.InvolvedObject.FieldPath != "spec.containers{"+container+"}" {
			continue
		}
		if last == nil || eventTime(&ev).After(eventTime(last)) {
			last = &events.Items[i]
		}
	}
	if last == nil {
		return ""
	}
	return last.Message
}

func eventTime(ev *corev1.Event) time.Time {
	if !ev.LastTimestamp.IsZero() {
		return ev.LastTimestamp.Time
	}
	return ev.EventTime.Time
}

// containerLog is the path of a container's current log, relative to the
// working directory when under it, or "" when it is not on a local node.
func (e *Env) containerLog(pod *corev1.Pod, cs corev1.ContainerStatus) string {
	for _, cfg := range e.nodeConfigs {
		if cfg.Name != pod.Spec.NodeName {
			continue
		}
		path := node.ContainerLogPath(cfg.StateDir, pod, cs.Name, cs.RestartCount)
		if _, err := os.Stat(path); err != nil && cs.RestartCount > 0 {
			path = node.ContainerLogPath(cfg.StateDir, pod, cs.Name, cs.RestartCount-1)
		}
		return relative(path)
	}
	return ""
}

// relative is path relative to the working directory when it is under it.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
