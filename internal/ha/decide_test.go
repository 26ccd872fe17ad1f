package ha

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// cluster builds an observation of member "a" in a three-member cluster
// (a, b, c) led by leader ("" for none), everything healthy and caught up.
func cluster(me, leader string) Observed {
	cfg := DefaultConfig()
	members := map[string]Member{}
	for i, name := range []string{"a", "b", "c"} {
		members[name] = Member{Name: name, Role: RoleReplica, Running: true, Timeline: 1, WAL: 1000, Tags: Tags{FailoverPriority: 1}, ConnHost: "127.0.10." + string(rune('1'+i)), ConnPort: 5432}
	}
	o := Observed{
		Now:          t0,
		Name:         me,
		Tags:         Tags{FailoverPriority: 1},
		DCSReachable: true,
		Cluster: Cluster{
			Initialized: true,
			SystemID:    7,
			Config:      cfg,
			Members:     members,
		},
		Postgres: Postgres{DataDir: DataValid, SystemID: 7, Running: true, InRecovery: true, Timeline: 1, WAL: 1000, Streaming: true, Upstream: leader},
	}
	if leader != "" {
		o.Cluster.Lock = Lock{Holder: leader, ObservedAt: t0.Add(-5 * time.Second), TTL: cfg.TTL, Optime: 1000, Timeline: 1}
		lm := members[leader]
		lm.Role = RolePrimary
		members[leader] = lm
	} else {
		// Released by its last holder b, at WAL 1000.
		o.Cluster.Lock = Lock{ObservedAt: t0.Add(-time.Second), TTL: cfg.TTL, Optime: 1000, Timeline: 1}
	}
	if leader == me {
		o.Postgres.InRecovery = false
		o.Postgres.Upstream = ""
	}
	for _, name := range []string{"a", "b", "c"} {
		if name == me {
			continue
		}
		o.Peers = append(o.Peers, Peer{Name: name, Reachable: true, Running: true, Primary: name == leader, WAL: 1000, Timeline: 1, Tags: Tags{FailoverPriority: 1}})
	}
	return o
}

