package environment

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"pgo.dev/pgo/internal/local/node"
	"pgo.dev/pgo/internal/testenv"
)

func TestMain(m *testing.M) {
	node.MaybeRunInit()
	os.Exit(m.Run())
}

// TestWaitSaysWhatIsMissing: a step that waits for a pod whose container
// runs but never becomes ready prints, while it waits, which container is
// not ready with its readiness probe's last failure and its log's path,
// and past its deadline fails with the same.
func TestWaitSaysWhatIsMissing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("local nodes run as root")
	}
	te := testenv.Start(t)
	ips, err := node.NewIPAllocator("127.67.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{Name: "waiter", Address: "127.0.2.4", StateDir: filepath.Join(t.TempDir(), "waiter"), RestConfig: te.Config, IPs: ips, Logf: t.Logf}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(0)

	var out bytes.Buffer
	e := &Env{opts: Options{Progress: &out, Dir: t.TempDir()}, Client: te.Client, nodeConfigs: []node.Config{cfg}}
	defer func(d time.Duration) { waitReport = d }(waitReport)
	waitReport = time.Second

	labels := map[string]string{"app": "stuck"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stuck", Namespace: "default", Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:                      "waiter",
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			Containers: []corev1.Container{{
				Name: "server", Image: "local", Command: []string{"/bin/sleep", "3600"},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
					Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "echo not listening yet; exit 1"}}}},
			}},
		},
	}
	if _, err := te.Clientset.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	err = e.step(6, 6, "the stuck pod", func() error {
		return e.waitFor(ctx, 4*time.Second, "pod default/stuck", func(ctx context.Context) (bool, error) {
			return false, e.podProblem(ctx, "default", labels)
		})
	})
	printed := out.String()
	t.Logf("printed:\n%s", printed)
	if err == nil {
		t.Fatal("a step that waited past its deadline succeeded")
	}
	for _, want := range []string{
		"[6/6] the stuck pod ...\n      waiting for pod default/stuck (1s): pod stuck: container server is running but not ready (Readiness probe failed:",
		"not listening yet",
		"; log: ",
		"[6/6] the stuck pod failed after 4",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("the progress lines do not say %q", want)
		}
	}
	msg := err.Error()
	if !strings.Contains(msg, "waited 4s for pod default/stuck: pod stuck: container server is running but not ready (Readiness probe failed:") {
		t.Errorf("the error does not say what was missing: %v", err)
	}
	logPath := msg[strings.Index(msg, "log: ")+len("log: "):]
	if _, statErr := os.Stat(logPath); statErr != nil {
		t.Errorf("the error names a log that is not there: %v", statErr)
	}
}

// TestWaitKeepsWhatIsMissingAtTheDeadline: a poll that fails only because
// the step's deadline is near (client-go's rate limiter refuses a request
// that would end past its context's deadline, with an error that does not
// wrap the context's) must not replace what was missing. (It did: the
// environment's test once failed with "client rate limiter Wait returned
// an error" instead of the container that was not ready.)
func TestWaitKeepsWhatIsMissingAtTheDeadline(t *testing.T) {
	e := &Env{}
	err := e.waitFor(context.Background(), time.Second, "the pod", func(ctx context.Context) (bool, error) {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 400*time.Millisecond {
			return false, errors.New("client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline")
		}
		return false, errors.New("container server is not ready")
	})
	if err == nil || !strings.Contains(err.Error(), "container server is not ready") {
		t.Errorf("past the deadline: %v, want what was missing", err)
	}
}
