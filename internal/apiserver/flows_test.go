package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/specs"
)

// TestAPI runs the operations through the API against a real kube-apiserver
// and checks the objects they leave.
func TestAPI(t *testing.T) {
	h := newHarness(t, "ns1", "empty")
	h.runTasks()
	t.Run("create cluster", func(t *testing.T) { h.t = t; testCreateCluster(t, h) })
	t.Run("bad input creates nothing", func(t *testing.T) { h.t = t; testBadInput(t, h) })
	t.Run("show cluster", func(t *testing.T) { h.t = t; testShowCluster(t, h) })
	t.Run("scale, scaledown, update, delete", func(t *testing.T) { h.t = t; testClusterChanges(t, h) })
	t.Run("database users", func(t *testing.T) { h.t = t; testUsers(t, h) })
	t.Run("pgo users and roles", func(t *testing.T) { h.t = t; testPgousers(t, h) })
	t.Run("namespaces and status", func(t *testing.T) { h.t = t; testNamespaces(t, h) })
	t.Run("audit log", func(t *testing.T) { h.t = t; testAudit(t, h) })
}

func getCluster(t *testing.T, h *harness, ns, name string) *pgov1.PGCluster {
	t.Helper()
	c := &pgov1.PGCluster{}
	if err := h.c.Get(context.Background(), objectKey(ns, name), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func getSecret(t *testing.T, h *harness, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := h.c.Get(context.Background(), objectKey(ns, name), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func testCreateCluster(t *testing.T, h *harness) {
	ctx := context.Background()
	h.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tuning", Namespace: "ns1"}, Data: map[string]string{"work_mem": "32MB"}})
	req := pgoapi.CreateClusterRequest{Name: "hippo", ReplicaCount: 1, Metrics: true, Memory: "256Mi", CPU: "500m", PVCSize: "2Gi",
		Username: "app", Database: "appdb", CustomConfig: "tuning", Labels: map[string]string{"team": "db"}}
	var resp pgoapi.CreateClusterResponse
	h.mustAdmin("POST", pgoapi.ClustersPath("ns1"), req, http.StatusCreated, &resp)
	if resp.Name != "hippo" || resp.Namespace != "ns1" || resp.Database != "appdb" || resp.Username != "app" || len(resp.Password) != DefaultPasswordLength || rules.WorkflowID(resp.WorkflowID) != "" {
		t.Errorf("answer %+v", resp)
	}
	c := getCluster(t, h, "ns1", "hippo")
	if c.Spec.Replicas != 1 || c.Spec.Monitoring == nil || c.Spec.Resources.Requests.Memory().String() != "256Mi" ||
		c.Spec.PrimaryStorage.Size.String() != "2Gi" || c.Spec.Config == nil || c.Spec.Config.Parameters["work_mem"] != "32MB" ||
		c.Labels["team"] != "db" || c.Spec.Port != 5432 {
		t.Errorf("spec %+v", c.Spec)
	}
	if c.Status.WorkflowID != resp.WorkflowID {
		t.Errorf("status.workflowID %q, want %q", c.Status.WorkflowID, resp.WorkflowID)
	}
	sec := getSecret(t, h, "ns1", naming.UserSecret("hippo", "app"))
	if string(sec.Data[naming.KeyPassword]) != resp.Password || string(sec.Data[naming.KeyUsername]) != "app" ||
		string(sec.Data[naming.KeyDatabase]) != "appdb" || !metav1.IsControlledBy(sec, c) || sec.Labels[naming.LabelCluster] != "hippo" {
		t.Errorf("user Secret %+v", sec)
	}

	// The workflow is a task of the cluster, which follows its status.
	task := h.taskOf("ns1", resp.WorkflowID)
	if task.Spec.Type != pgov1.TaskCreateCluster || task.Spec.ClusterName != "hippo" || len(task.OwnerReferences) != 1 ||
		task.OwnerReferences[0].UID != c.UID || task.Labels[naming.LabelCluster] != "hippo" {
		t.Errorf("task %+v", task)
	}
	steps := func(w pgoapi.Workflow) string {
		var out []string
		for _, s := range w.Steps {
			out = append(out, s.Name+"="+s.Phase)
		}
		return strings.Join(out, ", ")
	}
	w := h.workflow("ns1", resp.WorkflowID, 30*time.Second, func(w pgoapi.Workflow) error {
		if w.Phase != pgoapi.WorkflowRunning || steps(w) != "cluster requested=Succeeded, primary ready=Running, cluster ready=Pending" {
			return fmt.Errorf("phase %s, steps %s", w.Phase, steps(w))
		}
		return nil
	})
	if w.Operation != "create cluster" || w.Cluster != "hippo" || w.Namespace != "ns1" || w.ID != resp.WorkflowID ||
		!w.StartTime.Equal(task.CreationTimestamp.Time) || w.CompletionTime != nil || w.Steps[1].Message != "waiting for the primary to be ready" {
		t.Errorf("workflow %+v", w)
	}
	c = getCluster(t, h, "ns1", "hippo")
	c.Status = pgov1.PGClusterStatus{Phase: pgov1.PhaseReady, Primary: "hippo-aaaa", ReadyInstances: 2, Replicas: 1, WorkflowID: resp.WorkflowID,
		Instances: []pgov1.PGInstanceStatus{{Name: "hippo-aaaa", Role: pgov1.RolePrimary, Ready: true}, {Name: "hippo-bbbb", Role: pgov1.RoleReplica, Ready: true}}}
	if err := h.c.Status().Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	w = h.workflow("ns1", resp.WorkflowID, 30*time.Second, func(w pgoapi.Workflow) error {
		if w.Phase != pgoapi.WorkflowSucceeded {
			return fmt.Errorf("phase %s", w.Phase)
		}
		return nil
	})
	if w.CompletionTime == nil || steps(w) != "cluster requested=Succeeded, primary ready=Succeeded, cluster ready=Succeeded" {
		t.Errorf("workflow after the cluster is ready: %+v", w)
	}
	for i, s := range w.Steps {
		if s.StartTime == nil || s.CompletionTime == nil || (i > 0 && !s.StartTime.Equal(*w.Steps[i-1].CompletionTime)) {
			t.Errorf("step %s: started %v, completed %v", s.Name, s.StartTime, s.CompletionTime)
		}
	}
	if a := h.admin("GET", pgoapi.WorkflowPath("ns1", "0b6c6f35-8d9b-4b1e-9a55-6f5f3c2f9d10"), nil); a.code != http.StatusNotFound {
		t.Errorf("unknown workflow: %d %s", a.code, a.body)
	}
	if a := h.admin("GET", pgoapi.WorkflowPath("ns1", "../x"), nil); a.code != http.StatusUnprocessableEntity && a.code != http.StatusNotFound {
		t.Errorf("a malformed workflow id: %d %s", a.code, a.body)
	}

	// A given password is the user's; a second cluster of the same name
	// conflicts; a missing namespace is named.
	h.mustAdmin("POST", pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "elephant", Password: "Given-Password-1"}, http.StatusCreated, &resp)
	if resp.Password != "Given-Password-1" || string(getSecret(t, h, "ns1", naming.UserSecret("elephant", "testuser")).Data[naming.KeyPassword]) != "Given-Password-1" {
		t.Errorf("given password: %+v", resp)
	}
	if a := h.admin("POST", pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "hippo"}); a.code != http.StatusConflict {
		t.Errorf("a second hippo: %d %s", a.code, a.body)
	}
	if a := h.admin("POST", pgoapi.ClustersPath("nowhere"), pgoapi.CreateClusterRequest{Name: "hippo"}); a.code != http.StatusNotFound || !strings.Contains(a.apiError(t).Message, "pgo create namespace") {
		t.Errorf("a missing namespace: %d %s", a.code, a.body)
	}
	// Restoring from a cluster that exists.
	h.mustAdmin("POST", pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "calf", RestoreFrom: "elephant", RestoreOpts: "--type=immediate"}, http.StatusCreated, nil)
	if ds := getCluster(t, h, "ns1", "calf").Spec.DataSource; ds == nil || ds.ClusterName != "elephant" || ds.Target == nil || ds.Target.Type != pgov1.RecoveryTargetImmediate {
		t.Errorf("data source %+v", ds)
	}
	// S3 credentials go into a Secret of the cluster.
	h.mustAdmin("POST", pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "walrus", PgBackRestStorageType: "s3",
		PgBackRestS3Bucket: "bkt", PgBackRestS3Endpoint: "127.0.0.1:9000", PgBackRestS3Region: "local", PgBackRestS3Key: "AK", PgBackRestS3KeySecret: "SK"}, http.StatusCreated, nil)
	if s3 := getSecret(t, h, "ns1", "walrus-pgbackrest-s3"); string(s3.Data[specs.KeyS3Key]) != "AK" || !metav1.IsControlledBy(s3, getCluster(t, h, "ns1", "walrus")) {
		t.Errorf("S3 Secret %+v", s3)
	}
}

