package ha

import "time"

// Rhythm of the loop around a decision.
const (
	// AfterChange is how soon the loop runs again after an action that
	// changed the cluster (a promotion, a lock taken or given up), to
	// publish and settle it at once.
	AfterChange = 200 * time.Millisecond
	// WhileStarting is how often the loop looks at a PostgreSQL that was
	// started and does not accept connections yet: the health checks
	// answer from its observations.
	WhileStarting = 500 * time.Millisecond
	// AfterFailure is the longest the loop waits after a failed action.
	AfterFailure = time.Second
)

// changes reports whether an action kind changes the cluster so that the
// loop runs again soon.
func changes(k ActionKind) bool {
	switch k {
	case Promote, AcquireLock, HandOver, SetSynchronousStandbys, Bootstrap, ReleaseLock:
		return true
	}
	return false
}

// NextRun is when the loop runs again, now being when the actions ended:
// done are the actions that were carried out, failed says that the next one
// failed, starting that PostgreSQL is starting after them. A member that waits for another's lock runs
// again the moment that lock expires, to race for it then.
func NextRun(now time.Time, o Observed, done []Action, failed, starting bool) time.Time {
	cfg := o.Cluster.Config
	next := now.Add(cfg.LoopWait)
	again := false
	for _, a := range done {
		again = again || changes(a.Kind)
	}
	switch {
	case starting:
		next = now.Add(WhileStarting)
	case again:
		next = now.Add(AfterChange)
	case failed:
		next = now.Add(min(cfg.LoopWait, AfterFailure))
	}
	if lock := o.Cluster.Lock; lock.Holder != "" && lock.Holder != o.Name && lock.ExpiresAt().Before(next) {
		next = lock.ExpiresAt().Add(10 * time.Millisecond)
	}
	return next
}

// NotStreamingSince is the clock of a standby that does not stream, after
// an observation at now: it starts at the first observation that finds it
// not streaming and stops once it streams again or is no standby. The
// divergence check reads it.
func NotStreamingSince(since, now time.Time, pg Postgres) time.Time {
	switch {
	case !pg.InRecovery || pg.Streaming:
		return time.Time{}
	case since.IsZero():
		return now
	}
	return since
}
