package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// ManagedComment is the comment on every role pgo manages. Only roles that
// carry it are ever dropped: roles made by hand are left alone.
const ManagedComment = "managed by pgo"

// ManagedRole is a role as the controller wants it: the JSON list in the
// "roles" key of the Secret "<cluster>-users", which the primary's instance
// manager makes PostgreSQL match. The password is there only as a verifier.
type ManagedRole struct {
	Name string `json:"name"`
	// Verifier is what pg_authid.rolpassword holds: SCRAM-SHA-256 or md5.
	Verifier string `json:"verifier"`
	// Options are role attributes, such as "CREATEDB CONNECTION LIMIT 5";
	// the others keep PostgreSQL's defaults, with LOGIN.
	Options string `json:"options,omitempty"`
	// Databases get CONNECT, CREATE and TEMPORARY, and CREATE on their
	// schema public.
	Databases []string `json:"databases,omitempty"`
	// ValidUntil is when the password expires; never when nil.
	ValidUntil *time.Time `json:"validUntil,omitempty"`
}

// Validate checks what the instance manager relies on: a role name, a
// verifier (never a password in clear) and options it understands.
func (r ManagedRole) Validate() error {
	if r.Name == "" || strings.HasPrefix(r.Name, "pg_") || r.Name == SuperUser || r.Name == ReplicationUser {
		return fmt.Errorf("role name %q cannot be managed", r.Name)
	}
	if VerifierType(r.Verifier) == "" {
		return fmt.Errorf("role %s: the password is not a SCRAM-SHA-256 or md5 verifier", r.Name)
	}
	if _, err := ParseRoleOptions(r.Options); err != nil {
		return fmt.Errorf("role %s: %w", r.Name, err)
	}
	return nil
}

// RoleAttributes are the attributes of a role in pg_authid.
type RoleAttributes struct {
	Superuser, CreateDB, CreateRole, Inherit, Login, Replication, BypassRLS bool
	ConnectionLimit                                                         int
}

// DefaultRoleAttributes are CREATE ROLE's defaults, with LOGIN.
func DefaultRoleAttributes() RoleAttributes {
	return RoleAttributes{Inherit: true, Login: true, ConnectionLimit: -1}
}

// ParseRoleOptions reads role attributes in upper case, separated by
// spaces, such as "CREATEDB NOINHERIT CONNECTION LIMIT 10", over
// DefaultRoleAttributes.
func ParseRoleOptions(options string) (RoleAttributes, error) {
	a := DefaultRoleAttributes()
	words := strings.Fields(options)
	for n := 0; n < len(words); n++ {
		w := words[n]
		if w == "CONNECTION" {
			if n+2 >= len(words) || words[n+1] != "LIMIT" {
				return a, fmt.Errorf("option CONNECTION needs LIMIT and a number, as in CONNECTION LIMIT 10")
			}
			limit, err := strconv.Atoi(words[n+2])
			if err != nil || limit < -1 {
				return a, fmt.Errorf("in CONNECTION LIMIT %s the limit is a number, -1 for none", words[n+2])
			}
			a.ConnectionLimit = limit
			n += 2
			continue
		}
		value := !strings.HasPrefix(w, "NO")
		flag := map[string]*bool{
			"SUPERUSER": &a.Superuser, "CREATEDB": &a.CreateDB, "CREATEROLE": &a.CreateRole, "INHERIT": &a.Inherit,
			"LOGIN": &a.Login, "REPLICATION": &a.Replication, "BYPASSRLS": &a.BypassRLS,
		}[strings.TrimPrefix(w, "NO")]
		if flag == nil || w == "NO" {
			return a, fmt.Errorf("unknown role option %q: use SUPERUSER, CREATEDB, CREATEROLE, INHERIT, LOGIN, REPLICATION, BYPASSRLS (each may start with NO) or CONNECTION LIMIT n", w)
		}
		*flag = value
	}
	return a, nil
}

// Privileged names the attributes that reach beyond the role's own
// databases (SUPERUSER, REPLICATION, BYPASSRLS, CREATEROLE): whoever gives
// them needs more than the right to create users.
func (a RoleAttributes) Privileged() []string {
	var names []string
	for _, f := range []struct {
		on   bool
		name string
	}{{a.Superuser, "SUPERUSER"}, {a.Replication, "REPLICATION"}, {a.BypassRLS, "BYPASSRLS"}, {a.CreateRole, "CREATEROLE"}} {
		if f.on {
			names = append(names, f.name)
		}
	}
	return names
}