// clusterCount counts what CreateCluster makes in a namespace.
func objectCounts(t *testing.T, h *harness, ns string) string {
	t.Helper()
	ctx := context.Background()
	var clusters pgov1.PGClusterList
	var secrets corev1.SecretList
	var cms corev1.ConfigMapList
	var tasks pgov1.PGTaskList
	for _, l := range []client.ObjectList{&clusters, &secrets, &cms, &tasks} {
		if err := h.c.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, cm := range cms.Items {
		if cm.Name != "kube-root-ca.crt" {
			n++
		}
	}
	return fmt.Sprintf("%d clusters, %d secrets, %d configmaps, %d tasks", len(clusters.Items), len(secrets.Items), n, len(tasks.Items))
}

func testBadInput(t *testing.T, h *harness) {
	before := objectCounts(t, h, "empty")
	for _, tc := range []struct {
		name   string
		body   any
		code   int
		phrase string
	}{
		{"invalid name", pgoapi.CreateClusterRequest{Name: "My_Cluster"}, 422, "start with a lowercase letter"},
		{"long name", pgoapi.CreateClusterRequest{Name: strings.Repeat("x", 41)}, 422, "at most 40"},
		{"size", pgoapi.CreateClusterRequest{Name: "a", PVCSize: "big"}, 422, "pvcSize"},
		{"negative memory", pgoapi.CreateClusterRequest{Name: "a", Memory: "-1Gi"}, 422, "greater than zero"},
		{"limit below request", pgoapi.CreateClusterRequest{Name: "a", CPU: "2", CPULimit: "1"}, 422, "at least the request"},
		{"unknown service type", pgoapi.CreateClusterRequest{Name: "a", ServiceType: "Headless"}, 422, "not one of ClusterIP, NodePort, LoadBalancer"},
		{"unknown storage type", pgoapi.CreateClusterRequest{Name: "a", PgBackRestStorageType: "nfs"}, 422, "posix"},
		{"unknown password type", pgoapi.CreateClusterRequest{Name: "a", PasswordType: "sha1"}, 422, "scram-sha-256"},
		{"missing custom config", pgoapi.CreateClusterRequest{Name: "a", CustomConfig: "nope"}, 422, "ConfigMap nope does not exist"},
		{"missing restore source", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "ghost"}, 422, "cluster ghost does not exist"},
		{"unknown field", `{"name": "a", "replicas": 1}`, 400, `unknown field "replicas"`},
		{"wrong type", `{"name": "a", "metrics": "yes"}`, 400, "field metrics must be true or false"},
		{"not JSON", `name: a`, 400, "not valid JSON"},
		{"empty", ``, 400, "the body is empty"},
	} {
		a := h.admin("POST", pgoapi.ClustersPath("empty"), tc.body)
		if a.code != tc.code || !strings.Contains(a.apiError(t).Message, tc.phrase) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, a.code, a.body, tc.code, tc.phrase)
		}
	}
	// Sent as something else than JSON.
	req, _ := http.NewRequest("POST", h.url+pgoapi.ClustersPath("empty"), strings.NewReader(`{"name": "a"}`))
	req.Header.Set("Content-Type", "text/plain")
	req.SetBasicAuth(pgoapi.AdminUser, h.adminPassword)
	if resp, err := h.client.Do(req); err != nil {
		t.Errorf("text/plain: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d", resp.StatusCode)
		}
	}
	if after := objectCounts(t, h, "empty"); after != before {
		t.Errorf("bad requests left objects behind: before %s, after %s", before, after)
	}

	// Bad changes change nothing.
	h.mustAdmin("POST", pgoapi.ClustersPath("empty"), pgoapi.CreateClusterRequest{Name: "still"}, http.StatusCreated, nil)
	before = objectCounts(t, h, "empty")
	c := getCluster(t, h, "empty", "still")
	for _, tc := range []struct {
		name, method, path string
		body               any
		code               int
	}{
		{"scale by 0", "POST", pgoapi.ClusterScalePath("empty", "still"), pgoapi.ScaleClusterRequest{}, 422},
		{"scale past 32", "POST", pgoapi.ClusterScalePath("empty", "still"), pgoapi.ScaleClusterRequest{ReplicaCount: 33}, 422},
		{"update nothing", "PATCH", pgoapi.ClusterPath("empty", "still"), pgoapi.UpdateClusterRequest{}, 422},
		{"update bad cpu", "PATCH", pgoapi.ClusterPath("empty", "still"), pgoapi.UpdateClusterRequest{CPU: ptr("fast")}, 422},
		{"update unknown field", "PATCH", pgoapi.ClusterPath("empty", "still"), `{"replicas": 3}`, 400},
		{"user name", "POST", pgoapi.ClusterUsersPath("empty", "still"), pgoapi.CreateUserRequest{Username: "Robert'); DROP TABLE students;--"}, 422},
		{"system user", "POST", pgoapi.ClusterUsersPath("empty", "still"), pgoapi.CreateUserRequest{Username: "postgres"}, 422},
		{"user options", "POST", pgoapi.ClusterUsersPath("empty", "still"), pgoapi.CreateUserRequest{Username: "u", Options: "SUPERUSER; DROP"}, 422},
		{"user valid days", "POST", pgoapi.ClusterUsersPath("empty", "still"), pgoapi.CreateUserRequest{Username: "u", ValidDays: -3}, 422},
		{"password length", "POST", pgoapi.ClusterUsersPath("empty", "still"), pgoapi.CreateUserRequest{Username: "u", PasswordLength: 4}, 422},
		{"namespace name", "POST", pgoapi.PathNamespaces, pgoapi.CreateNamespaceRequest{Name: "Not_A_Namespace"}, 422},
		{"pgouser name", "POST", pgoapi.PathPgousers, pgoapi.CreatePgouserRequest{Name: "a.b", Password: "long-enough", Roles: []string{"pgoadmin"}, AllNamespaces: true}, 422},
		{"pgouser password", "POST", pgoapi.PathPgousers, pgoapi.CreatePgouserRequest{Name: "short", Password: "x", Roles: []string{"pgoadmin"}, AllNamespaces: true}, 422},
		{"pgouser role", "POST", pgoapi.PathPgousers, pgoapi.CreatePgouserRequest{Name: "norole", Password: "long-enough", Roles: []string{"ghost"}, AllNamespaces: true}, 422},
		{"pgouser namespaces", "POST", pgoapi.PathPgousers, pgoapi.CreatePgouserRequest{Name: "nons", Password: "long-enough", Roles: []string{"pgoadmin"}}, 422},
		{"pgorole permission", "POST", pgoapi.PathPgoroles, pgoapi.CreatePgoroleRequest{Name: "typo", Permissions: []string{"ShowClusters"}}, 422},
		{"keepData", "DELETE", pgoapi.ClusterPath("empty", "still") + "?keepData=perhaps", nil, 400},
	} {
		a := h.admin(tc.method, tc.path, tc.body)
		if a.code != tc.code || a.apiError(t).Message == "" {
			t.Errorf("%s: %d %s, want %d", tc.name, a.code, a.body, tc.code)
		}
	}
	after := getCluster(t, h, "empty", "still")
	if after.Generation != c.Generation || len(after.Spec.Users) != 0 {
		t.Errorf("bad changes changed the cluster: %+v", after.Spec)
	}
	if got := objectCounts(t, h, "empty"); got != before {
		t.Errorf("bad changes left objects: before %s, after %s", before, got)
	}
	for _, name := range []string{"Not_A_Namespace", "not-a-namespace"} {
		if err := h.c.Get(context.Background(), client.ObjectKey{Name: name}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace %s: %v", name, err)
		}
	}
	users, err := h.srv.listPrefixed(context.Background(), pgoapi.PgouserSecretPrefix)
	if err != nil || len(users) != 1 {
		t.Errorf("pgo users after bad requests: %d %v", len(users), err)
	}
}

