package ha

import (
	"cmp"
	"fmt"
)

// Eligible decides whether this member may take the free leader lock, and
// says why (or why not). It is the "healthiest member" rule:
//
//   - a requested candidate that answers wins; the others wait for it;
//   - a member with failover priority 0 never takes the lock;
//   - PostgreSQL must run;
//   - in synchronous mode only a recorded synchronous standby (or the
//     former leader) may, so that no acknowledged commit is lost;
//   - its WAL may be at most maximum_lag_on_failover behind the leader's
//     last recorded position;
//   - no peer may still run as a primary;
//   - no eligible peer may be further ahead (timeline, then WAL position),
//     or as far with a higher failover priority.
//
// Members that tie race; the lock write decides between them.
func Eligible(o Observed) (bool, string) {
	c, pg := o.Cluster, o.Postgres
	cfg := c.Config
	if f := c.Failover; f.Present && f.Candidate != "" {
		if f.Candidate == o.Name {
			if cfg.SynchronousMode && c.Sync.Present && !syncEligible(c.Sync, o.Name) {
				return false, "I was requested, but I am not a synchronous standby"
			}
			return true, "I am the requested candidate"
		}
		if p, ok := findPeer(o.Peers, f.Candidate); ok && p.Reachable && p.Running {
			return false, fmt.Sprintf("waiting for the requested candidate %s", f.Candidate)
		}
	}
	me := Peer{Name: o.Name, Running: pg.Running, WAL: pg.WAL, Timeline: pg.Timeline, Tags: o.Tags, Reachable: true}
	switch {
	case o.Tags.NoFailover():
		return false, "my failover priority is 0"
	case !pg.Running:
		return false, "PostgreSQL is not running"
	case cfg.SynchronousMode && c.Sync.Present && !syncEligible(c.Sync, o.Name):
		return false, "I am not a synchronous standby"
	case lagBehind(c.Lock.Optime, pg.WAL) > cfg.MaximumLagOnFailover:
		return false, fmt.Sprintf("I am %d bytes behind the last leader position, more than maximum_lag_on_failover (%d)", lagBehind(c.Lock.Optime, pg.WAL), cfg.MaximumLagOnFailover)
	}
	for _, p := range o.Peers {
		switch {
		case !p.Reachable || p.Name == o.Name:
			continue
		case p.Primary:
			return false, fmt.Sprintf("%s is still running as a primary", p.Name)
		case !peerEligible(o, p):
			continue
		case comparePeers(p, me) < 0:
			return false, fmt.Sprintf("%s is healthier (timeline %d, WAL %d, priority %d; mine %d, %d, %d)",
				p.Name, p.Timeline, p.WAL, p.Tags.FailoverPriority, me.Timeline, me.WAL, me.Tags.FailoverPriority)
		}
	}
	return true, "I am the healthiest member"
}

// peerEligible reports whether a peer could take the lock itself.
func peerEligible(o Observed, p Peer) bool {
	c := o.Cluster
	return p.Running && !p.Tags.NoFailover() &&
		(!c.Config.SynchronousMode || !c.Sync.Present || syncEligible(c.Sync, p.Name)) &&
		lagBehind(c.Lock.Optime, p.WAL) <= c.Config.MaximumLagOnFailover
}

// syncEligible: the recorded synchronous standbys and the leader that
// recorded them hold every acknowledged commit.
func syncEligible(s SyncState, name string) bool {
	return s.Leader == name || s.Has(name)
}

// comparePeers orders members healthiest first: the later timeline, then the
// further WAL position, then the higher failover priority.
func comparePeers(a, b Peer) int {
	return cmp.Or(
		cmp.Compare(b.Timeline, a.Timeline),
		cmp.Compare(b.WAL, a.WAL),
		cmp.Compare(b.Tags.FailoverPriority, a.Tags.FailoverPriority),
	)
}
