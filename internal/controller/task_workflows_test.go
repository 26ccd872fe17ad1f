package controller

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	pgov1 "pgo.dev/pgo/api/v1"
)

// TestStepChecks: what the steps that follow a cluster wait for (as the
// apiserver's workflows did before they moved onto PGTasks).
func TestStepChecks(t *testing.T) {
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
	task := func(typ pgov1.TaskType, change func(*pgov1.PGTask)) *pgov1.PGTask {
		t := &pgov1.PGTask{Spec: pgov1.PGTaskSpec{ClusterName: "hippo", Type: typ}}
		if change != nil {
			change(t)
		}
		return t
	}
	scale := task(pgov1.TaskScale, func(t *pgov1.PGTask) { t.Spec.Scale = &pgov1.PGScaleParameters{Replicas: 2} })
	scaledown := task(pgov1.TaskScaledown, func(t *pgov1.PGTask) { t.Spec.Scaledown = &pgov1.PGScaledownParameters{Replica: "hippo-wxyz"} })
	update := func(gen int64) *pgov1.PGTask {
		return task(pgov1.TaskUpdateCluster, func(t *pgov1.PGTask) { t.Spec.UpdateCluster = &pgov1.PGUpdateClusterParameters{Generation: gen} })
	}
	failover := task(pgov1.TaskFailover, func(t *pgov1.PGTask) {
		t.Spec.Failover = &pgov1.PGSwitchoverParameters{Candidate: "hippo-wxyz"}
		t.Status.FormerPrimary = "hippo-abcd"
	})
	switchover := task(pgov1.TaskSwitchover, func(t *pgov1.PGTask) { t.Status.FormerPrimary = "hippo-abcd" })
	restart := task(pgov1.TaskRestart, nil)
	create := task(pgov1.TaskCreateCluster, nil)
	shutdown := cluster(pgov1.PhaseShutdown, "", false, 0)
	shutdown.Spec.Shutdown = true

	cases := []struct {
		name  string
		check clusterCheck
		o     observation
		want  bool
	}{
		{"create: no primary yet", primaryUp, observation{Cluster: cluster(pgov1.PhaseCreating, "", false, 0), Task: create}, false},
		{"create: the primary is not ready", primaryUp, observation{Cluster: cluster(pgov1.PhaseCreating, "hippo-abcd", false, 0), Task: create}, false},
		{"create: the primary is ready", primaryUp, observation{Cluster: cluster(pgov1.PhaseDegraded, "hippo-abcd", true, 0), Task: create}, true},
		{"create: degraded is not ready", clusterUp, observation{Cluster: cluster(pgov1.PhaseDegraded, "hippo-abcd", true, 0), Task: create}, false},
		{"create: ready", clusterUp, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0), Task: create}, true},
		{"scale: too few replicas", replicasCreated, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1), Task: scale}, false},
		{"scale: created", replicasCreated, observation{Cluster: cluster(pgov1.PhaseDegraded, "hippo-abcd", true, 2), Task: scale}, true},
		{"scale: created, not ready", replicasUp, observation{Cluster: func() *pgov1.PGCluster {
			c := cluster(pgov1.PhaseDegraded, "hippo-abcd", true, 2)
			c.Status.ReadyInstances = 2
			return c
		}(), Task: scale}, false},
		{"scale: ready", replicasUp, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 2), Task: scale}, true},
		{"scale: ready without a ready primary", replicasUp, observation{Cluster: func() *pgov1.PGCluster {
			c := cluster(pgov1.PhaseDegraded, "hippo-abcd", false, 2)
			c.Status.ReadyInstances = 3
			return c
		}(), Task: scale}, false},
		{"scaledown: the PGReplica is still there", replicaRemoved, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0), Task: scaledown, ReplicaExists: true}, false},
		{"scaledown: the status still lists it", replicaRemoved, observation{Cluster: func() *pgov1.PGCluster {
			c := cluster(pgov1.PhaseReady, "hippo-abcd", true, 0)
			c.Status.Instances = append(c.Status.Instances, pgov1.PGInstanceStatus{Name: "hippo-wxyz"})
			return c
		}(), Task: scaledown}, false},
		{"scaledown: gone", replicaRemoved, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0), Task: scaledown}, true},
		{"update: an older generation", updateRolledOut, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0), Task: update(4)}, false},
		{"update: observed, still rolling", updateRolledOut, observation{Cluster: cluster(pgov1.PhaseUpdating, "hippo-abcd", true, 0), Task: update(3)}, false},
		{"update: rolled out", updateRolledOut, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 0), Task: update(3)}, true},
		{"update: shut down as asked", updateRolledOut, observation{Cluster: shutdown, Task: update(3)}, true},
		{"failover: the same primary", newPrimaryElected, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1), Task: failover}, false},
		{"failover: the candidate, not ready yet", newPrimaryElected, observation{Cluster: cluster(pgov1.PhaseDegraded, "hippo-wxyz", false, 1), Task: failover}, false},
		{"failover: the candidate leads", newPrimaryElected, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-wxyz", true, 1), Task: failover}, true},
		{"failover: another replica leads", newPrimaryElected, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-efgh", true, 1), Task: failover}, false},
		{"switchover without a candidate: any other primary", newPrimaryElected, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-wxyz", true, 1), Task: switchover}, true},
		{"switchover without a candidate: the same primary", newPrimaryElected, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1), Task: switchover}, false},
		{"rolling restart: not yet", podsRestarted, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1), Task: restart}, false},
		{"rolling restart: rolled out, the cluster not ready", podsRestarted, observation{Cluster: cluster(pgov1.PhaseUpdating, "hippo-abcd", true, 1), Task: restart, RolledOut: true}, false},
		{"rolling restart: done", podsRestarted, observation{Cluster: cluster(pgov1.PhaseReady, "hippo-abcd", true, 1), Task: restart, RolledOut: true}, true},
	}
	for _, tc := range cases {
		got, waiting := tc.check(tc.o)
		if got != tc.want {
			t.Errorf("%s: got %v (%s), want %v", tc.name, got, waiting, tc.want)
		}
		if !got && waiting == "" {
			t.Errorf("%s: no word on what the step waits for", tc.name)
		}
	}
}

