package ha

import (
	"cmp"
	"slices"
)

// synchronousActions keeps synchronous replication and the sync state in the
// DCS in step, in an order that never lets the DCS name a member as
// synchronous standby before it holds every acknowledged commit:
//
//  1. the DCS keeps only recorded standbys that PostgreSQL still confirms;
//  2. synchronous_standby_names is set to the chosen standby;
//  3. once PostgreSQL confirms it (synchronous, and flushed up to where the
//     primary's WAL was when it was chosen), the DCS records it.
//
// Only recorded standbys may be promoted, so a failover never loses an
// acknowledged commit.
func synchronousActions(o Observed) []Action {
	c, pg := o.Cluster, o.Postgres
	if !c.Config.SynchronousMode {
		var actions []Action
		if len(pg.SynchronousStandbyNames) > 0 {
			actions = append(actions, actMembers(SetSynchronousStandbys, nil))
		}
		if c.Sync.Present && (c.Sync.Leader != o.Name || len(c.Sync.Standbys) > 0) {
			actions = append(actions, act(ClearSync))
		}
		return actions
	}

	var recorded []string
	if c.Sync.Leader == o.Name {
		recorded = c.Sync.Standbys
	}
	var confirmed, candidates []Replication
	for _, r := range pg.Replicas {
		if r.SyncConfirmed {
			confirmed = append(confirmed, r)
		}
		if r.Streaming && !o.Cluster.Members[r.Name].Tags.NoSync {
			if _, known := o.Cluster.Members[r.Name]; known {
				candidates = append(candidates, r)
			}
		}
	}
	confirmedNames := replicationNames(confirmed)

	// The chosen standby: the recorded one while it can serve, else the one
	// already chosen, else the one furthest ahead; "*" (any) in strict mode
	// when none can.
	var picked []string
	for _, keep := range [][]string{recorded, pg.SynchronousStandbyNames} {
		for _, r := range candidates {
			if picked == nil && slices.Contains(keep, r.Name) {
				picked = []string{r.Name}
			}
		}
	}
	if picked == nil && len(candidates) > 0 {
		best := slices.MaxFunc(candidates, func(a, b Replication) int {
			return cmp.Or(cmp.Compare(a.Flush, b.Flush), cmp.Compare(b.Name, a.Name))
		})
		picked = []string{best.Name}
	}
	if picked == nil && c.Config.SynchronousStrict {
		picked = []string{"*"}
	}
	target := picked
	if slices.Equal(picked, []string{"*"}) {
		target = confirmedNames
	}

	var actions []Action
	common := intersect(recorded, confirmedNames)
	if !c.Sync.Present || c.Sync.Leader != o.Name || !sameSet(c.Sync.Standbys, common) {
		actions = append(actions, actMembers(WriteSync, common))
	}
	switch {
	case !sameSet(pg.SynchronousStandbyNames, picked):
		actions = append(actions, actMembers(SetSynchronousStandbys, picked))
	case len(target) > 0 && isSubset(target, confirmedNames) && !sameSet(common, target):
		actions = append(actions, actMembers(WriteSync, target))
	}
	return actions
}

func replicationNames(rs []Replication) []string {
	names := []string{}
	for _, r := range rs {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

func isSubset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && isSubset(a, b) && isSubset(b, a)
}