func testShowCluster(t *testing.T, h *harness) {
	labels := specs.InstanceLabels("hippo", "hippo-aaaa")
	labels[naming.LabelRole] = naming.RolePrimary
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hippo-aaaa-0", Namespace: "ns1", Labels: labels},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "database", Image: "postgres"}}}}
	h.create(pod)
	h.create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Namespace: "ns1", Labels: specs.ClusterLabels("hippo")},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "postgres", Port: 5432}}}})
	h.create(&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "hippo-aaaa-pgdata", Namespace: "ns1", Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}}}})
	one := int32(1)
	h.create(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "hippo-aaaa", Namespace: "ns1", Labels: specs.InstanceLabels("hippo", "hippo-aaaa")},
		Spec: appsv1.StatefulSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: specs.InstanceLabels("hippo", "hippo-aaaa")},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: specs.InstanceLabels("hippo", "hippo-aaaa")},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}}}}})

	var resp pgoapi.ShowClusterResponse
	h.mustAdmin("GET", pgoapi.ClusterPath("ns1", "hippo"), nil, http.StatusOK, &resp)
	if len(resp.Clusters) != 1 {
		t.Fatalf("%+v", resp)
	}
	c := resp.Clusters[0]
	if c.Name != "hippo" || c.Primary != "hippo-aaaa" || c.Phase != "Ready" || c.Resources.Memory != "256Mi" || c.PrimaryStorage.Size != "2Gi" ||
		!c.Autofail || !c.Metrics || c.Database != "appdb" || c.User != "app" || len(c.Instances) != 2 {
		t.Errorf("cluster %+v", c)
	}
	if len(c.Pods) != 1 || c.Pods[0].Node != "node-1" || c.Pods[0].Role != "primary" || c.Pods[0].Instance != "hippo-aaaa" {
		t.Errorf("pods %+v", c.Pods)
	}
	if len(c.PVCs) != 1 || c.PVCs[0].Size != "2Gi" {
		t.Errorf("volumes %+v", c.PVCs)
	}
	if len(c.Services) != 1 || !strings.HasPrefix(c.Services[0].ClusterIP, "127.100.") || c.Services[0].Ports[0] != "TCP/5432" {
		t.Errorf("services %+v", c.Services)
	}
	if len(c.StatefulSets) != 1 || c.StatefulSets[0].Desired != 1 {
		t.Errorf("statefulsets %+v", c.StatefulSets)
	}
	h.mustAdmin("GET", pgoapi.ClustersPath("ns1")+"?selector=team%3Ddb", nil, http.StatusOK, &resp)
	if len(resp.Clusters) != 1 || resp.Clusters[0].Name != "hippo" {
		t.Errorf("selected clusters %+v", resp.Clusters)
	}
	h.mustAdmin("GET", pgoapi.ClustersPath("ns1"), nil, http.StatusOK, &resp)
	if len(resp.Clusters) != 4 {
		t.Errorf("%d clusters, want 4", len(resp.Clusters))
	}
	if a := h.admin("GET", pgoapi.ClustersPath("ns1")+"?selector=%3D%3D%3D", nil); a.code != http.StatusBadRequest {
		t.Errorf("bad selector: %d", a.code)
	}
	if a := h.admin("GET", pgoapi.ClusterPath("ns1", "ghost"), nil); a.code != http.StatusNotFound || !strings.Contains(a.apiError(t).Message, "cluster ghost not found") {
		t.Errorf("missing cluster: %d %s", a.code, a.body)
	}
}

