package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/local/environment"
	"pgo.dev/pgo/internal/naming"
)

// BenchmarkSteadyState: what live idle clusters cost. It creates clusters
// with one replica (20, or PGO_BENCH_CLUSTERS), waits until all are Ready
// and settled (6 minutes), then leaves them idle (5 minutes, or PGO_BENCH_IDLE) and
// counts, from the API server's audit log, the writes of each cluster's
// instance managers per minute, and from the operator's metrics its
// reconciles per minute. The goal: per cluster 60/loop_wait lease
// renewals plus one heartbeat per member per ttl, and no reconcile.
// `make bench-steady` runs it once.
func BenchmarkSteadyState(b *testing.B) {
	if env == nil {
		b.Skip(skipReason)
	}
	clusters := envInt("PGO_BENCH_CLUSTERS", 20)
	idle := time.Duration(envInt("PGO_BENCH_IDLE", 300)) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	if err := env.WaitPGO(ctx, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	pgo := newPGO(b, ctx)
	const ns = "bench-steady"
	if _, err := pgo.try("create", "namespace", ns); err != nil && !strings.Contains(err.Error(), "exists") {
		b.Logf("create namespace: %v", err)
	}
	names := make([]string, clusters)
	for i := range names {
		names[i] = fmt.Sprintf("steady-%02d", i)
		pgo.run("create", "cluster", names[i], "-n", ns, "--replica-count=1")
	}
	b.Cleanup(func() {
		for _, name := range names {
			_, _ = pgo.try("delete", "cluster", name, "-n", ns, "--no-prompt")
		}
	})
	created := time.Now()
	for _, name := range names {
		c := &pgov1.PGCluster{}
		for {
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c); err == nil && c.Status.Phase == pgov1.PhaseReady && c.Status.ReadyInstances == 2 {
				break
			}
			if time.Since(created) > 15*time.Minute {
				b.Fatalf("cluster %s not Ready 15 minutes after its creation: %+v", name, c.Status)
			}
			time.Sleep(time.Second)
		}
	}
	b.Logf("%d clusters Ready %s after their creation", clusters, time.Since(created).Round(time.Second))
	// Let the first minutes' work end: users, slots, and the first
	// checkpoint after the bootstrap (checkpoint_timeout, 5 minutes),
	// whose WAL every member publishes. An idle cluster then writes no WAL.
	time.Sleep(6 * time.Minute)

	b.ResetTimer()
	start := time.Now()
	before, err := operatorReconciles(ctx)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(idle)
	end := time.Now()
	after, err := operatorReconciles(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()

	writes, err := auditedWrites(filepath.Join(stateDir, "logs", environment.AuditLog), start, end)
	if err != nil {
		b.Fatal(err)
	}
	minutes := end.Sub(start).Minutes()
	cfg := ha.DefaultConfig()
	loopWait, ttl := cfg.LoopWait.Seconds(), cfg.TTL.Seconds()
	goal := 60/loopWait + 2*60/ttl
	var perCluster []float64
	kinds := map[string]int{}
	for _, name := range names {
		user := "system:serviceaccount:" + ns + ":" + naming.InstanceServiceAccount(name)
		n := 0
		for _, w := range writes {
			if w.user == user {
				n++
				kinds[w.verb+" "+w.resource]++
			}
		}
		perCluster = append(perCluster, float64(n)/minutes)
	}
	slices.Sort(perCluster)
	operator := 0
	for _, w := range writes {
		if strings.Contains(w.user, "pgo-operator") {
			operator++
		}
	}
	reconciles := (after - before) / minutes

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\n%d idle clusters of 2 members, %.1f minutes (loop_wait %.0f s, ttl %.0f s)\t\n", clusters, minutes, loopWait, ttl)
	fmt.Fprintf(w, "API writes per cluster per minute: median\t %.2f\t\n", perCluster[len(perCluster)/2])
	fmt.Fprintf(w, "max\t %.2f\t\n", perCluster[len(perCluster)-1])
	fmt.Fprintf(w, "goal (60/loop_wait + 2 members × 60/ttl)\t %.2f\t\n", goal)
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		fmt.Fprintf(w, "  %s, per cluster per minute\t %.2f\t\n", k, float64(kinds[k])/float64(clusters)/minutes)
	}
	fmt.Fprintf(w, "operator writes per minute (all clusters, its own leader lease included)\t %.2f\t\n", float64(operator)/minutes)
	fmt.Fprintf(w, "operator reconciles per minute (goal 0)\t %.2f\t\n", reconciles)
	_ = w.Flush()
	b.ReportMetric(perCluster[len(perCluster)/2], "writes/cluster/min")
	b.ReportMetric(perCluster[len(perCluster)-1], "max-writes/cluster/min")
	b.ReportMetric(reconciles, "reconciles/min")
	b.ReportMetric(0, "ns/op")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type write struct{ user, verb, resource string }

// auditedWrites are the writes the API server's audit log records between
// from and to.
func auditedWrites(path string, from, to time.Time) ([]write, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []write
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var ev struct {
				Stage          string    `json:"stage"`
				Verb           string    `json:"verb"`
				StageTimestamp time.Time `json:"stageTimestamp"`
				User           struct {
					Username string `json:"username"`
				} `json:"user"`
				ObjectRef struct {
					Resource    string `json:"resource"`
					Subresource string `json:"subresource"`
				} `json:"objectRef"`
			}
			if json.Unmarshal(line, &ev) == nil && ev.Stage == "ResponseComplete" && !ev.StageTimestamp.Before(from) && ev.StageTimestamp.Before(to) {
				resource := ev.ObjectRef.Resource
				if ev.ObjectRef.Subresource != "" {
					resource += "/" + ev.ObjectRef.Subresource
				}
				out = append(out, write{ev.User.Username, ev.Verb, resource})
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// operatorReconciles is the number of reconciles of PGClusters the
// operator made so far, from its metrics.
func operatorReconciles(ctx context.Context) (float64, error) {
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace("pgo"), client.MatchingLabels{"app.kubernetes.io/component": "operator"}); err != nil {
		return 0, err
	}
	total := 0.0
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + p.Status.PodIP + ":8080/metrics")
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "controller_runtime_reconcile_total{") && strings.Contains(line, `controller="pgcluster"`) {
				fields := strings.Fields(line)
				v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
				total += v
			}
		}
	}
	return total, nil
}
