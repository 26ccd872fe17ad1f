package controller_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	pgov1 "pgo.dev/pgo/api/v1"
)

// reconcileCount is how many reconciles the PGCluster controller ran, from
// controller-runtime's metrics.
func reconcileCount(tb testing.TB) float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "pgcluster" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// BenchmarkReconcile500Clusters creates 500 PGClusters (a primary and a
// replica each) in a real API server and reports how long the controller
// takes to reconcile them all to a steady state, its peak heap, and how
// many reconciles it runs per minute once nothing changes.
func BenchmarkReconcile500Clusters(b *testing.B) {
	clusters := benchClusters()
	for range b.N {
		e := start(b)
		ctx := context.Background()
		e.namespace("bench")

		var peak uint64
		var mu sync.Mutex
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peak = max(peak, ms.HeapInuse)
				mu.Unlock()
			}
		}()

		begin := time.Now()
		for i := range clusters {
			c := &pgov1.PGCluster{
				ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("db%03d", i)},
				Spec:       pgov1.PGClusterSpec{Replicas: 1, PrimaryStorage: pgov1.PGStorage{Size: resource.MustParse("1Gi")}},
			}
			if err := e.c.Create(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		created := time.Since(begin)

		// Steady: every cluster has its two StatefulSets and a status for its
		// generation, and the controller stopped writing.
		e.pollWithin("every cluster reconciled", 20*time.Minute, 2*time.Second, func() error {
			var list metav1.PartialObjectMetadataList
			list.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("StatefulSetList"))
			if err := e.c.List(ctx, &list, client.InNamespace("bench")); err != nil {
				return err
			}
			var cl pgov1.PGClusterList
			if err := e.c.List(ctx, &cl, client.InNamespace("bench")); err != nil {
				return err
			}
			var behind []string
			for _, c := range cl.Items {
				if c.Status.ObservedGeneration != c.Generation || c.Status.Phase == "" {
					behind = append(behind, c.Name)
				}
			}
			if len(behind) > 0 {
				var reps pgov1.PGReplicaList
				_ = e.c.List(ctx, &reps, client.InNamespace("bench"))
				return fmt.Errorf("%d clusters have no status for their generation, such as %v; %d PGReplicas; reconciles %v", len(behind), behind[:min(3, len(behind))], len(reps.Items), reconcileResults(b))
			}
			if len(list.Items) != 2*clusters {
				return fmt.Errorf("%d of %d StatefulSets", len(list.Items), 2*clusters)
			}
			return nil
		})
		for last := e.counter.writes.Load(); ; {
			time.Sleep(5 * time.Second)
			if now := e.counter.writes.Load(); now == last {
				break
			} else {
				last = now
			}
		}
		steady := time.Since(begin) - 5*time.Second

		before := reconcileCount(b)
		window := 60 * time.Second
		time.Sleep(window)
		perMinute := (reconcileCount(b) - before) * float64(time.Minute) / float64(window)
		close(stop)

		mu.Lock()
		b.ReportMetric(steady.Seconds(), "s-to-steady")
		b.ReportMetric(created.Seconds(), "s-to-create")
		b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-heap")
		b.ReportMetric(perMinute, "reconciles/min-steady")
		b.ReportMetric(float64(e.counter.writes.Load())/float64(clusters), "writes/cluster")
		mu.Unlock()
	}
}

// benchClusters is 500, or PGO_BENCH_CLUSTERS for a quicker look.
func benchClusters() int {
	if n, err := strconv.Atoi(os.Getenv("PGO_BENCH_CLUSTERS")); err == nil && n > 0 {
		return n
	}
	return 500
}

func reconcileResults(tb testing.TB) map[string]float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			var controller, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "controller":
					controller = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			if controller == "pgcluster" {
				out[result] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}
