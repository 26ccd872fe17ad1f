// Package ha is the brain of the instance manager: a pure function from what
// one member observed (its PostgreSQL, the DCS, its peers, the clock) to the
// actions it takes. It does no I/O; the instance package gathers the
// observation and carries the actions out.
//
// The behaviour is Patroni's (patroni/ha.py), with the Kubernetes API as the
// DCS: a Lease is the leader lock, pod annotations hold member state, and
// ConfigMaps hold the dynamic configuration, the synchronous standby and
// switchover requests.
package ha

import (
	"time"
)

// LSN is a PostgreSQL WAL position in bytes.
type LSN uint64

// Role is a member's role as it reports it.
type Role string

// Member roles.
const (
	RolePrimary       Role = "primary"
	RoleReplica       Role = "replica"
	RoleStandbyLeader Role = "standby_leader"
	RoleUninitialized Role = "uninitialized"
	RoleStopped       Role = "stopped"
)

// Tags are a member's per-instance HA settings.
type Tags struct {
	// FailoverPriority ranks members with the same WAL position; 0 means the
	// member is never promoted (Patroni's nofailover).
	FailoverPriority int `json:"failoverPriority"`
	// NoSync keeps the member from being chosen as synchronous standby.
	NoSync bool `json:"noSync,omitempty"`
}

// NoFailover is true when the member must never be promoted.
func (t Tags) NoFailover() bool { return t.FailoverPriority <= 0 }

// Config is the dynamic configuration every member follows, from the
// ConfigMap "<cluster>-config".
type Config struct {
	TTL                  time.Duration
	LoopWait             time.Duration
	RetryTimeout         time.Duration
	MaximumLagOnFailover LSN
	SynchronousMode      bool
	SynchronousStrict    bool
	// Paused is Patroni's pause mode: the lock is kept, nothing else is
	// done automatically.
	Paused bool
	// PrimaryStartTimeout is how long a crashed primary may take to start
	// again before it gives up the lock.
	PrimaryStartTimeout time.Duration
	// MemberSlotsTTL is how long the replication slot of a member that
	// left (its pod deleted, as in a rolling restart) is kept, so that it
	// streams at once when it comes back (Patroni 4's member_slots_ttl).
	MemberSlotsTTL time.Duration
	// UnresponsiveTimeout is how long a leader whose postmaster runs but
	// does not answer its status queries keeps the lock before it stops
	// PostgreSQL and gives the lock up; 0 means TTL.
	UnresponsiveTimeout time.Duration
}

// UnresponsiveBound is how long a leader keeps its lock while PostgreSQL
// does not answer.
func (c Config) UnresponsiveBound() time.Duration {
	if c.UnresponsiveTimeout > 0 {
		return c.UnresponsiveTimeout
	}
	return c.TTL
}

// DefaultConfig has Patroni's defaults.
func DefaultConfig() Config {
	return Config{
		TTL:                  30 * time.Second,
		LoopWait:             10 * time.Second,
		RetryTimeout:         10 * time.Second,
		MaximumLagOnFailover: 1 << 20,
		PrimaryStartTimeout:  300 * time.Second,
		MemberSlotsTTL:       30 * time.Minute,
	}
}

// Lock is the leader lock as this member saw it.
type Lock struct {
	// Holder is the member holding the lock; empty when released.
	Holder string
	// ObservedAt is when this member first saw the lock's current value
	// (holder and renewal), on its own clock. The lock expires TTL after
	// that, whatever the holder's clock says.
	ObservedAt time.Time
	// TTL of the lock.
	TTL time.Duration
	// Optime is the leader's WAL position at its last renewal.
	Optime LSN
	// Timeline of the leader at its last renewal.
	Timeline int64
}

// ExpiresAt is when the lock expires unless renewed.
func (l Lock) ExpiresAt() time.Time { return l.ObservedAt.Add(l.TTL) }

// HeldAt reports whether the lock is held by someone at a time.
func (l Lock) HeldAt(now time.Time) bool {
	return l.Holder != "" && now.Before(l.ExpiresAt())
}

// Member is another member's state as it published it in the DCS.
type Member struct {
	Name     string
	Role     Role
	Running  bool
	Timeline int64
	WAL      LSN
	Tags     Tags
	// APIURL is the member's REST API, ConnHost and ConnPort its
	// PostgreSQL.
	APIURL   string
	ConnHost string
	ConnPort int
}

// SyncState is the synchronous replication state in "<cluster>-sync": the
// members that hold every acknowledged commit.
type SyncState struct {
	// Present is false when the key was never written.
	Present  bool
	Leader   string
	Standbys []string
}

