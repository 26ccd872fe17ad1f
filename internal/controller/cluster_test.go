package controller_test

// Against a real kube-apiserver and etcd (no kubelet, StatefulSet controller
// or garbage collector): the controller's own work, which these tests drive
// and inspect; pods are made by the tests where a step needs them.

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/controller"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pgoconfig"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/specs"
	"pgo.dev/pgo/internal/testenv"
)

// countingClient counts the writes a client makes.
type countingClient struct {
	client.Client
	writes atomic.Int64
}

func (c *countingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.writes.Add(1)
	return c.Client.Create(ctx, obj, opts...)
}

func (c *countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.writes.Add(1)
	return c.Client.Update(ctx, obj, opts...)
}

func (c *countingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.writes.Add(1)
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c *countingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	c.writes.Add(1)
	return c.Client.Apply(ctx, obj, opts...)
}

func (c *countingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.writes.Add(1)
	return c.Client.Delete(ctx, obj, opts...)
}

func (c *countingClient) Status() client.SubResourceWriter {
	return &countingStatus{SubResourceWriter: c.Client.Status(), c: c}
}

type countingStatus struct {
	client.SubResourceWriter
	c *countingClient
}

func (s *countingStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.c.writes.Add(1)
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

func (s *countingStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	s.c.writes.Add(1)
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// env is an API server with the controller running.
type env struct {
	t          testing.TB
	api        *testenv.Env
	c          client.Client // direct, uncached
	reconciler *controller.ClusterReconciler
	counter    *countingClient
}

func start(t testing.TB) *env {
	t.Helper()
	return startWith(t, specs.DefaultOptions())
}

// certSubject is the subject of a PEM certificate.
func certSubject(t testing.TB, cert []byte) pkix.Name {
	t.Helper()
	b, _ := pem.Decode(cert)
	if b == nil {
		t.Fatal("not a PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject
}

func startWith(t testing.TB, opts specs.Options) *env {
	t.Helper()
	api := testenv.Start(t)
	if os.Getenv("PGO_TEST_VERBOSE") != "" {
		ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	}
	cfg := rest.CopyConfig(api.Config)
	cfg.QPS, cfg.Burst = controller.DefaultQPS, controller.DefaultBurst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     kubescheme.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      controller.CacheOptions(nil),
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingClient{Client: mgr.GetClient()}
	e := &env{t: t, api: api, c: api.Client, counter: counter}
	r := &controller.ClusterReconciler{Client: counter, Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("pgo"), Options: opts, Config: testConfig(t)}
	e.reconciler = r
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return e
}

// namespace creates a namespace pgo works in.
func (e *env) namespace(name string) {
	e.t.Helper()
	e.namespaceLabelled(name, map[string]string{pgoapi.LabelNamespace: "true"})
}

func (e *env) namespaceLabelled(name string, labels map[string]string) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
		e.t.Fatal(err)
	}
}

// testConfig is the operator's configuration in these tests: the
// namespaces labelled by pgo, PostgreSQL 15 only, and one more image.
func testConfig(t testing.TB) pgoconfig.Config {
	t.Helper()
	cfg, err := pgoconfig.New("pgo", func(env string) string {
		return map[string]string{pgoconfig.EnvAllowedImages: "registry.example.com/postgres:15-*"}[env]
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// eventually retries check until it passes.
func (e *env) eventually(what string, check func() error) {
	e.t.Helper()
	e.eventuallyWithin(what, 30*time.Second, check)
}

func (e *env) eventuallyWithin(what string, timeout time.Duration, check func() error) {
	e.t.Helper()
	e.pollWithin(what, timeout, 100*time.Millisecond, check)
}

func (e *env) pollWithin(what string, timeout, every time.Duration, check func() error) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: %v", what, err)
		}
		if os.Getenv("PGO_TEST_VERBOSE") != "" {
			fmt.Fprintf(os.Stderr, "%s %s: %v\n", time.Now().Format("15:04:05"), what, err)
		}
		time.Sleep(every)
	}
}

func (e *env) get(ns, name string, obj client.Object) error {
	return e.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
}

func (e *env) patchCluster(ns, name, patch string) {
	e.t.Helper()
	c := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := e.c.Patch(context.Background(), c, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		e.t.Fatal(err)
	}
}

func newCluster(ns, name string) *pgov1.PGCluster {
	return &pgov1.PGCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: pgov1.PGClusterSpec{
			Replicas:       1,
			PrimaryStorage: pgov1.PGStorage{StorageClassName: ptr.To("expandable"), Size: resource.MustParse("1Gi")},
			WALStorage:     &pgov1.PGStorage{StorageClassName: ptr.To("fixed"), Size: resource.MustParse("1Gi")},
			Config:         &pgov1.PGConfigSpec{Parameters: map[string]pgov1.ParameterValue{"work_mem": "8MB"}},
			Metadata:       &pgov1.PGMetadata{Labels: map[string]string{"team": "a"}},
		},
	}
}

func ownedBy(obj client.Object, c *pgov1.PGCluster) error {
	if !metav1.IsControlledBy(obj, c) {
		return fmt.Errorf("%s %s is not controlled by the cluster: %v", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), obj.GetOwnerReferences())
	}
	return nil
}

