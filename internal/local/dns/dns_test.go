package dns_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"pgo.dev/pgo/internal/local/dns"
	"pgo.dev/pgo/internal/testenv"
)

// The DNS server against a real kube-apiserver, asked by Go's own DNS client
// and by raw questions over UDP and TCP.
func TestServer(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	cs := env.Clientset
	const ns = "dns"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A loopback address of the test's own, port 53 as in the environment.
	addr := fmt.Sprintf("127.%d.%d.%d:53", 200+rand.IntN(50), rand.IntN(256), 1+rand.IntN(254))
	srv, err := dns.New(env.Config, dns.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Start(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Start: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Start did not return within 10s of its context ending")
		}
	})

	port := []corev1.ServicePort{{Name: "postgres", Port: 5432, TargetPort: intstr.FromString("postgres")}}
	selector := map[string]string{"app": "db"}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: port},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db-pods"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: selector, Ports: port},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, ip := range []string{"127.78.0.2", "127.78.0.3"} {
		name := fmt.Sprintf("db-%d", i)
		pod, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: selector},
			Spec: corev1.PodSpec{
				Hostname: name, Subdomain: "db-pods",
				Containers: []corev1.Container{{Name: "db", Image: "postgres",
					Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432}}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status.Phase, pod.Status.PodIP, pod.Status.PodIPs = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("setting the status of pod %s: %v", name, err)
		}
	}

	var d net.Dialer
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	lookup := func(name string) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ips, err := r.LookupHost(ctx, name)
		slices.Sort(ips)
		return ips, err
	}
	eventually := func(what string, f func() bool) {
		t.Helper()
		for start := time.Now(); !f(); time.Sleep(50 * time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("not within 10s: %s", what)
			}
		}
	}
	resolves := func(name string, want ...string) func() bool {
		return func() bool {
			ips, err := lookup(name)
			return err == nil && slices.Equal(ips, want)
		}
	}

	eventually("the Service's name resolves to its ClusterIP", resolves("db.dns.svc.cluster.local", svc.Spec.ClusterIP))
	// The server's cache sees the pods' status a little later than the
	// Service: wait for the last one written.
	eventually("the headless Service resolves to both pods", resolves("db-pods.dns.svc.cluster.local", "127.78.0.2", "127.78.0.3"))
	for _, tt := range []struct{ name, want string }{
		{"db.dns.svc.cluster.local.", svc.Spec.ClusterIP},
		{"db-pods.dns.svc.cluster.local", "127.78.0.2 127.78.0.3"},
		{"db-1.db-pods.dns.svc.cluster.local", "127.78.0.3"},
		{"127-78-0-2.dns.pod.cluster.local", "127.78.0.2"},
	} {
		ips, err := lookup(tt.name)
		if err != nil || fmt.Sprint(ips) != "["+tt.want+"]" {
			t.Errorf("LookupHost(%s) = %v, %v; want [%s]", tt.name, ips, err, tt.want)
		}
	}

	_, srvs, err := r.LookupSRV(ctx, "postgres", "tcp", "db-pods.dns.svc.cluster.local")
	var targets []string
	for _, s := range srvs {
		targets = append(targets, fmt.Sprintf("%s:%d", s.Target, s.Port))
	}
	slices.Sort(targets)
	if want := "[db-0.db-pods.dns.svc.cluster.local.:5432 db-1.db-pods.dns.svc.cluster.local.:5432]"; err != nil || fmt.Sprint(targets) != want {
		t.Errorf("LookupSRV = %v, %v; want %s", targets, err, want)
	}

	for _, name := range []string{"nope.dns.svc.cluster.local", "db.other.svc.cluster.local", "db-9.db-pods.dns.svc.cluster.local"} {
		_, err := lookup(name)
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("LookupHost(%s): %v; want not found", name, err)
		}
	}

	// Raw questions: the exact answer codes, over both transports.
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range []struct {
			name string
			want dnsmessage.RCode
		}{
			{"example.com.", dnsmessage.RCodeRefused},
			{"nope.dns.svc.cluster.local.", dnsmessage.RCodeNameError},
			{"db.dns.svc.cluster.local.", dnsmessage.RCodeSuccess},
		} {
			m, err := exchange(network, addr, tt.name)
			if err != nil {
				t.Fatalf("asking %s over %s: %v", tt.name, network, err)
			}
			if m.RCode != tt.want {
				t.Errorf("%s over %s: %v, want %v", tt.name, network, m.RCode, tt.want)
			}
		}
	}

	// A pod that stops being ready leaves its headless Service's answers.
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("db-0 leaves the headless Service", resolves("db-pods.dns.svc.cluster.local", "127.78.0.3"))

	// Stopping the server closes its sockets.
	stop()
	if err := <-stopped; err != nil {
		t.Fatalf("Start: %v", err)
	}
	stopped <- nil
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("the DNS server still accepts TCP connections after Start returned")
	}
}

// exchange asks name's A record over network and returns the answer.
func exchange(network, addr, name string) (dnsmessage.Message, error) {
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	out, err := q.Pack()
	if err != nil {
		return dnsmessage.Message{}, err
	}
	conn, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return dnsmessage.Message{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if network == "tcp" {
		out = append([]byte{byte(len(out) >> 8), byte(len(out))}, out...)
	}
	if _, err := conn.Write(out); err != nil {
		return dnsmessage.Message{}, err
	}
	buf := make([]byte, 65535)
	var n int
	if network == "tcp" {
		// A TCP answer is a length, then the message; read both whole.
		if _, err := io.ReadFull(conn, buf[:2]); err != nil {
			return dnsmessage.Message{}, err
		}
		n = int(buf[0])<<8 | int(buf[1])
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			return dnsmessage.Message{}, err
		}
	} else if n, err = conn.Read(buf); err != nil {
		return dnsmessage.Message{}, err
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		return dnsmessage.Message{}, err
	}
	if m.ID != 7 {
		return m, fmt.Errorf("answer to question %d, want 7", m.ID)
	}
	return m, nil
}
