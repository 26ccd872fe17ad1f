package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	const n = 2000
	for range n {
		p, err := NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != PasswordLength {
			t.Fatalf("password %q has %d characters, want %d", p, len(p), PasswordLength)
		}
		for _, r := range p {
			if !strings.ContainsRune(passwordAlphabet, r) {
				t.Fatalf("password %q holds %q, not a letter or digit", p, r)
			}
			counts[r]++
		}
		if seen[p] {
			t.Fatalf("password %q came twice", p)
		}
		seen[p] = true
	}
	// Every character comes, none much more often than the others: 48000
	// draws of 62 characters are about 774 each.
	if len(counts) != len(passwordAlphabet) {
		t.Errorf("only %d of %d characters were drawn", len(counts), len(passwordAlphabet))
	}
	for r, c := range counts {
		if c < 550 || c > 1000 {
			t.Errorf("%q was drawn %d times of %d", r, c, n*PasswordLength)
		}
	}
}

func TestVerifierType(t *testing.T) {
	scram, err := Verifier(PasswordSCRAM, "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]string{
		scram:                                    PasswordSCRAM,
		MD5Verifier("u", "p"):                    PasswordMD5,
		"secret":                                 "",
		"md5secret":                              "",
		"SCRAM-SHA-256$4096:c2FsdA==$x:y":        "",
		strings.Replace(scram, "$4096", "$0", 1): "",
		"":                                       "",
	} {
		if got := VerifierType(v); got != want {
			t.Errorf("VerifierType(%q) = %q, want %q", v, got, want)
		}
	}
	if !VerifierMatches(scram, "u", "p") || VerifierMatches(scram, "u", "q") {
		t.Error("VerifierMatches does not tell the SCRAM verifier's password from another")
	}
	if !VerifierMatches(MD5Verifier("u", "p"), "u", "p") || VerifierMatches(MD5Verifier("u", "p"), "v", "p") {
		t.Error("VerifierMatches does not tell the md5 verifier's user and password from others")
	}
	if _, err := Verifier("plain", "u", "p"); err == nil {
		t.Error("an unknown password type was accepted")
	}
}

// TestVerifier checks the verifiers against real PostgreSQL 15: a SCRAM
// verifier made with the server's salt is the server's, byte for byte; and
// a role given our verifiers logs in with its password, and only with it.
func TestVerifier(t *testing.T) {
	// md5: against md5sum.
	out, err := exec.Command("sh", "-c", "printf '%s' 'pa$$w0rdalice' | md5sum").Output()
	if err != nil {
		t.Fatalf("md5sum: %v", err)
	}
	if want := "md5" + strings.Fields(string(out))[0]; MD5Verifier("alice", "pa$$w0rd") != want {
		t.Errorf("MD5Verifier = %s, md5sum says %s", MD5Verifier("alice", "pa$$w0rd"), want)
	}

	if testing.Short() {
		t.Skip("the rest runs PostgreSQL; run without -short")
	}
	srv := startServer(t)
	ctx := context.Background()

	passwords := []string{
		"Zq3vX9kLm2Pw8RtY5nBc7HdF",
		`with 'quotes' and \ and : and spaces`,
		"pässwörd-ünïcode",
		"ﬁne ligature\u00a0and nbsp\u00ad", // NFKC, a space and a character mapped to nothing
		"\u05d0\u05d1\u05d2",               // right-to-left, valid for SASLprep
		"mixed \u05d0 left-to-right",       // breaks SASLprep's bidi rule: used raw
		"control\u0007char",                // prohibited: used raw
	}
	for n, password := range passwords {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			role := fmt.Sprintf("kat_scram_%d", n)
			srv.exec(t, "postgres", fmt.Sprintf("SET password_encryption = 'scram-sha-256'; CREATE ROLE %s LOGIN PASSWORD %s",
				QuoteIdentifier(role), QuoteLiteral(password)))
			var theirs string
			srv.queryRow(t, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", []any{role}, &theirs)
			iterations, salt, _, _, err := parseSCRAM(theirs)
			if err != nil {
				t.Fatalf("PostgreSQL's verifier %q: %v", theirs, err)
			}
			ours, err := SCRAMVerifier(password, salt, iterations)
			if err != nil {
				t.Fatal(err)
			}
			if ours != theirs {
				t.Errorf("with PostgreSQL's salt our verifier is\n%s\nPostgreSQL's is\n%s", ours, theirs)
			}
			if !VerifierMatches(theirs, role, password) {
				t.Error("VerifierMatches does not accept PostgreSQL's verifier of the password")
			}

			// The real check: the role logs in with our verifier (fresh
			// salt), through libpq's SCRAM.
			fresh, err := Verifier(PasswordSCRAM, role, password)
			if err != nil {
				t.Fatal(err)
			}
			srv.exec(t, "postgres", fmt.Sprintf("ALTER ROLE %s PASSWORD %s", QuoteIdentifier(role), QuoteLiteral(fresh)))
			srv.queryRow(t, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", []any{role}, &theirs)
			if theirs != fresh {
				t.Fatalf("PostgreSQL stored %q for the verifier %q", theirs, fresh)
			}
			if err := srv.psqlLogin(role, password); err != nil {
				t.Errorf("logging in with the password: %v", err)
			}
			if err := srv.psqlLogin(role, password+"x"); err == nil {
				t.Error("a wrong password logged in")
			}
		})
	}

	// pgx's own SCRAM client, and md5.
	scram, err := Verifier(PasswordSCRAM, "kat_scram", "Zq3vX9kLm2Pw8RtY5nBc7HdF")
	if err != nil {
		t.Fatal(err)
	}
	md5v, err := Verifier(PasswordMD5, "kat_md5", "an md5 password")
	if err != nil {
		t.Fatal(err)
	}
	srv.exec(t, "postgres", fmt.Sprintf("CREATE ROLE kat_scram LOGIN PASSWORD %s; CREATE ROLE kat_md5 LOGIN PASSWORD %s",
		QuoteLiteral(scram), QuoteLiteral(md5v)))
	var stored string
	srv.queryRow(t, "SELECT rolpassword FROM pg_authid WHERE rolname = 'kat_md5'", nil, &stored)
	if stored != md5v {
		t.Errorf("PostgreSQL stored %q for the md5 verifier %q", stored, md5v)
	}
	for _, c := range []struct {
		user, password string
		ok             bool
	}{
		{"kat_scram", "Zq3vX9kLm2Pw8RtY5nBc7HdF", true},
		{"kat_scram", "Zq3vX9kLm2Pw8RtY5nBc7HdG", false},
		{"kat_md5", "an md5 password", true},
		{"kat_md5", "an md5 passwort", false},
	} {
		conn, err := srv.connect(ctx, c.user, c.password, "postgres")
		if err == nil {
			_ = conn.Close(ctx)
		}
		if (err == nil) != c.ok {
			t.Errorf("pgx login of %s with %q: %v (want success %v)", c.user, c.password, err, c.ok)
		}
		if err := srv.psqlLogin(c.user, c.password); (err == nil) != c.ok {
			t.Errorf("psql login of %s with %q: %v (want success %v)", c.user, c.password, err, c.ok)
		}
	}
}

