package testenv

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/pki"
)

// S3Version is the versitygw release pinned in hack/s3/go.mod, which
// `make s3` builds into ${PGO_CACHE:-~/.cache/pgo}/s3/<version>.
const S3Version = "v1.8.0"

// S3 is a running S3-compatible server (versitygw, posix backend) that
// speaks HTTPS on a loopback address, with a CA of its own.
type S3 struct {
	// Host resolves to the server's address and is in its certificate:
	// pgBackRest checks the DNS names of a certificate, never its IPs.
	Host string
	Port int
	// CAFile is the PEM CA that signed the server's certificate.
	CAFile string
	// Key and Secret are the root credentials.
	Key, Secret string
	// Dir holds the buckets, one directory each.
	Dir string
	// LogFile is the server's log.
	LogFile string

	cmd *exec.Cmd
}

// S3Binary is where `make s3` puts versitygw.
func S3Binary() (string, error) {
	cache, err := controlplane.CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "s3", S3Version, "versitygw")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("versitygw %s is not built (`make s3` builds it): %w", S3Version, err)
	}
	return bin, nil
}

// StartS3 runs versitygw for the test and stops it when the test ends.
// The credentials reach it through its environment, never its command
// line.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs versitygw; run without -short")
	}
	bin, err := S3Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &S3{Host: "localhost", Key: "pgotestaccess", Secret: "pgo-test-secret-" + fmt.Sprint(time.Now().UnixNano()),
		Dir: filepath.Join(dir, "buckets"), LogFile: filepath.Join(dir, "versitygw.log"), CAFile: filepath.Join(dir, "ca.crt")}
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca, err := pki.NewCA("pgo-test-s3", now)
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.IssueServer(ca, "localhost", []string{"localhost", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{s.CAFile: ca.Cert, filepath.Join(dir, "tls.crt"): server.Cert, filepath.Join(dir, "tls.key"): server.Key} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	logf, err := os.Create(s.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "--port", fmt.Sprintf("127.0.0.1:%d", s.Port),
		"--cert", filepath.Join(dir, "tls.crt"), "--key", filepath.Join(dir, "tls.key"), "posix", s.Dir)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.Key, "ROOT_SECRET_KEY="+s.Secret)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		_ = logf.Close()
		if t.Failed() {
			s.dumpLog(t)
		}
	})
	if err := s.waitReady(30 * time.Second); err != nil {
		s.dumpLog(t)
		t.Fatal(err)
	}
	return s
}

// Endpoint is the server's address as host:port.
func (s *S3) Endpoint() string { return fmt.Sprintf("%s:%d", s.Host, s.Port) }

// waitReady waits until the server answers HTTPS with its certificate.
func (s *S3) waitReady(timeout time.Duration) error {
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		resp, err := c.Get("https://" + s.Endpoint() + "/")
		if err == nil {
			_ = resp.Body.Close()
			return nil // any answer, 403 without credentials included
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not answer on %s within %s: %w", s.Endpoint(), timeout, last)
}

func (s *S3) dumpLog(t testing.TB) {
	f, err := os.Open(s.LogFile)
	if err != nil {
		return
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	t.Logf("versitygw log:\n%s", b.String())
}