func peer(o *Observed, name string) *Peer {
	for i := range o.Peers {
		if o.Peers[i].Name == name {
			return &o.Peers[i]
		}
	}
	panic("no peer " + name)
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name    string
		o       func() Observed
		want    []ActionKind
		message string // a part of the decision's message
	}{
		// Bootstrap.
		{"uninitialized, free lock, empty data: bootstrap", func() Observed {
			o := cluster("a", "")
			o.Cluster.Initialized, o.Cluster.SystemID = false, 0
			o.Postgres = Postgres{DataDir: DataEmpty}
			return o
		}, []ActionKind{AcquireLock, Bootstrap, MarkInitialized, RenewLock, LabelPrimary}, "bootstrapping"},
		{"uninitialized, my lock, empty data: renews, then carries the bootstrap on", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Initialized, o.Cluster.SystemID = false, 0
			o.Postgres = Postgres{DataDir: DataEmpty}
			return o
		}, []ActionKind{RenewLock, Bootstrap, MarkInitialized, RenewLock, LabelPrimary}, "bootstrapping"},
		{"uninitialized, another member bootstraps: wait", func() Observed {
			o := cluster("a", "b")
			o.Cluster.Initialized = false
			o.Postgres = Postgres{DataDir: DataEmpty}
			return o
		}, nil, "waiting for b to bootstrap"},
		{"uninitialized, nofailover: never bootstraps", func() Observed {
			o := cluster("a", "")
			o.Cluster.Initialized = false
			o.Tags.FailoverPriority = 0
			o.Postgres = Postgres{DataDir: DataEmpty}
			return o
		}, nil, "failover priority is 0"},
		{"uninitialized, I hold the lock and PostgreSQL runs: mark initialized", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Initialized = false
			return o
		}, []ActionKind{RenewLock, MarkInitialized, LabelPrimary}, "initialized"},
		{"empty data directory: clone from the leader", func() Observed {
			o := cluster("a", "b")
			o.Postgres = Postgres{DataDir: DataEmpty}
			return o
		}, []ActionKind{Clone, LabelReplica}, "cloning from the leader b"},
		{"empty data directory, no leader: wait", func() Observed {
			o := cluster("a", "")
			o.Postgres = Postgres{DataDir: DataEmpty}
			return o
		}, nil, "waiting for a leader"},
		{"data directory of another cluster: refuse", func() Observed {
			o := cluster("a", "b")
			o.Postgres.SystemID = 8
			return o
		}, nil, "belongs to another cluster"},

		// The leader.
		{"leader renews its lock", func() Observed {
			return cluster("a", "a")
		}, []ActionKind{RenewLock, SyncSlots, LabelPrimary}, "I am the leader with the lock"},
		{"leader loses the DCS: demotes", func() Observed {
			o := cluster("a", "a")
			o.DCSReachable = false
			return o
		}, []ActionKind{Demote}, "DCS is unreachable"},
		{"replica loses the DCS: waits", func() Observed {
			o := cluster("a", "b")
			o.DCSReachable = false
			return o
		}, nil, "DCS is unreachable"},
		{"paused leader loses the DCS: no action", func() Observed {
			o := cluster("a", "a")
			o.DCSReachable = false
			o.Cluster.Config.Paused = true
			return o
		}, nil, "paused"},
		{"leader whose PostgreSQL crashed: starts it again", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Running = false
			return o
		}, []ActionKind{RenewLock, StartPrimary}, "starting PostgreSQL"},
		{"leader's PostgreSQL starts slowly: keeps the lock", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Running, o.Postgres.Starting, o.Postgres.StartedAt = false, true, t0.Add(-time.Minute)
			return o
		}, []ActionKind{RenewLock}, "waiting for PostgreSQL to start"},
		// A postmaster that answered before and does not now is not
		// starting: the lock stays for the unresponsive bound (ttl by
		// default), whatever primary_start_timeout says.
		{"leader's status query fails, postmaster up for long: keeps the lock", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Config.PrimaryStartTimeout = 2 * time.Second
			o.Postgres.Running, o.Postgres.Unresponsive, o.Postgres.UnresponsiveSince = false, true, t0.Add(-5*time.Second)
			o.Postgres.StartedAt = t0.Add(-time.Hour)
			return o
		}, []ActionKind{RenewLock}, "does not answer"},
		{"leader unresponsive longer than ttl: stops, then releases", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Running, o.Postgres.Unresponsive, o.Postgres.UnresponsiveSince = false, true, t0.Add(-31*time.Second)
			return o
		}, []ActionKind{Stop, ReleaseLock}, "unresponsive timeout"},
		{"leader unresponsive longer than ttl, within its own timeout: keeps the lock", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Config.UnresponsiveTimeout = time.Minute
			o.Postgres.Running, o.Postgres.Unresponsive, o.Postgres.UnresponsiveSince = false, true, t0.Add(-31*time.Second)
			return o
		}, []ActionKind{RenewLock}, "does not answer"},
		{"unresponsive replica behind the leader's timeline for long: waits, no reinitialize", func() Observed {
			o := cluster("a", "b")
			o.Cluster.Members["b"] = Member{Name: "b", Role: RolePrimary, Running: true, Timeline: 2, WAL: 2000}
			o.Postgres.Running, o.Postgres.Unresponsive, o.Postgres.UnresponsiveSince = false, true, t0.Add(-time.Hour)
			o.Postgres.StartedAt = t0.Add(-2 * time.Hour)
			return o
		}, nil, "does not answer"},
		{"unresponsive former primary under another leader: demotes", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Running, o.Postgres.InRecovery, o.Postgres.Unresponsive, o.Postgres.UnresponsiveSince = false, false, true, t0.Add(-time.Second)
			return o
		}, []ActionKind{Demote, LabelReplica}, "does not answer"},
		{"no leader, unresponsive replica: does not race", func() Observed {
			o := cluster("a", "")
			o.Postgres.Running, o.Postgres.Unresponsive, o.Postgres.UnresponsiveSince = false, true, t0.Add(-time.Second)
			return o
		}, nil, "does not answer"},
		{"DCS unreachable, unresponsive primary: demotes", func() Observed {
			o := cluster("a", "a")
			o.DCSReachable = false
			o.Postgres.Running, o.Postgres.Unresponsive, o.Postgres.UnresponsiveSince = false, true, t0.Add(-time.Second)
			return o
		}, []ActionKind{Demote}, "unreachable"},
		{"leader's PostgreSQL does not start within primary_start_timeout: releases", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Running, o.Postgres.Starting, o.Postgres.StartedAt = false, true, t0.Add(-6*time.Minute)
			return o
		}, []ActionKind{ReleaseLock, Stop}, "primary_start_timeout"},
		{"new lock holder still in recovery: promotes", func() Observed {
			o := cluster("a", "a")
			o.Postgres.InRecovery = true
			return o
		}, []ActionKind{RenewLock, SyncSlots, Promote, LabelPrimary}, "promoting"},
		{"paused leader: only renews", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Config.Paused = true
			o.Postgres.Running = false
			return o
		}, []ActionKind{RenewLock}, "paused"},

		// Followers.
		{"replica follows its leader", func() Observed {
			return cluster("a", "b")
		}, []ActionKind{SyncSlots, LabelReplica}, "replica of b"},
		{"replica follows a new leader", func() Observed {
			o := cluster("a", "c")
			o.Postgres.Upstream = "b"
			return o
		}, []ActionKind{Follow, LabelReplica}, "following the new leader c"},
		{"a primary without the lock demotes", func() Observed {
			o := cluster("a", "b")
			o.Postgres.InRecovery, o.Postgres.Upstream = false, ""
			return o
		}, []ActionKind{Demote, LabelReplica}, "b holds the leader lock"},
		{"stopped former primary behind the leader's timeline: rewinds", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Running, o.Postgres.InRecovery = false, false
			lm := o.Cluster.Members["b"]
			lm.Timeline = 2
			o.Cluster.Members["b"] = lm
			return o
		}, []ActionKind{Rewind, LabelReplica}, "rewinding"},
		{"stopped replica: starts following the leader", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Running = false
			return o
		}, []ActionKind{StartReplica, LabelReplica}, "starting as a replica of b"},
		{"replica not streaming, past the point where the leader's history left its timeline: rewinds", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Streaming, o.Postgres.NotStreamingSince = false, t0.Add(-time.Minute)
			lm := o.Cluster.Members["b"]
			lm.Timeline = 2
			o.Cluster.Members["b"] = lm
			o.LeaderHistory = []TimelineSwitch{{Timeline: 1, LSN: 900}}
			return o
		}, []ActionKind{Rewind, LabelReplica}, "went past"},
		{"replica not streaming, before the leader's switch point: no rewind", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Streaming, o.Postgres.NotStreamingSince = false, t0.Add(-time.Minute)
			lm := o.Cluster.Members["b"]
			lm.Timeline = 2
			o.Cluster.Members["b"] = lm
			o.LeaderHistory = []TimelineSwitch{{Timeline: 1, LSN: 1000}}
			return o
		}, []ActionKind{SyncSlots, LabelReplica}, "replica of b"},
		{"replica not streaming on a timeline the leader's history never had: rewinds", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Streaming, o.Postgres.NotStreamingSince, o.Postgres.Timeline = false, t0.Add(-time.Minute), 2
			lm := o.Cluster.Members["b"]
			lm.Timeline = 4 // forked from 1 through 3, never from 2
			o.Cluster.Members["b"] = lm
			o.LeaderHistory = []TimelineSwitch{{Timeline: 1, LSN: 500}, {Timeline: 3, LSN: 2000}}
			return o
		}, []ActionKind{Rewind, LabelReplica}, "went past"},
		{"replica not streaming, the leader does not answer for its history: no rewind", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Streaming, o.Postgres.NotStreamingSince = false, t0.Add(-time.Minute)
			lm := o.Cluster.Members["b"]
			lm.Timeline = 2
			o.Cluster.Members["b"] = lm
			return o
		}, []ActionKind{SyncSlots, LabelReplica}, "replica of b"},
		{"standby that cannot become consistent: reinitializes", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Running, o.Postgres.Starting, o.Postgres.StartedAt = false, true, t0.Add(-6*time.Minute)
			lm := o.Cluster.Members["b"]
			lm.Timeline = 2
			o.Cluster.Members["b"] = lm
			return o
		}, []ActionKind{Reinitialize, LabelReplica}, "reinitializing from b"},
		{"standby starting for a while on the leader's timeline: waits", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Running, o.Postgres.Starting, o.Postgres.StartedAt = false, true, t0.Add(-6*time.Minute)
			return o
		}, nil, "waiting for PostgreSQL to start"},
		{"replica briefly not streaming: waits", func() Observed {
			o := cluster("a", "b")
			o.Postgres.Streaming, o.Postgres.NotStreamingSince = false, t0.Add(-2*time.Second)
			lm := o.Cluster.Members["b"]
			lm.Timeline = 2
			o.Cluster.Members["b"] = lm
			return o
		}, []ActionKind{SyncSlots, LabelReplica}, "replica of b"},

		// Elections.
		{"released lock: the healthiest takes it and promotes", func() Observed {
			o := cluster("a", "")
			o.Postgres.WAL = 1100
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary}, "healthiest"},
		{"expired lock: the healthiest takes it", func() Observed {
			o := cluster("a", "b")
			o.Cluster.Lock.ObservedAt = t0.Add(-31 * time.Second)
			peer(&o, "b").Reachable = false
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary}, "healthiest"},
		{"lock not yet expired: no race", func() Observed {
			o := cluster("a", "b")
			o.Cluster.Lock.ObservedAt = t0.Add(-29 * time.Second)
			peer(&o, "b").Reachable = false
			return o
		}, []ActionKind{SyncSlots, LabelReplica}, "replica of b"},
		{"a peer with more WAL is healthier", func() Observed {
			o := cluster("a", "")
			peer(&o, "c").WAL = 1100
			return o
		}, []ActionKind{LabelReplica}, "c is healthier"},
		{"a peer on a later timeline is healthier", func() Observed {
			o := cluster("a", "")
			o.Postgres.WAL = 2000
			peer(&o, "c").Timeline = 2
			return o
		}, []ActionKind{LabelReplica}, "c is healthier"},
		{"a peer still running as primary: nobody promotes", func() Observed {
			o := cluster("a", "")
			o.Postgres.WAL = 1100
			peer(&o, "b").Primary = true
			return o
		}, []ActionKind{LabelReplica}, "b is still running as a primary"},
		{"lag over maximum_lag_on_failover: refuses", func() Observed {
			o := cluster("a", "")
			o.Cluster.Lock.Optime = 1000 + 2<<20
			o.Postgres.WAL = 1000
			for i := range o.Peers {
				o.Peers[i].Running = false
			}
			return o
		}, []ActionKind{LabelReplica}, "more than maximum_lag_on_failover"},
		{"lag within maximum_lag_on_failover: takes the lock", func() Observed {
			o := cluster("a", "")
			o.Cluster.Lock.Optime = 1000 + 1<<20
			for i := range o.Peers {
				o.Peers[i].Running = false
			}
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary}, "healthiest"},
		{"nofailover: never takes the lock", func() Observed {
			o := cluster("a", "")
			o.Postgres.WAL = 5000
			o.Tags.FailoverPriority = 0
			return o
		}, []ActionKind{LabelReplica}, "failover priority is 0"},
		{"a nofailover peer ahead does not stop the healthiest eligible member", func() Observed {
			o := cluster("a", "")
			peer(&o, "b").WAL = 1100
			peer(&o, "b").Tags.FailoverPriority = 0
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary}, "healthiest"},
		{"same WAL position: the higher failover priority wins", func() Observed {
			o := cluster("a", "")
			peer(&o, "c").Tags.FailoverPriority = 5
			return o
		}, []ActionKind{LabelReplica}, "c is healthier"},
		{"same WAL position, my priority higher: I win", func() Observed {
			o := cluster("a", "")
			o.Tags.FailoverPriority = 5
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary}, "healthiest"},
		{"unreachable peers do not count", func() Observed {
			o := cluster("a", "")
			peer(&o, "b").WAL, peer(&o, "b").Reachable = 5000, false
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary}, "healthiest"},
		{"no leader and PostgreSQL stopped: start read-only first", func() Observed {
			o := cluster("a", "")
			o.Postgres.Running = false
			return o
		}, []ActionKind{StartReplica}, "read-only"},
		{"paused, no leader: no action", func() Observed {
			o := cluster("a", "")
			o.Cluster.Config.Paused = true
			o.Postgres.WAL = 5000
			return o
		}, nil, "paused"},

		// Synchronous mode.
		{"sync mode: the recorded synchronous standby may take the lock", func() Observed {
			o := cluster("a", "")
			o.Cluster.Config.SynchronousMode = true
			o.Cluster.Sync = SyncState{Present: true, Leader: "b", Standbys: []string{"a"}}
			peer(&o, "c").WAL = 1100 // ahead, but not synchronous
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary}, "healthiest"},
		{"sync mode: a member that is not a synchronous standby may not", func() Observed {
			o := cluster("a", "")
			o.Cluster.Config.SynchronousMode = true
			o.Cluster.Sync = SyncState{Present: true, Leader: "b", Standbys: []string{"c"}}
			o.Postgres.WAL = 5000
			return o
		}, []ActionKind{LabelReplica}, "not a synchronous standby"},
		{"sync mode, no recorded standby: nobody but the old leader may", func() Observed {
			o := cluster("a", "")
			o.Cluster.Config.SynchronousMode = true
			o.Cluster.Sync = SyncState{Present: true, Leader: "b"}
			o.Postgres.WAL = 5000
			return o
		}, []ActionKind{LabelReplica}, "not a synchronous standby"},

		// Switchover and failover.
		{"switchover to a named candidate: the leader hands over", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", Streaming: true}}
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			return o
		}, []ActionKind{HandOver}, "switching over to c"},
		{"switchover without a candidate: to the healthiest replica", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", Streaming: true}}
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a"}
			peer(&o, "b").WAL = 900
			return o
		}, []ActionKind{HandOver}, "switching over to c"},
		{"switchover without a candidate: never to a replica that does not stream", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", Streaming: false}}
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a"}
			peer(&o, "b").WAL = 900
			return o
		}, []ActionKind{HandOver}, "switching over to b"},
		{"switchover to a candidate that does not stream from the leader (it just restarted): refused", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}}
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			return o
		}, []ActionKind{RenewLock, ClearFailover}, "c is not streaming from a"},
		{"switchover to a candidate still catching up with the leader (it just rejoined): it receives the shutdown checkpoint", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", CatchingUp: true}}
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			return o
		}, []ActionKind{HandOver}, "switching over to c"},
		{"switchover to a candidate lagging beyond maximum_lag_on_failover: refused", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", Streaming: true}}
			o.Postgres.WAL = 5 << 20
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			return o
		}, []ActionKind{RenewLock, ClearFailover}, "more than maximum_lag_on_failover"},
		{"switchover with force to a lagging candidate: hands over (after the checkpoint reaches it)", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", Streaming: true}}
			o.Postgres.WAL = 5 << 20
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c", Force: true}
			return o
		}, []ActionKind{HandOver}, "switching over to c"},
		{"switchover with force and no candidate: force names no one, a lagging replica is refused", func() Observed {
			o := cluster("a", "a")
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", Streaming: true}}
			o.Postgres.WAL = 5 << 20
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Force: true}
			return o
		}, []ActionKind{RenewLock, ClearFailover}, "no replica is healthy enough"},
		{"switchover to an unhealthy candidate: refused", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			peer(&o, "c").Reachable = false
			return o
		}, []ActionKind{RenewLock, ClearFailover}, "c does not answer"},
		{"switchover to a candidate with failover priority 0: refused", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			peer(&o, "c").Tags.FailoverPriority = 0
			return o
		}, []ActionKind{RenewLock, ClearFailover}, "failover priority 0"},
		{"switchover in sync mode to an asynchronous standby: refused", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Config.SynchronousMode = true
			o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{"b"}}
			o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true, SyncConfirmed: true}, {Name: "c", Streaming: true}}
			o.Postgres.SynchronousStandbyNames = []string{"b"}
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			return o
		}, []ActionKind{RenewLock, ClearFailover}, "c is not a synchronous standby"},
		{"scheduled switchover not yet due: business as usual", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c", ScheduledAt: t0.Add(time.Hour)}
			return o
		}, []ActionKind{RenewLock, SyncSlots, LabelPrimary}, "leader with the lock"},
		{"switchover naming another leader: refused", func() Observed {
			o := cluster("a", "a")
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "b", Candidate: "c"}
			return o
		}, []ActionKind{RenewLock, ClearFailover}, "names b as the leader"},
		{"after the hand-over the candidate takes the lock", func() Observed {
			o := cluster("c", "")
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			o.Postgres.WAL = 900 // even when not the furthest ahead
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary, ClearFailover}, "requested candidate"},
		{"the other replicas wait for the candidate", func() Observed {
			o := cluster("b", "")
			o.Cluster.Failover = FailoverRequest{Present: true, Leader: "a", Candidate: "c"}
			o.Postgres.WAL = 5000
			return o
		}, []ActionKind{LabelReplica}, "waiting for the requested candidate c"},
		{"a failover candidate that does not answer: normal election", func() Observed {
			o := cluster("b", "")
			o.Cluster.Failover = FailoverRequest{Present: true, Candidate: "c"}
			peer(&o, "c").Reachable = false
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary, ClearFailover}, "healthiest"},
		{"forced failover to a lagging candidate", func() Observed {
			o := cluster("c", "")
			o.Cluster.Failover = FailoverRequest{Present: true, Candidate: "c"}
			o.Cluster.Lock.Optime = 1 << 30
			return o
		}, []ActionKind{AcquireLock, SyncSlots, Promote, LabelPrimary, ClearFailover}, "requested candidate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.o())
			if got := d.Kinds(); !slices.Equal(got, tc.want) {
				t.Errorf("actions = %v, want %v (message %q)", got, tc.want, d.Message)
			}
			if !strings.Contains(d.Message, tc.message) {
				t.Errorf("message %q does not contain %q", d.Message, tc.message)
			}
		})
	}
}

