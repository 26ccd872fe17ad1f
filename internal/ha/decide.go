package ha

import (
	"fmt"
	"slices"
	"time"
)

// NeedPeers reports whether the loop must ask the other members for their
// live status before deciding: when the lock is free or expired (an
// election), or when the leader has a switchover to carry out.
func NeedPeers(o Observed) bool {
	c := o.Cluster
	if !o.DCSReachable || !c.Initialized {
		return false
	}
	if !c.Lock.HeldAt(o.Now) {
		return true
	}
	return c.Lock.Holder == o.Name && c.Failover.Present
}

// Decide is one run of the HA loop: what this member does now.
func Decide(o Observed) Decision {
	c, pg := o.Cluster, o.Postgres
	switch {
	case !o.DCSReachable:
		return decideWithoutDCS(o)
	case !c.Initialized:
		return decideUninitialized(o)
	case pg.DataDir == DataEmpty:
		return decideEmptyDataDir(o)
	case c.SystemID != 0 && pg.SystemID != 0 && c.SystemID != pg.SystemID:
		return Decision{Message: fmt.Sprintf("not starting: the data directory belongs to another cluster (system identifier %d, the cluster's is %d)", pg.SystemID, c.SystemID)}
	case c.Lock.HeldAt(o.Now) && c.Lock.Holder == o.Name:
		return decideLeader(o)
	case c.Lock.HeldAt(o.Now):
		return decideFollower(o, c.Lock.Holder)
	default:
		return decideLeaderless(o)
	}
}

// decideWithoutDCS: a primary that cannot reach the DCS cannot know whether
// it still holds the lock, so it stops accepting writes. The loop reports the
// DCS unreachable only after retrying for retry_timeout, and the lock lasts
// loop_wait + 2*retry_timeout at least, so the primary is read-only before
// any replica can take the lock.
func decideWithoutDCS(o Observed) Decision {
	pg := o.Postgres
	switch {
	case o.Cluster.Config.Paused:
		return Decision{Message: "paused: the DCS is unreachable; taking no action"}
	case (pg.Running || pg.Unresponsive) && !pg.InRecovery:
		return Decision{Actions: []Action{actOn(Demote, "")}, Message: "demoting: the DCS is unreachable, so the leader lock cannot be renewed"}
	default:
		return Decision{Message: "the DCS is unreachable: waiting"}
	}
}

// decideUninitialized: the first member to take the lock bootstraps the
// cluster; the others wait for it.
func decideUninitialized(o Observed) Decision {
	c, pg := o.Cluster, o.Postgres
	lock := c.Lock
	switch {
	case lock.HeldAt(o.Now) && lock.Holder == o.Name:
		// A bootstrap that did not finish: carry on with it.
		switch {
		case pg.DataDir == DataEmpty:
			// Renewed first, and then in the background while initdb runs.
			return Decision{Actions: []Action{act(RenewLock), act(Bootstrap), act(MarkInitialized), act(RenewLock), act(LabelPrimary)}, Message: "bootstrapping a new cluster"}
		case !pg.Running:
			return Decision{Actions: []Action{act(RenewLock), act(StartPrimary)}, Message: "starting the bootstrapped primary"}
		case pg.InRecovery:
			return Decision{Actions: []Action{act(RenewLock), act(Promote)}, Message: "promoting to finish the bootstrap"}
		default:
			return Decision{Actions: []Action{act(RenewLock), act(MarkInitialized), act(LabelPrimary)}, Message: "marking the cluster initialized"}
		}
	case lock.HeldAt(o.Now):
		return Decision{Message: fmt.Sprintf("waiting for %s to bootstrap the cluster", lock.Holder)}
	case c.Config.Paused:
		return Decision{Message: "paused: the cluster is not initialized; taking no action"}
	case o.Tags.NoFailover():
		return Decision{Message: "waiting for another member to bootstrap the cluster: my failover priority is 0"}
	case pg.DataDir == DataEmpty:
		return Decision{Actions: []Action{act(AcquireLock), act(Bootstrap), act(MarkInitialized), act(RenewLock), act(LabelPrimary)}, Message: "bootstrapping a new cluster"}
	default:
		return Decision{Actions: []Action{act(AcquireLock), act(StartPrimary)}, Message: "initializing the cluster from the existing data directory"}
	}
}

// decideEmptyDataDir: a member without data clones from the leader.
func decideEmptyDataDir(o Observed) Decision {
	lock := o.Cluster.Lock
	switch {
	case lock.HeldAt(o.Now) && lock.Holder == o.Name:
		return Decision{Actions: []Action{act(ReleaseLock)}, Message: "giving up the lock: I have no data"}
	case !lock.HeldAt(o.Now):
		return Decision{Message: "waiting for a leader to clone from"}
	case !o.Cluster.Members[lock.Holder].Running:
		return Decision{Message: fmt.Sprintf("waiting for the leader %s to run before cloning from it", lock.Holder)}
	default:
		return Decision{Actions: []Action{actOn(Clone, lock.Holder), act(LabelReplica)}, Message: fmt.Sprintf("cloning from the leader %s", lock.Holder)}
	}
}

