package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgo.dev/pgo/internal/ha"
)

// Status is the running server's replication state.
type Status struct {
	InRecovery bool
	Timeline   int64
	// WAL is the current position of a primary, the further of the received
	// and replayed positions of a standby.
	WAL                     ha.LSN
	Received, Replayed      ha.LSN
	Streaming               bool
	SynchronousStandbyNames []string
	PendingRestart          bool
	// Replicas connected to a primary. A synchronous standby counts as
	// confirmed once it flushed syncSince (see Status).
	Replicas []ha.Replication
}

// Status queries the server. syncSince is the primary's WAL position when
// synchronous_standby_names last changed: a standby that became synchronous
// then is confirmed only once it flushed that far, since commits
// acknowledged before went to another standby.
func (i *Instance) Status(ctx context.Context, syncSince ha.LSN) (Status, error) {
	pool, err := i.Pool(ctx)
	if err != nil {
		return Status{}, err
	}
	var st Status
	var ssn string
	var pending bool
	err = pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names'),
		EXISTS (SELECT 1 FROM pg_settings WHERE pending_restart)`).Scan(&st.InRecovery, &ssn, &pending)
	if err != nil {
		return st, fmt.Errorf("querying the server's role: %w", err)
	}
	st.SynchronousStandbyNames = ParseSynchronousStandbyNames(ssn)
	st.PendingRestart = pending

	if !st.InRecovery {
		var lsn string
		err = pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text,
			('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`).Scan(&lsn, &st.Timeline)
		if err != nil {
			return st, fmt.Errorf("querying the primary's WAL position: %w", err)
		}
		if st.WAL, err = ParseLSN(lsn); err != nil {
			return st, err
		}
		st.Replicas, err = i.replicas(ctx, syncSince)
		return st, err
	}

	var received, replayed *string
	var receivedTL, checkpointTL int64
	err = pool.QueryRow(ctx, `SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
		COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), 0),
		(SELECT timeline_id FROM pg_control_checkpoint()),
		COALESCE((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false)`).
		Scan(&received, &replayed, &receivedTL, &checkpointTL, &st.Streaming)
	if err != nil {
		return st, fmt.Errorf("querying the standby's WAL positions: %w", err)
	}
	if received != nil {
		if st.Received, err = ParseLSN(*received); err != nil {
			return st, err
		}
	}
	if replayed != nil {
		if st.Replayed, err = ParseLSN(*replayed); err != nil {
			return st, err
		}
	}
	st.WAL = max(st.Received, st.Replayed)
	st.Timeline = max(receivedTL, checkpointTL)
	return st, nil
}