// Has reports whether a member is a recorded synchronous standby.
func (s SyncState) Has(name string) bool {
	for _, m := range s.Standbys {
		if m == name {
			return true
		}
	}
	return false
}

// FailoverRequest is a switchover or failover request from
// "<cluster>-failover".
type FailoverRequest struct {
	// Present is false when there is no request.
	Present bool
	// Leader the request expects to be the current leader (switchover);
	// empty for a failover.
	Leader string
	// Candidate to promote; empty lets the healthiest replica win.
	Candidate string
	// ScheduledAt delays a switchover; zero means now.
	ScheduledAt time.Time
	// Force lets the requested candidate take over although it lags
	// beyond maximum_lag_on_failover. It still has to receive the leader's
	// shutdown checkpoint before the leader lets the lock go.
	Force bool
	// Refused says why the leader refused the last request (when Present
	// is false).
	Refused string
}

// Cluster is the DCS as this member read it.
type Cluster struct {
	// Initialized is true once a member bootstrapped the cluster;
	// SystemID is the PostgreSQL system identifier it recorded.
	Initialized bool
	SystemID    uint64
	Config      Config
	Lock        Lock
	Members     map[string]Member
	Sync        SyncState
	Failover    FailoverRequest
}

// DataDir is the state of the member's data directory.
type DataDir string

// Data directory states.
const (
	DataEmpty DataDir = "empty"
	DataValid DataDir = "valid"
)

// Replication is a standby connected to this (primary) member, from
// pg_stat_replication.
type Replication struct {
	Name      string // application_name, the member name
	Streaming bool
	// CatchingUp: connected, and not yet caught up (a member that just
	// rejoined). Its WAL sender still sends everything, a shutdown
	// checkpoint included.
	CatchingUp bool
	Flush      LSN
	Replay     LSN
	// SyncConfirmed is true when PostgreSQL treats the standby as
	// synchronous and it has flushed everything committed before it became
	// synchronous.
	SyncConfirmed bool
}

// Postgres is what the member observed of its own PostgreSQL.
type Postgres struct {
	DataDir  DataDir
	SystemID uint64
	// Running is true when PostgreSQL accepts connections.
	Running bool
	// Starting is true while PostgreSQL was started and does not accept
	// connections yet; StartedAt is when that start began.
	Starting  bool
	StartedAt time.Time
	// Unresponsive is true when the postmaster runs and answered since it
	// started, but does not answer now (too many connections, a slow or
	// cancelled query, a hung server); UnresponsiveSince is the first
	// failure of this run of failures. The other fields keep their last
	// answered values.
	Unresponsive      bool
	UnresponsiveSince time.Time
	// InRecovery is true when PostgreSQL runs as a standby (or, stopped,
	// when it was a standby when it stopped).
	InRecovery bool
	Timeline   int64
	// WAL is the member's position: the current WAL location of a primary,
	// the latest received or replayed location of a standby.
	WAL LSN
	// Replayed is a standby's replay location (health checks with ?lag=
	// compare it with the leader's position, as Patroni does).
	Replayed LSN
	// Upstream is the member a standby follows; empty when it follows none.
	Upstream string
	// Streaming is true when a standby's WAL receiver streams from its
	// upstream; NotStreamingSince is when it last stopped doing so.
	Streaming         bool
	NotStreamingSince time.Time
	// SynchronousStandbyNames is the member names in
	// synchronous_standby_names ("*" for any).
	SynchronousStandbyNames []string
	// Replicas connected to a primary.
	Replicas []Replication
}

// Peer is another member as it answered this member's status request just
// now; a peer that did not answer is left out.
type Peer struct {
	Name      string
	Running   bool
	Primary   bool // running and not in recovery
	WAL       LSN
	Timeline  int64
	Tags      Tags
	Reachable bool
}

// Observed is everything one run of the loop decides from.
type Observed struct {
	Now  time.Time
	Name string
	Tags Tags
	// DCSReachable is false when the DCS could not be read within
	// retry_timeout; Cluster then holds the last state read.
	DCSReachable bool
	Cluster      Cluster
	Postgres     Postgres
	// Peers holds live answers from the other members; it is filled only
	// when the lock is free (see NeedPeers).
	Peers []Peer
	// LeaderHistory is the leader's timeline history as it answered just
	// now; it is asked for only when NeedLeaderHistory says so, and nil
	// when the leader did not answer.
	LeaderHistory []TimelineSwitch
	// Departed are members no longer in the cluster, with when this member
	// last saw them there.
	Departed map[string]time.Time
}

// TimelineSwitch is one line of a timeline history file: Timeline ended at
// LSN, where its successor began.
type TimelineSwitch struct {
	Timeline int64 `json:"timeline"`
	LSN      LSN   `json:"lsn"`
}
