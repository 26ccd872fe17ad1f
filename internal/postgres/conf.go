// Package postgres runs and inspects one PostgreSQL server for the instance
// manager: its configuration files, its process, its tools (initdb,
// pg_basebackup, pg_rewind, pg_controldata) and the queries the HA loop
// needs.
package postgres

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Well-known names.
const (
	// SuperUser is the superuser the instance manager connects as.
	SuperUser = "postgres"
	// ReplicationUser is the role replicas stream with.
	ReplicationUser = "replicator"
)

// Settings is what postgresql.conf is rendered from.
type Settings struct {
	Member     string // cluster_name and application_name
	ListenAddr string
	Port       int
	SocketDir  string
	// Standby settings: a standby follows PrimaryConnInfo (none when empty)
	// through its slot.
	Standby         bool
	PrimaryConnInfo string
	PrimarySlot     string
	// SynchronousStandbys are member names, or "*".
	SynchronousStandbys []string
	// TLS files; TLS is off when CertFile is empty.
	CertFile, KeyFile, CAFile string
	// Parameters are the user's settings; the ones pgo needs win.
	Parameters map[string]string
	// ArchiveCommand archives WAL (archive_mode on) and RestoreCommand
	// fetches it back; no archiving when empty.
	ArchiveCommand, RestoreCommand string
}

// ArchiveTimeout forces a WAL segment switch after this long with writes,
// so that the archive is at most a minute behind a quiet primary.
const ArchiveTimeout = "60s"

// PgBackRestArchiving are the archive and restore commands of pgBackRest
// for the stanza (which finds its configuration in its environment).
// archive_mode is on, not always: pgBackRest refuses backups of a primary
// with archive_mode=always. A promoted standby archives the segments it
// received but the old primary had not (see the instance manager).
func PgBackRestArchiving(stanza string) (archive, restore string) {
	return fmt.Sprintf(`pgbackrest --stanza=%s archive-push "%%p"`, stanza),
		fmt.Sprintf(`pgbackrest --stanza=%s archive-get %%f "%%p"`, stanza)
}

// managedParameters are set by pgo whatever the user asks for.
var managedParameters = []string{
	"archive_command", "archive_mode", "cluster_name", "config_file", "data_directory",
	"external_pid_file", "hba_file", "hot_standby", "ident_file", "listen_addresses",
	"logging_collector", "password_encryption", "port", "primary_conninfo",
	"primary_slot_name", "recovery_target_timeline", "restore_command", "ssl",
	"ssl_ca_file", "ssl_cert_file", "ssl_key_file", "synchronous_standby_names",
	"unix_socket_directories", "wal_log_hints",
}

// PostgresqlConf renders postgresql.conf.
func PostgresqlConf(s Settings) string {
	params := map[string]string{
		// Replication and failover.
		"wal_level":             "replica",
		"hot_standby":           "on",
		"max_wal_senders":       "10",
		"max_replication_slots": "10",
		"wal_keep_size":         "128MB",
		"wal_log_hints":         "on",
		"hot_standby_feedback":  "on",
		"synchronous_commit":    "on",
		// Security.
		"password_encryption": "scram-sha-256",
		// Logs go to the container's output.
		"logging_collector": "off",
		"log_destination":   "stderr",
		"log_line_prefix":   "%m [%p] %q%u@%d ",
	}
	for k, v := range s.Parameters {
		if !slices.Contains(managedParameters, k) {
			params[k] = v
		}
	}
	params["cluster_name"] = s.Member
	params["listen_addresses"] = s.ListenAddr
	params["port"] = fmt.Sprint(s.Port)
	params["unix_socket_directories"] = s.SocketDir
	params["synchronous_standby_names"] = synchronousStandbyNames(s.SynchronousStandbys)
	// recovery_target_timeline is written for a primary too: it changes
	// only with a restart, and a promoted standby keeps running.
	params["recovery_target_timeline"] = "latest"
	if s.Standby {
		params["primary_conninfo"] = s.PrimaryConnInfo
		params["primary_slot_name"] = s.PrimarySlot
	}
	params["archive_mode"] = "off"
	if s.ArchiveCommand != "" {
		params["archive_mode"] = "on"
		params["archive_command"] = s.ArchiveCommand
		params["restore_command"] = s.RestoreCommand
		if _, ok := s.Parameters["archive_timeout"]; !ok {
			params["archive_timeout"] = ArchiveTimeout
		}
	}
	params["ssl"] = "off"
	if s.CertFile != "" {
		params["ssl"] = "on"
		params["ssl_cert_file"] = s.CertFile
		params["ssl_key_file"] = s.KeyFile
		if s.CAFile != "" {
			params["ssl_ca_file"] = s.CAFile
		}
	}

	var b strings.Builder
	b.WriteString("# Written by the pgo instance manager: changes here are overwritten.\n")
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fmt.Fprintf(&b, "%s = %s\n", k, Quote(params[k]))
	}
	return b.String()
}

