package instance_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/testenv"
)

// TestReplicationNeedsTheClustersCertificate: the members stream with the
// replication user's client certificate from their cluster's CA, checking
// each other's server certificate (verify-full). Another cluster's
// replication certificate, though its user is replicator too, is refused,
// as are this cluster's server certificate (not the replication user's)
// and a password.
func TestReplicationNeedsTheClustersCertificate(t *testing.T) {
	h := newHarness(t, 2, fastProfile, nil)
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	var replica string
	for _, name := range h.names() {
		if name != leader {
			replica = name
		}
	}
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := h.connect(ctx, replica)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var conninfo string
		if err := conn.QueryRow(ctx, "SHOW primary_conninfo").Scan(&conninfo); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"sslmode='verify-full'", "sslcert=", "host='" + leader + "." + naming.PodsDomain(h.cluster, h.ns) + "'"} {
			if !strings.Contains(conninfo, want) {
				t.Errorf("%s streams with %s, want %s in it", replica, conninfo, want)
			}
		}
	}()
	if st, err := h.status(replica); err != nil || !st.Streaming {
		t.Fatalf("%s does not stream (%+v, %v)", replica, st, err)
	}

	other := testenv.WriteMemberFiles(t, t.TempDir(), h.ns, "other", os.Getuid(), os.Getgid(), nil, 0)
	own := h.memberFiles.Paths
	identify := func(cert, key, password string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dsn := fmt.Sprintf("host=%s port=5432 user=replicator dbname=postgres replication=true sslmode=verify-full sslrootcert=%s connect_timeout=3",
			h.member(leader).ip, own["ca.crt"])
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			return err
		}
		// Dial the address, check the member's name in the pods domain.
		cfg.TLSConfig.ServerName = leader + "." + naming.PodsDomain(h.cluster, h.ns)
		if cert != "" {
			// Offered whatever CAs the server names, so that the server
			// has to refuse it.
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return err
			}
			cfg.TLSConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		}
		cfg.Password = password
		conn, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
		return err
	}
	if err := identify(own["replication.crt"], own["replication.key"], ""); err != nil {
		t.Errorf("the cluster's replication certificate: %v", err)
	}
	for what, err := range map[string]error{
		"another cluster's replication certificate": identify(other.Paths["replication.crt"], other.Paths["replication.key"], ""),
		"the cluster's server certificate":          identify(own["tls.crt"], own["tls.key"], ""),
		"a password":                                identify("", "", "repl-secret"),
	} {
		if err == nil {
			t.Errorf("%s: replication allowed, want refused", what)
		} else {
			t.Logf("%s: refused: %v", what, err)
		}
	}
}

// TestRenewedCertificatesNeedNoRestart: the operator renews the cluster's
// certificates (here the test swaps new ones into the members' files).
// PostgreSQL and the REST API serve the new ones within a loop or two, a
// replica streams again with the new replication certificate, and nothing
// restarts or fails over.
func TestRenewedCertificatesNeedNoRestart(t *testing.T) {
	h := newHarness(t, 2, fastProfile, nil)
	h.startAll()
	leader := h.waitHealthy(90 * time.Second)
	replica := h.names()[0]
	if replica == leader {
		replica = h.names()[1]
	}
	transitions := *h.lease().Spec.LeaseTransitions
	pids := map[string]int{}
	for _, name := range h.names() {
		pids[name] = postmasterPID(h, name)
	}
	before := map[string]string{}
	for _, name := range h.names() {
		before[name+" PostgreSQL"] = postgresSerial(t, h, name)
		before[name+" REST API"] = apiSerial(t, h, name)
	}

	h.memberFiles.Renew(t, h.dir, 10*time.Minute)
	h.waitFor("every server serving the renewed certificate", 30*time.Second, func() bool {
		for _, name := range h.names() {
			if postgresSerial(t, h, name) == before[name+" PostgreSQL"] || apiSerial(t, h, name) == before[name+" REST API"] {
				return false
			}
		}
		return true
	})
	// The replica connects again, with the renewed replication certificate.
	if err := h.exec(leader, "SELECT pg_terminate_backend(pid) FROM pg_stat_replication"); err != nil {
		t.Fatal(err)
	}
	h.waitFor(replica+" streaming again", 30*time.Second, func() bool {
		n, err := h.queryInt(leader, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
		return err == nil && n == 1
	})
	if l := h.lease(); *l.Spec.HolderIdentity != leader || *l.Spec.LeaseTransitions != transitions {
		t.Errorf("the lock moved during the renewal: holder %s, transitions %d (were %s, %d)", *l.Spec.HolderIdentity, *l.Spec.LeaseTransitions, leader, transitions)
	}
	for name, pid := range pids {
		if now := postmasterPID(h, name); now != pid {
			t.Errorf("%s's PostgreSQL restarted for the renewal (postmaster %d, was %d)", name, now, pid)
		}
	}
}

// postgresSerial is the serial number of the certificate a member's
// PostgreSQL serves, checked as the members check it.
func postgresSerial(t *testing.T, h *harness, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=5432 user=postgres dbname=postgres sslmode=verify-full sslrootcert=%s connect_timeout=3",
		h.member(name).ip, h.memberFiles.Paths["ca.crt"]))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = h.superPwd
	cfg.TLSConfig.ServerName = instanceapi.ServerName(name, h.cluster, h.ns)
	serial := ""
	cfg.TLSConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		serial = cs.PeerCertificates[0].SerialNumber.String()
		return nil
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return "unreachable: " + err.Error()
	}
	_ = conn.Close(ctx)
	return serial
}

// apiSerial is the serial number of the certificate a member's REST API
// serves.
func apiSerial(t *testing.T, h *harness, name string) string {
	t.Helper()
	cfg, err := instanceapi.ClientTLS(h.memberFiles.CA.Cert, instanceapi.ServerName(name, h.cluster, h.ns))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", h.member(name).ip+":8008", cfg)
	if err != nil {
		return "unreachable: " + err.Error()
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}
