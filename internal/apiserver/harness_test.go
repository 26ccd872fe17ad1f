package apiserver

// Integration tests: the apiserver's handler served over HTTPS by httptest
// on 127.0.0.1, in front of a real kube-apiserver and etcd (internal/testenv)
// with pgo's CRDs.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/controller"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/testenv"
)

const operatorNS = "pgo"

type harness struct {
	t      testing.TB
	env    *testenv.Env
	c      client.Client
	srv    *Server
	url    string
	client *http.Client

	adminPassword string

	mu   sync.Mutex
	logs []string
}

func newHarness(t testing.TB, namespaces ...string) *harness {
	t.Helper()
	return newHarnessWith(t, nil, namespaces...)
}

// newHarnessWith is newHarness with setup run on the Server after its
// bootstrap and before it serves: to change its clock or its client.
func newHarnessWith(t testing.TB, setup func(*Server), namespaces ...string) *harness {
	t.Helper()
	env := testenv.Start(t)
	h := &harness{t: t, env: env, c: env.Client}
	log := funcr.New(func(prefix, args string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.logs = append(h.logs, prefix+" "+args)
	}, funcr.Options{})
	h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}})
	for _, ns := range namespaces {
		h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{pgoapi.LabelNamespace: "true"}}})
	}
	h.srv = New(env.Client, operatorNS, log)
	h.srv.ConnectTimeout = 2 * time.Second
	h.srv.InstanceTimeout = 5 * time.Second
	if err := h.srv.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	initial := &corev1.Secret{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: operatorNS, Name: pgoapi.InitialAdminSecret}, initial); err != nil {
		t.Fatal(err)
	}
	h.adminPassword = string(initial.Data[pgoapi.KeyPassword])
	if setup != nil {
		setup(h.srv)
	}

	ts := httptest.NewUnstartedServer(h.srv.Handler())
	ts.StartTLS()
	t.Cleanup(ts.Close)
	h.url, h.client = ts.URL, ts.Client()
	return h
}

// runTasks runs the controller's task engine against the harness's API
// server, as the operator does beside the apiserver: the workflows of the
// tasks the apiserver creates then advance. The cluster reconciler does not
// run; tests write the cluster status it would.
func (h *harness) runTasks() {
	h.t.Helper()
	mgr, err := ctrl.NewManager(h.env.Config, ctrl.Options{
		Scheme:     kubescheme.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      controller.CacheOptions(nil),
		Controller: config.Controller{SkipNameValidation: ptr(true)},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	r := &controller.TaskReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("pgo")}
	if err := r.SetupWithManager(mgr); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t := h.t
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the task engine: %v", err)
		}
	})
}

// workflow waits until ShowWorkflow answers what check wants, and returns
// it.
func (h *harness) workflow(ns, id string, timeout time.Duration, check func(pgoapi.Workflow) error) pgoapi.Workflow {
	h.t.Helper()
	var w pgoapi.Workflow
	deadline := time.Now().Add(timeout)
	for {
		w = pgoapi.Workflow{}
		h.mustAdmin("GET", pgoapi.WorkflowPath(ns, id), nil, http.StatusOK, &w)
		err := check(w)
		if err == nil {
			return w
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("workflow %s: %v: %+v", id, err, w)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// taskOf is the task of a workflow.
func (h *harness) taskOf(ns, id string) *pgov1.PGTask {
	h.t.Helper()
	var list pgov1.PGTaskList
	if err := h.c.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{pgoapi.LabelWorkflow: id}); err != nil {
		h.t.Fatal(err)
	}
	if len(list.Items) != 1 {
		h.t.Fatalf("%d tasks of workflow %s", len(list.Items), id)
	}
	return &list.Items[0]
}

func (h *harness) create(obj client.Object) {
	h.t.Helper()
	if err := h.c.Create(context.Background(), obj); err != nil {
		h.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// answer is an HTTP answer.
type answer struct {
	code   int
	body   []byte
	header http.Header
}

func (a answer) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d %s: %v", a.code, a.body, err)
	}
}

func (a answer) apiError(t testing.TB) pgoapi.Error {
	t.Helper()
	var e pgoapi.Error
	a.decode(t, &e)
	return e
}

// call sends a request; body is JSON-encoded unless it is a string (sent
// as is). An empty user sends no credentials.
func (h *harness) call(method, path, user, password string, body any) answer {
	h.t.Helper()
	return h.callWith(h.client, method, path, user, password, body)
}

// callWith is call through another client (see clientFrom).
func (h *harness) callWith(c *http.Client, method, path, user, password string, body any) answer {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set(pgoapi.HeaderContentType, pgoapi.ContentTypeJSON)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: raw, header: resp.Header}
}

// clientFrom is a client whose connections come from ip, an address of the
// loopback network other than 127.0.0.1 (Linux answers on all of
// 127.0.0.0/8): the apiserver sees it as another client address.
func (h *harness) clientFrom(ip string) *http.Client {
	h.t.Helper()
	tr := h.client.Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr}
}

// admin calls as the bootstrap admin.
func (h *harness) admin(method, path string, body any) answer {
	h.t.Helper()
	return h.call(method, path, pgoapi.AdminUser, h.adminPassword, body)
}

// mustAdmin calls as admin and wants the code.
func (h *harness) mustAdmin(method, path string, body any, code int, out any) {
	h.t.Helper()
	a := h.admin(method, path, body)
	if a.code != code {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, a.code, a.body, code)
	}
	if out != nil {
		a.decode(h.t, out)
	}
}

// pgouser writes a pgo user and its role straight into Secrets, with the
// password in clear (as an administrator may with kubectl).
func (h *harness) pgouser(name, password string, permissions []string, namespaces []string) {
	h.t.Helper()
	h.create(pgoroleSecret(operatorNS, name+"-role", permissions))
	h.create(pgouserSecret(operatorNS, name, password, []string{name + "-role"}, namespaces))
}

// setPermissions replaces the permissions of a user made by pgouser.
func (h *harness) setPermissions(name string, permissions []string) {
	h.t.Helper()
	sec := &corev1.Secret{}
	ctx := context.Background()
	if err := h.c.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: pgoapi.PgoroleSecret(name + "-role")}, sec); err != nil {
		h.t.Fatal(err)
	}
	sec.Data[pgoapi.KeyPermissions] = []byte(strings.Join(permissions, ","))
	if err := h.c.Update(ctx, sec); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) auditLines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range h.logs {
		if strings.Contains(l, `"msg"="audit"`) {
			out = append(out, l)
		}
	}
	return out
}

func objectKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
