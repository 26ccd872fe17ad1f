package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/postgres"
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
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	verifiers rolesMemo
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
	o.resizeBlocked = resizeBlocked
	requeue, err := r.rollout(ctx, c, &o)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.updateStatus(ctx, c, o); err != nil {
		return ctrl.Result{}, err
	}
	if requeue {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	// Back when a certificate is due for renewal.
	return ctrl.Result{RequeueAfter: max(renewAt.Sub(r.now()), time.Second)}, nil
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

// replicas are the cluster's PGReplicas.
func (r *ClusterReconciler) replicas(ctx context.Context, c *pgov1.PGCluster) ([]pgov1.PGReplica, error) {
	var list pgov1.PGReplicaList
	if err := r.Client.List(ctx, &list, client.InNamespace(c.Namespace)); err != nil {
		return nil, fmt.Errorf("listing PGReplicas: %w", err)
	}
	var out []pgov1.PGReplica
	for _, p := range list.Items {
		if string(p.Spec.ClusterName) == c.Name {
			out = append(out, p)
		}
	}
	return out, nil
}

// scale makes the number of PGReplicas match spec.replicas: it creates new
// ones, or removes those marked for removal first, then those furthest
// behind, never the primary.
func (r *ClusterReconciler) scale(ctx context.Context, c *pgov1.PGCluster, replicas []pgov1.PGReplica) (bool, error) {
	want := int(c.Spec.Replicas)
	switch {
	case len(replicas) < want:
		taken := map[string]bool{specs.FirstInstance(c): true}
		for _, p := range replicas {
			taken[p.Name] = true
		}
		for n := len(replicas); n < want; n++ {
			name, err := newReplicaName(c.Name, taken)
			if err != nil {
				return false, err
			}
			taken[name] = true
			p := &pgov1.PGReplica{
				TypeMeta:   metav1.TypeMeta{APIVersion: pgov1.GroupVersion.String(), Kind: "PGReplica"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: specs.ClusterLabels(c.Name), Finalizers: []string{naming.Finalizer}},
				Spec:       pgov1.PGReplicaSpec{ClusterName: pgov1.ClusterName(c.Name)},
			}
			if err := controllerutil.SetControllerReference(c, p, r.Scheme); err != nil {
				return false, err
			}
			if err := r.Client.Create(ctx, p); err != nil {
				return false, fmt.Errorf("creating PGReplica %s: %w", name, err)
			}
			r.event(c, corev1.EventTypeNormal, "ScaledUp", "Scale", "created replica %s", name)
		}
		return true, nil
	case len(replicas) > want:
		lease, err := r.lease(ctx, c)
		if err != nil {
			return false, err
		}
		// The holder, even if the lock looks expired: see decideRemoval.
		primary := naming.InstanceOfPod(dcs.LeaseHolder(lease))
		victims := slices.Clone(replicas)
		slices.SortStableFunc(victims, func(a, b pgov1.PGReplica) int {
			am, bm := a.Annotations[naming.AnnotationRemove] == "true", b.Annotations[naming.AnnotationRemove] == "true"
			switch {
			case am != bm && am:
				return -1
			case am != bm:
				return 1
			case (a.Name == primary) != (b.Name == primary) && a.Name == primary:
				return 1
			case (a.Name == primary) != (b.Name == primary):
				return -1
			}
			return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
		})
		for _, p := range victims[:len(replicas)-want] {
			if err := r.Client.Delete(ctx, &p); client.IgnoreNotFound(err) != nil {
				return false, fmt.Errorf("removing PGReplica %s: %w", p.Name, err)
			}
			r.event(c, corev1.EventTypeNormal, "ScaledDown", "Scale", "removing replica %s", p.Name)
		}
		return true, nil
	}
	return false, nil
}

func newReplicaName(cluster string, taken map[string]bool) (string, error) {
	for range 100 {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		if name := specs.NewReplicaName(cluster, b); !taken[name] {
			return name, nil
		}
	}
	return "", errors.New("no free replica name")
}

// adoptReplicas makes user-created PGReplicas the cluster's, with pgo's
// finalizer, so that removing them removes their instance in order.
func (r *ClusterReconciler) adoptReplicas(ctx context.Context, c *pgov1.PGCluster, replicas []pgov1.PGReplica) error {
	for i := range replicas {
		p := &replicas[i]
		if metav1.IsControlledBy(p, c) && controllerutil.ContainsFinalizer(p, naming.Finalizer) {
			continue
		}
		patch := client.MergeFrom(p.DeepCopy())
		if err := controllerutil.SetControllerReference(c, p, r.Scheme); err != nil {
			return fmt.Errorf("adopting PGReplica %s: %w", p.Name, err)
		}
		controllerutil.AddFinalizer(p, naming.Finalizer)
		if err := r.Client.Patch(ctx, p, patch); err != nil {
			return fmt.Errorf("adopting PGReplica %s: %w", p.Name, err)
		}
	}
	return nil
}

// finalizeRemovedReplicas removes the instances of PGReplicas being
// deleted. The primary first hands over to another instance.
func (r *ClusterReconciler) finalizeRemovedReplicas(ctx context.Context, c *pgov1.PGCluster, replicas []pgov1.PGReplica) (ctrl.Result, error) {
	for i := range replicas {
		p := &replicas[i]
		if p.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(p, naming.Finalizer) {
			continue
		}
		lease, err := r.lease(ctx, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		pod := &corev1.Pod{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.PodOfInstance(p.Name)}, pod); apierrors.IsNotFound(err) {
			pod = nil
		} else if err != nil {
			return ctrl.Result{}, fmt.Errorf("reading the pod of %s: %w", p.Name, err)
		}
		switch d := decideRemoval(lease, pod, p.Name); {
		case d.Switchover:
			if err := r.requestSwitchover(ctx, c, p.Name, ""); err != nil {
				return ctrl.Result{}, err
			}
			r.event(c, corev1.EventTypeNormal, "SwitchingOver", "Scale", "switching over from %s before removing it", p.Name)
			return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
		case d.Wait != "":
			r.event(c, corev1.EventTypeNormal, "RemovalWaiting", "Scale", "not removing %s yet: %s", p.Name, d.Wait)
			return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
		}
		keep := p.Annotations[naming.AnnotationKeepData] == "true" || (c.Spec.Deletion != nil && c.Spec.Deletion.KeepData)
		if err := r.removeInstance(ctx, c, p.Name, keep); err != nil {
			return ctrl.Result{}, err
		}
		patch := client.MergeFrom(p.DeepCopy())
		controllerutil.RemoveFinalizer(p, naming.Finalizer)
		if err := r.Client.Patch(ctx, p, patch); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("releasing PGReplica %s: %w", p.Name, err)
		}
		r.event(c, corev1.EventTypeNormal, "InstanceRemoved", "Scale", "removed instance %s (data kept: %v)", p.Name, keep)
	}
	return ctrl.Result{}, nil
}

