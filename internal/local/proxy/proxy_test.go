package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"pgo.dev/pgo/internal/local/proxy"
	"pgo.dev/pgo/internal/testenv"
)

// echoServer accepts connections on addr (port 0: any), greets each with its
// name and a newline, then echoes what it reads and half-closes when the
// client does.
func echoServer(t *testing.T, name, ip string) (port int32) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				if _, err := io.WriteString(conn, name+"\n"); err != nil {
					return
				}
				if _, err := io.Copy(conn, conn); err == nil {
					_ = conn.(*net.TCPConn).CloseWrite()
					_, _ = io.Copy(io.Discard, conn)
				}
			})
		}
	})
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// greeting connects to addr and returns the backend's name with the open
// connection; the name is empty when the proxy closed the connection.
func greeting(addr string) (string, net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	_ = conn.SetReadDeadline(time.Time{})
	if errors.Is(err, io.EOF) && line == "" {
		conn.Close()
		return "", nil, nil
	}
	if err != nil {
		conn.Close()
		return "", nil, err
	}
	return strings.TrimSuffix(line, "\n"), conn, nil
}

// eventually calls f every 20ms until it returns true or within passes, and
// returns how long that took.
func eventually(t *testing.T, within time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// closedSoon tells whether the proxy closes conn within a second.
func closedSoon(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, err := io.ReadAll(conn)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

type cluster struct {
	t  *testing.T
	cs kubernetes.Interface
	ns string
}

// pod creates a pod that names its container port "postgres", and gives it
// the status a kubelet would (no kubelet runs here).
func (c *cluster) pod(name, ip string, port int32, role string) {
	c.t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.ns, Labels: map[string]string{"app": "db", "role": role}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "db", Image: "postgres",
			Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: port}},
		}}},
	}
	pod, err := c.cs.CoreV1().Pods(c.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := c.cs.CoreV1().Pods(c.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		c.t.Fatalf("setting the status of pod %s: %v", name, err)
	}
}

func (c *cluster) relabel(name, role string) {
	c.t.Helper()
	patch := `{"metadata":{"labels":{"role":"` + role + `"}}}`
	if _, err := c.cs.CoreV1().Pods(c.ns).Patch(context.Background(), name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) ready(name string, ready bool) {
	c.t.Helper()
	ctx := context.Background()
	pod, err := c.cs.CoreV1().Pods(c.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	pod.Status.Conditions[0].Status = corev1.ConditionFalse
	if ready {
		pod.Status.Conditions[0].Status = corev1.ConditionTrue
	}
	if _, err := c.cs.CoreV1().Pods(c.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// The proxy against a real kube-apiserver, with pods whose status the test
// sets and real TCP servers on their loopback IPs.
func TestProxy(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	c := &cluster{t: t, cs: env.Clientset, ns: "proxy"}
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	p, err := proxy.New(env.Config, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- p.Start(runCtx) }()
	defer func() {
		stop()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Start: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Start did not return within 10s of its context ending")
		}
	}()

	c.pod("a", "127.77.0.2", echoServer(t, "a", "127.77.0.2"), "primary")
	c.pod("b", "127.77.0.3", echoServer(t, "b", "127.77.0.3"), "replica")
	svc, err := c.cs.CoreV1().Services(c.ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "db", "role": "primary"},
			Ports:    []corev1.ServicePort{{Name: "postgres", Port: 5432, TargetPort: intstr.FromString("postgres")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(svc.Spec.ClusterIP, "5432")
	t.Logf("Service db at %s", addr)

	backend := func(want string) func() bool {
		return func() bool {
			name, conn, err := greeting(addr)
			if conn != nil {
				conn.Close()
			}
			return err == nil && name == want
		}
	}
	took := eventually(t, 5*time.Second, "a connection to the Service reaches pod a", backend("a"))
	t.Logf("listening %v after the Service was created", took)

	t.Run("bytes flow both ways, half-closes pass through", func(t *testing.T) {
		name, conn, err := greeting(addr)
		if err != nil || name != "a" {
			t.Fatalf("greeting = %q, %v; want a", name, err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "hello"); err != nil {
			t.Fatal(err)
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(conn)
		if err != nil || string(rest) != "hello" {
			t.Fatalf("after half-closing, read %q, %v; want the echo then the end of the stream", rest, err)
		}
	})

	t.Run("connections spread over several backends", func(t *testing.T) {
		c.relabel("b", "primary")
		seen := map[string]bool{}
		eventually(t, 5*time.Second, "connections reach both pods", func() bool {
			name, conn, err := greeting(addr)
			if err == nil && conn != nil {
				conn.Close()
				seen[name] = true
			}
			return seen["a"] && seen["b"]
		})
		c.relabel("b", "replica")
		eventually(t, 2*time.Second, "only pod a serves after b left", func() bool {
			for range 4 {
				if !backend("a")() {
					return false
				}
			}
			return true
		})
	})

	// The failover of a database: the primary's pod is relabelled replica
	// and the replica's pod primary.
	_, old, err := greeting(addr)
	if err != nil || old == nil {
		t.Fatalf("connecting: %v", err)
	}
	defer old.Close()
	c.relabel("a", "replica")
	c.relabel("b", "primary")
	took = eventually(t, 2*time.Second, "new connections reach pod b after the failover", backend("b"))
	t.Logf("new connections reach the new primary %v after relabelling", took)
	if !closedSoon(old) {
		t.Fatal("the connection to the old primary stays open after it left the Service")
	}

	// The new primary stops being ready; the old one is ready and primary
	// again.
	_, old, err = greeting(addr)
	if err != nil || old == nil {
		t.Fatalf("connecting: %v", err)
	}
	defer old.Close()
	c.ready("b", false)
	c.relabel("a", "primary")
	eventually(t, 2*time.Second, "new connections reach pod a when b is not ready", backend("a"))
	if !closedSoon(old) {
		t.Fatal("the connection to pod b stays open after it stopped being ready")
	}

	// No backend: connections are accepted and closed at once.
	c.ready("a", false)
	eventually(t, 2*time.Second, "connections are closed at once without a ready pod", backend(""))

	// Changing the Service's port moves the listener.
	c.ready("a", true)
	svc, err = c.cs.CoreV1().Services(c.ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Ports[0].Port = 5433
	if _, err := c.cs.CoreV1().Services(c.ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	moved := net.JoinHostPort(svc.Spec.ClusterIP, "5433")
	eventually(t, 2*time.Second, "the listener moves to the new port", func() bool {
		name, conn, err := greeting(moved)
		if conn != nil {
			conn.Close()
		}
		return err == nil && name == "a" && refused(addr)
	})

	// Deleting the Service closes its listener and connections.
	_, old, err = greeting(moved)
	if err != nil || old == nil {
		t.Fatalf("connecting: %v", err)
	}
	defer old.Close()
	if err := c.cs.CoreV1().Services(c.ns).Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the listener is gone after the Service is deleted", func() bool { return refused(moved) })
	if !closedSoon(old) {
		t.Fatal("a connection stays open after its Service was deleted")
	}

	// Stopping the proxy closes every listener.
	svc, err = c.cs.CoreV1().Services(c.ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db2"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "db", "role": "primary"},
			Ports:    []corev1.ServicePort{{Port: 5432, TargetPort: intstr.FromString("postgres")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr = net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(5432))
	eventually(t, 5*time.Second, "Service db2 is served", backend("a"))
	stop()
	if err := <-stopped; err != nil {
		t.Fatalf("Start: %v", err)
	}
	stopped <- nil // for the deferred check
	if !refused(addr) {
		t.Fatal("a listener is still open after Start returned")
	}
}

func refused(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