func storageClasses(t testing.TB, c client.Client) {
	for name, expand := range map[string]bool{"expandable": true, "fixed": false} {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "pgo.dev/local", AllowVolumeExpansion: ptr.To(expand)}
		if err := c.Create(context.Background(), sc); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

func TestClusterLifecycle(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "lifecycle"
	e.namespace(ns)
	storageClasses(t, e.c)
	c := newCluster(ns, "hippo")
	if err := e.c.Create(ctx, c); err != nil {
		t.Fatal(err)
	}

	// Every object, owned by the cluster.
	var replica pgov1.PGReplica
	e.eventually("a PGReplica for replicas: 1", func() error {
		var list pgov1.PGReplicaList
		if err := e.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("%d PGReplicas", len(list.Items))
		}
		replica = list.Items[0]
		return ownedBy(&replica, c)
	})
	if err := e.get(ns, "hippo", c); err != nil {
		t.Fatal(err)
	}
	first := specs.FirstInstance(c)
	objects := map[string]client.Object{
		"hippo-postgres-secret": &corev1.Secret{}, "hippo-api-secret": &corev1.Secret{},
		"hippo-testuser-secret": &corev1.Secret{}, "hippo-cluster-cert": &corev1.Secret{}, "hippo-replication-cert": &corev1.Secret{},
		"hippo-config": &corev1.ConfigMap{}, "hippo-instance": &corev1.ServiceAccount{},
		"hippo": &corev1.Service{}, "hippo-replica": &corev1.Service{}, "hippo-pods": &corev1.Service{},
		first: &appsv1.StatefulSet{}, replica.Name: &appsv1.StatefulSet{},
		first + "-pgdata": &corev1.PersistentVolumeClaim{}, first + "-pgwal": &corev1.PersistentVolumeClaim{},
		replica.Name + "-pgdata": &corev1.PersistentVolumeClaim{}, replica.Name + "-pgwal": &corev1.PersistentVolumeClaim{},
	}
	e.eventually("every object of the cluster", func() error {
		for name, obj := range objects {
			if err := e.get(ns, name, obj); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := ownedBy(obj, c); err != nil {
				return err
			}
		}
		var role rbacv1.Role
		if err := e.get(ns, "hippo-instance", &role); err != nil {
			return err
		}
		var binding rbacv1.RoleBinding
		return e.get(ns, "hippo-instance", &binding)
	})

	// The objects carry what the cluster asks for.
	secret := objects["hippo-testuser-secret"].(*corev1.Secret)
	if string(secret.Data["dbname"]) != "hippo" || len(secret.Data["password"]) < 20 || !strings.HasPrefix(string(secret.Data["uri"]), "postgresql://testuser:") {
		t.Errorf("the application user's Secret: %v", secret.Data)
	}
	var ca corev1.Secret
	if err := e.get(ns, naming.ClusterCASecret("hippo"), &ca); err != nil {
		t.Fatal(err)
	}
	if err := ownedBy(&ca, c); err != nil {
		t.Error(err)
	}
	cert := objects["hippo-cluster-cert"].(*corev1.Secret)
	if err := pki.Verify(ca.Data["ca.crt"], cert.Data["tls.crt"], "hippo.lifecycle.svc", x509.ExtKeyUsageServerAuth, time.Now()); err != nil {
		t.Errorf("the server certificate: %v", err)
	}
	replication := objects["hippo-replication-cert"].(*corev1.Secret)
	if err := pki.Verify(ca.Data["ca.crt"], replication.Data["tls.crt"], "", x509.ExtKeyUsageClientAuth, time.Now()); err != nil {
		t.Errorf("the replication certificate: %v", err)
	}
	if subject := certSubject(t, replication.Data["tls.crt"]); subject.CommonName != "replicator" || len(subject.OrganizationalUnit) != 1 || subject.OrganizationalUnit[0] != "lifecycle/hippo" {
		t.Errorf("the replication certificate's subject %v, want CN replicator naming its cluster", subject)
	}
	cm := objects["hippo-config"].(*corev1.ConfigMap)
	var dc dcs.DynamicConfig
	if err := json.Unmarshal([]byte(cm.Data["config"]), &dc); err != nil || dc.TTL != 30 || dc.PostgreSQL.Parameters["work_mem"] != "8MB" {
		t.Errorf("the dynamic configuration %q (%v)", cm.Data["config"], err)
	}
	svc := objects["hippo"].(*corev1.Service)
	if svc.Spec.Selector[naming.LabelRole] != "primary" || svc.Labels["team"] != "a" {
		t.Errorf("the primary Service: %+v", svc)
	}
	sts := objects[first].(*appsv1.StatefulSet)
	if *sts.Spec.Replicas != 1 || sts.Spec.Template.Spec.ServiceAccountName != "hippo-instance" || sts.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType {
		t.Errorf("the StatefulSet: %+v", sts.Spec)
	}
	if pvc := objects[replica.Name+"-pgwal"].(*corev1.PersistentVolumeClaim); *pvc.Spec.StorageClassName != "fixed" {
		t.Errorf("the WAL volume's class: %v", pvc.Spec.StorageClassName)
	}

	// Status and events.
	e.eventually("the status", func() error {
		if err := e.get(ns, "hippo", c); err != nil {
			return err
		}
		if c.Status.Phase != pgov1.PhaseCreating || len(c.Status.Instances) != 2 || c.Status.Replicas != 1 ||
			meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterReady) == nil {
			return fmt.Errorf("status %+v", c.Status)
		}
		return nil
	})

	// An unchanged cluster costs no writes.
	e.steady(ns, "hippo")

	// The volumes are bound (the test plays the volume binder).
	var pvcs corev1.PersistentVolumeClaimList
	if err := e.c.List(ctx, &pvcs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range pvcs.Items {
		pvcs.Items[i].Status.Phase = corev1.ClaimBound
		if err := e.c.Status().Update(ctx, &pvcs.Items[i]); err != nil {
			t.Fatal(err)
		}
	}

	// Changes propagate: resources, configuration, a larger volume.
	e.patchCluster(ns, "hippo", `{"spec": {"resources": {"requests": {"cpu": "250m"}}, "config": {"parameters": {"work_mem": "16MB"}}, "primaryStorage": {"size": "2Gi"}, "walStorage": {"size": "2Gi"}}}`)
	e.eventually("the changes", func() error {
		if err := e.get(ns, first, sts); err != nil {
			return err
		}
		if got := sts.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().String(); got != "250m" {
			return fmt.Errorf("cpu request %s", got)
		}
		if err := e.get(ns, "hippo-config", cm); err != nil || !strings.Contains(cm.Data["config"], `"work_mem":"16MB"`) {
			return fmt.Errorf("config %q", cm.Data["config"])
		}
		var pvc corev1.PersistentVolumeClaim
		if err := e.get(ns, first+"-pgdata", &pvc); err != nil || pvc.Spec.Resources.Requests.Storage().String() != "2Gi" {
			return fmt.Errorf("data volume %v", pvc.Spec.Resources.Requests)
		}
		if err := e.get(ns, first+"-pgwal", &pvc); err != nil || pvc.Spec.Resources.Requests.Storage().String() != "1Gi" {
			return fmt.Errorf("the WAL volume's class allows no expansion, yet it is %v", pvc.Spec.Resources.Requests)
		}
		if err := e.get(ns, "hippo", c); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterStorageResized)
		if cond == nil || cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "StorageClass fixed") {
			return fmt.Errorf("no StorageResized condition explains it: %+v", cond)
		}
		return nil
	})

	// Scale up, then down: the replica marked for removal goes, its volumes
	// kept as asked.
	e.patchCluster(ns, "hippo", `{"spec": {"replicas": 3}}`)
	var replicas pgov1.PGReplicaList
	e.eventually("three replicas", func() error {
		if err := e.c.List(ctx, &replicas, client.InNamespace(ns)); err != nil || len(replicas.Items) != 3 {
			return fmt.Errorf("%d PGReplicas (%w)", len(replicas.Items), err)
		}
		for _, r := range replicas.Items {
			if err := e.get(ns, r.Name, &appsv1.StatefulSet{}); err != nil {
				return fmt.Errorf("StatefulSet %s: %w", r.Name, err)
			}
		}
		return nil
	})
	victim := replicas.Items[1]
	patch := client.MergeFrom(victim.DeepCopy())
	victim.Annotations = map[string]string{naming.AnnotationRemove: "true", naming.AnnotationKeepData: "true"}
	if err := e.c.Patch(ctx, &victim, patch); err != nil {
		t.Fatal(err)
	}
	e.patchCluster(ns, "hippo", `{"spec": {"replicas": 2}}`)
	e.eventually("the marked replica removed, its data kept", func() error {
		if err := e.get(ns, victim.Name, &pgov1.PGReplica{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("PGReplica %s still there (%w)", victim.Name, err)
		}
		if err := e.get(ns, victim.Name, &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("StatefulSet %s still there (%w)", victim.Name, err)
		}
		var pvc corev1.PersistentVolumeClaim
		if err := e.get(ns, victim.Name+"-pgdata", &pvc); err != nil {
			return fmt.Errorf("the kept volume: %w", err)
		}
		if len(pvc.OwnerReferences) != 0 {
			return fmt.Errorf("the kept volume still has owners %v", pvc.OwnerReferences)
		}
		return e.c.List(ctx, &replicas, client.InNamespace(ns))
	})
	if len(replicas.Items) != 2 {
		t.Errorf("%d PGReplicas after scaling down to 2", len(replicas.Items))
	}
	e.steady(ns, "hippo")

	// Deleting the cluster removes everything it owns.
	if err := e.c.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.eventually("everything removed", func() error {
		for name, obj := range objects {
			if name == victim.Name+"-pgdata" || name == victim.Name+"-pgwal" {
				continue
			}
			if err := e.get(ns, name, obj); !apierrors.IsNotFound(err) && !deleting(obj, err) {
				return fmt.Errorf("%s still there (%w)", name, err)
			}
		}
		if err := e.get(ns, "hippo", &pgov1.PGCluster{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the cluster is still there (%w)", err)
		}
		return nil
	})
}

// deleting: without the controller that removes the kubernetes.io/pvc-protection
// finalizer (envtest runs none), a deleted volume stays, marked deleted.
func deleting(obj client.Object, err error) bool {
	_, pvc := obj.(*corev1.PersistentVolumeClaim)
	return err == nil && pvc && obj.GetDeletionTimestamp() != nil
}

// steady checks that reconciling an unchanged cluster writes nothing.
func (e *env) steady(ns, name string) {
	e.t.Helper()
	req := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}
	e.eventually("a reconcile that writes nothing", func() error {
		before := e.counter.writes.Load()
		if _, err := e.reconciler.Reconcile(context.Background(), req); err != nil {
			return err
		}
		if n := e.counter.writes.Load() - before; n != 0 {
			return fmt.Errorf("a reconcile of an unchanged cluster made %d writes", n)
		}
		return nil
	})
}

