package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
)

// createPhases are the steps from `pgo create cluster NAME
// --replica-count=1` to a cluster a user can use, in the order they are
// reached.
var createPhases = []string{
	"objects created", // both instances' StatefulSets exist
	"pods scheduled",  // both pods are bound to nodes
	"init done",       // both pods' init containers finished
	"initdb",          // the cluster is initialized (its system identifier recorded)
	"primary writes",  // the primary's PostgreSQL takes a write (on its pod IP)
	"replica streams", // the primary's pg_stat_replication has the replica streaming
	"ready",           // both pods Ready, the replica streaming, `pgo test` all UP
}

// BenchmarkCreateCluster creates a cluster with one replica through pgo, as
// a user does (`pgo create cluster NAME --replica-count=1`, no --wait),
// b.N times one after the other in the local environment, and prints the
// median and the maximum time from the command to each phase (see
// createPhases). `make bench-create` runs it 10 times.
func BenchmarkCreateCluster(b *testing.B) {
	if env == nil {
		b.Skip(skipReason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := env.WaitPGO(ctx, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	pgo := newPGO(b, ctx)
	const ns = "bench-create"
	if _, err := pgo.try("create", "namespace", ns); err != nil && !strings.Contains(err.Error(), "exists") {
		b.Logf("create namespace: %v", err)
	}
	samples := map[string][]time.Duration{}
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("bench%d-%d", b.N, i)
		start := time.Now()
		pgo.run("create", "cluster", name, "-n", ns, "--replica-count=1")
		reached, err := watchCreation(ctx, pgo, ns, name, start)
		if err != nil {
			b.Fatalf("cluster %s: %v\n%s", name, err, instanceLogs(&pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, 30))
		}
		for _, p := range createPhases {
			samples[p] = append(samples[p], reached[p])
		}
		b.StopTimer()
		pgo.run("delete", "cluster", name, "-n", ns, "--no-prompt")
		if err := waitGone(ctx, ns, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\n%d clusters with one replica: time from `pgo create cluster` to\t median\t max\t\n", b.N)
	for _, p := range createPhases {
		med, top := medianMax(samples[p])
		fmt.Fprintf(w, "%s\t %.1fs\t %.1fs\t\n", p, med.Seconds(), top.Seconds())
	}
	_ = w.Flush()
	med, top := medianMax(samples["ready"])
	b.ReportMetric(med.Seconds(), "s-median-ready")
	b.ReportMetric(top.Seconds(), "s-max-ready")
	b.ReportMetric(0, "ns/op")
}

func medianMax(d []time.Duration) (time.Duration, time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

// watchCreation polls the cluster every 100 ms and returns when each phase
// was first seen, counted from start.
func watchCreation(ctx context.Context, pgo *pgoCLI, namespace, name string, start time.Time) (map[string]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	reached := map[string]time.Duration{}
	mark := func(phase string, ok bool) {
		if _, done := reached[phase]; ok && !done {
			reached[phase] = time.Since(start)
		}
	}
	superuser := ""
	for {
		var sets appsv1.StatefulSetList
		if err := env.Client.List(ctx, &sets, client.InNamespace(namespace), client.MatchingLabels{naming.LabelCluster: name}); err == nil {
			mark("objects created", len(sets.Items) == 2)
		}
		var pods corev1.PodList
		_ = env.Client.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{naming.LabelCluster: name}, client.HasLabels{naming.LabelInstance})
		scheduled, initialized := len(pods.Items) == 2, len(pods.Items) == 2
		var primary, replica *corev1.Pod
		for i, p := range pods.Items {
			scheduled = scheduled && p.Spec.NodeName != ""
			initialized = initialized && condition(&p, corev1.PodInitialized)
			switch p.Labels[naming.LabelRole] {
			case naming.RolePrimary:
				primary = &pods.Items[i]
			case naming.RoleReplica:
				replica = &pods.Items[i]
			}
		}
		mark("pods scheduled", scheduled)
		mark("init done", initialized)
		var cm corev1.ConfigMap
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: naming.ConfigMap(name)}, &cm); err == nil {
			mark("initdb", cm.Data[naming.KeyInitialize] != "")
		}
		if superuser == "" {
			var s corev1.Secret
			if err := env.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: naming.SuperuserSecret(name)}, &s); err == nil {
				superuser = string(s.Data[naming.KeyPassword])
			}
		}
		streaming := false
		if primary != nil && primary.Status.PodIP != "" && superuser != "" {
			u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", superuser),
				Host: net.JoinHostPort(primary.Status.PodIP, "5432"), Path: "/postgres", RawQuery: "sslmode=require&connect_timeout=1"}
			if _, done := reached["primary writes"]; !done {
				mark("primary writes", execSQL(ctx, u.String(), "CREATE TEMPORARY TABLE t (i int); INSERT INTO t VALUES (1)") == nil)
			}
			if replica != nil {
				n, err := queryInt(ctx, u.String(), fmt.Sprintf("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND application_name = '%s'", replica.Name))
				streaming = err == nil && n == 1
				mark("replica streams", streaming)
			}
		}
		if streaming && len(pods.Items) == 2 && allReady(pods.Items) {
			if out, err := pgo.try("test", name, "-n", namespace); err == nil && strings.Contains(out, "UP") && !strings.Contains(out, "DOWN") {
				mark("ready", true)
				return reached, nil
			}
		}
		select {
		case <-ctx.Done():
			return reached, fmt.Errorf("not ready after 3 minutes (phases reached: %v)\n%s", reached, describePods(pods.Items))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func condition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitGone waits until a deleted cluster's pods and volumes are gone.
func waitGone(ctx context.Context, namespace, name string) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var pods corev1.PodList
		var pvcs corev1.PersistentVolumeClaimList
		sel := client.MatchingLabels{naming.LabelCluster: name}
		if err := env.Client.List(ctx, &pods, client.InNamespace(namespace), sel); err != nil {
			return err
		}
		if err := env.Client.List(ctx, &pvcs, client.InNamespace(namespace), sel); err != nil {
			return err
		}
		if len(pods.Items) == 0 && len(pvcs.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster %s: %d pods and %d volumes left 3 minutes after its deletion", name, len(pods.Items), len(pvcs.Items))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