// decideLeader: this member holds the lock.
func decideLeader(o Observed) Decision {
	c, pg := o.Cluster, o.Postgres
	cfg := c.Config
	switch {
	case cfg.Paused:
		return Decision{Actions: []Action{act(RenewLock)}, Message: "paused: I am the leader with the lock"}
	case pg.Unresponsive && o.Now.Sub(pg.UnresponsiveSince) > cfg.UnresponsiveBound():
		// Hung: stop it for good before anyone else may write.
		return Decision{Actions: []Action{act(Stop), act(ReleaseLock)},
			Message: fmt.Sprintf("giving up the lock: PostgreSQL has not answered for %s, more than the unresponsive timeout (%s)", o.Now.Sub(pg.UnresponsiveSince).Round(time.Second), cfg.UnresponsiveBound())}
	case pg.Unresponsive:
		return Decision{Actions: []Action{act(RenewLock)},
			Message: fmt.Sprintf("PostgreSQL does not answer (for %s): keeping the lock for up to %s", o.Now.Sub(pg.UnresponsiveSince).Round(time.Second), cfg.UnresponsiveBound())}
	case pg.Starting && o.Now.Sub(pg.StartedAt) > cfg.PrimaryStartTimeout:
		return Decision{Actions: []Action{act(ReleaseLock), act(Stop)}, Message: fmt.Sprintf("giving up the lock: PostgreSQL did not start within primary_start_timeout (%s)", cfg.PrimaryStartTimeout)}
	case pg.Starting:
		return Decision{Actions: []Action{act(RenewLock)}, Message: "waiting for PostgreSQL to start"}
	case !pg.Running && pg.InRecovery:
		// Start read-only first and promote on the next run, so that the
		// promotion moves the cluster to a new timeline.
		return Decision{Actions: []Action{act(RenewLock), actOn(StartReplica, "")}, Message: "starting PostgreSQL to promote it"}
	case !pg.Running:
		return Decision{Actions: []Action{act(RenewLock), act(StartPrimary)}, Message: "starting PostgreSQL: I am the leader with the lock"}
	case pg.InRecovery:
		// The slots first: the other replicas then find theirs the moment
		// they connect to the new primary.
		actions := []Action{act(RenewLock), actMembers(SyncSlots, slotMembers(o)), act(Promote), act(LabelPrimary)}
		if c.Failover.Present {
			actions = append(actions, act(ClearFailover))
		}
		return Decision{Actions: actions, Message: "promoting: I hold the leader lock"}
	}

	if c.Failover.Present {
		if d, handled := decideSwitchover(o); handled {
			return d
		}
	}
	actions := []Action{act(RenewLock), actMembers(SyncSlots, slotMembers(o)), act(LabelPrimary)}
	actions = append(actions, synchronousActions(o)...)
	return Decision{Actions: actions, Message: "no action: I am the leader with the lock"}
}

// decideSwitchover: the leader hands over to the requested candidate, or to
// the healthiest replica, when the request is due and the candidate healthy.
func decideSwitchover(o Observed) (Decision, bool) {
	f := o.Cluster.Failover
	refuse := func(why string) (Decision, bool) {
		why = "switchover refused: " + why
		return Decision{Actions: []Action{act(RenewLock), {Kind: ClearFailover, Reason: why}}, Message: why}, true
	}
	switch {
	case f.Leader != "" && f.Leader != o.Name:
		return refuse(fmt.Sprintf("it names %s as the leader, but I am", f.Leader))
	case f.Candidate == o.Name:
		return refuse("the candidate is already the leader")
	case !f.ScheduledAt.IsZero() && o.Now.Before(f.ScheduledAt):
		return Decision{}, false
	}

	candidate := f.Candidate
	if candidate == "" {
		best, ok := bestReplica(o)
		if !ok {
			return refuse("no replica is healthy enough to take over")
		}
		candidate = best
	}
	if why := unhealthyCandidate(o, candidate); why != "" {
		return refuse(why)
	}
	return Decision{Actions: []Action{actOn(HandOver, candidate)}, Message: fmt.Sprintf("switching over to %s", candidate)}, true
}

