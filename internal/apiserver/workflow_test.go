package apiserver

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// TestWorkflowOfTask: ShowWorkflow's answer is the task's status, as `pgo
// show workflow` prints it: the operation as pgo names it, submitted when
// the task was created, each step with its times.
func TestWorkflowOfTask(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { m := metav1.NewTime(t0.Add(d)); return &m }
	task := &pgov1.PGTask{
		ObjectMeta: metav1.ObjectMeta{Name: "hippo-createcluster-6f1c2d3e", Namespace: "ns1", CreationTimestamp: *at(0)},
		Spec:       pgov1.PGTaskSpec{ClusterName: "hippo", Type: pgov1.TaskCreateCluster},
	}
	w := workflowOf(task, "6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5")
	if raw, _ := json.Marshal(w); string(raw) != `{"id":"6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5","namespace":"ns1","cluster":"hippo","operation":"create cluster","phase":"Pending","startTime":"2026-12-01T10:00:00Z","steps":[]}` {
		t.Errorf("a task not taken up yet: %s", raw)
	}

	task.Status = pgov1.PGTaskStatus{Phase: pgov1.TaskSucceeded, StartTime: at(time.Second), CompletionTime: at(72 * time.Second), Steps: []pgov1.PGTaskStep{
		{Name: "cluster requested", Phase: pgov1.TaskSucceeded, StartTime: at(time.Second), CompletionTime: at(time.Second)},
		{Name: "primary ready", Phase: pgov1.TaskSucceeded, StartTime: at(time.Second), CompletionTime: at(40 * time.Second)},
		{Name: "cluster ready", Phase: pgov1.TaskSucceeded, StartTime: at(40 * time.Second), CompletionTime: at(72 * time.Second), Message: "done"},
	}}
	w = workflowOf(task, "6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5")
	if w.Phase != pgoapi.WorkflowSucceeded || !w.StartTime.Equal(t0) || !w.CompletionTime.Equal(t0.Add(72*time.Second)) || len(w.Steps) != 3 ||
		!w.Steps[1].StartTime.Equal(t0.Add(time.Second)) || !w.Steps[1].CompletionTime.Equal(t0.Add(40*time.Second)) || w.Steps[2].Message != "done" {
		t.Errorf("an ended task: %+v", w)
	}

	for typ, op := range map[pgov1.TaskType]string{
		pgov1.TaskCreateCluster: "create cluster", pgov1.TaskScale: "scale", pgov1.TaskScaledown: "scaledown",
		pgov1.TaskUpdateCluster: "update cluster", pgov1.TaskSwitchover: "failover", pgov1.TaskFailover: "failover",
		pgov1.TaskRestart: "rolling restart", pgov1.TaskBackup: "backup",
	} {
		if got := typ.Operation(); got != op {
			t.Errorf("the operation of a %s task: %q, want %q", typ, got, op)
		}
	}
}

// TestTaskNames: a task's name fits its limit whatever the cluster's name.
func TestTaskNames(t *testing.T) {
	id := "6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5"
	longest := "a23456789012345678901234567890123456789z"
	for _, typ := range []pgov1.TaskType{pgov1.TaskCreateCluster, pgov1.TaskUpdateCluster, pgov1.TaskScaledown, pgov1.TaskSwitchover} {
		name := taskName(longest, typ, id)
		if len(name) > 63 || rules.ClusterName(longest) != "" {
			t.Errorf("%s: %d characters", name, len(name))
		}
	}
	if got := taskName("hippo", pgov1.TaskCreateCluster, id); got != "hippo-createcluster-6f1c2d3e" {
		t.Errorf("name %s", got)
	}
}
