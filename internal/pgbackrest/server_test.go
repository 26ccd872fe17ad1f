package pgbackrest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"syscall"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/testenv"
)

// TestServerSupervisor: the supervisor of `pgbackrest server` (real
// pgBackRest 2.45) starts it again when it is killed, and when its
// certificate changes (a new one from the same CA, written in place with
// the old modification time, so that only its content tells) it makes the
// running server serve the new one: SIGHUP, no restart.
func TestServerSupervisor(t *testing.T) {
	w := testenv.NewWorld(t)
	id := w.NewIdentity("tls", "hippo-pgbackrest")
	conf := w.Write("pgbackrest.conf", []byte(pgbackrest.RepoHostConfig(pgbackrest.RepoHost{
		LockPath: w.Mkdir("lock"), TLS: id.TLS, ClientName: id.Name,
	})))
	port := testenv.FreePort(t)
	address := fmt.Sprintf("127.0.0.1:%d", port)
	s := w.Server(conf, port)

	first := servedSerial(t, id, address)
	if want := fileSerial(t, id.TLS.CertFile); first.Cmp(want) != 0 {
		t.Fatalf("the server serves serial %x, the certificate file has %x", first, want)
	}

	// Killed: started again, after the back-off (1 s).
	killed := s.PID()
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var pid int
	for pid = s.PID(); pid == 0 || pid == killed; pid = s.PID() {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("pgbackrest server (pid %d) was killed and not started again", killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := testenv.WaitListening(address, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed pid %d; pid %d runs %v later", killed, pid, time.Since(start).Round(time.Millisecond))

	// A new certificate from the same CA, in place.
	st, err := os.Stat(id.TLS.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	renewed := w.Issue("tls", id.CA, id.Name)
	for _, f := range []string{renewed.TLS.CertFile, renewed.TLS.KeyFile} {
		if err := os.Chtimes(f, st.ModTime(), st.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	want := fileSerial(t, renewed.TLS.CertFile)
	if want.Cmp(first) == 0 {
		t.Fatal("the new certificate has the old serial")
	}
	start = time.Now()
	for {
		got := servedSerial(t, renewed, address)
		if got.Cmp(want) == 0 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the server still serves serial %x, not the new certificate's %x", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.PID() != pid {
		t.Errorf("the server was restarted (pid %d, now %d), not reloaded", pid, s.PID())
	}
	t.Logf("the new certificate is served %v after it was written, by the same process", time.Since(start).Round(time.Millisecond))
}

// servedSerial is the serial of the certificate a TLS server presents to
// a client with the cluster's certificate.
func servedSerial(t *testing.T, id testenv.Identity, address string) *big.Int {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(id.TLS.CertFile, id.TLS.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(testenv.ReadFile(t, id.TLS.CAFile)))
	conn, err := tls.Dial("tcp", address, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("connecting to pgbackrest server: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

func fileSerial(t *testing.T, path string) *big.Int {
	t.Helper()
	block, _ := pem.Decode([]byte(testenv.ReadFile(t, path)))
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber
}