// removeInstance deletes an instance's StatefulSet and, unless keep, its
// volumes; kept volumes lose their owner so that they outlive the cluster.
func (r *ClusterReconciler) removeInstance(ctx context.Context, c *pgov1.PGCluster, instance string, keep bool) error {
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: instance, Namespace: c.Namespace}}
	if err := r.Client.Delete(ctx, sts); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting StatefulSet %s: %w", instance, err)
	}
	for _, name := range []string{naming.DataVolume(instance), naming.WALVolume(instance)} {
		pvc := &corev1.PersistentVolumeClaim{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, pvc); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		if !keep {
			if err := r.Client.Delete(ctx, pvc); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting PersistentVolumeClaim %s: %w", name, err)
			}
			continue
		}
		if len(pvc.OwnerReferences) > 0 {
			patch := client.MergeFrom(pvc.DeepCopy())
			pvc.OwnerReferences = nil
			if err := r.Client.Patch(ctx, pvc, patch); err != nil {
				return fmt.Errorf("keeping PersistentVolumeClaim %s: %w", name, err)
			}
		}
	}
	return nil
}

// requestSwitchover asks the instance managers to hand the primary role
// from leader to candidate (the healthiest replica when empty).
func (r *ClusterReconciler) requestSwitchover(ctx context.Context, c *pgov1.PGCluster, from, to string) error {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: naming.FailoverConfigMap(c.Name), Namespace: c.Namespace, Labels: specs.ClusterLabels(c.Name)},
		Data:       map[string]string{naming.KeyLeader: podOf(from), naming.KeyCandidate: podOf(to)},
	}
	// Not through the applier: the instance managers clear a request they
	// refuse (a candidate that is not ready yet), and the same request
	// must then be written again.
	existing := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(cm), existing)
	switch {
	case apierrors.IsNotFound(err):
		if err := controllerutil.SetControllerReference(c, cm, r.Scheme); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, cm); err != nil {
			return fmt.Errorf("requesting a switchover: %w", err)
		}
	case err != nil:
		return fmt.Errorf("reading the switchover request: %w", err)
	case existing.Data[naming.KeyLeader] != cm.Data[naming.KeyLeader] || existing.Data[naming.KeyCandidate] != cm.Data[naming.KeyCandidate]:
		existing.Data = cm.Data
		if err := r.Client.Update(ctx, existing); err != nil {
			return fmt.Errorf("requesting a switchover: %w", err)
		}
	}
	return nil
}