// server is a throwaway PostgreSQL 15 on a Unix socket: the superuser
// postgres is trusted, kat_md5 logs in with md5, every other role with
// SCRAM.
type server struct {
	bin, dir, socket string
	port             int
	log              string
}

func startServer(t *testing.T) *server {
	t.Helper()
	bin := "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		t.Fatalf("PostgreSQL 15 is needed (`make deps` installs it): %v", err)
	}
	dir, err := os.MkdirTemp("", "pgo-password-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var creds *syscall.Credential
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		creds = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s := &server{bin: bin, dir: dir, socket: dir, port: 5432, log: filepath.Join(dir, "log")}
	run := func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: creds}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd.Args[0], err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run(exec.Command(filepath.Join(bin, "initdb"), "--pgdata", data, "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C.UTF-8"))
	hba := "local all postgres trust\n" +
		"local all kat_md5 md5\n" +
		"local all all scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	if creds != nil {
		_ = os.Chown(filepath.Join(data, "pg_hba.conf"), int(creds.Uid), int(creds.Gid))
	}
	run(exec.Command(filepath.Join(bin, "pg_ctl"), "start", "--pgdata", data, "--wait", "--log", s.log,
		"-o", fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories='%s' -c port=%d -c log_statement=all", dir, s.port)))
	t.Cleanup(func() {
		stop := exec.Command(filepath.Join(bin, "pg_ctl"), "stop", "--pgdata", data, "--mode", "immediate", "--wait")
		stop.SysProcAttr = &syscall.SysProcAttr{Credential: creds}
		_ = stop.Run()
	})
	return s
}

func (s *server) connect(ctx context.Context, user, password, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = s.socket, uint16(s.port), user, password, database
	cfg.ConnectTimeout = 5 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

func (s *server) exec(t *testing.T, database, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := s.connect(ctx, "postgres", "", database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", strings.SplitN(sql, " PASSWORD", 2)[0], err)
	}
}

func (s *server) queryRow(t *testing.T, sql string, args []any, dest ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := s.connect(ctx, "postgres", "", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// psqlLogin logs in with libpq, which prepares passwords with SASLprep.
func (s *server) psqlLogin(user, password string) error {
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "--no-psqlrc", "--no-password", "--tuples-only",
		"--host", s.socket, "--port", strconv.Itoa(s.port), "--username", user, "--dbname", "postgres",
		"--command", "SELECT current_user")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=5")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	if strings.TrimSpace(string(out)) != user {
		return fmt.Errorf("logged in as %q", strings.TrimSpace(string(out)))
	}
	return nil
}
