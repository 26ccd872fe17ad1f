package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"

	"pgo.dev/pgo/internal/testenv"
)

func TestMain(m *testing.M) {
	MaybeRunInit()
	os.Exit(m.Run())
}

func ptr[T any](v T) *T { return &v }

// TestLocalNodeRunsPods runs a pod on a local node against a real
// kube-apiserver: init container, environment from the downward API and a
// Secret, emptyDir, Secret and ConfigMap volumes, the pod's user and
// fsGroup, an exec readiness probe, logs, and on deletion the end of every
// process of the pod, a daemon that left its session included.
func TestLocalNodeRunsPods(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("local nodes run as root")
	}
	env := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ips, err := NewIPAllocator("127.65.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{Name: "conformance", Address: "127.0.2.1", StateDir: t.TempDir(), RestConfig: env.Config, IPs: ips, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(0)
	cs := env.Clientset
	ns := "default"
	mustCreate := func(err error) {
		t.Helper()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Data: map[string][]byte{"password": []byte("sesame")}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"greeting": "hello"}}, metav1.CreateOptions{})
	mustCreate(err)

	marker := fmt.Sprintf("%d", 100000+time.Now().UnixNano()%800000)
	script := `set -e
cat /work/init.txt
echo "ip=$MY_IP name=$MY_NAME secret=$PASSWORD uid=$(id -u) gid=$(id -g) groups=$(id -G)" > /work/env.txt
cat /etc/s/password > /work/secret.txt
cat /etc/c/greeting > /work/greeting.txt
touch /tmp/root-write
setsid sleep ` + marker + ` &
echo started
exec sleep ` + marker
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:                      "conformance",
			AutomountServiceAccountToken:  ptr(false),
			TerminationGracePeriodSeconds: ptr(int64(2)),
			SecurityContext:               &corev1.PodSecurityContext{RunAsUser: ptr(int64(4321)), RunAsGroup: ptr(int64(4321)), FSGroup: ptr(int64(4322))},
			InitContainers: []corev1.Container{{
				Name: "init", Image: "local", Command: []string{"/bin/sh", "-c", "echo from-init > /work/init.txt"},
				VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}},
			}},
			Containers: []corev1.Container{{
				Name: "main", Image: "local", Command: []string{"/bin/sh", "-c", script},
				Env: []corev1.EnvVar{
					{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "MY_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "password"}}},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "work", MountPath: "/work"},
					{Name: "secret", MountPath: "/etc/s"},
					{Name: "config", MountPath: "/etc/c"},
				},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/work/greeting.txt"}}}},
				LivenessProbe:  &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}},
			}},
			Volumes: []corev1.Volume{
				{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr(int32(0o440))}}},
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}},
			},
		},
	}
	created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ready *corev1.Pod
	deadline := time.Now().Add(time.Minute)
	for ready == nil {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod never became ready: %+v", p.Status)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.HasPrefix(ready.Status.PodIP, "127.65.") || ready.Status.HostIP != "127.0.2.1" || ready.Status.Phase != corev1.PodRunning {
		t.Errorf("status: podIP %q hostIP %q phase %s", ready.Status.PodIP, ready.Status.HostIP, ready.Status.Phase)
	}
	work := filepath.Join(n.cfg.StateDir, "pods", string(created.UID), "empty-dir", "work")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(work, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	want := fmt.Sprintf("ip=%s name=p secret=sesame uid=4321 gid=4321 groups=4321 4322", ready.Status.PodIP)
	if got := read("env.txt"); got != want {
		t.Errorf("environment and user:\n got %s\nwant %s", got, want)
	}
	if got := read("secret.txt"); got != "sesame" {
		t.Errorf("secret volume: %q", got)
	}
	if got := read("greeting.txt"); got != "hello" {
		t.Errorf("configMap volume: %q", got)
	}
	if _, err := os.Stat("/tmp/root-write"); err == nil {
		t.Error("a write to the container's root reached the host's /tmp")
	}
	p := &provider{n}
	logs, err := p.GetContainerLogs(ctx, ns, "p", "main", api.ContainerLogOpts{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(logs)
	if string(out) != "from-init\nstarted\n" {
		t.Errorf("logs: %q", out)
	}
	if got := len(processes(marker)); got != 2 {
		t.Fatalf("%d processes of the pod's two sleeps are running, want 2", got)
	}

	if err := cs.CoreV1().Pods(ns).Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, "p", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the deleted pod never went away")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if left := processes(marker); len(left) != 0 {
		t.Errorf("%d processes of the deleted pod are still running (the daemon in its own session included): %v", len(left), left)
	}
}

// processes lists the PIDs of host processes running sleep with marker.
func processes(marker string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), "sleep\x00"+marker) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
