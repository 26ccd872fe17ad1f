package instance

import (
	"context"
	"errors"
	"time"

	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/ha"
)

// keepLock renews the leader lock in the background while the loop runs a
// long action as leader (a start, a restart, a bootstrap), as Patroni's loop
// keeps renewing while its asynchronous executor works: otherwise a
// replica would take the lock meanwhile and the old primary come back
// writable beside it. It renews every loop_wait (at most ttl/3) with the
// last observed position, and stops when stop is called or the lock is
// lost. The lock's optime only ever lags: a stale one is less strict for
// maximum_lag_on_failover, never more.
func (m *Manager) keepLock(ctx context.Context, cfg ha.Config, wal ha.LSN, timeline int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	every := min(cfg.LoopWait, cfg.TTL/3)
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			attempt, cancelAttempt := context.WithTimeout(ctx, every)
			err := m.dcs.Renew(attempt, cfg.TTL, wal, timeline)
			cancelAttempt()
			switch {
			case errors.Is(err, dcs.ErrLockLost):
				m.log.Info("lost the leader lock while running a long action", "reason", err.Error())
				return
			case err != nil && ctx.Err() == nil:
				m.log.Error(err, "renewing the leader lock during a long action")
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// keepsLock reports whether a decision keeps this member's lock: it renews
// or takes it, and neither gives it up nor hands it over. Only such a
// decision's actions run with the lock renewed in the background.
func keepsLock(d ha.Decision) bool {
	keeps := false
	for _, a := range d.Actions {
		switch a.Kind {
		case ha.RenewLock, ha.AcquireLock:
			keeps = true
		case ha.ReleaseLock, ha.HandOver, ha.Demote, ha.Stop:
			return false
		}
	}
	return keeps
}