// podOf is the member name of an instance ("" stays empty).
func podOf(instance string) string {
	if instance == "" {
		return ""
	}
	return naming.PodOfInstance(instance)
}

func (r *ClusterReconciler) lease(ctx context.Context, c *pgov1.PGCluster) (*coordinationv1.Lease, error) {
	lease := &coordinationv1.Lease{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.LeaderLease(c.Name)}, lease)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the leader lock: %w", err)
	}
	return lease, nil
}

// secrets makes the passwords and certificates, once.
func (r *ClusterReconciler) secrets(ctx context.Context, a applier, c *pgov1.PGCluster) error {
	for _, build := range []func(*pgov1.PGCluster, string) *corev1.Secret{specs.SuperuserSecret, specs.APISecret, specs.AppUserSecret} {
		s := build(c, "")
		if exists, err := r.secretExists(ctx, client.ObjectKeyFromObject(s)); err != nil || exists {
			if err != nil {
				return err
			}
			continue
		}
		password, err := postgres.NewPassword()
		if err != nil {
			return err
		}
		if created, err := a.create(ctx, c, build(c, password)); err != nil {
			return err
		} else if created {
			r.event(c, corev1.EventTypeNormal, "SecretCreated", "Create", "created Secret %s", s.Name)
		}
	}
	return nil
}

// certificates keeps the cluster's own CA and, issued from it, the
// cluster's server certificate (which the members present to each other,
// and PostgreSQL to clients unless the user gave one) and the replication
// user's client certificate. Each names the cluster and is issued again at
// two thirds of its life, or when it is not the cluster CA's. It returns
// when the next renewal is due.
func (r *ClusterReconciler) certificates(ctx context.Context, a applier, c *pgov1.PGCluster) (time.Time, error) {
	ca, err := r.clusterCA(ctx, a, c)
	if err != nil {
		return time.Time{}, err
	}
	now := r.now()
	var next time.Time
	for _, want := range specs.Certificates(c, r.Options.CertificateLifetime) {
		existing := &corev1.Secret{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: want.Secret}, existing)
		if err != nil && !apierrors.IsNotFound(err) {
			return time.Time{}, err
		}
		found := err == nil
		cert := existing.Data[corev1.TLSCertKey]
		if found && pki.Current(ca.Cert, cert, now) && bytes.Equal(existing.Data[naming.KeyCACert], ca.Cert) {
			renew, _ := pki.RenewAt(cert)
			if next.IsZero() || renew.Before(next) {
				next = renew
			}
			continue
		}
		pair, err := pki.Issue(ca, want.Leaf, now)
		if err != nil {
			return time.Time{}, err
		}
		secret := specs.TLSSecret(c, want.Secret, pair.Cert, pair.Key, ca.Cert)
		if !found {
			if _, err := a.create(ctx, c, secret); err != nil {
				return time.Time{}, err
			}
		} else {
			existing.Data = secret.Data
			if err := r.Client.Update(ctx, existing); err != nil {
				return time.Time{}, fmt.Errorf("renewing the certificate in Secret %s: %w", want.Secret, err)
			}
			r.event(c, corev1.EventTypeNormal, "CertificateRenewed", "Renew", "renewed the certificate in Secret %s", want.Secret)
		}
		renew, _ := pki.RenewAt(pair.Cert)
		if next.IsZero() || renew.Before(next) {
			next = renew
		}
	}
	return next, nil
}

