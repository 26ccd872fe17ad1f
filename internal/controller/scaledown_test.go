package controller

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
)

func TestReplicasToRemove(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// p is a replica made minute minutes after the first, maybe marked for
	// removal.
	p := func(name string, minute int, marked bool) pgov1.PGReplica {
		r := pgov1.PGReplica{ObjectMeta: metav1.ObjectMeta{Name: name,
			CreationTimestamp: metav1.NewTime(start.Add(time.Duration(minute) * time.Minute))}}
		if marked {
			r.Annotations = map[string]string{naming.AnnotationRemove: "true"}
		}
		return r
	}
	// Two batches of replicas, listed alternately: enough of them that a
	// sort that does not keep ties in order would reorder them.
	var batches []pgov1.PGReplica
	var second []string
	for i := range 16 {
		name := fmt.Sprintf("r%02d", i)
		batches = append(batches, p(name, i%2, false))
		if i%2 == 1 {
			second = append(second, name)
		}
	}
	cases := []struct {
		name     string
		replicas []pgov1.PGReplica
		primary  string
		count    int
		want     []string
	}{
		{"nothing to remove", []pgov1.PGReplica{p("a", 0, false), p("b", 1, false)}, "", 0, nil},
		{"the newest first", []pgov1.PGReplica{p("a", 0, false), p("b", 2, false), p("c", 1, false)}, "", 2, []string{"b", "c"}},
		{"marked first, even the oldest", []pgov1.PGReplica{p("a", 0, true), p("b", 2, false), p("c", 1, false)}, "", 1, []string{"a"}},
		{"the marked newest first, then the others newest first", []pgov1.PGReplica{p("a", 0, true), p("b", 1, false), p("c", 2, false), p("d", 3, true)}, "", 3, []string{"d", "a", "c"}},
		{"the primary last, even the newest", []pgov1.PGReplica{p("a", 0, false), p("b", 1, false), p("c", 2, false)}, "c", 2, []string{"b", "a"}},
		{"the primary only when it is the last choice", []pgov1.PGReplica{p("a", 0, false), p("b", 1, false)}, "b", 2, []string{"a", "b"}},
		{"a marked primary after the other marked", []pgov1.PGReplica{p("a", 0, true), p("b", 1, true), p("c", 2, false)}, "b", 2, []string{"a", "b"}},
		{"a marked primary before the unmarked, as the user asked", []pgov1.PGReplica{p("a", 0, true), p("b", 1, false)}, "a", 1, []string{"a"}},
		{"a primary that is no PGReplica changes nothing", []pgov1.PGReplica{p("a", 0, false), p("b", 1, false)}, "hippo-0000", 1, []string{"b"}},
		{"count larger than the replicas: all of them, in order", []pgov1.PGReplica{p("a", 0, false), p("b", 1, true), p("c", 2, false)}, "c", 5, []string{"b", "a", "c"}},
		{"ties keep their order", []pgov1.PGReplica{p("c", 0, false), p("a", 0, false), p("b", 0, false)}, "", 2, []string{"c", "a"}},
		{"ties keep their order, however many", batches, "", 8, second},
		{"marked ties keep their order", []pgov1.PGReplica{p("a", 0, false), p("c", 1, true), p("b", 1, true)}, "", 2, []string{"c", "b"}},
	}
	for _, tc := range cases {
		var got []string
		for _, r := range replicasToRemove(tc.replicas, tc.primary, tc.count) {
			got = append(got, r.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
