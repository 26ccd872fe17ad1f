package instanceapi

import (
	"net/url"
	"strconv"
	"strings"

	"pgo.dev/pgo/internal/ha"
)

// Patroni's health checks. Each answers 200 or 503 by the member's role and
// state, to GET (with the member's status as JSON), HEAD and OPTIONS (the
// status line only: HAProxy's `option httpchk` sends OPTIONS). The codes
// are Patroni 3.0.2's (HealthCode), checked against live Patroni members
// (testdata/patroni-3.0.2.json).
const (
	// PathRoot, PathPrimary, PathMaster and PathReadWrite: the leader lock
	// holder of a cluster that is not a standby cluster, whatever
	// PostgreSQL's state (a load balancer keeps the one place where writes
	// may go while its PostgreSQL restarts).
	PathRoot      = "/"
	PathPrimary   = "/primary"
	PathMaster    = "/master"
	PathReadWrite = "/read-write"
	// PathLeader: the leader lock holder, standby leaders included.
	PathLeader = "/leader"
	// PathStandbyLeader (and its older spelling): the leader of a standby
	// cluster.
	PathStandbyLeader           = "/standby-leader"
	PathStandbyLeaderUnderscore = "/standby_leader"
	// PathReplica: a running replica, not tagged noloadbalance, no further
	// behind than ?lag=.
	PathReplica = "/replica"
	// PathReadOnly: the primary, the standby leader, or what PathReplica
	// accepts.
	PathReadOnly = "/read-only"
	// PathHealth: PostgreSQL runs, whatever the role.
	PathHealth = "/health"
	// PathSync and PathAsync (and their long spellings): what PathReplica
	// accepts, if the member is (or is not) a synchronous standby.
	PathSync         = "/sync"
	PathSynchronous  = "/synchronous"
	PathAsync        = "/async"
	PathAsynchronous = "/asynchronous"
	// PathReadOnlySync: the primary, the standby leader, or a synchronous
	// standby that PathReplica accepts.
	PathReadOnlySync        = "/read-only-sync"
	PathReadOnlySynchronous = "/read-only-synchronous"
	// PathReadiness is the pod's readiness probe, which decides the
	// Services' endpoints: the leader lock holder, whatever PostgreSQL's
	// state (as Patroni), or a running replica with a view of the cluster.
	// Unlike Patroni, a running primary without the lock is not ready.
	PathReadiness = "/readiness"
	// PathLiveness: the HA loop ran recently.
	PathLiveness = "/liveness"
)

// The health checks' query parameters, as Patroni has them.
const (
	// QueryLag limits PathReplica and its kin to a member whose replay is
	// at most this far behind the leader's last position (bytes, or with a
	// unit: 16MB).
	QueryLag = "lag"
	// QueryReplicationState=streaming limits them to a member that streams
	// from its upstream (Patroni 3.0.4 and later; 3.0.2 ignores it).
	QueryReplicationState = "replication_state"
	// QueryTagPrefix: ?tag_KEY=VALUE limits every check but the leader's to
	// a member whose tag KEY is VALUE.
	QueryTagPrefix = "tag_"
)

// RoleChecks are the health checks that depend on the role, answered by
// HealthCode.
var RoleChecks = []string{
	PathRoot, PathPrimary, PathMaster, PathReadWrite, PathLeader, PathStandbyLeader, PathStandbyLeaderUnderscore,
	PathReplica, PathReadOnly, PathHealth, PathSync, PathSynchronous, PathAsync, PathAsynchronous,
	PathReadOnlySync, PathReadOnlySynchronous,
}

// HealthProbes are the checks, with queries, that the golden data records
// for each state: every health check, the lag limit below and beyond a
// lagging replica's lag, and tags that match and that do not.
var HealthProbes = append(append([]string{}, RoleChecks...), PathReadiness, PathLiveness,
	"/replica?lag=1MB", "/replica?lag=1GB", "/read-only?lag=1MB", "/async?lag=1MB",
	"/replica?tag_zone=a", "/replica?tag_zone=b", "/read-only?tag_zone=b", "/primary?tag_zone=b",
	"/leader?tag_zone=b", "/health?tag_zone=b", "/sync?tag_zone=b", "/replica?tag_noloadbalance=true",
)