// unhealthyCandidate says why a member may not take over from this leader,
// or "" when it may.
func unhealthyCandidate(o Observed, name string) string {
	c := o.Cluster
	p, ok := findPeer(o.Peers, name)
	forced := c.Failover.Force && c.Failover.Candidate == name
	switch {
	case !ok || !p.Reachable:
		return fmt.Sprintf("%s does not answer", name)
	case !p.Running || p.Primary:
		return fmt.Sprintf("%s is not running as a replica", name)
	case p.Tags.NoFailover():
		return fmt.Sprintf("%s has failover priority 0", name)
	case c.Config.SynchronousMode && !c.Sync.Has(name):
		return fmt.Sprintf("%s is not a synchronous standby", name)
	case !connectedTo(o.Postgres.Replicas, name):
		// It could not receive the leader's shutdown checkpoint: the
		// leader would hand over to a member that then forks a timeline
		// behind the leader's last record. One still catching up does
		// receive it (and the leader waits for it to confirm).
		return fmt.Sprintf("%s is not streaming from %s", name, o.Name)
	case lagBehind(o.Postgres.WAL, p.WAL) > c.Config.MaximumLagOnFailover && !forced:
		return fmt.Sprintf("%s is %d bytes behind, more than maximum_lag_on_failover (a request with force may still choose it)", name, lagBehind(o.Postgres.WAL, p.WAL))
	}
	return ""
}

// connectedTo reports whether name streams from this primary, or catches
// up with it.
func connectedTo(replicas []Replication, name string) bool {
	for _, r := range replicas {
		if r.Name == name && (r.Streaming || r.CatchingUp) {
			return true
		}
	}
	return false
}

// bestReplica is the healthiest replica to switch over to.
func bestReplica(o Observed) (string, bool) {
	var healthy []Peer
	for _, p := range o.Peers {
		if unhealthyCandidate(o, p.Name) == "" {
			healthy = append(healthy, p)
		}
	}
	if len(healthy) == 0 {
		return "", false
	}
	slices.SortFunc(healthy, comparePeers)
	return healthy[0].Name, true
}

// decideFollower: another member holds the lock; follow it.
func decideFollower(o Observed, leader string) Decision {
	c, pg := o.Cluster, o.Postgres
	lm := c.Members[leader]
	switch {
	case pg.Unresponsive && !pg.InRecovery:
		// It may still accept writes: stop it.
		return Decision{Actions: []Action{actOn(Demote, leader), act(LabelReplica)}, Message: fmt.Sprintf("demoting: %s holds the leader lock and my PostgreSQL, a primary, does not answer", leader)}
	case pg.Unresponsive:
		return Decision{Message: fmt.Sprintf("PostgreSQL does not answer (for %s): waiting", o.Now.Sub(pg.UnresponsiveSince).Round(time.Second))}
	case pg.Running && !pg.InRecovery:
		return Decision{Actions: []Action{actOn(Demote, leader), act(LabelReplica)}, Message: fmt.Sprintf("demoting: %s holds the leader lock", leader)}
	case pg.Starting && stuck(o, lm):
		return Decision{Actions: []Action{actOn(Reinitialize, leader), act(LabelReplica)},
			Message: fmt.Sprintf("reinitializing from %s: PostgreSQL has been starting for %s and is still behind the leader's timeline", leader, o.Now.Sub(pg.StartedAt).Round(time.Second))}
	case pg.Starting:
		return Decision{Message: "waiting for PostgreSQL to start"}
	case !pg.Running && c.Config.Paused:
		return Decision{Message: "paused: PostgreSQL is not running"}
	case !pg.Running && !pg.InRecovery && lm.Timeline > pg.Timeline:
		// A former primary: the new leader forked off its history.
		return Decision{Actions: []Action{actOn(Rewind, leader), act(LabelReplica)}, Message: fmt.Sprintf("rewinding to follow the new leader %s", leader)}
	case !pg.Running:
		return Decision{Actions: []Action{actOn(StartReplica, leader), act(LabelReplica)}, Message: fmt.Sprintf("starting as a replica of %s", leader)}
	case pg.Upstream != leader:
		return Decision{Actions: []Action{actOn(Follow, leader), act(LabelReplica)}, Message: fmt.Sprintf("following the new leader %s", leader)}
	case diverged(o):
		return Decision{Actions: []Action{actOn(Rewind, leader), act(LabelReplica)}, Message: fmt.Sprintf("rewinding: my WAL went past where %s's timeline history left mine", leader)}
	default:
		// The slots of the other members wait here for a promotion.
		return Decision{Actions: []Action{actMembers(SyncSlots, slotMembers(o)), act(LabelReplica)}, Message: fmt.Sprintf("no action: replica of %s", leader)}
	}
}

