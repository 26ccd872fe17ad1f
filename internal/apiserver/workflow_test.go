package apiserver

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
)

func TestWorkflowAdvances(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cluster := func(phase pgov1.PGClusterPhase, primary string, ready bool, replicas int32) *pgov1.PGCluster {
		c := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Generation: 3}}
		c.Status = pgov1.PGClusterStatus{Phase: phase, Primary: primary, Replicas: replicas, ObservedGeneration: 3}
		if primary != "" {
			c.Status.Instances = []pgov1.PGInstanceStatus{{Name: primary, Role: pgov1.RolePrimary, Ready: ready}}
			if ready {
				c.Status.ReadyInstances = 1 + replicas
			}
		}
		return c
	}
	phases := func(w pgoapi.Workflow) []string {
		var out []string
		for _, s := range w.Steps {
			out = append(out, s.Phase)
		}
		return append(out, w.Phase)
	}
	for _, tc := range []struct {
		name string
		op   string
		p    workflowParams
		obs  observation
		want []string
	}{
		{"create: nothing yet", opCreate, workflowParams{}, observation{Cluster: cluster(pgov1.PhaseCreating, "", false, 0)},
			[]string{"Succeeded", "Running", "Pending", "Running"}},
		{"create: primary ready", opCreate, workflowParams{}, observation{Cluster: cluster(pgov1.PhaseDegraded, "hippo-abcd", true, 0)},
			[]string{"Succeeded", "Succeeded", "Running", "Running"}},
		{"create: ready", opCreate, workflowParams{}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0)},
			[]string{"Succeeded", "Succeeded", "Succeeded", "Succeeded"}},
		{"create: failed", opCreate, workflowParams{}, observation{Cluster: cluster(pgov1.PhaseFailed, "", false, 0)},
			[]string{"Succeeded", "Failed", "Pending", "Failed"}},
		{"create: cluster gone", opCreate, workflowParams{}, observation{},
			[]string{"Succeeded", "Running", "Pending", "Running"}},
		{"scale: created, not ready", opScale, workflowParams{Replicas: 2}, observation{Cluster: func() *pgov1.PGCluster {
			c := cluster(pgov1.PhaseDegraded, "hippo-abcd", true, 2)
			c.Status.ReadyInstances = 2
			return c
		}()}, []string{"Succeeded", "Succeeded", "Running", "Running"}},
		{"scale: ready", opScale, workflowParams{Replicas: 2}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 2)},
			[]string{"Succeeded", "Succeeded", "Succeeded", "Succeeded"}},
		{"scaledown: replica still there", opScaledown, workflowParams{Replica: "hippo-wxyz"}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0), ReplicaExists: true},
			[]string{"Succeeded", "Running", "Running"}},
		{"scaledown: gone", opScaledown, workflowParams{Replica: "hippo-wxyz"}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0)},
			[]string{"Succeeded", "Succeeded", "Succeeded"}},
		{"update: older generation", opUpdate, workflowParams{Generation: 4}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0)},
			[]string{"Succeeded", "Running", "Running"}},
		{"update: rolled out", opUpdate, workflowParams{Generation: 3}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0)},
			[]string{"Succeeded", "Succeeded", "Succeeded"}},
		{"failover: same primary", opFailover, workflowParams{Primary: "hippo-abcd", Target: "hippo-wxyz"}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1)},
			[]string{"Succeeded", "Running", "Running"}},
		{"failover: new primary", opFailover, workflowParams{Primary: "hippo-abcd", Target: "hippo-wxyz"}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-wxyz", true, 1)},
			[]string{"Succeeded", "Succeeded", "Succeeded"}},
		{"failover without target: any other primary", opFailover, workflowParams{Primary: "hippo-abcd"}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-wxyz", true, 1)},
			[]string{"Succeeded", "Succeeded", "Succeeded"}},
		{"rolling: not yet", opRolling, workflowParams{}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1)},
			[]string{"Succeeded", "Running", "Running"}},
		{"rolling: done", opRolling, workflowParams{}, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1), RolledOut: true},
			[]string{"Succeeded", "Succeeded", "Succeeded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorkflow("id", "ns1", "hippo", tc.op, t0)
			advance(&w, tc.p, tc.obs, t0.Add(time.Minute))
			got := phases(w)
			if len(got) != len(tc.want) {
				t.Fatalf("phases %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("phases %v, want %v", got, tc.want)
				}
			}
			for i, s := range w.Steps {
				if s.Phase == pgoapi.WorkflowSucceeded && (s.StartTime == nil || s.CompletionTime == nil) {
					t.Errorf("step %s succeeded without times", s.Name)
				}
				if i > 0 && s.StartTime != nil && !s.StartTime.Equal(*w.Steps[i-1].CompletionTime) {
					t.Errorf("step %s started at %v, not when %s completed", s.Name, s.StartTime, w.Steps[i-1].Name)
				}
			}
			if w.Phase == pgoapi.WorkflowSucceeded && (w.CompletionTime == nil || !w.CompletionTime.Equal(t0.Add(time.Minute))) {
				t.Errorf("completion time %v", w.CompletionTime)
			}
		})
	}
}

func TestWorkflowDoesNotChangeWhenDone(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w := newWorkflow("id", "ns1", "hippo", opScaledown, t0)
	if !advance(&w, workflowParams{Replica: "x"}, observation{Cluster: &pgov1.PGCluster{}}, t0) {
		t.Fatal("first advance changed nothing")
	}
	if w.Phase != pgoapi.WorkflowSucceeded || advance(&w, workflowParams{}, observation{}, t0.Add(time.Hour)) {
		t.Errorf("a finished workflow changed: %+v", w)
	}
}