func TestDecideUpstreams(t *testing.T) {
	o := cluster("a", "")
	o.Postgres.Replicas = nil
	d := Decide(o)
	if d.Actions[1].Kind != SyncSlots || !slices.Equal(d.Actions[1].Members, []string{"b", "c"}) {
		t.Errorf("a new leader keeps slots for b and c; got %v", d.Actions)
	}

	o = cluster("a", "b")
	o.Postgres = Postgres{DataDir: DataEmpty}
	if d := Decide(o); d.Actions[0].Upstream != "b" {
		t.Errorf("clone from %q, want b", d.Actions[0].Upstream)
	}
}

func TestSynchronousActions(t *testing.T) {
	leader := func(mutate func(*Observed)) Observed {
		o := cluster("a", "a")
		o.Cluster.Config.SynchronousMode = true
		mutate(&o)
		return o
	}
	type step struct {
		kind    ActionKind
		members []string
	}
	cases := []struct {
		name string
		o    Observed
		want []step
	}{
		{"new leader: record no standby yet, choose the best streaming one",
			leader(func(o *Observed) {
				o.Cluster.Sync = SyncState{Present: true, Leader: "b", Standbys: []string{"a"}}
				o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true, Flush: 900}, {Name: "c", Streaming: true, Flush: 950}}
			}),
			[]step{{WriteSync, []string{}}, {SetSynchronousStandbys, []string{"c"}}}},
		{"chosen standby confirmed: record it",
			leader(func(o *Observed) {
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{}}
				o.Postgres.SynchronousStandbyNames = []string{"c"}
				o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}, {Name: "c", Streaming: true, SyncConfirmed: true}}
			}),
			[]step{{WriteSync, []string{"c"}}}},
		{"chosen but not yet confirmed: do not record it",
			leader(func(o *Observed) {
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{}}
				o.Postgres.SynchronousStandbyNames = []string{"c"}
				o.Postgres.Replicas = []Replication{{Name: "c", Streaming: true}}
			}),
			nil},
		{"steady state: nothing to do",
			leader(func(o *Observed) {
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{"c"}}
				o.Postgres.SynchronousStandbyNames = []string{"c"}
				o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true, Flush: 2000}, {Name: "c", Streaming: true, SyncConfirmed: true}}
			}),
			nil},
		{"recorded standby gone: unrecord it first, then choose another",
			leader(func(o *Observed) {
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{"c"}}
				o.Postgres.SynchronousStandbyNames = []string{"c"}
				o.Postgres.Replicas = []Replication{{Name: "b", Streaming: true}}
			}),
			[]step{{WriteSync, []string{}}, {SetSynchronousStandbys, []string{"b"}}}},
		{"nosync members are never chosen",
			leader(func(o *Observed) {
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{}}
				m := o.Cluster.Members["c"]
				m.Tags.NoSync = true
				o.Cluster.Members["c"] = m
				o.Postgres.Replicas = []Replication{{Name: "c", Streaming: true}}
			}),
			nil},
		{"strict mode with no standby: any standby must confirm commits",
			leader(func(o *Observed) {
				o.Cluster.Config.SynchronousStrict = true
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{}}
			}),
			[]step{{SetSynchronousStandbys, []string{"*"}}}},
		{"strict mode: a standby that confirms under '*' is recorded",
			leader(func(o *Observed) {
				o.Cluster.Config.SynchronousStrict = true
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{}}
				o.Postgres.SynchronousStandbyNames = []string{"*"}
				o.Postgres.Replicas = []Replication{{Name: "b", Streaming: false, SyncConfirmed: true}}
			}),
			[]step{{WriteSync, []string{"b"}}}},
		{"non-strict mode with no standby: asynchronous",
			leader(func(o *Observed) {
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{}}
				o.Postgres.SynchronousStandbyNames = []string{"b"}
			}),
			[]step{{SetSynchronousStandbys, nil}}},
		{"synchronous mode turned off: clear both",
			func() Observed {
				o := cluster("a", "a")
				o.Cluster.Sync = SyncState{Present: true, Leader: "a", Standbys: []string{"b"}}
				o.Postgres.SynchronousStandbyNames = []string{"b"}
				return o
			}(),
			[]step{{SetSynchronousStandbys, []string{}}, {ClearSync, nil}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []step
			for _, a := range synchronousActions(tc.o) {
				got = append(got, step{a.Kind, a.Members})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].kind != tc.want[i].kind || !sameSet(got[i].members, tc.want[i].members) {
					t.Errorf("step %d: got %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// A replica keeps the slots of the other members (the leader's too: it is
// the next replica after a failover), so that a promotion finds them.
func TestReplicaKeepsTheOtherMembersSlots(t *testing.T) {
	d := Decide(cluster("a", "b"))
	for _, a := range d.Actions {
		if a.Kind == SyncSlots {
			if !slices.Equal(a.Members, []string{"b", "c"}) {
				t.Errorf("slots kept for %v, want [b c]", a.Members)
			}
			return
		}
	}
	t.Errorf("a healthy replica keeps no slots: %v", d.Actions)
}

// The slot of a member that left the cluster (its pod re-created by a
// rolling change) stays for member_slots_ttl, on the leader and on the
// replicas, so that it streams at once when it is back; then it goes.
func TestDepartedMembersKeepTheirSlots(t *testing.T) {
	for _, tc := range []struct {
		name     string
		me, lead string
		gone     time.Duration
		want     []string
	}{
		{"leader, d left a minute ago", "a", "a", time.Minute, []string{"b", "c", "d"}},
		{"replica, d left a minute ago", "a", "b", time.Minute, []string{"b", "c", "d"}},
		{"leader, d left beyond member_slots_ttl", "a", "a", 31 * time.Minute, []string{"b", "c"}},
	} {
		o := cluster(tc.me, tc.lead)
		if tc.me == tc.lead {
			o.Postgres.Replicas = nil
		}
		o.Departed = map[string]time.Time{"d": o.Now.Add(-tc.gone), tc.me: o.Now.Add(-time.Hour)}
		var got []string
		for _, a := range Decide(o).Actions {
			if a.Kind == SyncSlots {
				got = a.Members
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: slots kept for %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNextRun(t *testing.T) {
	now := t0
	leader := cluster("a", "a")
	follower := cluster("a", "b") // b's lock expires 25 s after t0
	follower.Cluster.Lock.ObservedAt = t0.Add(-25 * time.Second)
	for _, tc := range []struct {
		name             string
		o                Observed
		done             []Action
		failed, starting bool
		want             time.Duration
	}{
		{"nothing to do: loop_wait", leader, []Action{act(RenewLock)}, false, false, 10 * time.Second},
		{"a promotion: again at once", leader, []Action{act(RenewLock), act(Promote)}, false, false, AfterChange},
		{"a failed action: soon", leader, []Action{act(RenewLock)}, true, false, AfterFailure},
		{"a promotion, then a failed action: at once", leader, []Action{act(Promote)}, true, false, AfterChange},
		{"starting: look again soon", leader, []Action{act(StartPrimary)}, false, true, WhileStarting},
		{"another's lock expires first: race then", follower, nil, false, false, 5*time.Second + 10*time.Millisecond},
	} {
		if got := NextRun(now, tc.o, tc.done, tc.failed, tc.starting).Sub(now); got != tc.want {
			t.Errorf("%s: next run in %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestNotStreamingSince(t *testing.T) {
	standby := Postgres{Running: true, InRecovery: true}
	if got := NotStreamingSince(time.Time{}, t0, standby); !got.Equal(t0) {
		t.Errorf("first seen not streaming: %v, want %v", got, t0)
	}
	if got := NotStreamingSince(t0, t0.Add(time.Minute), standby); !got.Equal(t0) {
		t.Errorf("still not streaming: the clock moved to %v", got)
	}
	standby.Streaming = true
	if got := NotStreamingSince(t0, t0.Add(time.Minute), standby); !got.IsZero() {
		t.Errorf("streaming again: %v, want zero", got)
	}
	if got := NotStreamingSince(t0, t0.Add(time.Minute), Postgres{Running: true}); !got.IsZero() {
		t.Errorf("a primary: %v, want zero", got)
	}
}
