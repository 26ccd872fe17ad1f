package instance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/postgres"
)

// startTimeout bounds how long the loop waits for PostgreSQL to accept
// connections after starting it as a primary.
const startTimeout = 60 * time.Second

// execute carries one action out.
func (m *Manager) execute(ctx context.Context, o ha.Observed, a ha.Action) error {
	switch a.Kind {
	case ha.Bootstrap, ha.Clone, ha.Reinitialize, ha.Rewind, ha.HandOver:
		m.busy.Store(true)
		defer m.busy.Store(false)
	}
	cfg := o.Cluster.Config
	pgo := o.Postgres
	// sql bounds the queries of the quick actions below loop_wait; the long
	// ones (a promotion, a start) have bounds of their own and run with
	// the lock renewed.
	sql := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, m.sqlTimeout()) }
	switch a.Kind {
	case ha.AcquireLock:
		return m.dcs.Acquire(ctx, cfg.TTL, pgo.WAL, pgo.Timeline)

	case ha.RenewLock:
		err := m.retry(ctx, cfg.RetryTimeout, func(ctx context.Context) error {
			wal := pgo.WAL
			if !pgo.Unresponsive {
				wal = m.currentWAL(ctx, pgo.WAL)
			}
			return m.dcs.Renew(ctx, cfg.TTL, wal, pgo.Timeline)
		})
		if err != nil && !errors.Is(err, dcs.ErrLockLost) {
			// Could not renew within retry_timeout: the loop treats the
			// DCS as unreachable at once, which demotes.
			return fmt.Errorf("%w: %w", errLockNotRenewed, err)
		}
		return err

	case ha.ReleaseLock:
		return m.dcs.Release(ctx, pgo.WAL, pgo.Timeline)

	case ha.MarkInitialized:
		qctx, cancel := sql()
		id, err := m.pg.SystemID(qctx)
		cancel()
		if err != nil {
			return err
		}
		m.setSystemID(id)
		return m.dcs.MarkInitialized(ctx, id)

	case ha.Bootstrap:
		return m.bootstrap(ctx)

	case ha.Clone, ha.Reinitialize:
		return m.clone(ctx, a.Upstream)

	case ha.Rewind:
		return m.rewind(ctx, a.Upstream)

	case ha.StartPrimary:
		if err := m.setRole(false, ""); err != nil {
			return err
		}
		if err := m.pg.Start(); err != nil {
			return err
		}
		return m.pg.WaitReady(ctx, startTimeout)

	case ha.StartReplica:
		if err := m.setRole(true, a.Upstream); err != nil {
			return err
		}
		return m.pg.Start()

	case ha.Promote:
		if err := m.pg.Promote(ctx); err != nil {
			return err
		}
		m.mu.Lock()
		m.promotions++
		m.upstream, m.ssn = "", nil
		m.mu.Unlock()
		m.log.Info("promoted", "member", m.opts.Name)
		// The health checks answer as a primary from now on, not after the
		// rest of the run's actions.
		p := m.observePostgres(ctx)
		m.setObserved(p)
		m.archiveReceived(p.Timeline)
		return m.writeConfig(false, "")

	case ha.Demote:
		if err := m.pg.Stop(ctx, 30*time.Second); err != nil {
			m.log.Error(err, "stopping PostgreSQL to demote it")
		}
		if err := m.setRole(true, a.Upstream); err != nil {
			return err
		}
		return m.pg.Start()

	case ha.Follow:
		if err := m.setRole(true, a.Upstream); err != nil {
			return err
		}
		qctx, cancel := sql()
		defer cancel()
		return m.pg.Reload(qctx)

	case ha.Stop:
		timeout := 30 * time.Second
		if pgo.Unresponsive {
			// A hung server: do not wait long for a clean shutdown.
			timeout = 10 * time.Second
		}
		if err := m.pg.Stop(ctx, timeout); err != nil {
			if m.pg.Process().Alive {
				return err
			}
			m.log.Error(err, "stopping PostgreSQL")
		}
		return nil

	case ha.HandOver:
		return m.handOver(ctx, o, a.Upstream)

	case ha.SyncSlots:
		qctx, cancel := sql()
		defer cancel()
		err := m.pg.SyncSlots(qctx, a.Members)
		if err != nil && pgo.InRecovery {
			// On a standby the slots only spare the others a retry after a
			// promotion: never let them hold one up.
			m.log.Error(err, "keeping the other members' replication slots")
			return nil
		}
		return err

	case ha.SetSynchronousStandbys:
		m.mu.Lock()
		m.ssn = a.Members
		m.mu.Unlock()
		if err := m.writeConfig(false, ""); err != nil {
			return err
		}
		qctx, cancel := sql()
		defer cancel()
		if err := m.pg.Reload(qctx); err != nil {
			return err
		}
		// Commits acknowledged before now may be on the previous standby
		// only: a new one counts once it flushed this far.
		wal, err := m.pg.CurrentWAL(qctx)
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.syncSince = wal
		m.mu.Unlock()
		return nil

	case ha.WriteSync:
		return m.dcs.WriteSync(ctx, m.opts.Name, a.Members)

	case ha.ClearSync:
		return m.dcs.WriteSync(ctx, "", nil)

	case ha.ClearFailover:
		return m.dcs.ClearFailover(ctx, a.Reason)

	case ha.LabelPrimary:
		return m.dcs.SetRole(ctx, naming.RolePrimary)

	case ha.LabelReplica:
		return m.dcs.SetRole(ctx, naming.RoleReplica)
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

// setRole writes PostgreSQL's configuration for a role and remembers the
// upstream.
func (m *Manager) setRole(standby bool, upstream string) error {
	if err := m.writeConfig(standby, upstream); err != nil {
		return err
	}
	m.mu.Lock()
	if upstream != m.upstream {
		// A new upstream gets its own grace before it counts as diverged.
		m.notStreaming = time.Time{}
	}
	m.upstream = upstream
	if standby {
		m.ssn = nil
	}
	m.mu.Unlock()
	return nil
}

func (m *Manager) setSystemID(id uint64) {
	m.mu.Lock()
	if id == 0 {
		// New data (a bootstrap, a clone): its timeline is its own.
		m.streamedTL = 0
	}
	m.systemID = id
	m.mu.Unlock()
}

// currentWAL is the primary's WAL position now, for the lock's optime.
func (m *Manager) currentWAL(ctx context.Context, fallback ha.LSN) ha.LSN {
	ctx, cancel := context.WithTimeout(ctx, m.sqlTimeout())
	defer cancel()
	if wal, err := m.pg.CurrentWAL(ctx); err == nil {
		return wal
	}
	return fallback
}

// errLockNotRenewed: the lock could not be renewed within retry_timeout.
var errLockNotRenewed = errors.New("the leader lock could not be renewed")

// bootstrap creates the cluster: initdb, start as primary, create the
// replication role.
func (m *Manager) bootstrap(ctx context.Context) error {
	m.setSystemID(0)
	if err := m.pg.Initdb(ctx); err != nil {
		return err
	}
	if err := m.setRole(false, ""); err != nil {
		return err
	}
	if err := m.pg.Start(); err != nil {
		return err
	}
	if err := m.pg.WaitReady(ctx, startTimeout); err != nil {
		return err
	}
	if err := m.pg.CreateReplicationUser(ctx); err != nil {
		return err
	}
	if err := m.pg.SetDataSource("initdb"); err != nil {
		return err
	}
	if m.opts.AppUser != "" {
		return m.pg.CreateUserAndDatabase(ctx, m.opts.AppUser, m.appPwd, m.opts.AppDatabase)
	}
	return nil
}

// clone copies the data directory from the leader and starts it as a
// standby of the leader.
func (m *Manager) clone(ctx context.Context, upstream string) error {
	u, err := m.member(upstream)
	if err != nil {
		return err
	}
	if err := m.pg.Stop(ctx, 30*time.Second); err != nil {
		m.log.Error(err, "stopping PostgreSQL before cloning")
	}
	m.setSystemID(0)
	source := ""
	if m.opts.Archive == instanceapi.ArchivePgBackRest {
		label, err := m.restoreFromRepository(ctx)
		switch {
		case err != nil:
			m.log.Info("cloning with pg_basebackup: the repository gives no backup", "reason", err.Error())
		default:
			source = "pgbackrest backup " + label
		}
	}
	if source == "" {
		m.log.Info("cloning", "from", upstream)
		if err := m.pg.BaseBackup(ctx, m.replicationConnInfo(u)); err != nil {
			return err
		}
		source = "pg_basebackup from " + upstream
	}
	if err := m.pg.SetDataSource(source); err != nil {
		return err
	}
	if err := m.setRole(true, upstream); err != nil {
		return err
	}
	return m.pg.Start()
}

// archiveReceived has a new primary archive the segments of the old
// timeline it received as a standby: the old primary may have died before
// archiving them.
func (m *Manager) archiveReceived(timeline int64) {
	if m.opts.Archive == "" || timeline == 0 {
		return
	}
	n, err := m.pg.ArchiveReceivedSegments(timeline)
	if err != nil {
		m.log.Error(err, "marking the received WAL segments to archive")
		return
	}
	if n > 0 {
		m.log.Info("archiving the WAL segments received before the promotion", "segments", n)
	}
}

// cloneKeeping is clone after a failed rewind: the old data directory is
// kept aside (the only copy of what the former primary did not send), and
// the clone refused when the volume cannot hold both.
func (m *Manager) cloneKeeping(ctx context.Context, upstream string) error {
	u, err := m.member(upstream)
	if err != nil {
		return err
	}
	m.setSystemID(0)
	kept, err := m.pg.BaseBackupKeeping(ctx, m.replicationConnInfo(u), time.Now())
	if err != nil {
		if errors.Is(err, postgres.ErrNoSpace) {
			m.setProblem("pg_rewind failed and the old data cannot be kept: " + err.Error() +
				"; add space to the data volume, or set remove_data_directory_on_rewind_failure to drop the old data")
		}
		return err
	}
	m.setProblem("")
	m.log.Info("kept the data directory that pg_rewind could not rewind", "path", kept)
	if err := m.setRole(true, upstream); err != nil {
		return err
	}
	return m.pg.Start()
}

// rewind makes a former primary (or a diverged standby) follow the leader;
// when pg_rewind fails, it clones instead.
func (m *Manager) rewind(ctx context.Context, upstream string) error {
	u, err := m.member(upstream)
	if err != nil {
		return err
	}
	source := m.connInfo(u, postgres.SuperUser, "postgres")
	// Keep running while the leader cannot be reached: a member that
	// stopped cannot take part in the next election.
	if err := m.pg.CheckpointSource(ctx, source); err != nil {
		return err
	}
	// pg_rewind replays from this member's last checkpoint, with WAL the
	// leader must still have: a standby makes its restartpoints rarely, so
	// make one now.
	if m.pg.Process().Alive {
		if err := m.pg.Checkpoint(ctx); err != nil {
			m.log.Error(err, "checkpointing before rewinding")
		}
	}
	if err := m.pg.Stop(ctx, 30*time.Second); err != nil {
		m.log.Error(err, "stopping PostgreSQL before rewinding")
	}
	// pg_rewind runs crash recovery with this member's own configuration.
	if err := m.setRole(false, ""); err != nil {
		return err
	}
	m.log.Info("rewinding", "from", upstream)
	if err := m.pg.Rewind(ctx, source); err != nil {
		if errors.Is(err, postgres.ErrSourceUnreachable) {
			return err // try again on a later run, with the data intact
		}
		if m.dcs.Dynamic().RemoveDataDirectoryOnRewindFailure {
			m.log.Error(err, "pg_rewind failed: cloning instead, without the old data (remove_data_directory_on_rewind_failure)", "from", upstream)
			return m.clone(ctx, upstream)
		}
		m.log.Error(err, "pg_rewind failed: cloning instead, keeping the old data directory aside", "from", upstream)
		return m.cloneKeeping(ctx, upstream)
	}
	// pg_rewind copied the leader's configuration files over this member's.
	if err := m.setRole(true, upstream); err != nil {
		return err
	}
	return m.pg.Start()
}

// handOver is a switchover on the leader: stop, let the candidate receive
// the shutdown checkpoint, release the lock, and follow the candidate. The
// lock stays renewed until it is released. A candidate that does not
// confirm the checkpoint in time would lose the commits after its last
// received position: the leader then keeps the lock, starts again as
// primary and refuses the request.
func (m *Manager) handOver(ctx context.Context, o ha.Observed, candidate string) error {
	cfg := o.Cluster.Config
	m.log.Info("switching over", "to", candidate)
	keeping := m.keepLock(ctx, cfg, o.Postgres.WAL, o.Postgres.Timeline)
	if err := m.pg.Stop(ctx, 30*time.Second); err != nil {
		m.log.Error(err, "stopping PostgreSQL for the switchover")
	}
	checkpoint, timeline := m.finalPosition(ctx)
	wait := handOverWait(cfg)
	confirmed := checkpoint != 0 && m.waitForReplica(ctx, candidate, checkpoint, wait)
	keeping()
	if !confirmed {
		why := fmt.Sprintf("switchover refused: %s did not receive the shutdown checkpoint (%s) within %s", candidate, postgres.FormatLSN(checkpoint), wait)
		m.log.Info(why + "; staying primary")
		if err := m.dcs.Renew(ctx, cfg.TTL, checkpoint, timeline); err != nil {
			// Another member has the lock now: the next run follows it.
			return fmt.Errorf("%s, and the lock could not be kept: %w", why, err)
		}
		if err := m.setRole(false, ""); err != nil {
			return err
		}
		if err := m.pg.Start(); err != nil {
			return err
		}
		if err := m.pg.WaitReady(ctx, startTimeout); err != nil {
			return err
		}
		return m.dcs.ClearFailover(ctx, why)
	}
	if err := m.dcs.Release(ctx, checkpoint, timeline); err != nil {
		return err
	}
	if err := m.setRole(true, candidate); err != nil {
		return err
	}
	return m.pg.Start()
}

// handOverWait is how long a leader waits for the candidate of a
// switchover to receive its shutdown checkpoint.
func handOverWait(cfg ha.Config) time.Duration {
	return min(cfg.TTL/2, 10*time.Second)
}
