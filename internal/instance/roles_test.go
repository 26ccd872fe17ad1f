package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/postgres"
)

// setRoles writes "<cluster>-users" as the controller would.
func (h *harness) setRoles(roles ...postgres.ManagedRole) {
	h.t.Helper()
	raw, err := json.Marshal(roles)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx := context.Background()
	secrets := h.env.Clientset.CoreV1().Secrets(h.ns)
	s, err := secrets.Get(ctx, naming.UsersSecret(h.cluster), metav1.GetOptions{})
	if err != nil {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: naming.UsersSecret(h.cluster), Namespace: h.ns}, Data: map[string][]byte{naming.KeyRoles: raw}}
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{})
	} else {
		s.Data = map[string][]byte{naming.KeyRoles: raw}
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		h.t.Fatal(err)
	}
}

// login connects to a member as a user with a password.
func (h *harness) login(name, user, password, database string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = h.member(name).ip, 5432, user, password, database
	cfg.ConnectTimeout = 2 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

func (h *harness) canLogin(name, user, password string) error {
	conn, err := h.login(name, user, password, "postgres")
	if err != nil {
		return err
	}
	return conn.Close(context.Background())
}

func verifier(t *testing.T, typ, user, password string) string {
	t.Helper()
	v, err := postgres.Verifier(typ, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestManagedRoles runs the primary's role management against real
// PostgreSQL 15 and a real kube-apiserver: roles from "<cluster>-users" log
// in with their passwords and get their attributes, expiry and databases;
// a new verifier refuses the old password; md5 users log in once the
// dynamic configuration asks for md5; a dropped role's table goes to
// postgres, and roles made by hand stay. No verifier reaches PostgreSQL's
// log, although it logs every statement.
func TestManagedRoles(t *testing.T) {
	h := newHarness(t, 1, fastProfile, map[string]any{
		"postgresql": map[string]any{"parameters": map[string]string{
			"log_statement": "all", "shared_preload_libraries": "pg_stat_statements"}},
	})
	// The harness grants the operator's Role, which reads the users Secret
	// only.
	ctx := context.Background()
	cs := h.env.Clientset
	// Someone else's Secret stays out of the managers' reach.
	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hippo-postgres-secret", Namespace: h.ns}}
	if _, err := cs.CoreV1().Secrets(h.ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	h.startAll()
	primary := h.waitHealthy(90 * time.Second)
	for _, sql := range []string{
		"CREATE DATABASE reports",
		"CREATE ROLE by_hand LOGIN PASSWORD 'by hand'",
		"CREATE ROLE old_managed LOGIN",
		"COMMENT ON ROLE old_managed IS 'managed by pgo'",
	} {
		if err := h.exec(primary, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	until := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	alice := postgres.ManagedRole{Name: "alice", Verifier: verifier(t, postgres.PasswordSCRAM, "alice", "alice's first password"),
		Options: "CREATEDB CONNECTION LIMIT 5", Databases: []string{"appdb", "reports"}, ValidUntil: &until}
	app := postgres.ManagedRole{Name: "app", Verifier: verifier(t, postgres.PasswordSCRAM, "app", "app-secret"), Databases: []string{"appdb"}}
	h.setRoles(alice, app)

	h.waitFor("alice logs in", 30*time.Second, func() bool { return h.canLogin(primary, "alice", "alice's first password") == nil })
	if err := h.canLogin(primary, "alice", "not alice's password"); err == nil {
		t.Error("alice logged in with a wrong password")
	}
	if err := h.canLogin(primary, "app", "app-secret"); err != nil {
		t.Errorf("the application user with its password: %v", err)
	}
	h.waitFor("old_managed dropped", 30*time.Second, func() bool {
		n, err := h.queryInt(primary, "SELECT count(*) FROM pg_roles WHERE rolname = 'old_managed'")
		return err == nil && n == 0
	})

	// Attributes, expiry, the marker, the grants.
	var createdb, super bool
	var connlimit int
	var validUntil time.Time
	var comment string
	row := func(sql string, dest ...any) {
		t.Helper()
		conn, err := h.connect(ctx, primary)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	row(`SELECT rolcreatedb, rolsuper, rolconnlimit, rolvaliduntil, shobj_description(oid, 'pg_authid') FROM pg_authid WHERE rolname = 'alice'`,
		&createdb, &super, &connlimit, &validUntil, &comment)
	if !createdb || super || connlimit != 5 || !validUntil.Equal(until) || comment != postgres.ManagedComment {
		t.Errorf("alice: createdb %v, superuser %v, connection limit %d, valid until %s, comment %q", createdb, super, connlimit, validUntil, comment)
	}
	conn, err := h.login(primary, "alice", "alice's first password", "reports")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE alices (id int); INSERT INTO alices VALUES (1); CREATE TEMPORARY TABLE scratch (id int)"); err != nil {
		t.Errorf("alice creating tables in reports: %v", err)
	}
	_ = conn.Close(ctx)

	// A new verifier: the new password logs in, the old one no longer.
	alice.Verifier = verifier(t, postgres.PasswordSCRAM, "alice", "alice's second password")
	h.setRoles(alice, app)
	h.waitFor("alice's new password", 30*time.Second, func() bool { return h.canLogin(primary, "alice", "alice's second password") == nil })
	if err := h.canLogin(primary, "alice", "alice's first password"); err == nil {
		t.Error("alice's old password still logs in")
	}

	// An unchanged Secret and a new database cost no change.
	time.Sleep(time.Second) // the log line of the rotation
	changes := strings.Count(h.log(primary), "roles changed")
	if err := h.exec(primary, "CREATE DATABASE unrelated"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * 2 * time.Second) // three loops
	if n := strings.Count(h.log(primary), "roles changed"); n != changes {
		t.Errorf("the roles changed %d times more while their Secret did not", n-changes)
	}

	// md5: once the configuration asks for it, an md5 user logs in, and
	// SCRAM users still do.
	bob := postgres.ManagedRole{Name: "bob", Verifier: verifier(t, postgres.PasswordMD5, "bob", "bob's password")}
	h.setRoles(alice, app, bob)
	cfg := map[string]any{}
	for k, v := range h.config {
		cfg[k] = v
	}
	cfg["postgresql"] = map[string]any{"parameters": map[string]string{"log_statement": "all"}, "password_method": "md5"}
	h.setConfig(cfg)
	h.waitFor("bob logs in with md5", 30*time.Second, func() bool { return h.canLogin(primary, "bob", "bob's password") == nil })
	if err := h.canLogin(primary, "alice", "alice's second password"); err != nil {
		t.Errorf("alice (SCRAM) with the md5 method: %v", err)
	}
	if err := h.canLogin(primary, "bob", "not bob's"); err == nil {
		t.Error("bob logged in with a wrong password")
	}

	// alice goes: her table goes to postgres; roles made by hand stay.
	h.setRoles(app, bob)
	h.waitFor("alice dropped", 30*time.Second, func() bool {
		n, err := h.queryInt(primary, "SELECT count(*) FROM pg_roles WHERE rolname = 'alice'")
		return err == nil && n == 0
	})
	reports, err := h.connectTo(ctx, primary, "reports")
	if err != nil {
		t.Fatal(err)
	}
	var owner string
	var rows int
	if err := reports.QueryRow(ctx, "SELECT tableowner, (SELECT count(*) FROM alices) FROM pg_tables WHERE tablename = 'alices'").Scan(&owner, &rows); err != nil || owner != "postgres" || rows != 1 {
		t.Errorf("alice's table after she was dropped: owner %q, %d rows (%v)", owner, rows, err)
	}
	_ = reports.Close(ctx)
	for _, user := range []string{"by_hand", "app", "bob", "replicator"} {
		if n, err := h.queryInt(primary, fmt.Sprintf("SELECT count(*) FROM pg_roles WHERE rolname = '%s'", user)); err != nil || n != 1 {
			t.Errorf("role %s: %d (%v)", user, n, err)
		}
	}
	if err := h.canLogin(primary, "by_hand", "by hand"); err != nil {
		t.Errorf("the role made by hand: %v", err)
	}

	// The log has every statement but ours.
	log := h.log(primary)
	if !strings.Contains(log, "CREATE DATABASE reports") {
		t.Error("PostgreSQL's log lacks the test's statements: is log_statement = all in effect?")
	}
	for _, secret := range []string{"SCRAM-SHA-256$", alice.Verifier, bob.Verifier, app.Verifier, "app-secret"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds a verifier or password (%.20s…)", secret)
		}
	}
	// Nor do the statistics of statements: the bootstrap sent the
	// application user's verifier, not its password ("app-secret"), and
	// neither is tracked.
	if err := h.exec(primary, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	if n, err := h.queryInt(primary, `SELECT count(*) FROM pg_stat_statements WHERE query ~ '(app-secret|SCRAM-SHA-256)'`); err != nil || n != 0 {
		t.Errorf("pg_stat_statements holds %d statements with the application user's password or a verifier (%v)", n, err)
	}
}

// connectTo opens a connection to one database of a member as the
// superuser.
func (h *harness) connectTo(ctx context.Context, name, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = h.member(name).ip, 5432, "postgres", h.superPwd, database
	cfg.ConnectTimeout = 2 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}
