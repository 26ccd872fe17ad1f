package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoconfig"
	"pgo.dev/pgo/internal/specs"
)

// +kubebuilder:rbac:groups="",resources=secrets;configmaps;services;serviceaccounts;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;delete

// ClusterReconciler turns PGClusters and their PGReplicas into running
// workloads, and reports what it sees in their status.
type ClusterReconciler struct {
	Client client.Client
	// Reader reads the API directly, for objects the cache does not hold
	// (Secrets a user made, without pgo's labels).
	Reader   client.Reader
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	Options  specs.Options
	// Config is where and as what pgo may run clusters.
	Config pgoconfig.Config
	// Workers is how many clusters are reconciled at once (4 when 0).
	Workers int
	// ArchiveFailureThreshold is how long WAL archiving may fail before
	// the cluster says so (condition WALArchiving, a Warning Event);
	// DefaultArchiveFailureThreshold when 0.
	ArchiveFailureThreshold time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	verifiers rolesMemo
}

// archiveThreshold is ArchiveFailureThreshold or its default.
func (r *ClusterReconciler) archiveThreshold() time.Duration {
	if r.ArchiveFailureThreshold > 0 {
		return r.ArchiveFailureThreshold
	}
	return DefaultArchiveFailureThreshold
}

func (r *ClusterReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the reconciler and what it watches.
func (r *ClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	byCluster := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		name := obj.GetLabels()[naming.LabelCluster]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
	})
	byReplica := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		r, ok := obj.(*pgov1.PGReplica)
		if !ok {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: string(r.Spec.ClusterName)}}}
	})
	workers := r.Workers
	if workers == 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("pgcluster").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		For(&pgov1.PGCluster{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletingPredicate()))).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Watches(&pgov1.PGReplica{}, byReplica).
		Watches(&corev1.Pod{}, byCluster, builder.WithPredicates(podChanged())).
		Watches(&coordinationv1.Lease{}, byCluster, builder.WithPredicates(holderChanged())).
		Complete(r)
}

// holderChanged passes leader lock changes that move the lock; renewals
// change nothing pgo shows.
func holderChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*coordinationv1.Lease)
		n, ok2 := e.ObjectNew.(*coordinationv1.Lease)
		return !ok1 || !ok2 || ptr.Deref(o.Spec.HolderIdentity, "") != ptr.Deref(n.Spec.HolderIdentity, "")
	}}
}

// podChanged passes pod changes other than a member's heartbeat: an idle
// cluster's members publish their unchanged state once per ttl, which
// asks nothing of the operator.
func podChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*corev1.Pod)
		n, ok2 := e.ObjectNew.(*corev1.Pod)
		if !ok1 || !ok2 {
			return true
		}
		return !onlyHeartbeat(o, n)
	}}
}

// onlyHeartbeat tells whether two versions of a pod differ in nothing but
// the heartbeat of the member state published on it.
func onlyHeartbeat(old, cur *corev1.Pod) bool {
	a, b := old.DeepCopy(), cur.DeepCopy()
	for _, p := range []*corev1.Pod{a, b} {
		p.ResourceVersion, p.ManagedFields = "", nil
	}
	sa, okA := memberStatus(a)
	sb, okB := memberStatus(b)
	if okA && okB && dcs.SameState(sa, sb) {
		b.Annotations[naming.AnnotationStatus] = a.Annotations[naming.AnnotationStatus]
	}
	return equality.Semantic.DeepEqual(a, b)
}

func deletingPredicate() predicate.Predicate {
	return predicate.NewPredicateFuncs(func(obj client.Object) bool { return obj.GetDeletionTimestamp() != nil })
}

// Reconcile makes one cluster match its spec, one guarded step at a time. A
// failure is also told on the cluster as a Warning Event.
func (r *ClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx).WithValues("cluster", req.Name)
	ctx = log.IntoContext(ctx, logger)

	c := &pgov1.PGCluster{}
	result, err := r.reconcile(ctx, req, c)
	if err != nil && c.UID != "" {
		r.event(c, corev1.EventTypeWarning, "ReconcileFailed", "Reconcile", "%v", err)
	}
	return result, err
}