// NeedLeaderHistory reports whether the loop must ask the leader for its
// timeline history before deciding: a standby that has not streamed for a
// while, behind the leader's timeline, may have diverged from it.
func NeedLeaderHistory(o Observed) bool {
	c, pg := o.Cluster, o.Postgres
	if !o.DCSReachable || !c.Initialized || !c.Lock.HeldAt(o.Now) || c.Lock.Holder == o.Name {
		return false
	}
	leader := c.Members[c.Lock.Holder]
	return !c.Config.Paused && pg.Running && pg.InRecovery && pg.Upstream == c.Lock.Holder &&
		!pg.Streaming && !pg.NotStreamingSince.IsZero() &&
		o.Now.Sub(pg.NotStreamingSince) > divergenceGrace(c.Config) &&
		leader.Running && leader.Timeline > pg.Timeline
}

// diverged reports a standby that cannot follow its leader because its WAL
// went past the point where the leader's history left the standby's
// timeline, as Patroni checks it. Not streaming alone proves nothing (the
// leader may be gone, or busy): without the leader's history there is no
// divergence to act on.
func diverged(o Observed) bool {
	pg := o.Postgres
	if !NeedLeaderHistory(o) || o.LeaderHistory == nil {
		return false
	}
	for _, s := range o.LeaderHistory {
		if s.Timeline == pg.Timeline {
			return pg.WAL > s.LSN
		}
	}
	// The leader's history never went through this timeline.
	return true
}

// stuck reports a standby that has been starting for long, behind the
// leader's timeline: the WAL it needs to become consistent is gone, so only
// a new copy helps.
func stuck(o Observed, leader Member) bool {
	pg := o.Postgres
	return !o.Cluster.Config.Paused && pg.InRecovery && o.Now.Sub(pg.StartedAt) > stuckGrace(o.Cluster.Config) &&
		leader.Running && leader.Timeline > pg.Timeline
}

// stuckGrace is how long a standby may take to become consistent.
func stuckGrace(cfg Config) time.Duration {
	return max(10*cfg.TTL, 5*time.Minute)
}

// divergenceGrace is how long a standby may fail to stream before it is
// treated as diverged.
func divergenceGrace(cfg Config) time.Duration {
	return max(2*cfg.LoopWait, 5*time.Second)
}

// decideLeaderless: the lock is free or expired; race for it when this
// member is the healthiest.
func decideLeaderless(o Observed) Decision {
	c, pg := o.Cluster, o.Postgres
	switch {
	case c.Config.Paused:
		return Decision{Message: "paused: there is no leader; taking no action"}
	case pg.Unresponsive && !pg.InRecovery:
		return Decision{Actions: []Action{actOn(Demote, ""), act(LabelReplica)}, Message: "demoting: there is no leader and my PostgreSQL, a primary, does not answer"}
	case pg.Unresponsive:
		return Decision{Message: fmt.Sprintf("not taking the lock: PostgreSQL does not answer (for %s)", o.Now.Sub(pg.UnresponsiveSince).Round(time.Second))}
	case pg.Starting:
		return Decision{Message: "waiting for PostgreSQL to start"}
	case !pg.Running:
		return Decision{Actions: []Action{actOn(StartReplica, "")}, Message: "starting PostgreSQL read-only: there is no leader"}
	}

	eligible, why := Eligible(o)
	if !eligible {
		if !pg.InRecovery {
			return Decision{Actions: []Action{actOn(Demote, ""), act(LabelReplica)}, Message: "demoting: there is no leader and I may not take the lock: " + why}
		}
		return Decision{Actions: []Action{act(LabelReplica)}, Message: "not taking the lock: " + why}
	}
	// The slots before the promotion: the other replicas then find theirs
	// the moment they connect to the new primary.
	actions := []Action{act(AcquireLock), actMembers(SyncSlots, slotMembers(o))}
	if pg.InRecovery {
		actions = append(actions, act(Promote))
	}
	actions = append(actions, act(LabelPrimary))
	if c.Failover.Present {
		actions = append(actions, act(ClearFailover))
	}
	return Decision{Actions: actions, Message: "taking the leader lock: " + why}
}

func otherMembers(o Observed) []string {
	var names []string
	for name := range o.Cluster.Members {
		if name != o.Name {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// slotMembers are the members whose replication slots this member keeps:
// the others, and those that departed within member_slots_ttl. A pod
// re-created by a rolling change leaves the cluster for a few seconds; its
// slot stays, so that it streams at once when it is back.
func slotMembers(o Observed) []string {
	names := otherMembers(o)
	for name, seen := range o.Departed {
		if name != o.Name && o.Now.Sub(seen) < o.Cluster.Config.MemberSlotsTTL && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func findPeer(peers []Peer, name string) (Peer, bool) {
	for _, p := range peers {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}

// lagBehind is how far position is behind reference (0 when ahead).
func lagBehind(reference, position LSN) LSN {
	if position >= reference {
		return 0
	}
	return reference - position
}