func testClusterChanges(t *testing.T, h *harness) {
	ctx := context.Background()
	var scaled pgoapi.ScaleClusterResponse
	h.mustAdmin("POST", pgoapi.ClusterScalePath("ns1", "hippo"), pgoapi.ScaleClusterRequest{ReplicaCount: 2}, http.StatusOK, &scaled)
	if scaled.Replicas != 3 || getCluster(t, h, "ns1", "hippo").Spec.Replicas != 3 || scaled.WorkflowID == "" {
		t.Errorf("scale: %+v", scaled)
	}
	if task := h.taskOf("ns1", scaled.WorkflowID); task.Spec.Type != pgov1.TaskScale || task.Spec.Scale == nil || task.Spec.Scale.Replicas != 3 {
		t.Errorf("scale task %+v", task.Spec)
	}
	h.workflow("ns1", scaled.WorkflowID, 30*time.Second, func(w pgoapi.Workflow) error {
		if w.Operation != "scale" || len(w.Steps) != 3 || w.Steps[0].Name != "replicas requested" || !strings.HasPrefix(w.Steps[1].Message, "waiting for 3 replicas") {
			return fmt.Errorf("not yet waiting for the replicas")
		}
		return nil
	})

	// Scaledown marks the replica and lowers the count; the controller
	// removes the marked one.
	h.create(&pgov1.PGReplica{ObjectMeta: metav1.ObjectMeta{Name: "hippo-bbbb", Namespace: "ns1"}, Spec: pgov1.PGReplicaSpec{ClusterName: "hippo"}})
	var q pgoapi.ReplicasResponse
	h.mustAdmin("GET", pgoapi.ClusterReplicasPath("ns1", "hippo"), nil, http.StatusOK, &q)
	if q.Primary != "hippo-aaaa" || len(q.Replicas) != 1 || q.Replicas[0].Name != "hippo-bbbb" {
		t.Errorf("scaledown query %+v", q)
	}
	if a := h.admin("DELETE", pgoapi.ClusterReplicaPath("ns1", "hippo", "hippo-zzzz"), nil); a.code != http.StatusNotFound {
		t.Errorf("unknown replica: %d %s", a.code, a.body)
	}
	first := specs.FirstInstance(getCluster(t, h, "ns1", "hippo"))
	if a := h.admin("DELETE", pgoapi.ClusterReplicaPath("ns1", "hippo", first), nil); a.code != http.StatusConflict {
		t.Errorf("the first instance: %d %s", a.code, a.body)
	}
	var down pgoapi.ScaledownResponse
	h.mustAdmin("DELETE", pgoapi.ClusterReplicaPath("ns1", "hippo", "hippo-bbbb")+"?keepData=true", nil, http.StatusOK, &down)
	rep := &pgov1.PGReplica{}
	if err := h.c.Get(ctx, objectKey("ns1", "hippo-bbbb"), rep); err != nil {
		t.Fatal(err)
	}
	if rep.Annotations[naming.AnnotationRemove] != "true" || rep.Annotations[naming.AnnotationKeepData] != "true" || !down.KeepData ||
		getCluster(t, h, "ns1", "hippo").Spec.Replicas != 2 {
		t.Errorf("scaledown: %+v, annotations %v", down, rep.Annotations)
	}
	if a := h.admin("DELETE", pgoapi.ClusterReplicaPath("ns1", "hippo", "hippo-bbbb"), nil); a.code != http.StatusConflict {
		t.Errorf("scaling down twice: %d %s", a.code, a.body)
	}
	if task := h.taskOf("ns1", down.WorkflowID); task.Spec.Type != pgov1.TaskScaledown || task.Spec.Scaledown == nil || task.Spec.Scaledown.Replica != "hippo-bbbb" {
		t.Errorf("scaledown task %+v", task.Spec)
	}

	// Update.
	var up pgoapi.UpdateClusterResponse
	h.mustAdmin("PATCH", pgoapi.ClusterPath("ns1", "hippo"), pgoapi.UpdateClusterRequest{CPU: ptr("1"), Memory: ptr("512Mi"), Autofail: ptr(false)}, http.StatusOK, &up)
	c := getCluster(t, h, "ns1", "hippo")
	if strings.Join(up.Changed, ",") != "cpu,memory,autofail" || up.WorkflowID == "" || c.Spec.Resources.Requests.Cpu().String() != "1" ||
		c.Spec.Resources.Requests.Memory().String() != "512Mi" || *c.Spec.HA.Enabled {
		t.Errorf("update: %+v, spec %+v", up, c.Spec)
	}
	if task := h.taskOf("ns1", up.WorkflowID); task.Spec.Type != pgov1.TaskUpdateCluster || task.Spec.UpdateCluster == nil || task.Spec.UpdateCluster.Generation != c.Generation {
		t.Errorf("update task %+v", task.Spec)
	}
	up = pgoapi.UpdateClusterResponse{}
	h.mustAdmin("PATCH", pgoapi.ClusterPath("ns1", "hippo"), pgoapi.UpdateClusterRequest{Memory: ptr("512Mi")}, http.StatusOK, &up)
	if len(up.Changed) != 0 || up.WorkflowID != "" {
		t.Errorf("an update that changes nothing: %+v", up)
	}
	h.mustAdmin("PATCH", pgoapi.ClusterPath("ns1", "hippo"), pgoapi.UpdateClusterRequest{Shutdown: ptr(true)}, http.StatusOK, nil)
	if !getCluster(t, h, "ns1", "hippo").Spec.Shutdown {
		t.Error("shutdown did not stick")
	}
	if a := h.admin("POST", pgoapi.ClusterRestartPath("ns1", "hippo"), pgoapi.RestartRequest{}); a.code != http.StatusConflict {
		t.Errorf("restarting a shut-down cluster: %d %s", a.code, a.body)
	}
	h.mustAdmin("PATCH", pgoapi.ClusterPath("ns1", "hippo"), pgoapi.UpdateClusterRequest{Shutdown: ptr(false)}, http.StatusOK, nil)

	// A rolling restart changes the instances' pod templates.
	var rr pgoapi.RestartResponse
	if a := h.admin("POST", pgoapi.ClusterRestartPath("ns1", "hippo"), pgoapi.RestartRequest{Rolling: true, Targets: []string{"hippo-aaaa"}}); a.code != http.StatusUnprocessableEntity {
		t.Errorf("rolling with targets: %d %s", a.code, a.body)
	}
	h.mustAdmin("POST", pgoapi.ClusterRestartPath("ns1", "hippo"), pgoapi.RestartRequest{Rolling: true}, http.StatusOK, &rr)
	if task := h.taskOf("ns1", rr.WorkflowID); task.Spec.Type != pgov1.TaskRestart || task.Spec.Restart != nil || !rr.Rolling {
		t.Errorf("rolling restart: %+v, task %+v", rr, task.Spec)
	}
	h.workflow("ns1", rr.WorkflowID, 30*time.Second, func(w pgoapi.Workflow) error {
		if w.Operation != "rolling restart" || len(w.Steps) != 2 || w.Steps[0].Name != "rolling restart requested" || w.Steps[0].Phase != pgoapi.WorkflowSucceeded {
			return fmt.Errorf("the restart not asked for yet")
		}
		return nil
	})
	sts := &appsv1.StatefulSet{}
	if err := h.c.Get(ctx, objectKey("ns1", "hippo-aaaa"), sts); err != nil {
		t.Fatal(err)
	}
	if at, err := time.Parse(time.RFC3339, sts.Spec.Template.Annotations[naming.AnnotationRestartedAt]); err != nil || time.Since(at) > time.Minute {
		t.Errorf("rolling restart: template annotations %v", sts.Spec.Template.Annotations)
	}
	// Restarting an instance that does not exist, or one whose manager does
	// not answer.
	if a := h.admin("POST", pgoapi.ClusterRestartPath("ns1", "hippo"), pgoapi.RestartRequest{Targets: []string{"hippo-zzzz"}}); a.code != http.StatusUnprocessableEntity {
		t.Errorf("restarting an unknown instance: %d %s", a.code, a.body)
	}
	h.mustAdmin("POST", pgoapi.ClusterRestartPath("ns1", "hippo"), pgoapi.RestartRequest{Targets: []string{"hippo-aaaa"}}, http.StatusOK, &rr)
	if len(rr.Results) != 1 || rr.Results[0].Success || rr.Results[0].Message == "" {
		t.Errorf("restart without an instance manager: %+v", rr)
	}
	// Failover refusals.
	for _, tc := range []struct {
		req  pgoapi.FailoverRequest
		code int
	}{
		{pgoapi.FailoverRequest{Target: "hippo-aaaa"}, 422},
		{pgoapi.FailoverRequest{Target: "hippo-zzzz"}, 422},
		{pgoapi.FailoverRequest{Force: true}, 422},
	} {
		if a := h.admin("POST", pgoapi.ClusterFailoverPath("ns1", "hippo"), tc.req); a.code != tc.code {
			t.Errorf("failover %+v: %d %s", tc.req, a.code, a.body)
		}
	}
	// A failover is a task: a switchover without force, a failover to the
	// target with it.
	for _, tc := range []struct {
		req     pgoapi.FailoverRequest
		typ     pgov1.TaskType
		message string
	}{
		{pgoapi.FailoverRequest{}, pgov1.TaskSwitchover, "switchover of cluster hippo requested"},
		{pgoapi.FailoverRequest{Target: "hippo-bbbb"}, pgov1.TaskSwitchover, "switchover of cluster hippo to hippo-bbbb requested"},
		{pgoapi.FailoverRequest{Target: "hippo-bbbb", Force: true}, pgov1.TaskFailover, "failover of cluster hippo to hippo-bbbb requested"},
	} {
		var fo pgoapi.FailoverResponse
		h.mustAdmin("POST", pgoapi.ClusterFailoverPath("ns1", "hippo"), tc.req, http.StatusOK, &fo)
		task := h.taskOf("ns1", fo.WorkflowID)
		if fo.Message != tc.message || task.Spec.Type != tc.typ || candidateOf(task) != tc.req.Target {
			t.Errorf("failover %+v: %+v, task %+v", tc.req, fo, task.Spec)
		}
	}

	// Delete keeps what it is told to.
	var del pgoapi.DeleteClusterResponse
	h.mustAdmin("DELETE", pgoapi.ClusterPath("ns1", "walrus")+"?keepData=true&keepBackups=true", nil, http.StatusOK, &del)
	if !del.KeepData || !del.KeepBackups {
		t.Errorf("delete: %+v", del)
	}
	if err := h.c.Get(ctx, objectKey("ns1", "walrus"), &pgov1.PGCluster{}); !apierrors.IsNotFound(err) {
		t.Errorf("walrus after delete: %v", err)
	}
	if a := h.admin("DELETE", pgoapi.ClusterPath("ns1", "walrus"), nil); a.code != http.StatusNotFound {
		t.Errorf("deleting twice: %d", a.code)
	}
}