// synchronousStandbyNames renders synchronous_standby_names for one
// synchronous standby among names (Patroni's synchronous_node_count 1).
func synchronousStandbyNames(names []string) string {
	switch {
	case len(names) == 0:
		return ""
	case slices.Equal(names, []string{"*"}):
		return "*"
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + strings.ReplaceAll(n, `"`, `""`) + `"`
	}
	return fmt.Sprintf("1 (%s)", strings.Join(quoted, ", "))
}

// ParseSynchronousStandbyNames reads back the member names of
// synchronous_standby_names as PostgresqlConf writes it.
func ParseSynchronousStandbyNames(value string) []string {
	value = strings.TrimSpace(value)
	switch value {
	case "":
		return nil
	case "*":
		return []string{"*"}
	}
	if i := strings.IndexByte(value, '('); i >= 0 && strings.HasSuffix(value, ")") {
		value = value[i+1 : len(value)-1]
	}
	var names []string
	for _, n := range strings.Split(value, ",") {
		n = strings.TrimSpace(n)
		if strings.HasPrefix(n, `"`) && strings.HasSuffix(n, `"`) && len(n) >= 2 {
			n = strings.ReplaceAll(n[1:len(n)-1], `""`, `"`)
		}
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// HBA renders pg_hba.conf: password authentication everywhere, over TLS
// only when tlsOnly, with the user's rules before the catch-all ones. The
// catch-all rule's method is PasswordSCRAM, or PasswordMD5 when some user
// has an md5 password (PostgreSQL's md5 method still does SCRAM for roles
// with SCRAM verifiers); anything else is PasswordSCRAM.
func HBA(tlsOnly bool, method string, rules []string) string {
	if method != PasswordMD5 {
		method = PasswordSCRAM
	}
	host := "host"
	if tlsOnly {
		host = "hostssl"
	}
	var b strings.Builder
	b.WriteString("# Written by the pgo instance manager: changes here are overwritten.\n")
	b.WriteString("local all all scram-sha-256\n")
	// The replication user has no password: its client certificate,
	// from the cluster's CA, is the only way in.
	fmt.Fprintf(&b, "hostssl replication %s all cert\n", ReplicationUser)
	for _, r := range rules {
		b.WriteString(strings.TrimSpace(r))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s all all all %s\n", host, method)
	return b.String()
}

// Quote quotes a postgresql.conf value.
func Quote(v string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", "''") + "'"
}

// QuoteLiteral quotes an SQL string literal.
func QuoteLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// QuoteIdentifier quotes an SQL identifier.
func QuoteIdentifier(v string) string {
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

// ConnInfo renders a libpq connection string.
func ConnInfo(params map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := params[k]
		if v == "" {
			continue
		}
		v = strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", `\'`)
		parts = append(parts, fmt.Sprintf("%s='%s'", k, v))
	}
	return strings.Join(parts, " ")
}

// Passfile renders a libpq password file with one line per user, for any
// host, port and database.
func Passfile(passwords map[string]string) string {
	esc := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), ":", `\:`)
	}
	var b strings.Builder
	for _, user := range slices.Sorted(maps.Keys(passwords)) {
		fmt.Fprintf(&b, "*:*:*:%s:%s\n", esc(user), esc(passwords[user]))
	}
	return b.String()
}

// SlotName is the physical replication slot of a member: slot names allow
// only lowercase letters, digits and underscores.
func SlotName(member string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(member) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
