package instance

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/postgres"
)

// rolesResync is how often the primary checks its roles against
// "<cluster>-users" although neither the Secret nor the databases changed,
// to undo changes made by hand.
const rolesResync = 5 * time.Minute

// manageRoles keeps PostgreSQL's roles as "<cluster>-users" lists them while
// this member is the primary, and pg_hba.conf's password method as the
// dynamic configuration says on every member. It runs beside the HA loop,
// which never waits for it.
func (m *Manager) manageRoles(ctx context.Context) {
	wake := make(chan struct{}, 1)
	go m.watchUsersSecret(ctx, wake)
	var s rolesState
	for {
		m.syncPasswordMethod(ctx)
		if m.isRunningPrimary() {
			m.syncRoles(ctx, &s)
		} else {
			s = rolesState{} // a new primary checks everything
		}
		m.mu.Lock()
		wait := m.cluster.Config.LoopWait
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// rolesState is what the primary last made match, so that an unchanged
// Secret costs one read of it and one query.
type rolesState struct {
	applied   [sha256.Size]byte
	appliedAt time.Time
	missing   bool // the Secret was not found (logged once)
	failed    string
}

func (m *Manager) isRunningPrimary() bool {
	m.mu.Lock()
	p := m.observed
	m.mu.Unlock()
	return p.Running && !p.InRecovery && m.dcs.Holder() == m.opts.Name
}

// syncRoles reads the roles to keep and, when they or the databases changed
// (or rolesResync passed), makes PostgreSQL match them.
func (m *Manager) syncRoles(ctx context.Context, s *rolesState) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	name := naming.UsersSecret(m.opts.Cluster)
	secret, err := m.dcs.Client.CoreV1().Secrets(m.opts.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Nothing to keep yet; never read as "drop every role".
		if !s.missing {
			m.log.Info("no roles to keep: Secret " + name + " does not exist")
		}
		s.missing = true
		return
	case err != nil:
		m.reportRoles(s, fmt.Errorf("reading Secret %s: %w", name, err))
		return
	}
	s.missing = false
	var want []postgres.ManagedRole
	raw := secret.Data[naming.KeyRoles]
	if err := json.Unmarshal(raw, &want); err != nil {
		m.reportRoles(s, fmt.Errorf("the Secret %s: key %s is not a JSON list of roles: %w", name, naming.KeyRoles, err))
		return
	}
	databases, err := m.databaseNames(ctx)
	if err != nil {
		m.reportRoles(s, err)
		return
	}
	key := sha256.Sum256(append(append(raw, 0), databases...))
	if key == s.applied && time.Since(s.appliedAt) < rolesResync {
		return
	}
	changes, err := m.pg.SyncRoles(ctx, want, m.keptRoles())
	if !changes.Empty() {
		m.log.Info("roles changed", "created", changes.Created, "altered", changes.Altered, "dropped", changes.Dropped, "grants", changes.Grants)
	}
	if err != nil {
		m.reportRoles(s, err)
		return
	}
	if s.failed != "" {
		m.log.Info("roles match " + name + " again")
	}
	s.applied, s.appliedAt, s.failed = key, time.Now(), ""
}

// reportRoles logs a failure once until it changes; the next run retries.
func (m *Manager) reportRoles(s *rolesState, err error) {
	s.applied = [sha256.Size]byte{}
	if err.Error() != s.failed {
		m.log.Error(err, "keeping the roles")
	}
	s.failed = err.Error()
}

// keptRoles are never dropped: the cluster's own application user.
func (m *Manager) keptRoles() []string {
	if m.opts.AppUser == "" {
		return nil
	}
	return []string{m.opts.AppUser}
}

// databaseNames lists the databases, so that a database created later gets
// its grants at once.
func (m *Manager) databaseNames(ctx context.Context) ([]byte, error) {
	pool, err := m.pg.Pool(ctx)
	if err != nil {
		return nil, err
	}
	var names string
	if err := pool.QueryRow(ctx, `SELECT COALESCE(string_agg(datname, ',' ORDER BY datname), '') FROM pg_database`).Scan(&names); err != nil {
		return nil, fmt.Errorf("listing the databases: %w", err)
	}
	return []byte(names), nil
}

// watchUsersSecret wakes the role manager when "<cluster>-users" changes.
func (m *Manager) watchUsersSecret(ctx context.Context, wake chan<- struct{}) {
	secrets := m.dcs.Client.CoreV1().Secrets(m.opts.Namespace)
	selector := fields.OneTermEqualSelector("metadata.name", naming.UsersSecret(m.opts.Cluster)).String()
	for ctx.Err() == nil {
		w, err := secrets.Watch(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			// Polling every loop_wait still works meanwhile.
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
		w.Stop()
	}
}

// syncPasswordMethod rewrites pg_hba.conf and reloads when the dynamic
// configuration asks for another password method (md5 users came or went).
func (m *Manager) syncPasswordMethod(ctx context.Context) {
	want := m.dcs.Dynamic().PostgreSQL.PasswordMethod
	m.mu.Lock()
	written, running := m.hbaMethod, m.observed.Running
	m.mu.Unlock()
	if want == written || !running {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := m.inLoop(ctx, func(ctx context.Context) error {
		m.mu.Lock()
		standby, upstream, written := m.observed.InRecovery, m.upstream, m.hbaMethod
		m.mu.Unlock()
		if m.dcs.Dynamic().PostgreSQL.PasswordMethod == written || !m.pg.Process().Alive {
			return nil
		}
		if err := m.setRole(standby, upstream); err != nil {
			return err
		}
		return m.pg.Reload(ctx)
	})
	if err != nil {
		m.log.Error(err, "changing the password method of pg_hba.conf")
		return
	}
	if want == "" {
		want = postgres.PasswordSCRAM
	}
	m.log.Info("pg_hba.conf now authenticates with the password method", "method", want)
}