func testUsers(t *testing.T, h *harness) {
	var created pgoapi.UserResponse
	h.mustAdmin("POST", pgoapi.ClusterUsersPath("ns1", "hippo"), pgoapi.CreateUserRequest{Username: "alice", ValidDays: 30,
		Databases: []string{"appdb"}, Options: "CREATEDB", PasswordType: "md5"}, http.StatusCreated, &created)
	u := created.User
	if u.Name != "alice" || len(u.Password) != DefaultPasswordLength || u.ValidUntil == nil || u.ValidUntil.Before(time.Now().Add(29*24*time.Hour)) ||
		u.Options != "CREATEDB" || u.PasswordType != "md5" || u.Secret != naming.UserSecret("hippo", "alice") {
		t.Errorf("created %+v", u)
	}
	c := getCluster(t, h, "ns1", "hippo")
	if i := findUser(c, "alice"); i < 0 || c.Spec.Users[i].Options != "CREATEDB" || c.Spec.Users[i].PasswordType != pgov1.PasswordMD5 {
		t.Errorf("spec.users %+v", c.Spec.Users)
	}
	sec := getSecret(t, h, "ns1", u.Secret)
	if string(sec.Data[naming.KeyPassword]) != u.Password || string(sec.Data[naming.KeyUsername]) != "alice" || !metav1.IsControlledBy(sec, c) {
		t.Errorf("Secret %+v", sec.Data)
	}
	if a := h.admin("POST", pgoapi.ClusterUsersPath("ns1", "hippo"), pgoapi.CreateUserRequest{Username: "alice"}); a.code != http.StatusConflict {
		t.Errorf("alice twice: %d", a.code)
	}
	if a := h.admin("POST", pgoapi.ClusterUsersPath("ns1", "hippo"), pgoapi.CreateUserRequest{Username: "app"}); a.code != http.StatusConflict {
		t.Errorf("the application user again: %d", a.code)
	}

	var updated pgoapi.UserResponse
	h.mustAdmin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "alice"), pgoapi.UpdateUserRequest{RotatePassword: true, PasswordLength: 40}, http.StatusOK, &updated)
	if p := updated.User.Password; len(p) != 40 || string(getSecret(t, h, "ns1", u.Secret).Data[naming.KeyPassword]) != p {
		t.Errorf("rotated: %+v", updated.User)
	}
	h.mustAdmin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "alice"), pgoapi.UpdateUserRequest{Password: ptr("Chosen-Password-9"), PasswordType: ptr("scram-sha-256")}, http.StatusOK, &updated)
	if updated.User.PasswordType != "scram-sha-256" || string(getSecret(t, h, "ns1", u.Secret).Data[naming.KeyPassword]) != "Chosen-Password-9" {
		t.Errorf("new password and type: %+v", updated.User)
	}
	if a := h.admin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "alice"), pgoapi.UpdateUserRequest{PasswordType: ptr("md5")}); a.code != http.StatusUnprocessableEntity {
		t.Errorf("password type alone: %d %s", a.code, a.body)
	}
	h.mustAdmin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "alice"), pgoapi.UpdateUserRequest{ExpireUser: true}, http.StatusOK, &updated)
	if !updated.User.Expired {
		t.Errorf("expired: %+v", updated.User)
	}
	updated = pgoapi.UserResponse{}
	h.mustAdmin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "alice"), pgoapi.UpdateUserRequest{ValidDays: ptr(0)}, http.StatusOK, &updated)
	if updated.User.ValidUntil != nil {
		t.Errorf("never expires: %+v", updated.User)
	}
	// The application user: a new password, nothing else.
	h.mustAdmin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "app"), pgoapi.UpdateUserRequest{Password: ptr("App-Password-2")}, http.StatusOK, &updated)
	if !updated.User.Owner || string(getSecret(t, h, "ns1", naming.UserSecret("hippo", "app")).Data[naming.KeyPassword]) != "App-Password-2" {
		t.Errorf("application user: %+v", updated.User)
	}
	if a := h.admin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "app"), pgoapi.UpdateUserRequest{ValidDays: ptr(3)}); a.code != http.StatusUnprocessableEntity {
		t.Errorf("expiring the application user: %d %s", a.code, a.body)
	}
	if a := h.admin("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "ghost"), pgoapi.UpdateUserRequest{RotatePassword: true}); a.code != http.StatusNotFound {
		t.Errorf("unknown user: %d", a.code)
	}

	var shown pgoapi.ShowUserResponse
	h.mustAdmin("GET", pgoapi.ClusterUsersPath("ns1", "hippo"), nil, http.StatusOK, &shown)
	if len(shown.Users) != 2 || shown.Users[0].Name != "app" || shown.Users[1].Name != "alice" || shown.Users[1].Password != "" {
		t.Errorf("users %+v", shown.Users)
	}
	h.mustAdmin("GET", pgoapi.ClusterUsersPath("ns1", "hippo")+"?showPassword=true", nil, http.StatusOK, &shown)
	if shown.Users[1].Password != "Chosen-Password-9" {
		t.Errorf("passwords %+v", shown.Users)
	}

	if a := h.admin("DELETE", pgoapi.ClusterUserPath("ns1", "hippo", "app"), nil); a.code != http.StatusConflict {
		t.Errorf("deleting the application user: %d", a.code)
	}
	h.mustAdmin("DELETE", pgoapi.ClusterUserPath("ns1", "hippo", "alice"), nil, http.StatusOK, nil)
	if findUser(getCluster(t, h, "ns1", "hippo"), "alice") >= 0 {
		t.Error("alice is still in spec.users")
	}
	if a := h.admin("DELETE", pgoapi.ClusterUserPath("ns1", "hippo", "alice"), nil); a.code != http.StatusNotFound {
		t.Errorf("deleting alice twice: %d", a.code)
	}
}