// SQL renders every attribute, so that an option taken out of the spec
// goes back to its default.
func (a RoleAttributes) SQL() string {
	word := func(on bool, name string) string {
		if on {
			return name
		}
		return "NO" + name
	}
	return strings.Join([]string{
		word(a.Superuser, "SUPERUSER"), word(a.CreateDB, "CREATEDB"), word(a.CreateRole, "CREATEROLE"),
		word(a.Inherit, "INHERIT"), word(a.Login, "LOGIN"), word(a.Replication, "REPLICATION"),
		word(a.BypassRLS, "BYPASSRLS"), "CONNECTION LIMIT " + strconv.Itoa(a.ConnectionLimit),
	}, " ")
}

// ExistingRole is a role as pg_authid has it.
type ExistingRole struct {
	Name       string
	Attributes RoleAttributes
	Verifier   string
	// ValidUntil is nil when the password never expires.
	ValidUntil *time.Time
	// Managed is true when the role carries ManagedComment.
	Managed bool
}

// RolePlan is what makes the roles match: statements on the postgres
// database (they carry verifiers), and roles to drop.
type RolePlan struct {
	Create, Alter []string // role names, for the log
	Statements    []string
	Drop          []string
}

// PlanRoles compares the wanted roles with the existing ones. Wanted roles
// are created or altered (and marked managed); managed roles that are no
// longer wanted are dropped, unless keep names them.
func PlanRoles(want []ManagedRole, existing map[string]ExistingRole, keep []string) (RolePlan, error) {
	var p RolePlan
	wanted := map[string]bool{}
	for _, r := range want {
		if err := r.Validate(); err != nil {
			return RolePlan{}, err
		}
		attrs, _ := ParseRoleOptions(r.Options)
		wanted[r.Name] = true
		role := QuoteIdentifier(r.Name)
		until := "'infinity'"
		if r.ValidUntil != nil {
			until = QuoteLiteral(r.ValidUntil.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
		}
		e, ok := existing[r.Name]
		switch {
		case !ok:
			p.Create = append(p.Create, r.Name)
			p.Statements = append(p.Statements, fmt.Sprintf("CREATE ROLE %s WITH %s PASSWORD %s VALID UNTIL %s",
				role, attrs.SQL(), QuoteLiteral(r.Verifier), until))
		case e.Attributes != attrs || e.Verifier != r.Verifier || !sameTime(e.ValidUntil, r.ValidUntil):
			password := ""
			if e.Verifier != r.Verifier {
				password = " PASSWORD " + QuoteLiteral(r.Verifier)
			}
			p.Alter = append(p.Alter, r.Name)
			p.Statements = append(p.Statements, fmt.Sprintf("ALTER ROLE %s WITH %s%s VALID UNTIL %s", role, attrs.SQL(), password, until))
		}
		if !ok || !e.Managed {
			p.Statements = append(p.Statements, fmt.Sprintf("COMMENT ON ROLE %s IS %s", role, QuoteLiteral(ManagedComment)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(existing)) {
		e := existing[name]
		if e.Managed && !wanted[name] && !slices.Contains(keep, name) && name != SuperUser && name != ReplicationUser &&
			!strings.HasPrefix(name, "pg_") {
			p.Drop = append(p.Drop, name)
		}
	}
	return p, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// DatabaseACL is a database with the privileges granted on it, and on its
// schema public, to roles other than its owner.
type DatabaseACL struct {
	Name, Owner string
	AllowConn   bool
	// Privileges by role: "CONNECT", "CREATE", "TEMPORARY".
	Privileges map[string][]string
}

// databasePrivileges are what a role gets on each of its databases.
var databasePrivileges = []string{"CONNECT", "CREATE", "TEMPORARY"}

// PlanDatabaseGrants gives the wanted roles CONNECT, CREATE and TEMPORARY on
// their databases, and takes them from managed roles on other databases.
// It returns the statements (on the postgres database) and the databases
// whose schema public needs a look.
func PlanDatabaseGrants(want []ManagedRole, managed map[string]bool, databases []DatabaseACL) (statements []string, schemaDatabases []string) {
	wanted := map[string]map[string]bool{}
	for _, r := range want {
		wanted[r.Name] = map[string]bool{}
		for _, d := range r.Databases {
			wanted[r.Name][d] = true
		}
	}
	look := map[string]bool{}
	for _, d := range databases {
		db := QuoteIdentifier(d.Name)
		for _, r := range want {
			if !wanted[r.Name][d.Name] || r.Name == d.Owner {
				continue
			}
			if d.AllowConn {
				look[d.Name] = true
			}
			if !containsAll(d.Privileges[r.Name], databasePrivileges) {
				statements = append(statements, fmt.Sprintf("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %s TO %s", db, QuoteIdentifier(r.Name)))
			}
		}
		for _, role := range slices.Sorted(maps.Keys(d.Privileges)) {
			if managed[role] && !wanted[role][d.Name] && role != d.Owner && len(d.Privileges[role]) > 0 {
				statements = append(statements, fmt.Sprintf("REVOKE CONNECT, CREATE, TEMPORARY ON DATABASE %s FROM %s", db, QuoteIdentifier(role)))
				if d.AllowConn {
					look[d.Name] = true
				}
			}
		}
	}
	return statements, slices.Sorted(maps.Keys(look))
}

// PlanSchemaGrants does the same for the schema public of one database:
// PostgreSQL 15 no longer lets everyone create in it. privileges are the
// roles' explicit privileges on it.
func PlanSchemaGrants(database, owner string, want []ManagedRole, managed map[string]bool, privileges map[string][]string) []string {
	var statements []string
	wanted := map[string]bool{}
	for _, r := range want {
		if !slices.Contains(r.Databases, database) {
			continue
		}
		wanted[r.Name] = true
		if r.Name != owner && !containsAll(privileges[r.Name], []string{"USAGE", "CREATE"}) {
			statements = append(statements, "GRANT USAGE, CREATE ON SCHEMA public TO "+QuoteIdentifier(r.Name))
		}
	}
	for _, role := range slices.Sorted(maps.Keys(privileges)) {
		if managed[role] && !wanted[role] && role != owner && len(privileges[role]) > 0 {
			statements = append(statements, "REVOKE USAGE, CREATE ON SCHEMA public FROM "+QuoteIdentifier(role))
		}
	}
	return statements
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// RoleChanges say what SyncRoles did, by role name (never verifiers).
type RoleChanges struct {
	Created, Altered, Dropped []string
	// Grants counts GRANT and REVOKE statements.
	Grants int
}

// Empty reports whether nothing changed.
func (c RoleChanges) Empty() bool {
	return len(c.Created)+len(c.Altered)+len(c.Dropped)+c.Grants == 0
}

// SyncRoles makes the roles pgo manages match want, as the superuser over
// the Unix socket, on connections that log no statement (the statements
// carry verifiers). Roles named in keep are never dropped. A dropped role's
// objects go to the superuser first, in every database.
func (i *Instance) SyncRoles(ctx context.Context, want []ManagedRole, keep []string) (RoleChanges, error) {
	var changes RoleChanges
	conn, err := i.quietConn(ctx, "postgres")
	if err != nil {
		return changes, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	existing, err := existingRoles(ctx, conn)
	if err != nil {
		return changes, err
	}
	plan, err := PlanRoles(want, existing, keep)
	if err != nil {
		return changes, err
	}
	for _, stmt := range plan.Statements {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			// The statement carries a verifier: name the role and the
			// error's code only.
			return changes, fmt.Errorf("creating or altering roles %v failed (SQLSTATE %s)", append(plan.Create, plan.Alter...), sqlState(err))
		}
	}
	changes.Created, changes.Altered = plan.Create, plan.Alter

	databases, err := databaseACLs(ctx, conn)
	if err != nil {
		return changes, err
	}
	managed := map[string]bool{}
	for name, r := range existing {
		managed[name] = r.Managed
	}
	for _, r := range want {
		managed[r.Name] = true
	}
	grants, schemaDatabases := PlanDatabaseGrants(want, managed, databases)
	for _, stmt := range grants {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return changes, fmt.Errorf("%s: %w", stmt, err)
		}
		changes.Grants++
	}
	for _, name := range schemaDatabases {
		n, err := i.syncSchemaGrants(ctx, name, want, managed)
		changes.Grants += n
		if err != nil {
			return changes, err
		}
	}

	for _, role := range plan.Drop {
		if err := i.dropRole(ctx, conn, role, databases); err != nil {
			return changes, err
		}
		changes.Dropped = append(changes.Dropped, role)
	}
	return changes, nil
}

func (i *Instance) syncSchemaGrants(ctx context.Context, database string, want []ManagedRole, managed map[string]bool) (int, error) {
	conn, err := i.quietConn(ctx, database)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var owner string
	err = conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()`).Scan(&owner)
	if err != nil {
		return 0, fmt.Errorf("reading the owner of database %s: %w", database, err)
	}
	rows, err := conn.Query(ctx, `SELECT r.rolname::text, a.privilege_type
		FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a JOIN pg_roles r ON r.oid = a.grantee
		WHERE n.nspname = 'public' AND a.grantee <> n.nspowner`)
	if err != nil {
		return 0, fmt.Errorf("reading the privileges on schema public of database %s: %w", database, err)
	}
	privileges := map[string][]string{}
	var role, privilege string
	_, err = pgx.ForEachRow(rows, []any{&role, &privilege}, func() error {
		privileges[role] = append(privileges[role], privilege)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reading the privileges on schema public of database %s: %w", database, err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public')`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	n := 0
	for _, stmt := range PlanSchemaGrants(database, owner, want, managed, privileges) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return n, fmt.Errorf("%s in database %s: %w", stmt, database, err)
		}
		n++
	}
	return n, nil
}

// dropRole hands a role's objects to the superuser and drops what is left
// of it (privileges) in every database, ends its sessions and drops it.
func (i *Instance) dropRole(ctx context.Context, conn *pgx.Conn, role string, databases []DatabaseACL) error {
	q := QuoteIdentifier(role)
	for _, d := range databases {
		if !d.AllowConn {
			continue
		}
		db, err := i.quietConn(ctx, d.Name)
		if err != nil {
			return fmt.Errorf("dropping role %s: %w", role, err)
		}
		_, err = db.Exec(ctx, fmt.Sprintf("REASSIGN OWNED BY %s TO %s; DROP OWNED BY %s", q, QuoteIdentifier(SuperUser), q))
		_ = db.Close(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("dropping role %s: handing its objects in database %s to %s: %w", role, d.Name, SuperUser, err)
		}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role); err != nil {
		return fmt.Errorf("dropping role %s: ending its sessions: %w", role, err)
	}
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+q); err != nil {
		return fmt.Errorf("dropping role %s: %w", role, err)
	}
	return nil
}

// quietConn connects to a database as the superuser over the Unix socket,
// with statement logging and activity tracking off: its statements may
// carry verifiers, which must reach neither the server's log, nor
// pg_stat_activity, nor pg_stat_statements.
func (i *Instance) quietConn(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = i.SocketDir, uint16(i.Port), SuperUser, i.SuperuserPassword, database
	cfg.ConnectTimeout = 5 * time.Second
	cfg.RuntimeParams["application_name"] = "pgo-roles"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %s: %w", database, err)
	}
	_, err = conn.Exec(ctx, `SET log_statement = 'none'; SET log_min_duration_statement = -1;
		SET log_min_error_statement = 'panic'; SET track_activities = off; SET lock_timeout = '10s'; SET statement_timeout = '60s'`)
	if err == nil {
		_, err = conn.Exec(ctx, `SET pg_stat_statements.track_utility = off`)
	}
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("turning statement logging off in database %s: %w", database, err)
	}
	return conn, nil
}

