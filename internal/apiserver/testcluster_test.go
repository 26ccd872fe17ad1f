package apiserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/specs"
)

// TestTestClusterAgainstPostgreSQL runs TestCluster against a real
// PostgreSQL 15 with TLS, on the loopback address a pod reports as its IP:
// the instance is UP; a Service without a proxy in front and a pod with
// nothing listening are DOWN; a server whose certificate another CA signed
// is DOWN.
func TestTestClusterAgainstPostgreSQL(t *testing.T) {
	h := newHarness(t, "db")
	ctx := context.Background()
	var created pgoapi.CreateClusterResponse
	h.mustAdmin("POST", pgoapi.ClustersPath("db"), pgoapi.CreateClusterRequest{Name: "hippo", Username: "app", Database: "appdb"}, http.StatusCreated, &created)

	now := time.Now()
	ca, err := pki.NewCA("test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.IssueServer(ca, "hippo", []string{"hippo.db.svc"}, now)
	if err != nil {
		t.Fatal(err)
	}
	h.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: naming.ServerCertSecret("hippo"), Namespace: "db"},
		Data: map[string][]byte{naming.KeyCACert: ca.Cert}})

	ip := fmt.Sprintf("127.0.%d.%d", 200+rand.IntN(50), 2+rand.IntN(250))
	startPostgres(t, ip, server, created.Username, created.Password, created.Database)

	up, down := "hippo-aaaa", "hippo-bbbb"
	for i, inst := range []string{up, down} {
		labels := specs.InstanceLabels("hippo", inst)
		labels[naming.LabelRole] = []string{naming.RolePrimary, naming.RoleReplica}[i]
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: inst + "-0", Namespace: "db", Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}}}
		h.create(pod)
		podIP := ip
		if inst == down {
			podIP = "127.0.0.254" // nothing listens there on 5432
		}
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podIP, PodIPs: []corev1.PodIP{{IP: podIP}}}
		if err := h.c.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	h.create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Namespace: "db", Labels: specs.ClusterLabels("hippo")},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "postgres", Port: 5432}}}})

	var resp pgoapi.TestClusterResponse
	h.mustAdmin("GET", pgoapi.ClusterTestPath("db", "hippo"), nil, http.StatusOK, &resp)
	got := map[string]pgoapi.Endpoint{}
	for _, ep := range resp.Endpoints {
		got[ep.Kind+"/"+ep.Name] = ep
	}
	if ep := got["instance/"+up+"-0"]; ep.Status != pgoapi.StatusUp || ep.Address != net.JoinHostPort(ip, "5432") || ep.Role != naming.RolePrimary {
		t.Errorf("the running instance: %+v", ep)
	}
	if ep := got["instance/"+down+"-0"]; ep.Status != pgoapi.StatusDown || ep.Message == "" {
		t.Errorf("the instance with nothing listening: %+v", ep)
	}
	if ep := got["service/hippo"]; ep.Status != pgoapi.StatusDown || !strings.HasPrefix(ep.Address, "127.100.") {
		t.Errorf("the Service without a proxy: %+v", ep)
	}
	if len(resp.Endpoints) != 3 || resp.AllUp {
		t.Errorf("endpoints %+v", resp)
	}

	// Another CA: the server's certificate does not verify.
	other, _ := pki.NewCA("test CA", now)
	sec := getSecret(t, h, "db", naming.ServerCertSecret("hippo"))
	sec.Data[naming.KeyCACert] = other.Cert
	if err := h.c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	h.mustAdmin("GET", pgoapi.ClusterTestPath("db", "hippo"), nil, http.StatusOK, &resp)
	for _, ep := range resp.Endpoints {
		if ep.Name == up+"-0" && (ep.Status != pgoapi.StatusDown || !strings.Contains(ep.Message, "certificate")) {
			t.Errorf("a certificate from another CA: %+v", ep)
		}
	}
}

// startPostgres runs PostgreSQL 15 with TLS on ip:5432 (as the postgres
// user when the test runs as root) with an application user and database.
func startPostgres(t *testing.T, ip string, cert pki.Pair, user_, password, database string) {
	t.Helper()
	bin := "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		t.Fatalf("PostgreSQL 15 is needed (`make deps` installs it): %v", err)
	}
	dir, err := os.MkdirTemp("", "pgo-apiserver-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var creds *syscall.Credential
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		creds = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(cmd *exec.Cmd) {
		t.Helper()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: creds}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd.Args[0], err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run(exec.Command(filepath.Join(bin, "initdb"), "--pgdata", data, "--username", "postgres", "--auth-local", "trust",
		"--auth-host", "scram-sha-256", "--encoding", "UTF8", "--locale", "C.UTF-8"))
	write := func(name string, content []byte) {
		t.Helper()
		path := filepath.Join(data, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	write("server.crt", cert.Cert)
	write("server.key", cert.Key)
	write("pg_hba.conf", []byte("local all all trust\nhostssl all all 127.0.0.0/8 scram-sha-256\n"))
	run(exec.Command(filepath.Join(bin, "pg_ctl"), "start", "--pgdata", data, "--wait", "--log", filepath.Join(dir, "log"),
		"-o", fmt.Sprintf("-c listen_addresses='%s' -c port=5432 -c unix_socket_directories='%s' -c ssl=on", ip, dir)))
	t.Cleanup(func() {
		stop := exec.Command(filepath.Join(bin, "pg_ctl"), "stop", "--pgdata", data, "--mode", "immediate", "--wait")
		stop.SysProcAttr = &syscall.SysProcAttr{Credential: creds}
		_ = stop.Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, fmt.Sprintf("host=%s port=5432 user=postgres dbname=postgres", dir))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"SET password_encryption = 'scram-sha-256'",
		fmt.Sprintf("CREATE ROLE %q LOGIN PASSWORD '%s'", user_, strings.ReplaceAll(password, "'", "''")),
		fmt.Sprintf("CREATE DATABASE %q OWNER %q", database, user_),
	} {
		if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
			t.Fatalf("creating the application user and database: %v", err)
		}
	}
}
