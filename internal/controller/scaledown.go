package controller

import (
	"cmp"
	"slices"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
)

// replicasToRemove chooses the count PGReplicas that scaling down removes,
// of a cluster whose leader lock primary holds. Those marked for removal go
// first, as the user asked; among the marked, and among the others, the
// primary goes last, as its removal costs a switchover; and then the newest
// goes first, as the oldest replicas have long been in step. Replicas made
// at the same time keep their order.
func replicasToRemove(replicas []pgov1.PGReplica, primary string, count int) []pgov1.PGReplica {
	rank := func(p pgov1.PGReplica) int {
		r := 0
		if p.Annotations[naming.AnnotationRemove] != "true" {
			r += 2
		}
		if p.Name == primary {
			r++
		}
		return r
	}
	order := slices.Clone(replicas)
	slices.SortStableFunc(order, func(a, b pgov1.PGReplica) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), b.CreationTimestamp.Compare(a.CreationTimestamp.Time))
	})
	return order[:min(max(count, 0), len(order))]
}
