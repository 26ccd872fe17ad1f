package postgres

import (
	"os"
	"slices"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/ha"
)

func TestPostgresqlConf(t *testing.T) {
	conf := PostgresqlConf(Settings{
		Member: "hippo-0", ListenAddr: "127.0.10.1", Port: 5432, SocketDir: "/tmp/pgo",
		Standby: true, PrimaryConnInfo: "host='127.0.10.2'", PrimarySlot: "hippo_0",
		SynchronousStandbys: []string{"hippo-1"},
		Parameters:          map[string]string{"work_mem": "64MB", "port": "6000", "log_min_messages": "it's"},
	})
	for _, want := range []string{
		"cluster_name = 'hippo-0'\n",
		"listen_addresses = '127.0.10.1'\n",
		"port = '5432'\n", // the user's port is not taken
		"work_mem = '64MB'\n",
		"log_min_messages = 'it''s'\n",
		"primary_conninfo = 'host=''127.0.10.2'''\n",
		"primary_slot_name = 'hippo_0'\n",
		"recovery_target_timeline = 'latest'\n",
		`synchronous_standby_names = '1 ("hippo-1")'` + "\n",
		"wal_log_hints = 'on'\n",
		"ssl = 'off'\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("postgresql.conf lacks %q:\n%s", want, conf)
		}
	}
	primary := PostgresqlConf(Settings{Member: "m", Port: 5432, CertFile: "/tls/tls.crt", KeyFile: "/tls/tls.key"})
	if strings.Contains(primary, "primary_conninfo") || !strings.Contains(primary, "ssl = 'on'") || !strings.Contains(primary, "archive_mode = 'off'") {
		t.Errorf("a primary with TLS:\n%s", primary)
	}
}

// With pgBackRest, WAL is archived (archive_mode on, never always, which
// pgBackRest's backups refuse) and restored through it, and a quiet
// primary switches segments every minute; the user may choose another
// archive_timeout but not the commands.
func TestArchiving(t *testing.T) {
	archive, restore := PgBackRestArchiving("db")
	conf := PostgresqlConf(Settings{Member: "m", Port: 5432, ArchiveCommand: archive, RestoreCommand: restore,
		Parameters: map[string]string{"archive_command": "/bin/true", "archive_mode": "always"}})
	for _, want := range []string{
		"archive_mode = 'on'\n",
		`archive_command = 'pgbackrest --stanza=db archive-push "%p"'` + "\n",
		`restore_command = 'pgbackrest --stanza=db archive-get %f "%p"'` + "\n",
		"archive_timeout = '60s'\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("postgresql.conf lacks %q:\n%s", want, conf)
		}
	}
	if conf := PostgresqlConf(Settings{ArchiveCommand: archive, Parameters: map[string]string{"archive_timeout": "5min"}}); !strings.Contains(conf, "archive_timeout = '5min'\n") {
		t.Errorf("the user's archive_timeout is not kept:\n%s", conf)
	}
}

func TestSynchronousStandbyNamesRoundTrip(t *testing.T) {
	for _, names := range [][]string{nil, {"*"}, {"a"}, {"a-1", `we"ird`}} {
		if got := ParseSynchronousStandbyNames(synchronousStandbyNames(names)); !slices.Equal(got, names) {
			t.Errorf("round trip of %q gave %q", names, got)
		}
	}
}

func TestHBA(t *testing.T) {
	hba := HBA(true, PasswordSCRAM, []string{"hostssl app reporting 10.0.0.0/8 scram-sha-256"})
	want := "# Written by the pgo instance manager: changes here are overwritten.\n" +
		"local all all scram-sha-256\n" +
		"hostssl replication replicator all cert\n" +
		"hostssl app reporting 10.0.0.0/8 scram-sha-256\n" +
		"hostssl all all all scram-sha-256\n"
	if hba != want {
		t.Errorf("pg_hba.conf:\n%s\nwant:\n%s", hba, want)
	}
	// Without TLS only for everyone, the replication user still needs its
	// certificate.
	if hba := HBA(false, PasswordSCRAM, nil); !strings.Contains(hba, "hostssl replication replicator all cert\n") || strings.Contains(hba, "host replication") {
		t.Errorf("pg_hba.conf without tls-only:\n%s", hba)
	}
}

func TestPassfileAndConnInfo(t *testing.T) {
	if got := Passfile(map[string]string{"replicator": `a:b\c`}); got != `*:*:*:replicator:a\:b\\c`+"\n" {
		t.Errorf("passfile %q", got)
	}
	if got := ConnInfo(map[string]string{"host": "10.0.0.1", "user": "o'neil", "sslmode": ""}); got != `host='10.0.0.1' user='o\'neil'` {
		t.Errorf("conninfo %q", got)
	}
	if got := SlotName("Hippo-0.x"); got != "hippo_0_x" {
		t.Errorf("slot name %q", got)
	}
}

func TestLSN(t *testing.T) {
	l, err := ParseLSN("16/B374D848")
	if err != nil || l != ha.LSN(0x16B374D848) || FormatLSN(l) != "16/B374D848" {
		t.Errorf("ParseLSN = %d, %v; FormatLSN = %s", l, err, FormatLSN(l))
	}
	if _, err := ParseLSN("nonsense"); err == nil {
		t.Error("ParseLSN accepted nonsense")
	}
}

func TestParseControlData(t *testing.T) {
	out := `pg_control version number:            1300
Database system identifier:           7311234567890123456
Database cluster state:               shut down in recovery
Latest checkpoint location:           0/3000060
Latest checkpoint's TimeLineID:       3
Minimum recovery ending location:     0/30000D8
Min recovery ending loc's timeline:   3
`
	c, err := ParseControlData(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.SystemID != 7311234567890123456 || c.Timeline != 3 || c.Checkpoint != 0x3000060 || c.MinRecovery != 0x30000D8 || !c.CleanShutdown() {
		t.Errorf("parsed %+v", c)
	}
}

func TestPasswordForReadsPassfile(t *testing.T) {
	path := t.TempDir() + "/pgpass"
	pw := map[string]string{"postgres": `su:per\secret`, "replicator": "r"}
	if err := os.WriteFile(path, []byte(Passfile(pw)), 0o600); err != nil {
		t.Fatal(err)
	}
	for user, want := range pw {
		if got := passwordFor(path, user); got != want {
			t.Errorf("passwordFor(%s) = %q, want %q", user, got, want)
		}
	}
}

func TestParseHistory(t *testing.T) {
	got, err := ParseHistory("1\t0/3000160\tno recovery target specified\n\n# a comment\n2\t0/5000000\tat restore point \"x\"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []ha.TimelineSwitch{{Timeline: 1, LSN: 0x3000160}, {Timeline: 2, LSN: 0x5000000}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := ParseHistory("1\tnot-an-lsn\treason\n"); err == nil {
		t.Error("a bad switch point was accepted")
	}
}