// TestFailedClusterFailsTheStep: a step that follows a cluster fails the
// task at once when the cluster failed, with the cluster's reason.
func TestFailedClusterFailsTheStep(t *testing.T) {
	c := &pgov1.PGCluster{Status: pgov1.PGClusterStatus{Phase: pgov1.PhaseFailed, Conditions: []metav1.Condition{
		{Type: pgov1.ClusterReady, Status: metav1.ConditionFalse, Reason: "Refused", Message: "PostgreSQL 12 is not available"},
	}}}
	run := waitFor(primaryUp, nil)
	_, err := run(context.Background(), &taskContext{cluster: c, task: &pgov1.PGTask{}})
	if err == nil || !isPermanent(err) || err.Error() != "the cluster failed: PostgreSQL 12 is not available" {
		t.Errorf("got %v", err)
	}
}

// TestWorkflowsMatchTheCRD: the CEL rule on PGTaskSpec accepts exactly the
// types that have a workflow, and the enum holds them all.
func TestWorkflowsMatchTheCRD(t *testing.T) {
	raw, err := os.ReadFile("../../config/crd/bases/pgo.dev_pgtasks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Type struct {
										Enum []string `json:"enum"`
									} `json:"type"`
								} `json:"properties"`
								Rules []struct {
									Rule string `json:"rule"`
								} `json:"x-kubernetes-validations"`
							} `json:"spec"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec
	available := regexp.MustCompile(`^self\.type in \[(.*)\]$`)
	var accepted []string
	for _, r := range spec.Rules {
		if m := available.FindStringSubmatch(r.Rule); m != nil {
			for _, q := range strings.Split(m[1], ",") {
				accepted = append(accepted, strings.Trim(strings.TrimSpace(q), "'"))
			}
		}
	}
	var registered []string
	for typ := range workflows {
		registered = append(registered, string(typ))
		if !slices.Contains(spec.Properties.Type.Enum, string(typ)) {
			t.Errorf("type %s has a workflow but is not in the enum", typ)
		}
	}
	slices.Sort(accepted)
	slices.Sort(registered)
	if !slices.Equal(accepted, registered) {
		t.Errorf("the CRD accepts the types %v; the workflows are of %v", accepted, registered)
	}
}