func testPgousers(t *testing.T, h *harness) {
	ctx := context.Background()
	h.mustAdmin("POST", pgoapi.PathPgoroles, pgoapi.CreatePgoroleRequest{Name: "dba", Permissions: []string{"ShowCluster", "CreatePgouser", "CreateCluster"}}, http.StatusCreated, nil)
	var pu pgoapi.PgouserResponse
	h.mustAdmin("POST", pgoapi.PathPgousers, pgoapi.CreatePgouserRequest{Name: "carol", Password: "carol-password", Roles: []string{"dba"}, Namespaces: []string{"ns1"}}, http.StatusCreated, &pu)
	if pu.Pgouser.Name != "carol" || pu.Pgouser.AllNamespaces || strings.Join(pu.Pgouser.Namespaces, ",") != "ns1" {
		t.Errorf("created %+v", pu)
	}
	stored := string(getSecret(t, h, operatorNS, "pgouser-carol").Data[pgoapi.KeyPassword])
	if !strings.HasPrefix(stored, pgoapi.PasswordHashPrefix) || strings.Contains(stored, "carol-password") {
		t.Errorf("the password is not stored hashed: %q", stored)
	}
	if a := h.call("GET", pgoapi.ClustersPath("ns1"), "carol", "carol-password", nil); a.code != http.StatusOK {
		t.Errorf("carol shows clusters: %d %s", a.code, a.body)
	}
	if a := h.call("GET", pgoapi.PathPgousers, "carol", "carol-password", nil); a.code != http.StatusForbidden {
		t.Errorf("carol lists pgo users: %d", a.code)
	}

	// Nobody grants more than they hold.
	for _, tc := range []struct {
		req    pgoapi.CreatePgouserRequest
		phrase string
	}{
		{pgoapi.CreatePgouserRequest{Name: "dave", Password: "dave-password", Roles: []string{"pgoadmin"}, Namespaces: []string{"ns1"}}, "grants *"},
		{pgoapi.CreatePgouserRequest{Name: "dave", Password: "dave-password", Roles: []string{"dba"}, AllNamespaces: true}, "cannot grant every namespace"},
		{pgoapi.CreatePgouserRequest{Name: "dave", Password: "dave-password", Roles: []string{"dba"}, Namespaces: []string{"empty"}}, "may not access namespace empty"},
	} {
		a := h.call("POST", pgoapi.PathPgousers, "carol", "carol-password", tc.req)
		if a.code != http.StatusUnprocessableEntity || !strings.Contains(a.apiError(t).Message, tc.phrase) {
			t.Errorf("escalation %+v: %d %s", tc.req, a.code, a.body)
		}
	}
	if a := h.call("POST", pgoapi.PathPgousers, "carol", "carol-password", pgoapi.CreatePgouserRequest{Name: "dave", Password: "dave-password", Roles: []string{"dba"}, Namespaces: []string{"ns1"}}); a.code != http.StatusCreated {
		t.Errorf("carol creates an equal: %d %s", a.code, a.body)
	}

	// A new password replaces the old one at once.
	h.mustAdmin("PATCH", pgoapi.PgouserPath("carol"), pgoapi.UpdatePgouserRequest{Password: ptr("carol-new-password"), AllNamespaces: ptr(true)}, http.StatusOK, &pu)
	if !pu.Pgouser.AllNamespaces {
		t.Errorf("updated %+v", pu)
	}
	if a := h.call("GET", pgoapi.ClustersPath("ns1"), "carol", "carol-password", nil); a.code != http.StatusUnauthorized {
		t.Errorf("the old password: %d", a.code)
	}
	if a := h.call("GET", pgoapi.ClustersPath("empty"), "carol", "carol-new-password", nil); a.code != http.StatusOK {
		t.Errorf("the new password, every namespace: %d %s", a.code, a.body)
	}
	var shown pgoapi.ShowPgouserResponse
	h.mustAdmin("GET", pgoapi.PathPgousers, nil, http.StatusOK, &shown)
	if len(shown.Pgousers) != 3 {
		t.Errorf("pgo users %+v", shown)
	}
	if strings.Contains(fmt.Sprint(shown), "pbkdf2") {
		t.Error("ShowPgouser shows password hashes")
	}
	var roles pgoapi.ShowPgoroleResponse
	h.mustAdmin("GET", pgoapi.PgorolePath("dba"), nil, http.StatusOK, &roles)
	if len(roles.Pgoroles) != 1 || strings.Join(roles.Pgoroles[0].Permissions, ",") != "ShowCluster,CreatePgouser,CreateCluster" {
		t.Errorf("roles %+v", roles)
	}
	if a := h.admin("DELETE", pgoapi.PgorolePath("dba"), nil); a.code != http.StatusConflict || !strings.Contains(a.apiError(t).Message, "carol, dave") {
		t.Errorf("deleting a role in use: %d %s", a.code, a.body)
	}
	if a := h.admin("DELETE", pgoapi.PgouserPath("admin"), nil); a.code != http.StatusConflict {
		t.Errorf("deleting oneself: %d", a.code)
	}
	h.mustAdmin("DELETE", pgoapi.PgouserPath("dave"), nil, http.StatusOK, nil)
	if a := h.call("GET", pgoapi.ClustersPath("ns1"), "dave", "dave-password", nil); a.code != http.StatusUnauthorized {
		t.Errorf("a deleted user: %d", a.code)
	}
	// A user whose role is gone holds nothing.
	h.mustAdmin("PATCH", pgoapi.PgouserPath("carol"), pgoapi.UpdatePgouserRequest{Roles: &[]string{"pgoadmin"}}, http.StatusOK, nil)
	h.mustAdmin("DELETE", pgoapi.PgorolePath("dba"), nil, http.StatusOK, nil)
	if err := h.c.Get(ctx, objectKey(operatorNS, "pgorole-dba"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("role Secret after delete: %v", err)
	}
}

func testNamespaces(t *testing.T, h *harness) {
	var ns pgoapi.CreateNamespaceResponse
	h.mustAdmin("POST", pgoapi.PathNamespaces, pgoapi.CreateNamespaceRequest{Name: "team-a"}, http.StatusCreated, &ns)
	if !ns.Namespace.CreatedByPgo || !ns.Namespace.Watched {
		t.Errorf("created %+v", ns)
	}
	if a := h.admin("POST", pgoapi.PathNamespaces, pgoapi.CreateNamespaceRequest{Name: "team-a"}); a.code != http.StatusConflict {
		t.Errorf("twice: %d", a.code)
	}
	var list pgoapi.ShowNamespaceResponse
	h.mustAdmin("GET", pgoapi.PathNamespaces, nil, http.StatusOK, &list)
	found := map[string]pgoapi.Namespace{}
	for _, n := range list.Namespaces {
		found[n.Name] = n
	}
	if !found["team-a"].CreatedByPgo || found["ns1"].Clusters != 3 || found["ns1"].CreatedByPgo {
		t.Errorf("namespaces %+v", list)
	}
	if a := h.admin("DELETE", pgoapi.NamespacePath("ns1"), nil); a.code != http.StatusConflict {
		t.Errorf("deleting a namespace pgo did not create: %d", a.code)
	}
	if a := h.admin("DELETE", pgoapi.NamespacePath(operatorNS), nil); a.code != http.StatusConflict {
		t.Errorf("deleting the operator's namespace: %d", a.code)
	}
	h.mustAdmin("DELETE", pgoapi.NamespacePath("team-a"), nil, http.StatusOK, nil)

	var st pgoapi.StatusResponse
	h.mustAdmin("GET", pgoapi.PathStatus+"?namespace=ns1", nil, http.StatusOK, &st)
	if st.Clusters != 3 || st.Instances != 2 || st.ReadyInstances != 2 || st.Volumes != 1 || st.VolumeCapacity != "2Gi" || st.Labels["team=db"] != 1 {
		t.Errorf("status %+v", st)
	}
	var v pgoapi.VersionResponse
	h.mustAdmin("GET", pgoapi.PathVersion, nil, http.StatusOK, &v)
	if v.Version == "" || v.GoVersion == "" {
		t.Errorf("version %+v", v)
	}
}

func testAudit(t *testing.T, h *harness) {
	h.call("GET", pgoapi.PathVersion, "", "", nil)
	h.call("GET", pgoapi.PathVersion, pgoapi.AdminUser, "Not-The-Password", nil)
	h.admin("POST", pgoapi.ClusterUsersPath("ns1", "hippo"), pgoapi.CreateUserRequest{Username: "erin", Password: "Secret-In-Body-7"})
	lines := h.auditLines()
	if len(lines) < 3 {
		t.Fatalf("audit lines %v", lines)
	}
	last := lines[len(lines)-3:]
	for i, want := range []string{`"user"="-" "method"="GET" "path"="/api/v1/version" "status"=401`,
		`"user"="-" "method"="GET" "path"="/api/v1/version" "status"=401`,
		`"user"="admin" "method"="POST" "path"="/api/v1/namespaces/ns1/clusters/hippo/users" "status"=201`} {
		if !strings.Contains(last[i], want) || !strings.Contains(last[i], `"durationMs"=`) {
			t.Errorf("audit line %q, want %q", last[i], want)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.logs {
		for _, secret := range []string{h.adminPassword, "Not-The-Password", "Secret-In-Body-7", "carol-password"} {
			if strings.Contains(l, secret) {
				t.Errorf("a log line holds a password: %q", l)
			}
		}
	}
}

// candidateOf is the candidate a switchover or failover task names.
func candidateOf(t *pgov1.PGTask) string {
	for _, p := range []*pgov1.PGSwitchoverParameters{t.Spec.Switchover, t.Spec.Failover} {
		if p != nil {
			return string(p.Candidate)
		}
	}
	return ""
}