func (r *ClusterReconciler) reconcile(ctx context.Context, req ctrl.Request, c *pgov1.PGCluster) (ctrl.Result, error) {
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if c.DeletionTimestamp != nil {
		return r.finalize(ctx, c)
	}
	if refused, err := r.refuse(ctx, c); err != nil || refused {
		// Labelling the namespace or changing the operator's
		// configuration is not watched: look again in a while.
		return ctrl.Result{RequeueAfter: refusedRecheck}, err
	}
	if !controllerutil.ContainsFinalizer(c, naming.Finalizer) {
		patch := client.MergeFrom(c.DeepCopy())
		controllerutil.AddFinalizer(c, naming.Finalizer)
		if err := r.Client.Patch(ctx, c, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the finalizer: %w", err)
		}
	}

	replicas, err := r.replicas(ctx, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	if result, err := r.finalizeRemovedReplicas(ctx, c, replicas); err != nil || !result.IsZero() {
		return result, err
	}
	replicas = slices.DeleteFunc(replicas, func(p pgov1.PGReplica) bool { return p.DeletionTimestamp != nil })
	scaled, err := r.scale(ctx, c, replicas)
	if err != nil || scaled {
		return ctrl.Result{}, err
	}
	if err := r.adoptReplicas(ctx, c, replicas); err != nil {
		return ctrl.Result{}, err
	}

	a := applier{client: r.Client, scheme: r.Scheme}
	if err := r.secrets(ctx, a, c); err != nil {
		return ctrl.Result{}, err
	}
	renewAt, err := r.certificates(ctx, a, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.users(ctx, a, c); err != nil {
		return ctrl.Result{}, err
	}
	instances := specs.Instances(c, replicas)
	if err := r.clusterObjects(ctx, a, c, instances); err != nil {
		return ctrl.Result{}, err
	}
	backupProblem, err := r.backupObjects(ctx, a, c, instances)
	if err != nil {
		return ctrl.Result{}, err
	}
	resizeBlocked := ""
	for _, inst := range instances {
		blocked, err := r.instance(ctx, a, c, inst)
		if err != nil {
			return ctrl.Result{}, err
		}
		if blocked != "" {
			resizeBlocked = blocked
		}
	}

	o, err := r.observe(ctx, c, instances)
	if err != nil {
		return ctrl.Result{}, err
	}
	o.resizeBlocked, o.backupProblem = resizeBlocked, backupProblem

	requeue, err := r.rollout(ctx, c, &o)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.backups(ctx, c, &o); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.updateStatus(ctx, c, o); err != nil {
		return ctrl.Result{}, err
	}
	if requeue {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	// Back when a certificate is due for renewal, or when failing archiving
	// passes the threshold.
	after := max(renewAt.Sub(r.now()), time.Second)
	if o.recheck > 0 {
		after = min(after, o.recheck)
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// refusedRecheck is how often a refused cluster is looked at again.
const refusedRecheck = time.Minute

// refusal says why pgo will not run a cluster (its namespace, PostgreSQL
// version or image is not allowed), with the condition's reason; "" when
// it will.
func refusal(cfg pgoconfig.Config, c *pgov1.PGCluster, ns *corev1.Namespace) (reason, message string) {
	if why := cfg.NamespaceProblem(ns.Name, ns.Labels); why != "" {
		return "NamespaceNotManaged", why
	}
	if why := cfg.VersionProblem(c.Spec.PostgresVersion); why != "" {
		return "VersionNotAvailable", why
	}
	if why := cfg.ImageProblem(c.Spec.Image); why != "" {
		return "ImageNotAllowed", why
	}
	return "", ""
}

// refuse marks a cluster that pgo will not run, and creates nothing for
// it; a kubectl user who went around the apiserver learns why from the
// condition Refused and a Warning Event. It clears the mark once allowed.
func (r *ClusterReconciler) refuse(ctx context.Context, c *pgov1.PGCluster) (bool, error) {
	ns := &corev1.Namespace{}
	if err := r.Reader.Get(ctx, client.ObjectKey{Name: c.Namespace}, ns); err != nil {
		return false, fmt.Errorf("reading namespace %s: %w", c.Namespace, err)
	}
	reason, message := refusal(r.Config, c, ns)
	was := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterRefused)
	if reason == "" {
		if was == nil {
			return false, nil
		}
		patch := client.MergeFrom(c.DeepCopy())
		meta.RemoveStatusCondition(&c.Status.Conditions, pgov1.ClusterRefused)
		if err := r.Client.Status().Patch(ctx, c, patch); err != nil {
			return false, fmt.Errorf("updating the status: %w", err)
		}
		return false, nil
	}
	if was != nil && was.Reason == reason && was.Message == message && c.Status.Phase == pgov1.PhaseFailed {
		return true, nil
	}
	r.event(c, corev1.EventTypeWarning, reason, "Refuse", "%s", message)
	patch := client.MergeFrom(c.DeepCopy())
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: pgov1.ClusterRefused, Status: metav1.ConditionTrue,
		Reason: reason, Message: message + "; nothing was created", ObservedGeneration: c.Generation})
	c.Status.Phase = pgov1.PhaseFailed
	if err := r.Client.Status().Patch(ctx, c, patch); err != nil {
		return true, fmt.Errorf("updating the status: %w", err)
	}
	return true, nil
}

// event records a Kubernetes Event on the cluster.
func (r *ClusterReconciler) event(c *pgov1.PGCluster, typ, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(c, nil, typ, reason, action, format, args...)
	}
}