func (i *Instance) replicas(ctx context.Context, syncSince ha.LSN) ([]ha.Replication, error) {
	pool, err := i.Pool(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT application_name, state, COALESCE(flush_lsn::text, '0/0'),
		COALESCE(replay_lsn::text, '0/0'), sync_state FROM pg_stat_replication WHERE application_name <> ''`)
	if err != nil {
		return nil, fmt.Errorf("querying pg_stat_replication: %w", err)
	}
	type row struct{ name, state, flush, replay, sync string }
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.name, &x.state, &x.flush, &x.replay, &x.sync)
	})
	if err != nil {
		return nil, fmt.Errorf("reading pg_stat_replication: %w", err)
	}
	var out []ha.Replication
	for _, x := range rs {
		flush, err := ParseLSN(x.flush)
		if err != nil {
			return nil, err
		}
		replay, err := ParseLSN(x.replay)
		if err != nil {
			return nil, err
		}
		out = append(out, ha.Replication{
			Name:          x.name,
			Streaming:     x.state == "streaming",
			CatchingUp:    x.state == "catchup",
			Flush:         flush,
			Replay:        replay,
			SyncConfirmed: (x.sync == "sync" || x.sync == "quorum") && flush >= syncSince,
		})
	}
	return out, nil
}

// CurrentWAL is a primary's current WAL position.
func (i *Instance) CurrentWAL(ctx context.Context) (ha.LSN, error) {
	pool, err := i.Pool(ctx)
	if err != nil {
		return 0, err
	}
	var lsn string
	if err := pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return 0, fmt.Errorf("querying the current WAL position: %w", err)
	}
	return ParseLSN(lsn)
}

// Promote promotes a standby and waits for it to finish. pg_promote's own
// wait looks ten times a second; asking without it and looking every 10 ms
// takes the new primary's writes up to 90 ms sooner.
func (i *Instance) Promote(ctx context.Context) error {
	pool, err := i.Pool(ctx)
	if err != nil {
		return err
	}
	var ok bool
	if err := pool.QueryRow(ctx, `SELECT pg_promote(false)`).Scan(&ok); err != nil {
		return fmt.Errorf("promoting: %w", err)
	}
	if !ok {
		return errors.New("promoting: PostgreSQL refused the request (see its log)")
	}
	const timeout = 60 * time.Second
	for deadline := time.Now().Add(timeout); ; {
		var inRecovery bool
		err := pool.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery)
		switch {
		case err == nil && !inRecovery:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("promoting: %w", ctx.Err())
		case !i.Process().Alive:
			return errors.New("promoting: PostgreSQL stopped")
		case time.Now().After(deadline):
			return fmt.Errorf("promoting: PostgreSQL did not finish within %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Reload makes the server read its configuration files again.
func (i *Instance) Reload(ctx context.Context) error {
	pool, err := i.Pool(ctx)
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		return fmt.Errorf("reloading the configuration: %w", err)
	}
	return nil
}

// SystemID is the cluster's system identifier.
func (i *Instance) SystemID(ctx context.Context) (uint64, error) {
	pool, err := i.Pool(ctx)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := pool.QueryRow(ctx, `SELECT system_identifier FROM pg_control_system()`).Scan(&id); err != nil {
		return 0, fmt.Errorf("querying the system identifier: %w", err)
	}
	return uint64(id), nil
}

// CreateReplicationUser creates (or updates) the role replicas stream
// with. It has no password: it logs in with the cluster's client
// certificate only.
func (i *Instance) CreateReplicationUser(ctx context.Context) error {
	pool, err := i.Pool(ctx)
	if err != nil {
		return err
	}
	sql := fmt.Sprintf(`DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %[1]s) THEN
			CREATE ROLE %[2]s WITH LOGIN REPLICATION;
		END IF;
	END $$; ALTER ROLE %[2]s WITH LOGIN REPLICATION PASSWORD NULL`,
		QuoteLiteral(ReplicationUser), QuoteIdentifier(ReplicationUser))
	if _, err := pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("creating the replication user %s: %w", ReplicationUser, err)
	}
	return nil
}

// SyncSlots makes the physical replication slots the members named: it
// creates missing ones (reserving WAL at once) and drops inactive others.
//
// A standby keeps them too, so that a promotion finds them in place and
// the other replicas stream from the new primary at once.
func (i *Instance) SyncSlots(ctx context.Context, members []string) error {
	pool, err := i.Pool(ctx)
	if err != nil {
		return err
	}
	rows, err := pool.Query(ctx, `SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical'`)
	if err != nil {
		return fmt.Errorf("listing replication slots: %w", err)
	}
	type slot struct {
		name   string
		active bool
	}
	existing, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (slot, error) {
		var s slot
		return s, r.Scan(&s.name, &s.active)
	})
	if err != nil {
		return fmt.Errorf("listing replication slots: %w", err)
	}
	want := make([]string, len(members))
	for n, m := range members {
		want[n] = SlotName(m)
	}
	for _, s := range existing {
		if !slices.Contains(want, s.name) && !s.active {
			if _, err := pool.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, s.name); err != nil {
				return fmt.Errorf("dropping replication slot %s: %w", s.name, err)
			}
		}
	}
	for _, name := range want {
		if slices.ContainsFunc(existing, func(s slot) bool { return s.name == name }) {
			continue
		}
		if _, err := pool.Exec(ctx, `SELECT pg_create_physical_replication_slot($1, true)`, name); err != nil &&
			!strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("creating replication slot %s: %w", name, err)
		}
	}
	// On a standby the slots wait for a promotion, following replay so
	// that they hold no WAL back.
	if _, err := pool.Exec(ctx, `SELECT pg_replication_slot_advance(slot_name, pg_last_wal_replay_lsn())
		FROM pg_replication_slots
		WHERE pg_is_in_recovery() AND slot_type = 'physical' AND NOT active AND restart_lsn < pg_last_wal_replay_lsn()`); err != nil {
		return fmt.Errorf("advancing the replication slots kept for a promotion: %w", err)
	}
	return nil
}

// Checkpoint checkpoints the server; on a standby it makes a restartpoint,
// so that a later pg_rewind needs WAL only from the latest checkpoint the
// standby replayed.
func (i *Instance) Checkpoint(ctx context.Context) error {
	pool, err := i.Pool(ctx)
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// CreateUserAndDatabase creates (or updates the password of) a login role
// and a database it owns. The password never reaches the server: it sends
// a SCRAM verifier, over the quiet connection.
func (i *Instance) CreateUserAndDatabase(ctx context.Context, user, password, database string) error {
	verifier, err := Verifier(PasswordSCRAM, user, password)
	if err != nil {
		return err
	}
	conn, err := i.quietConn(ctx, "postgres")
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	role := fmt.Sprintf(`DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %[1]s) THEN
			CREATE ROLE %[2]s WITH LOGIN;
		END IF;
	END $$; ALTER ROLE %[2]s WITH LOGIN PASSWORD %[3]s`, QuoteLiteral(user), QuoteIdentifier(user), QuoteLiteral(verifier))
	if _, err := conn.Exec(ctx, role); err != nil {
		return fmt.Errorf("creating the user %s failed", user)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, database).Scan(&exists); err != nil {
		return fmt.Errorf("looking up database %s: %w", database, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", QuoteIdentifier(database), QuoteIdentifier(user))); err != nil {
			return fmt.Errorf("creating database %s: %w", database, err)
		}
	}
	return nil
}