func existingRoles(ctx context.Context, conn *pgx.Conn) (map[string]ExistingRole, error) {
	rows, err := conn.Query(ctx, `SELECT r.rolname::text, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolinherit,
			r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit, COALESCE(r.rolpassword, ''), r.rolvaliduntil,
			COALESCE(shobj_description(r.oid, 'pg_authid'), '') = $1
		FROM pg_authid r WHERE r.rolname !~ '^pg_'`, ManagedComment)
	if err != nil {
		return nil, fmt.Errorf("reading the roles: %w", err)
	}
	out := map[string]ExistingRole{}
	var r ExistingRole
	var until pgtype.Timestamptz
	a := &r.Attributes
	_, err = pgx.ForEachRow(rows, []any{&r.Name, &a.Superuser, &a.CreateDB, &a.CreateRole, &a.Inherit, &a.Login,
		&a.Replication, &a.BypassRLS, &a.ConnectionLimit, &r.Verifier, &until, &r.Managed}, func() error {
		role := r
		role.ValidUntil = nil
		if until.Valid && until.InfinityModifier == pgtype.Finite {
			t := until.Time
			role.ValidUntil = &t
		}
		out[role.Name] = role
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the roles: %w", err)
	}
	return out, nil
}

func databaseACLs(ctx context.Context, conn *pgx.Conn) ([]DatabaseACL, error) {
	rows, err := conn.Query(ctx, `SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, d.datallowconn,
			COALESCE((SELECT array_agg(r.rolname::text || ':' || a.privilege_type)
				FROM aclexplode(d.datacl) a JOIN pg_roles r ON r.oid = a.grantee
				WHERE a.grantee <> d.datdba), '{}')
		FROM pg_database d ORDER BY d.datname`)
	if err != nil {
		return nil, fmt.Errorf("reading the databases: %w", err)
	}
	var out []DatabaseACL
	var d DatabaseACL
	var acl []string
	_, err = pgx.ForEachRow(rows, []any{&d.Name, &d.Owner, &d.AllowConn, &acl}, func() error {
		db := d
		db.Privileges = map[string][]string{}
		for _, item := range acl {
			n := strings.LastIndexByte(item, ':')
			role, privilege := item[:n], item[n+1:]
			db.Privileges[role] = append(db.Privileges[role], privilege)
		}
		out = append(out, db)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the databases: %w", err)
	}
	slices.SortFunc(out, func(a, b DatabaseACL) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// sqlState is the SQLSTATE of a failed statement, which (unlike its
// message) cannot quote the statement.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return "none, the connection failed"
}