// Health is a member's state as the health checks see it.
type Health struct {
	// Leader: the member holds the leader lock.
	Leader bool
	// Role is PostgreSQL's last known role (RoleStandbyLeader for a
	// standby cluster's leader).
	Role ha.Role
	// Running: PostgreSQL runs and answers.
	Running bool
	// Streaming: a replica receives WAL from its upstream.
	Streaming bool
	// StandbyCluster: the cluster replicates from another.
	StandbyCluster bool
	// ClusterKnown: the member read the cluster from the DCS within ttl.
	ClusterKnown bool
	// Paused: the cluster is in maintenance mode.
	Paused bool
	// SyncStandby: the member is a synchronous standby.
	SyncStandby bool
	// LeaderOptime is the leader's last WAL position in the DCS, Replayed
	// the member's replay position.
	LeaderOptime, Replayed uint64
	// Tags are the member's tags, with Patroni's names (nofailover,
	// noloadbalance, nosync, and the user's).
	Tags map[string]string
	// Live: the HA loop ran recently (or the cluster is paused).
	Live bool
}

// HealthCode is the status code (200 or 503) of a health check for a
// member in state h, as Patroni 3.0.2 answers it; ok is false for a path
// that is no health check.
func HealthCode(path string, query url.Values, h Health) (code int, ok bool) {
	switch path {
	case PathRoot:
		path = PathPrimary
	case PathReadiness:
		return passes(Ready(h)), true
	case PathLiveness:
		return passes(h.Live), true
	}
	lagging := false
	if v := query.Get(QueryLag); v != "" {
		if limit, err := ParseBytes(v); err == nil {
			lagging = h.LeaderOptime > 0 && h.LeaderOptime > h.Replayed+limit
		}
	}
	replica := h.Role == ha.RoleReplica && h.Running && !lagging && h.Tags["noloadbalance"] != "true"
	if rs := query.Get(QueryReplicationState); rs != "" && (rs != "streaming" || !h.Streaming) {
		replica = false
	}
	var leader, primary, standbyLeader bool
	switch {
	case !h.ClusterKnown && h.Paused:
		leader = h.Role == ha.RolePrimary || h.Role == ha.RoleStandbyLeader
		primary = h.Role == ha.RolePrimary
		standbyLeader = h.Role == ha.RoleStandbyLeader
	case h.Leader && h.StandbyCluster:
		leader, replica = true, false
		standbyLeader = h.Role == ha.RoleReplica || h.Role == ha.RoleStandbyLeader
	case h.Leader:
		leader, primary = true, true
	}

	pass, tagged := false, true
	switch path {
	case PathStandbyLeader, PathStandbyLeaderUnderscore:
		pass, tagged = standbyLeader, false
	case PathLeader:
		pass, tagged = leader, false
	case PathPrimary, PathMaster, PathReadWrite:
		pass, tagged = primary, false
	case PathReplica:
		pass = replica
	case PathReadOnly:
		pass = primary || standbyLeader || replica
	case PathHealth:
		pass = h.Running
	case PathSync, PathSynchronous:
		pass = h.ClusterKnown && h.SyncStandby && replica
	case PathAsync, PathAsynchronous:
		pass = h.ClusterKnown && !h.SyncStandby && replica
	case PathReadOnlySync, PathReadOnlySynchronous:
		pass = h.ClusterKnown && (primary || standbyLeader || h.SyncStandby && replica)
	default:
		return 0, false
	}
	if pass && tagged && !tagsMatch(query, h.Tags) {
		pass = false
	}
	return passes(pass), true
}

func passes(ok bool) int {
	if ok {
		return 200
	}
	return 503
}

// tagsMatch: every ?tag_KEY=VALUE names a tag the member has, with that
// value.
func tagsMatch(query url.Values, tags map[string]string) bool {
	for k, v := range query {
		key, ok := strings.CutPrefix(k, QueryTagPrefix)
		if !ok {
			continue
		}
		have, ok := tags[key]
		if !ok || len(v) == 0 || have != v[0] {
			return false
		}
	}
	return true
}

// Ready is the answer of PathReadiness: the leader lock holder, or a
// running replica (or standby leader) that knows the cluster. A lock
// holder whose PostgreSQL restarts stays ready, as in Patroni: it is the
// only member that may take writes, and taking it out of the primary
// Service would only delay its return by a probe period. A running primary
// without the lock is not ready (Patroni says it is): it must not take
// writes through the Service while it demotes.
func Ready(h Health) bool {
	switch {
	case h.Leader:
		return true
	case !h.Running || !h.ClusterKnown:
		return false
	default:
		return h.Role != ha.RolePrimary
	}
}

// ParseBytes reads a size in bytes, or with a unit as PostgreSQL writes
// them: 16MB, 1GB, 512kB.
func ParseBytes(s string) (uint64, error) {
	units := []struct {
		suffix string
		factor uint64
	}{{"kB", 1 << 10}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(n), 10, 64)
			return v * u.factor, err
		}
	}
	return strconv.ParseUint(s, 10, 64)
}