// clusterCA is the cluster's own CA, made on first use: certificates of
// one cluster are worth nothing to another.
func (r *ClusterReconciler) clusterCA(ctx context.Context, a applier, c *pgov1.PGCluster) (pki.Pair, error) {
	key := client.ObjectKey{Namespace: c.Namespace, Name: naming.ClusterCASecret(c.Name)}
	s := &corev1.Secret{}
	if err := r.Client.Get(ctx, key, s); err == nil {
		return pki.Pair{Cert: s.Data[naming.KeyCACert], Key: s.Data[naming.KeyCAKey]}, nil
	} else if !apierrors.IsNotFound(err) {
		return pki.Pair{}, err
	}
	ca, err := pki.NewCA(specs.ClusterCAName(c), r.now())
	if err != nil {
		return pki.Pair{}, err
	}
	created, err := a.create(ctx, c, specs.ClusterCASecret(c, ca.Cert, ca.Key))
	if err != nil {
		return pki.Pair{}, fmt.Errorf("creating the cluster's CA: %w", err)
	}
	if !created {
		// The cache had not seen it yet: read what is there.
		if err := r.Reader.Get(ctx, key, s); err != nil {
			return pki.Pair{}, err
		}
		return pki.Pair{Cert: s.Data[naming.KeyCACert], Key: s.Data[naming.KeyCAKey]}, nil
	}
	return ca, nil
}

// secretExists looks a Secret up in the cache, then (for Secrets a user made,
// which the cache does not hold) in the API.
func (r *ClusterReconciler) secretExists(ctx context.Context, key client.ObjectKey) (bool, error) {
	err := r.Client.Get(ctx, key, &corev1.Secret{})
	if err == nil {
		return true, nil
	}
	if !apierrors.IsNotFound(err) || r.Reader == nil {
		return false, client.IgnoreNotFound(err)
	}
	err = r.Reader.Get(ctx, key, &corev1.Secret{})
	if err == nil {
		return true, nil
	}
	return false, client.IgnoreNotFound(err)
}

// clusterObjects applies the cluster's ConfigMap, RBAC and Services, and
// creates its leader Lease and sync and switchover ConfigMaps, all before
// the instances that use them.
func (r *ClusterReconciler) clusterObjects(ctx context.Context, a applier, c *pgov1.PGCluster, instances []specs.Instance) error {
	cm, err := specs.ConfigMap(c)
	if err != nil {
		return err
	}
	sa, role, binding := specs.InstanceRBAC(c, specs.InstancePods(instances))
	objects := []client.Object{cm, sa, role, binding}
	for _, svc := range specs.Services(c) {
		objects = append(objects, svc)
	}
	for _, obj := range objects {
		if _, err := a.apply(ctx, c, obj); err != nil {
			return err
		}
	}
	lease, cms := specs.DCSObjects(c)
	created := []client.Object{lease}
	for _, cm := range cms {
		created = append(created, cm)
	}
	for _, obj := range created {
		if _, err := a.create(ctx, c, obj); err != nil {
			return err
		}
	}
	return nil
}

// instance applies an instance's volumes and StatefulSet. It returns why a
// larger volume could not be applied, if so.
func (r *ClusterReconciler) instance(ctx context.Context, a applier, c *pgov1.PGCluster, inst specs.Instance) (string, error) {
	blocked := ""
	for _, pvc := range specs.Claims(c, inst) {
		existing := &corev1.PersistentVolumeClaim{}
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(pvc), existing)
		grow := false
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return "", err
		default:
			want, have := pvc.Spec.Resources.Requests[corev1.ResourceStorage], existing.Spec.Resources.Requests[corev1.ResourceStorage]
			if want.Cmp(have) > 0 {
				grow = true
				why := r.expansionBlocked(ctx, existing)
				if why == "" && existing.Status.Phase != corev1.ClaimBound {
					why = fmt.Sprintf("%s is not bound yet; it grows once it is", existing.Name)
				}
				if why != "" {
					blocked, grow = why, false
					pvc.Spec.Resources.Requests[corev1.ResourceStorage] = have
				}
			}
		}
		if _, err := a.apply(ctx, c, pvc); err != nil {
			return "", err
		}
		if grow {
			r.event(c, corev1.EventTypeNormal, "VolumeResized", "Resize", "requested %s for %s", pvc.Spec.Resources.Requests.Storage(), pvc.Name)
		}
	}
	if _, err := a.apply(ctx, c, specs.StatefulSet(c, inst, r.Options)); err != nil {
		return "", err
	}
	return blocked, nil
}