func TestDeleteKeepsData(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "keep"
	e.namespace(ns)
	c := newCluster(ns, "kept")
	c.Spec.WALStorage = nil
	c.Spec.Deletion = &pgov1.PGDeletionSpec{KeepData: true}
	if err := e.c.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.get(ns, "kept", c); err != nil {
		t.Fatal(err)
	}
	first := specs.FirstInstance(c)
	e.eventually("the volumes", func() error {
		var pvcs corev1.PersistentVolumeClaimList
		if err := e.c.List(ctx, &pvcs, client.InNamespace(ns), client.HasLabels{naming.LabelInstance}); err != nil || len(pvcs.Items) != 2 {
			return fmt.Errorf("%d volumes (%w)", len(pvcs.Items), err)
		}
		return nil
	})
	if err := e.c.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.eventually("the cluster gone, its volumes kept", func() error {
		if err := e.get(ns, "kept", &pgov1.PGCluster{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the cluster is still there (%w)", err)
		}
		if err := e.get(ns, first, &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the StatefulSet is still there (%w)", err)
		}
		var pvcs corev1.PersistentVolumeClaimList
		if err := e.c.List(ctx, &pvcs, client.InNamespace(ns), client.HasLabels{naming.LabelInstance}); err != nil || len(pvcs.Items) != 2 {
			return fmt.Errorf("%d volumes kept, want 2 (%w)", len(pvcs.Items), err)
		}
		for _, p := range pvcs.Items {
			if len(p.OwnerReferences) > 0 {
				return fmt.Errorf("%s still has owners", p.Name)
			}
		}
		// The backups were not kept: the repository's volume went.
		repo := &corev1.PersistentVolumeClaim{}
		if err := e.get(ns, naming.RepoVolume("kept", "repo1"), repo); !apierrors.IsNotFound(err) && !deleting(repo, err) {
			return fmt.Errorf("the repository's volume is still there (%w)", err)
		}
		return nil
	})
}

// A change that needs a restart rolls the replicas first, then switches
// over, then restarts the old primary. The test plays the kubelet and the
// instance managers: it makes the pods and moves the lock.
func TestRollingRestartOrder(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "rolling"
	e.namespace(ns)
	c := newCluster(ns, "roll")
	c.Spec.WALStorage = nil
	if err := e.c.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.get(ns, "roll", c); err != nil {
		t.Fatal(err)
	}
	first := specs.FirstInstance(c)
	var replica string
	e.eventually("two StatefulSets", func() error {
		var list appsv1.StatefulSetList
		if err := e.c.List(ctx, &list, client.InNamespace(ns), client.HasLabels{naming.LabelInstance}); err != nil || len(list.Items) != 2 {
			return fmt.Errorf("%d StatefulSets (%w)", len(list.Items), err)
		}
		for _, s := range list.Items {
			if s.Name != first {
				replica = s.Name
			}
		}
		return nil
	})

	setRevision := func(sts, revision string) {
		s := &appsv1.StatefulSet{}
		if err := e.get(ns, sts, s); err != nil {
			t.Fatal(err)
		}
		s.Status.UpdateRevision, s.Status.CurrentRevision, s.Status.ObservedGeneration = revision, revision, s.Generation
		if err := e.c.Status().Update(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	makePod := func(instance, revision string) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: instance + "-0", Namespace: ns, Labels: map[string]string{
				naming.LabelCluster: "roll", naming.LabelInstance: instance, appsv1.ControllerRevisionHashLabelKey: revision}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}},
		}
		if err := e.c.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if err := e.c.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	setLeader := func(instance string) {
		holder := naming.PodOfInstance(instance) // instance managers hold the lock as their pod
		lease := &coordinationv1.Lease{}
		err := e.get(ns, naming.LeaderLease("roll"), lease)
		lease.Name, lease.Namespace = naming.LeaderLease("roll"), ns
		lease.Labels = map[string]string{naming.LabelCluster: "roll"}
		lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds = &holder, ptr.To[int32](3600)
		lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		if apierrors.IsNotFound(err) {
			err = e.c.Create(ctx, lease)
		} else if err == nil {
			err = e.c.Update(ctx, lease)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	gone := func(pod string) func() error {
		return func() error {
			if err := e.get(ns, pod, &corev1.Pod{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("pod %s is still there (%w)", pod, err)
			}
			return nil
		}
	}

	// Both instances run the old template; first is the primary.
	setLeader(first)
	makePod(first, "old")
	makePod(replica, "old")
	setRevision(first, "new")
	setRevision(replica, "new")

	e.eventually("the replica restarted first", gone(replica+"-0"))
	if err := e.get(ns, first+"-0", &corev1.Pod{}); err != nil {
		t.Fatalf("the primary's pod was restarted before a switchover: %v", err)
	}
	makePod(replica, "new")
	e.eventually("a switchover to the updated replica", func() error {
		var cm corev1.ConfigMap
		if err := e.get(ns, naming.FailoverConfigMap("roll"), &cm); err != nil {
			return err
		}
		if cm.Data[naming.KeyLeader] != naming.PodOfInstance(first) || cm.Data[naming.KeyCandidate] != naming.PodOfInstance(replica) {
			return fmt.Errorf("switchover request %v", cm.Data)
		}
		return nil
	})
	if err := e.get(ns, first+"-0", &corev1.Pod{}); err != nil {
		t.Fatalf("the primary's pod was restarted before the switchover happened: %v", err)
	}
	setLeader(replica) // the instance managers switched over
	e.eventually("the old primary restarted last", gone(first+"-0"))
}

// Removing the instance that is primary first hands the primary role over,
// even when its lock looks expired on the controller's clock (a late
// renewal, clock skew); and an instance whose pod is still labelled primary
// waits.
func TestRemovingThePrimarySwitchesOver(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "remove-primary"
	e.namespace(ns)
	c := newCluster(ns, "rp")
	c.Spec.WALStorage = nil
	if err := e.c.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	var replica pgov1.PGReplica
	e.eventually("a replica", func() error {
		var list pgov1.PGReplicaList
		if err := e.c.List(ctx, &list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
			return fmt.Errorf("%d PGReplicas (%w)", len(list.Items), err)
		}
		replica = list.Items[0]
		if len(replica.Finalizers) == 0 {
			return fmt.Errorf("no finalizer yet")
		}
		return nil
	})
	if err := e.get(ns, "rp", c); err != nil {
		t.Fatal(err)
	}
	holder := naming.PodOfInstance(replica.Name)
	// The operator may have made the lock, without a holder, already.
	// It may make it between a read and a create: try again then.
	e.eventually("taking the leader lock", func() error {
		lease := &coordinationv1.Lease{}
		err := e.get(ns, naming.LeaderLease("rp"), lease)
		lease.Name, lease.Namespace = naming.LeaderLease("rp"), ns
		lease.Labels = map[string]string{naming.LabelCluster: "rp"}
		lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds = &holder, ptr.To[int32](30)
		lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now().Add(-time.Hour)}
		if apierrors.IsNotFound(err) {
			return e.c.Create(ctx, lease)
		} else if err == nil {
			return e.c.Update(ctx, lease)
		}
		return err
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: holder, Namespace: ns, Labels: map[string]string{naming.LabelCluster: "rp", naming.LabelRole: naming.RolePrimary}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "database", Image: "postgres"}}},
	}
	if err := e.c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	// Remove it the way `pgo scaledown --target` does.
	patch := client.MergeFrom(replica.DeepCopy())
	replica.Annotations = map[string]string{naming.AnnotationRemove: "true"}
	if err := e.c.Patch(ctx, &replica, patch); err != nil {
		t.Fatal(err)
	}
	e.patchCluster(ns, "rp", `{"spec": {"replicas": 0}}`)
	e.eventually("a switchover away from the primary", func() error {
		var cm corev1.ConfigMap
		if err := e.get(ns, naming.FailoverConfigMap("rp"), &cm); err != nil {
			return err
		}
		if cm.Data[naming.KeyLeader] != naming.PodOfInstance(replica.Name) {
			return fmt.Errorf("switchover request %v", cm.Data)
		}
		return nil
	})
	if err := e.get(ns, replica.Name, &appsv1.StatefulSet{}); err != nil {
		t.Fatalf("the primary's instance was removed before the switchover: %v", err)
	}
	// The instance managers switch over to the first instance.
	first := naming.PodOfInstance(specs.FirstInstance(c))
	lease := &coordinationv1.Lease{}
	if err := e.get(ns, naming.LeaderLease("rp"), lease); err != nil {
		t.Fatal(err)
	}
	lease.Spec.HolderIdentity, lease.Spec.RenewTime = &first, &metav1.MicroTime{Time: time.Now()}
	if err := e.c.Update(ctx, lease); err != nil {
		t.Fatal(err)
	}
	// Its pod still says primary: it stays.
	e.eventually("an event that the removal waits", func() error {
		var events corev1.EventList
		if err := e.c.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, ev := range events.Items {
			if ev.Reason == "RemovalWaiting" && strings.Contains(ev.Message, "labelled primary") {
				return nil
			}
		}
		return fmt.Errorf("no RemovalWaiting event about the primary label")
	})
	if err := e.get(ns, replica.Name, &appsv1.StatefulSet{}); err != nil {
		t.Fatalf("an instance whose pod is labelled primary was removed: %v", err)
	}
	patch = client.MergeFrom(pod.DeepCopy())
	pod.Labels[naming.LabelRole] = naming.RoleReplica
	if err := e.c.Patch(ctx, pod, patch); err != nil {
		t.Fatal(err)
	}
	e.eventually("the former primary removed", func() error {
		if err := e.get(ns, replica.Name, &pgov1.PGReplica{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("PGReplica still there (%w)", err)
		}
		if err := e.get(ns, replica.Name, &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("StatefulSet still there (%w)", err)
		}
		return nil
	})
}
