package postgres

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRoleOptions(t *testing.T) {
	for _, c := range []struct {
		options string
		want    string
		err     bool
	}{
		{"", "NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1", false},
		{"CREATEDB NOINHERIT CONNECTION LIMIT 10", "NOSUPERUSER CREATEDB NOCREATEROLE NOINHERIT LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 10", false},
		{"SUPERUSER NOLOGIN REPLICATION BYPASSRLS CREATEROLE", "SUPERUSER NOCREATEDB CREATEROLE INHERIT NOLOGIN REPLICATION BYPASSRLS CONNECTION LIMIT -1", false},
		{"CONNECTION LIMIT", "", true},
		{"CONNECTION LIMIT x", "", true},
		{"CONNECTION 5", "", true},
		{"CREATEDB; DROP TABLE x", "", true},
		{"NO", "", true},
		{"createdb", "", true},
	} {
		a, err := ParseRoleOptions(c.options)
		if (err != nil) != c.err {
			t.Errorf("ParseRoleOptions(%q): %v", c.options, err)
			continue
		}
		if err == nil && a.SQL() != c.want {
			t.Errorf("ParseRoleOptions(%q).SQL() = %q, want %q", c.options, a.SQL(), c.want)
		}
	}
}

func TestPlanRoles(t *testing.T) {
	scram, _ := Verifier(PasswordSCRAM, "alice", "a")
	scram2, _ := Verifier(PasswordSCRAM, "alice", "b")
	md5 := MD5Verifier("bob", "b")
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	defaults := DefaultRoleAttributes()
	want := []ManagedRole{
		{Name: "alice", Verifier: scram, Options: "CREATEDB"},
		{Name: "bob", Verifier: md5, ValidUntil: &until},
		{Name: "carol", Verifier: scram},
	}
	createdb := defaults
	createdb.CreateDB = true
	existing := map[string]ExistingRole{
		"alice":      {Name: "alice", Attributes: createdb, Verifier: scram2, Managed: true}, // new password
		"bob":        {Name: "bob", Attributes: defaults, Verifier: md5, ValidUntil: &until}, // matches, not yet marked
		"gone":       {Name: "gone", Attributes: defaults, Managed: true},                    // removed from the spec
		"app":        {Name: "app", Attributes: defaults, Managed: true},                     // kept
		"by_hand":    {Name: "by_hand", Attributes: defaults},                                // not pgo's
		"postgres":   {Name: "postgres", Managed: true},
		"replicator": {Name: "replicator", Managed: true},
	}
	p, err := PlanRoles(want, existing, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Create, []string{"carol"}) || !slices.Equal(p.Alter, []string{"alice"}) || !slices.Equal(p.Drop, []string{"gone"}) {
		t.Errorf("create %v, alter %v, drop %v", p.Create, p.Alter, p.Drop)
	}
	all := strings.Join(p.Statements, "\n")
	for _, s := range []string{
		`ALTER ROLE "alice" WITH NOSUPERUSER CREATEDB NOCREATEROLE INHERIT LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 PASSWORD '` + scram + `' VALID UNTIL 'infinity'`,
		`COMMENT ON ROLE "bob" IS 'managed by pgo'`,
		`CREATE ROLE "carol" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 PASSWORD '` + scram + `' VALID UNTIL 'infinity'`,
		`COMMENT ON ROLE "carol" IS 'managed by pgo'`,
	} {
		if !strings.Contains(all, s) {
			t.Errorf("the plan lacks %s:\n%s", s, all)
		}
	}
	if len(p.Statements) != 4 {
		t.Errorf("the plan has %d statements, want 4:\n%s", len(p.Statements), all)
	}

	// Nothing to do once it all matches; a new expiry alters without a
	// password.
	for _, name := range []string{"bob", "postgres", "replicator"} {
		r := existing[name]
		r.Managed = true
		existing[name] = r
	}
	existing["alice"] = ExistingRole{Name: "alice", Attributes: createdb, Verifier: scram, Managed: true}
	existing["carol"] = ExistingRole{Name: "carol", Attributes: defaults, Verifier: scram, Managed: true}
	delete(existing, "gone")
	if p, _ := PlanRoles(want, existing, []string{"app"}); len(p.Statements)+len(p.Drop) != 0 {
		t.Errorf("a matching cluster gets %v, drops %v", p.Statements, p.Drop)
	}
	later := until.Add(time.Hour)
	want[1].ValidUntil = &later
	p, _ = PlanRoles(want, existing, []string{"app"})
	if len(p.Statements) != 1 || p.Statements[0] != `ALTER ROLE "bob" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL '2030-01-02T04:04:05Z'` {
		t.Errorf("a new expiry: %v", p.Statements)
	}

	// A password in clear, a reserved name or bad options are refused.
	for _, bad := range []ManagedRole{
		{Name: "eve", Verifier: "plain-password"},
		{Name: "postgres", Verifier: scram},
		{Name: "pg_monitor", Verifier: scram},
		{Name: "eve", Verifier: scram, Options: "SUPERUSER; DROP"},
	} {
		if _, err := PlanRoles([]ManagedRole{bad}, nil, nil); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

func TestPlanGrants(t *testing.T) {
	want := []ManagedRole{
		{Name: "alice", Databases: []string{"app", "reports"}},
		{Name: "app", Databases: []string{"app"}},
	}
	managed := map[string]bool{"alice": true, "app": true, "gone": true, "old": true}
	all := []string{"CONNECT", "CREATE", "TEMPORARY"}
	databases := []DatabaseACL{
		{Name: "app", Owner: "app", AllowConn: true, Privileges: map[string][]string{"alice": all, "by_hand": all}},
		{Name: "reports", Owner: "postgres", AllowConn: true, Privileges: map[string][]string{"alice": {"CONNECT"}, "old": all}},
		{Name: "template0", Owner: "postgres", Privileges: map[string][]string{}},
	}
	stmts, look := PlanDatabaseGrants(want, managed, databases)
	wantStmts := []string{
		`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "reports" TO "alice"`,
		`REVOKE CONNECT, CREATE, TEMPORARY ON DATABASE "reports" FROM "old"`,
	}
	if !slices.Equal(stmts, wantStmts) || !slices.Equal(look, []string{"app", "reports"}) {
		t.Errorf("database grants %q, schemas to look at %v", stmts, look)
	}

	stmts = PlanSchemaGrants("reports", "postgres", want, managed, map[string][]string{"alice": {"USAGE"}, "old": {"CREATE", "USAGE"}, "by_hand": {"CREATE"}})
	if !slices.Equal(stmts, []string{`GRANT USAGE, CREATE ON SCHEMA public TO "alice"`, `REVOKE USAGE, CREATE ON SCHEMA public FROM "old"`}) {
		t.Errorf("schema grants %q", stmts)
	}
	// The owner of a database has its privileges already.
	if stmts := PlanSchemaGrants("app", "app", want, managed, map[string][]string{"alice": {"USAGE", "CREATE"}}); len(stmts) != 0 {
		t.Errorf("schema grants of a matching database: %q", stmts)
	}
}

func TestHBAMethod(t *testing.T) {
	for method, last := range map[string]string{
		"":            "host all all all scram-sha-256\n",
		PasswordSCRAM: "host all all all scram-sha-256\n",
		PasswordMD5:   "host all all all md5\n",
		"trust":       "host all all all scram-sha-256\n",
	} {
		hba := HBA(false, method, nil)
		if !strings.HasSuffix(hba, last) || !strings.Contains(hba, "local all all scram-sha-256\n") {
			t.Errorf("method %q:\n%s", method, hba)
		}
	}
}

// TestSyncRoles runs SyncRoles against real PostgreSQL 15: it creates,
// alters and drops roles, and a second run with nothing changed changes
// nothing.
func TestSyncRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL; run without -short")
	}
	srv := startServer(t)
	ctx := context.Background()
	i := &Instance{SocketDir: srv.socket, Port: srv.port}
	srv.exec(t, "postgres", "CREATE DATABASE reports")
	srv.exec(t, "postgres", "CREATE ROLE by_hand LOGIN; CREATE ROLE gone LOGIN; COMMENT ON ROLE gone IS 'managed by pgo'")
	srv.exec(t, "reports", "CREATE TABLE gone_table (id int); ALTER TABLE gone_table OWNER TO gone")

	until := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []ManagedRole{
		{Name: "kat_scram_alice", Verifier: mustVerifier(t, PasswordSCRAM, "kat_scram_alice", "alice"), Options: "CREATEDB", Databases: []string{"reports"}, ValidUntil: &until},
		{Name: "kat_md5", Verifier: MD5Verifier("kat_md5", "bob"), Databases: []string{"postgres", "missing"}},
	}
	changes, err := i.SyncRoles(ctx, want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changes.Created, []string{"kat_scram_alice", "kat_md5"}) || !slices.Equal(changes.Dropped, []string{"gone"}) || changes.Grants != 4 {
		t.Errorf("first run: %+v", changes)
	}
	if err := srv.psqlLogin("kat_scram_alice", "alice"); err != nil {
		t.Errorf("alice: %v", err)
	}
	if err := srv.psqlLogin("kat_md5", "bob"); err != nil {
		t.Errorf("bob: %v", err)
	}
	var owner string
	srv.queryRow(t, "SELECT count(*)::text FROM pg_roles WHERE rolname IN ('by_hand', 'gone')", nil, &owner)
	if owner != "1" {
		t.Errorf("%s of by_hand and gone are left, want by_hand only", owner)
	}
	conn, err := srv.connect(ctx, "postgres", "", "reports")
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'gone_table'").Scan(&owner); err != nil || owner != "postgres" {
		t.Errorf("the dropped role's table: owner %q (%v)", owner, err)
	}
	_ = conn.Close(ctx)

	if changes, err := i.SyncRoles(ctx, want, nil); err != nil || !changes.Empty() {
		t.Errorf("a second run changed %+v (%v)", changes, err)
	}

	// alice loses her options, her expiry and reports.
	want[0].Options, want[0].ValidUntil, want[0].Databases = "", nil, nil
	changes, err = i.SyncRoles(ctx, want, nil)
	if err != nil || !slices.Equal(changes.Altered, []string{"kat_scram_alice"}) || changes.Grants != 2 {
		t.Errorf("alice's change: %+v (%v)", changes, err)
	}
	var createdb, expires bool
	var grants int
	srv.queryRow(t, `SELECT rolcreatedb, COALESCE(rolvaliduntil <> 'infinity', false),
		(SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a WHERE a.grantee = r.oid)::int
		FROM pg_authid r WHERE rolname = 'kat_scram_alice'`, nil, &createdb, &expires, &grants)
	if createdb || expires || grants != 0 {
		t.Errorf("alice: createdb %v, valid until %v, %d database privileges", createdb, expires, grants)
	}
	if changes, err := i.SyncRoles(ctx, want, nil); err != nil || !changes.Empty() {
		t.Errorf("a third run changed %+v (%v)", changes, err)
	}

	// PostgreSQL logs every statement, but not SyncRoles' (nor their
	// verifiers).
	log, err := os.ReadFile(srv.log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "CREATE DATABASE reports") {
		t.Error("PostgreSQL's log lacks the test's statements: is log_statement = all in effect?")
	}
	for _, r := range want {
		if strings.Contains(string(log), r.Verifier) || strings.Contains(string(log), "GRANT") {
			t.Errorf("PostgreSQL's log holds a statement of SyncRoles:\n%s", log)
		}
	}
}

func mustVerifier(t *testing.T, typ, user, password string) string {
	t.Helper()
	v, err := Verifier(typ, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