// expansionBlocked says why a volume cannot grow, or "" when it can.
func (r *ClusterReconciler) expansionBlocked(ctx context.Context, pvc *corev1.PersistentVolumeClaim) string {
	name := ""
	if pvc.Spec.StorageClassName != nil {
		name = *pvc.Spec.StorageClassName
	}
	var classes storagev1.StorageClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		return fmt.Sprintf("cannot read StorageClasses to resize %s: %v", pvc.Name, err)
	}
	for _, sc := range classes.Items {
		isDefault := sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true"
		if sc.Name == name || (name == "" && isDefault) {
			if sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion {
				return ""
			}
			return fmt.Sprintf("StorageClass %s of %s does not allow volume expansion; the volume keeps its size", sc.Name, pvc.Name)
		}
	}
	return fmt.Sprintf("the StorageClass of %s is not found, so it cannot be resized; the volume keeps its size", pvc.Name)
}

// observe reads the instances' pods and the leader lock.
func (r *ClusterReconciler) observe(ctx context.Context, c *pgov1.PGCluster, instances []specs.Instance) (observed, error) {
	o := observed{instances: instances, pods: map[string]*corev1.Pod{}, now: r.now()}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return o, fmt.Errorf("listing the cluster's pods: %w", err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if inst := p.Labels[naming.LabelInstance]; inst != "" {
			o.pods[inst] = p
		}
	}
	lease, err := r.lease(ctx, c)
	o.lease = lease
	return o, err
}

// rollout carries on a rolling change (new resources, image, settings that
// need a restart): replicas first, then a switchover, then the old primary.
func (r *ClusterReconciler) rollout(ctx context.Context, c *pgov1.PGCluster, o *observed) (bool, error) {
	if c.Spec.Shutdown {
		return false, nil
	}
	primary := leader(o.lease, o.now)
	var members []rolloutMember
	for _, inst := range o.instances {
		sts := &appsv1.StatefulSet{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: inst.Name}, sts); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		// The cache may not hold the StatefulSet just applied yet, or the
		// StatefulSet controller may not have taken it up: then the pods
		// look current when they are not.
		_, hash, err := (applier{client: r.Client, scheme: r.Scheme}).desired(c, specs.StatefulSet(c, inst, r.Options))
		if err != nil {
			return false, err
		}
		if sts.Annotations[naming.AnnotationAppliedHash] != hash || sts.Status.ObservedGeneration < sts.Generation {
			o.progressing = "waiting for StatefulSet " + inst.Name + " to take the change"
			return true, nil
		}
		pod := o.pods[inst.Name]
		if pod == nil || sts.Status.UpdateRevision == "" {
			// The pod's arrival triggers the next reconcile.
			o.progressing = "waiting for the pod of " + inst.Name
			return false, nil
		}
		members = append(members, rolloutMember{
			Name:    inst.Name,
			Primary: inst.Name == primary,
			Current: pod.Labels[appsv1.ControllerRevisionHashLabelKey] == sts.Status.UpdateRevision,
			Ready:   podReady(pod),
		})
	}
	step, active := nextRollout(members)
	if !active {
		return false, nil
	}
	switch {
	case step.DeletePod != "":
		o.progressing = "restarting " + step.DeletePod + " with the new settings"
		pod := o.pods[step.DeletePod]
		if err := r.Client.Delete(ctx, pod); client.IgnoreNotFound(err) != nil {
			return false, fmt.Errorf("restarting %s: %w", step.DeletePod, err)
		}
		r.event(c, corev1.EventTypeNormal, "RollingRestart", "Update", "restarting %s with the new settings", step.DeletePod)
	case step.SwitchoverTo != "":
		o.progressing = "switching over to " + step.SwitchoverTo + " to restart " + primary
		if err := r.requestSwitchover(ctx, c, primary, step.SwitchoverTo); err != nil {
			return false, err
		}
		r.event(c, corev1.EventTypeNormal, "SwitchingOver", "Update", "switching over from %s to %s to restart the primary last", primary, step.SwitchoverTo)
	default:
		o.progressing = "rolling out a change: waiting for " + step.Waiting
	}
	return true, nil
}

