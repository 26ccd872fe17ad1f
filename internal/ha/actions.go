package ha

import (
	"fmt"
	"strings"
)

// ActionKind is one step the instance manager carries out.
type ActionKind string

// The actions. The executor runs a decision's actions in order and stops at
// the first that fails; the next run of the loop decides again.
const (
	// AcquireLock takes the free or expired leader lock; it fails when
	// another member took it first.
	AcquireLock ActionKind = "acquire lock"
	// RenewLock renews the lock this member holds, recording its WAL
	// position and timeline.
	RenewLock ActionKind = "renew lock"
	// ReleaseLock gives the lock up, so that a replica can take it at once.
	ReleaseLock ActionKind = "release lock"
	// MarkInitialized records the cluster as bootstrapped, with the system
	// identifier of this member's data directory.
	MarkInitialized ActionKind = "mark initialized"

	// Bootstrap creates a new cluster: initdb, start as primary, create
	// the superuser and replication roles.
	Bootstrap ActionKind = "bootstrap"
	// Clone copies the data directory from Upstream with pg_basebackup.
	Clone ActionKind = "clone"
	// Reinitialize wipes the data directory and clones it from Upstream.
	Reinitialize ActionKind = "reinitialize"
	// Rewind stops PostgreSQL and rewinds it to follow Upstream with
	// pg_rewind (after crash recovery when it did not stop cleanly);
	// failing that, it reinitializes.
	Rewind ActionKind = "rewind"

	// StartPrimary starts PostgreSQL as a primary.
	StartPrimary ActionKind = "start primary"
	// StartReplica starts PostgreSQL as a standby of Upstream (of none when
	// empty: read-only).
	StartReplica ActionKind = "start replica"
	// Promote promotes the running standby.
	Promote ActionKind = "promote"
	// Demote stops the primary and starts it as a standby of Upstream (of
	// none when empty), so that it accepts no writes.
	Demote ActionKind = "demote"
	// Follow points a running standby at Upstream.
	Follow ActionKind = "follow"
	// Stop stops PostgreSQL (fast shutdown).
	Stop ActionKind = "stop"
	// HandOver is a switchover on the leader: stop PostgreSQL, wait until
	// Upstream (the candidate) received the shutdown checkpoint, release
	// the lock; the member then follows the candidate. When the candidate
	// does not confirm the checkpoint in time, the leader keeps the lock,
	// starts again as primary and refuses the request.
	HandOver ActionKind = "hand over"

	// SyncSlots makes the primary's physical replication slots match
	// Members.
	SyncSlots ActionKind = "sync slots"
	// SetSynchronousStandbys sets synchronous_standby_names to Members.
	SetSynchronousStandbys ActionKind = "set synchronous standbys"
	// WriteSync records Members as the synchronous standbys in the DCS.
	WriteSync ActionKind = "write sync state"
	// ClearSync removes the synchronous state from the DCS (synchronous
	// mode is off).
	ClearSync ActionKind = "clear sync state"
	// ClearFailover removes the switchover or failover request, recording
	// Reason when the request was refused.
	ClearFailover ActionKind = "clear failover request"
	// LabelPrimary labels this member's pod primary and no other pod of
	// the cluster primary; LabelReplica labels it replica.
	LabelPrimary ActionKind = "label primary"
	LabelReplica ActionKind = "label replica"
)

// Action is one step with its arguments.
type Action struct {
	Kind     ActionKind
	Upstream string
	Members  []string
	// Reason is why a request is cleared unfulfilled (ClearFailover).
	Reason string
}

func (a Action) String() string {
	var b strings.Builder
	b.WriteString(string(a.Kind))
	if a.Upstream != "" {
		fmt.Fprintf(&b, " %s", a.Upstream)
	}
	if a.Members != nil {
		fmt.Fprintf(&b, " [%s]", strings.Join(a.Members, ","))
	}
	return b.String()
}

// Decision is what one run of the loop does, and why.
type Decision struct {
	Actions []Action
	// Message says what the member is doing, in Patroni's manner ("no
	// action: I am the leader with the lock").
	Message string
}

// Kinds lists the decision's action kinds, for tests and logs.
func (d Decision) Kinds() []ActionKind {
	kinds := make([]ActionKind, len(d.Actions))
	for i, a := range d.Actions {
		kinds[i] = a.Kind
	}
	return kinds
}

func act(kind ActionKind) Action { return Action{Kind: kind} }

func actOn(kind ActionKind, upstream string) Action {
	return Action{Kind: kind, Upstream: upstream}
}

func actMembers(kind ActionKind, members []string) Action {
	if members == nil {
		members = []string{}
	}
	return Action{Kind: kind, Members: members}
}