// updateStatus writes the status when it changed.
func (r *ClusterReconciler) updateStatus(ctx context.Context, c *pgov1.PGCluster, o observed) error {
	st := clusterStatus(c, o)
	if equality.Semantic.DeepEqual(st, c.Status) {
		return nil
	}
	if st.Primary != "" && st.Primary != c.Status.Primary && c.Status.Primary != "" {
		r.event(c, corev1.EventTypeNormal, "PrimaryChanged", "Failover", "the primary is now %s (was %s)", st.Primary, c.Status.Primary)
	}
	for _, is := range st.Instances {
		if is.KeptData != "" && !slices.ContainsFunc(c.Status.Instances, func(was pgov1.PGInstanceStatus) bool {
			return was.Name == is.Name && was.KeptData == is.KeptData
		}) {
			r.event(c, corev1.EventTypeWarning, "DataKept", "Rewind", "%s could not be rewound and was cloned again; its old data directory is kept at %s", is.Name, is.KeptData)
		}
	}
	if st.Phase != c.Status.Phase {
		r.event(c, corev1.EventTypeNormal, "Phase"+string(st.Phase), "Status", "the cluster is %s", strings.ToLower(string(st.Phase)))
	}
	patch := client.MergeFrom(c.DeepCopy())
	c.Status = st
	if err := r.Client.Status().Patch(ctx, c, patch); err != nil {
		return fmt.Errorf("updating the status: %w", err)
	}
	return nil
}

// finalize removes what the cluster owns, keeping the volumes when asked.
func (r *ClusterReconciler) finalize(ctx context.Context, c *pgov1.PGCluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(c, naming.Finalizer) {
		return ctrl.Result{}, nil
	}
	keep := c.Spec.Deletion != nil && c.Spec.Deletion.KeepData
	replicas, err := r.replicas(ctx, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	instances := []string{specs.FirstInstance(c)}
	for i := range replicas {
		p := &replicas[i]
		instances = append(instances, p.Name)
		if controllerutil.ContainsFinalizer(p, naming.Finalizer) {
			patch := client.MergeFrom(p.DeepCopy())
			controllerutil.RemoveFinalizer(p, naming.Finalizer)
			if err := r.Client.Patch(ctx, p, patch); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, err
			}
		}
		if err := r.Client.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	for _, inst := range instances {
		if err := r.removeInstance(ctx, c, inst, keep); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The rest goes explicitly too, so that nothing waits for the garbage
	// collector.
	sa, role, binding := specs.InstanceRBAC(c, nil)
	owned := []client.Object{sa, role, binding}
	for _, svc := range specs.Services(c) {
		owned = append(owned, svc)
	}
	for _, name := range []string{naming.ConfigMap(c.Name), naming.SyncConfigMap(c.Name), naming.FailoverConfigMap(c.Name)} {
		owned = append(owned, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace}})
	}
	owned = append(owned, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: naming.LeaderLease(c.Name), Namespace: c.Namespace}})
	var secrets corev1.SecretList
	if err := r.Client.List(ctx, &secrets, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return ctrl.Result{}, err
	}
	for i := range secrets.Items {
		if metav1.IsControlledBy(&secrets.Items[i], c) {
			owned = append(owned, &secrets.Items[i])
		}
	}
	for _, obj := range owned {
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("deleting %s: %w", obj.GetName(), err)
		}
	}
	r.forgetUsers(c)
	patch := client.MergeFrom(c.DeepCopy())
	controllerutil.RemoveFinalizer(c, naming.Finalizer)
	if err := r.Client.Patch(ctx, c, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("removing the finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}

// event records a Kubernetes Event on the cluster.
func (r *ClusterReconciler) event(c *pgov1.PGCluster, typ, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(c, nil, typ, reason, action, format, args...)
	}
}
