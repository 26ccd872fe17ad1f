package apiserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/specs"
)

// getCluster reads a cluster, with a 404 that names it.
func (s *Server) getCluster(ctx context.Context, ns, name string) (*pgov1.PGCluster, error) {
	c := &pgov1.PGCluster{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)
	if apierrors.IsNotFound(err) {
		return nil, notFound("cluster %s not found in namespace %s", name, ns)
	}
	if err != nil {
		return nil, fmt.Errorf("reading cluster %s: %w", name, err)
	}
	return c, nil
}

// clusterOf reads the cluster named in the request's path.
func (s *Server) clusterOf(ctx context.Context, r *request) (*pgov1.PGCluster, error) {
	return s.getCluster(ctx, r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName))
}

// changeCluster applies change to the latest version of a cluster, retrying
// on conflicts. change returns an error to refuse.
func (s *Server) changeCluster(ctx context.Context, ns, name string, change func(c *pgov1.PGCluster) error) (*pgov1.PGCluster, error) {
	var out *pgov1.PGCluster
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := s.getCluster(ctx, ns, name)
		if err != nil {
			return err
		}
		if err := change(c); err != nil {
			return err
		}
		if err := s.Client.Update(ctx, c, fieldOwner); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// boolQuery reads a true/false query parameter.
func boolQuery(r *request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s=%q is not true or false", name, v)
	}
	return b, nil
}

// ---- show ----

func (s *Server) showClusters(ctx context.Context, r *request) (any, error) {
	ns := r.PathValue(pgoapi.ParamNamespace)
	opts := []client.ListOption{client.InNamespace(ns)}
	if sel := r.URL.Query().Get(pgoapi.QuerySelector); sel != "" {
		parsed, why := rules.Selector(sel)
		if why != "" {
			return nil, badRequest("selector %q %s", sel, why)
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: parsed})
	}
	var list pgov1.PGClusterList
	if err := s.Client.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	resp := pgoapi.ShowClusterResponse{Clusters: []pgoapi.Cluster{}}
	for i := range list.Items {
		detail, err := s.clusterDetail(ctx, &list.Items[i])
		if err != nil {
			return nil, err
		}
		resp.Clusters = append(resp.Clusters, detail)
	}
	return resp, nil
}

func (s *Server) showCluster(ctx context.Context, r *request) (any, error) {
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	detail, err := s.clusterDetail(ctx, c)
	if err != nil {
		return nil, err
	}
	return pgoapi.ShowClusterResponse{Clusters: []pgoapi.Cluster{detail}}, nil
}

// clusterObjects are the Kubernetes objects of one cluster.
type clusterObjects struct {
	Pods         []corev1.Pod
	PVCs         []corev1.PersistentVolumeClaim
	StatefulSets []appsv1.StatefulSet
	Deployments  []appsv1.Deployment
	Services     []corev1.Service
	Replicas     []pgov1.PGReplica
}

func (s *Server) clusterObjects(ctx context.Context, c *pgov1.PGCluster) (clusterObjects, error) {
	var o clusterObjects
	sel := []client.ListOption{client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))}
	var pods corev1.PodList
	var pvcs corev1.PersistentVolumeClaimList
	var stss appsv1.StatefulSetList
	var deps appsv1.DeploymentList
	var svcs corev1.ServiceList
	var reps pgov1.PGReplicaList
	for _, l := range []client.ObjectList{&pods, &pvcs, &stss, &deps, &svcs} {
		if err := s.Client.List(ctx, l, sel...); err != nil {
			return o, fmt.Errorf("listing the objects of cluster %s: %w", c.Name, err)
		}
	}
	if err := s.Client.List(ctx, &reps, client.InNamespace(c.Namespace)); err != nil {
		return o, fmt.Errorf("listing the replicas of cluster %s: %w", c.Name, err)
	}
	o.Pods, o.PVCs, o.StatefulSets, o.Deployments, o.Services = pods.Items, pvcs.Items, stss.Items, deps.Items, svcs.Items
	for _, p := range reps.Items {
		if string(p.Spec.ClusterName) == c.Name {
			o.Replicas = append(o.Replicas, p)
		}
	}
	return o, nil
}

func (s *Server) clusterDetail(ctx context.Context, c *pgov1.PGCluster) (pgoapi.Cluster, error) {
	objs, err := s.clusterObjects(ctx, c)
	if err != nil {
		return pgoapi.Cluster{}, err
	}
	return clusterDetail(c, objs), nil
}

// walArchiving is the cluster's WALArchiving condition as pgo shows it;
// nil before the controller has said.
func walArchiving(c *pgov1.PGCluster) *pgoapi.Check {
	cond := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterWALArchiving)
	if cond == nil {
		return nil
	}
	return &pgoapi.Check{OK: cond.Status == metav1.ConditionTrue, Message: cond.Message}
}

// clusterDetail describes a cluster and its objects for ShowCluster.
func clusterDetail(c *pgov1.PGCluster, o clusterObjects) pgoapi.Cluster {
	d := pgoapi.Cluster{
		Name: c.Name, Namespace: c.Namespace, Phase: string(c.Status.Phase),
		PostgresVersion: c.Spec.PostgresVersion, Image: c.Spec.Image,
		Generation: c.Generation, ObservedGeneration: c.Status.ObservedGeneration,
		Primary: c.Status.Primary, Replicas: c.Spec.Replicas, ReadyInstances: c.Status.ReadyInstances,
		Database: specs.Database(c), User: string(c.Spec.User),
		Autofail:        c.Spec.HA.Enabled == nil || *c.Spec.HA.Enabled,
		Shutdown:        c.Spec.Shutdown,
		Metrics:         c.Spec.Monitoring != nil && c.Spec.Monitoring.Enabled,
		PgBouncer:       c.Spec.PgBouncer != nil,
		SyncReplication: c.Spec.HA.SynchronousMode,
		Resources:       resourcesOf(corev1.ResourceRequirements(c.Spec.Resources)),
		PrimaryStorage:  storageOf(c.Spec.PrimaryStorage),
		Labels:          c.Labels,
		WorkflowID:      c.Status.WorkflowID,
		CreationTime:    c.CreationTimestamp.UTC(),
	}
	d.WALArchiving = walArchiving(c)
	if b := c.Status.Backups; b != nil {
		at := func(t *metav1.Time) *time.Time {
			if t == nil {
				return nil
			}
			u := t.UTC()
			return &u
		}
		for _, r := range b.Repos {
			d.Backups = append(d.Backups, pgoapi.RepoSummary{Name: string(r.Name), Status: r.Status, Backups: r.Backups,
				LastFull: at(r.LastFull), LastDiff: at(r.LastDiff), LastIncr: at(r.LastIncr)})
		}
	}
	if c.Spec.ReplicaStorage != nil {
		st := storageOf(*c.Spec.ReplicaStorage)
		d.ReplicaStorage = &st
	}
	if c.Spec.WALStorage != nil {
		st := storageOf(*c.Spec.WALStorage)
		d.WALStorage = &st
	}
	for _, inst := range c.Status.Instances {
		d.Instances = append(d.Instances, instanceOf(inst))
	}
	slices.SortFunc(o.Pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range o.Pods {
		d.Pods = append(d.Pods, pgoapi.Pod{
			Name: p.Name, Instance: p.Labels[naming.LabelInstance], Role: p.Labels[naming.LabelRole],
			Node: p.Spec.NodeName, Phase: string(p.Status.Phase), Ready: podReady(&p), IP: p.Status.PodIP,
		})
	}
	slices.SortFunc(o.PVCs, func(a, b corev1.PersistentVolumeClaim) int { return strings.Compare(a.Name, b.Name) })
	for _, pvc := range o.PVCs {
		size := pvcSize(&pvc)
		class := ""
		if pvc.Spec.StorageClassName != nil {
			class = *pvc.Spec.StorageClassName
		}
		d.PVCs = append(d.PVCs, pgoapi.PVC{Name: pvc.Name, Size: size.String(), StorageClass: class, Phase: string(pvc.Status.Phase)})
	}
	slices.SortFunc(o.StatefulSets, func(a, b appsv1.StatefulSet) int { return strings.Compare(a.Name, b.Name) })
	for _, sts := range o.StatefulSets {
		want := int32(1)
		if sts.Spec.Replicas != nil {
			want = *sts.Spec.Replicas
		}
		d.StatefulSets = append(d.StatefulSets, pgoapi.Workload{Name: sts.Name, Desired: want, Ready: sts.Status.ReadyReplicas, Instance: sts.Labels[naming.LabelInstance]})
	}
	slices.SortFunc(o.Deployments, func(a, b appsv1.Deployment) int { return strings.Compare(a.Name, b.Name) })
	for _, dep := range o.Deployments {
		want := int32(1)
		if dep.Spec.Replicas != nil {
			want = *dep.Spec.Replicas
		}
		d.Deployments = append(d.Deployments, pgoapi.Workload{Name: dep.Name, Desired: want, Ready: dep.Status.ReadyReplicas})
	}
	slices.SortFunc(o.Services, func(a, b corev1.Service) int { return strings.Compare(a.Name, b.Name) })
	for _, svc := range o.Services {
		out := pgoapi.Service{Name: svc.Name, Type: string(svc.Spec.Type), ClusterIP: svc.Spec.ClusterIP}
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if out.ExternalIP == "" {
				out.ExternalIP = ing.IP + ing.Hostname
			}
		}
		if out.ExternalIP == "" && len(svc.Spec.ExternalIPs) > 0 {
			out.ExternalIP = svc.Spec.ExternalIPs[0]
		}
		for _, p := range svc.Spec.Ports {
			port := fmt.Sprintf("%s/%d", p.Protocol, p.Port)
			if p.NodePort != 0 {
				port += fmt.Sprintf(":%d", p.NodePort)
			}
			out.Ports = append(out.Ports, port)
		}
		d.Services = append(d.Services, out)
	}
	for _, p := range o.Replicas {
		d.ReplicaNames = append(d.ReplicaNames, p.Name)
	}
	slices.Sort(d.ReplicaNames)
	return d
}

func resourcesOf(r corev1.ResourceRequirements) pgoapi.Resources {
	str := func(l corev1.ResourceList, n corev1.ResourceName) string {
		if q, ok := l[n]; ok {
			return q.String()
		}
		return ""
	}
	return pgoapi.Resources{
		CPU: str(r.Requests, corev1.ResourceCPU), Memory: str(r.Requests, corev1.ResourceMemory),
		CPULimit: str(r.Limits, corev1.ResourceCPU), MemoryLimit: str(r.Limits, corev1.ResourceMemory),
	}
}

func storageOf(st pgov1.PGStorage) pgoapi.Storage {
	out := pgoapi.Storage{Size: st.Size.String(), AccessMode: string(st.AccessMode)}
	if st.StorageClassName != nil {
		out.StorageClass = *st.StorageClassName
	}
	return out
}

func instanceOf(inst pgov1.PGInstanceStatus) pgoapi.Instance {
	return pgoapi.Instance{Name: inst.Name, Role: string(inst.Role), Ready: inst.Ready, Node: inst.Node,
		Timeline: inst.Timeline, LagBytes: inst.LagBytes, PendingRestart: inst.PendingRestart}
}

func podReady(pod *corev1.Pod) bool {
	if pod == nil || pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ---- create ----

func (s *Server) createCluster(ctx context.Context, r *request) (any, error) {
	ns := r.PathValue(pgoapi.ParamNamespace)
	var req pgoapi.CreateClusterRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	if err := s.managed(ctx, ns); err != nil {
		return nil, err
	}
	// What the request refers to must exist before anything is created.
	var refs checks
	version := req.PostgresVersion
	if version == 0 {
		version = pgov1.DefaultPostgresVersion
	}
	if why := s.Config.VersionProblem(version); why != "" {
		refs.add("postgresVersion", "%s", why)
	}
	if why := s.Config.ImageProblem(req.Image); why != "" {
		refs.add("image", "%s", why)
	}
	var custom *corev1.ConfigMap
	if req.CustomConfig != "" && len(validationOf(func(c *checks) { c.objectName("customConfig", req.CustomConfig) })) == 0 {
		custom = &corev1.ConfigMap{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: req.CustomConfig}, custom); apierrors.IsNotFound(err) {
			refs.add("customConfig", "ConfigMap %s does not exist in namespace %s; create it first", req.CustomConfig, ns)
			custom = nil
		} else if err != nil {
			return nil, err
		}
	}
	var s3CA []byte
	if req.PgBackRestS3CASecret != "" && len(validationOf(func(c *checks) { c.objectName("x", req.PgBackRestS3CASecret) })) == 0 {
		sec := &corev1.Secret{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: req.PgBackRestS3CASecret}, sec); apierrors.IsNotFound(err) {
			refs.add("pgBackRestS3CASecret", "Secret %s does not exist in namespace %s", req.PgBackRestS3CASecret, ns)
		} else if err != nil {
			return nil, err
		} else if s3CA = sec.Data[specs.KeyS3CA]; len(s3CA) == 0 {
			if s3CA = sec.Data[naming.KeyCACert]; len(s3CA) == 0 {
				refs.add("pgBackRestS3CASecret", "Secret %s has no key %s or %s with the CA certificate", req.PgBackRestS3CASecret, specs.KeyS3CA, naming.KeyCACert)
			}
		}
	}
	built, err := clusterFromRequest(ns, req, custom, s3CA)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			ae.fields = append(ae.fields, refs...)
			return nil, invalid(ae.fields)
		}
		return nil, err
	}
	if req.RestoreFrom != "" {
		if _, err := s.getCluster(ctx, ns, req.RestoreFrom); err != nil {
			refs.add("restoreFrom", "cluster %s does not exist in namespace %s", req.RestoreFrom, ns)
		}
	}
	if err := refs.err(); err != nil {
		return nil, err
	}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}); apierrors.IsNotFound(err) {
		return nil, notFound("namespace %s does not exist; create it with pgo create namespace %s", ns, ns)
	}

	c := built.Cluster
	if err := s.Client.Create(ctx, c, fieldOwner); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, conflict("cluster %s already exists in namespace %s", c.Name, ns)
		}
		return nil, fmt.Errorf("creating cluster %s: %w", c.Name, err)
	}
	password, err := s.createClusterSecrets(ctx, c, built)
	if err != nil {
		// Do not leave half a cluster behind.
		if derr := s.Client.Delete(ctx, c); derr != nil {
			s.Log.Error(derr, "removing a cluster whose creation failed", "cluster", c.Name, "namespace", ns)
		}
		return nil, err
	}
	id, err := s.startTask(ctx, c, pgov1.PGTaskSpec{Type: pgov1.TaskCreateCluster})
	if err != nil {
		return nil, err
	}
	return pgoapi.CreateClusterResponse{Name: c.Name, Namespace: ns, WorkflowID: id,
		Database: specs.Database(c), Username: string(c.Spec.User), Password: password}, nil
}

// validationOf runs checks on their own.
func validationOf(f func(c *checks)) checks {
	var c checks
	f(&c)
	return c
}

// createClusterSecrets writes the application user's Secret (the controller
// keeps a Secret that exists) and the S3 credentials; it returns the
// application user's password.
func (s *Server) createClusterSecrets(ctx context.Context, c *pgov1.PGCluster, built newCluster) (string, error) {
	if sec := built.S3Credentials; sec != nil {
		if err := controllerutil.SetControllerReference(c, sec, kubescheme.Scheme); err != nil {
			return "", err
		}
		sec.Labels = specs.ClusterLabels(c.Name)
		if err := s.Client.Create(ctx, sec, fieldOwner); err != nil {
			return "", fmt.Errorf("storing the S3 credentials: %w", err)
		}
	}
	password := built.Password
	if password == "" {
		var err error
		if password, err = newPassword(DefaultPasswordLength); err != nil {
			return "", err
		}
	}
	return s.writeUserSecret(ctx, c, string(c.Spec.User), password, specs.Database(c), built.Password != "")
}

// writeUserSecret stores a database user's password in its Secret, owned by
// the cluster. When the Secret exists already (the controller may have made
// it first), it keeps that password unless force.
func (s *Server) writeUserSecret(ctx context.Context, c *pgov1.PGCluster, user, password, database string, force bool) (string, error) {
	name := naming.UserSecret(c.Name, user)
	want := specs.UserSecret(c, name, user, password, database)
	if err := controllerutil.SetControllerReference(c, want, kubescheme.Scheme); err != nil {
		return "", err
	}
	err := s.Client.Create(ctx, want, fieldOwner)
	if err == nil {
		return password, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("storing the password of %s in Secret %s: %w", user, name, err)
	}
	var out string
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		existing := &corev1.Secret{}
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, existing); err != nil {
			return err
		}
		if !force && len(existing.Data[naming.KeyPassword]) > 0 {
			out = string(existing.Data[naming.KeyPassword])
			return nil
		}
		existing.Data = want.Data
		out = password
		return s.Client.Update(ctx, existing, fieldOwner)
	})
	if err != nil {
		return "", fmt.Errorf("storing the password of %s in Secret %s: %w", user, name, err)
	}
	return out, nil
}

// ---- update ----

func (s *Server) updateCluster(ctx context.Context, r *request) (any, error) {
	ns, name := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName)
	var req pgoapi.UpdateClusterRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	if req == (pgoapi.UpdateClusterRequest{}) {
		return nil, invalid([]pgoapi.FieldError{{Field: "", Message: "nothing to change: give cpu, memory, cpuLimit, memoryLimit, autofail or shutdown"}})
	}
	var changed []string
	c, err := s.changeCluster(ctx, ns, name, func(c *pgov1.PGCluster) error {
		var err error
		changed, err = applyUpdate(c, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	resp := pgoapi.UpdateClusterResponse{Name: name, Changed: changed}
	if len(changed) > 0 {
		if resp.WorkflowID, err = s.startTask(ctx, c, pgov1.PGTaskSpec{Type: pgov1.TaskUpdateCluster,
			UpdateCluster: &pgov1.PGUpdateClusterParameters{Generation: c.Generation}}); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// applyUpdate changes a cluster's spec as an UpdateClusterRequest says and
// names the fields that changed.
func applyUpdate(c *pgov1.PGCluster, req pgoapi.UpdateClusterRequest) ([]string, error) {
	var v checks
	rr := corev1.ResourceRequirements(c.Spec.Resources)
	res := rr.DeepCopy()
	var changed []string
	set := func(field string, value *string, list *corev1.ResourceList, rn corev1.ResourceName, example string) {
		if value == nil {
			return
		}
		old, had := (*list)[rn]
		if *value == "" {
			if had {
				delete(*list, rn)
				changed = append(changed, field)
			}
			return
		}
		q := v.quantity(field, *value, example)
		if q == nil {
			return
		}
		if !had || old.Cmp(*q) != 0 {
			if *list == nil {
				*list = corev1.ResourceList{}
			}
			(*list)[rn] = *q
			changed = append(changed, field)
		}
	}
	set("cpu", req.CPU, &res.Requests, corev1.ResourceCPU, rules.ExampleCPU)
	set("memory", req.Memory, &res.Requests, corev1.ResourceMemory, rules.ExampleMemory)
	set("cpuLimit", req.CPULimit, &res.Limits, corev1.ResourceCPU, rules.ExampleCPU)
	set("memoryLimit", req.MemoryLimit, &res.Limits, corev1.ResourceMemory, rules.ExampleMemory)
	for _, pair := range []struct {
		rn    corev1.ResourceName
		field string
	}{{corev1.ResourceCPU, "cpuLimit"}, {corev1.ResourceMemory, "memoryLimit"}} {
		limit, hasLimit := res.Limits[pair.rn]
		request, hasRequest := res.Requests[pair.rn]
		if hasLimit && hasRequest {
			v.rule(pair.field, limit.String(), rules.Limit(limit, request))
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if len(res.Requests) == 0 {
		res.Requests = nil
	}
	if len(res.Limits) == 0 {
		res.Limits = nil
	}
	c.Spec.Resources = pgov1.Resources(*res)
	if req.Autofail != nil {
		enabled := c.Spec.HA.Enabled == nil || *c.Spec.HA.Enabled
		if enabled != *req.Autofail {
			c.Spec.HA.Enabled = req.Autofail
			changed = append(changed, "autofail")
		}
	}
	if req.Shutdown != nil && c.Spec.Shutdown != *req.Shutdown {
		c.Spec.Shutdown = *req.Shutdown
		changed = append(changed, "shutdown")
	}
	if changed == nil {
		changed = []string{}
	}
	return changed, nil
}

// ---- delete ----

func (s *Server) deleteCluster(ctx context.Context, r *request) (any, error) {
	ns, name := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName)
	keepData, err := boolQuery(r, pgoapi.QueryKeepData)
	if err != nil {
		return nil, err
	}
	keepBackups, err := boolQuery(r, pgoapi.QueryKeepBackups)
	if err != nil {
		return nil, err
	}
	c, err := s.changeCluster(ctx, ns, name, func(c *pgov1.PGCluster) error {
		c.Spec.Deletion = &pgov1.PGDeletionSpec{KeepData: keepData, KeepBackups: keepBackups}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.Client.Delete(ctx, c); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("deleting cluster %s: %w", name, err)
	}
	return pgoapi.DeleteClusterResponse{Name: name, KeepData: keepData, KeepBackups: keepBackups}, nil
}

// ---- scale ----

func (s *Server) scaleCluster(ctx context.Context, r *request) (any, error) {
	ns, name := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName)
	var req pgoapi.ScaleClusterRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var v checks
	v.number("replicaCount", int(req.ReplicaCount), rules.AddedReplicas(req.ReplicaCount))
	if err := v.err(); err != nil {
		return nil, err
	}
	c, err := s.changeCluster(ctx, ns, name, func(c *pgov1.PGCluster) error {
		if total := c.Spec.Replicas + req.ReplicaCount; rules.Replicas(total) != "" {
			return invalid([]pgoapi.FieldError{{Field: "replicaCount", Message: fmt.Sprintf("cluster %s has %d replicas; adding %d would make %d, more than %d", name, c.Spec.Replicas, req.ReplicaCount, total, rules.MaxReplicas)}})
		}
		c.Spec.Replicas += req.ReplicaCount
		return nil
	})
	if err != nil {
		return nil, err
	}
	id, err := s.startTask(ctx, c, pgov1.PGTaskSpec{Type: pgov1.TaskScale, Scale: &pgov1.PGScaleParameters{Replicas: c.Spec.Replicas}})
	if err != nil {
		return nil, err
	}
	return pgoapi.ScaleClusterResponse{Name: name, Replicas: c.Spec.Replicas, WorkflowID: id}, nil
}

// replicasOf lists a cluster's instances other than the primary.
func replicasOf(c *pgov1.PGCluster) pgoapi.ReplicasResponse {
	resp := pgoapi.ReplicasResponse{Name: c.Name, Primary: c.Status.Primary, Replicas: []pgoapi.Instance{}}
	for _, inst := range c.Status.Instances {
		if inst.Name != c.Status.Primary && inst.Role != pgov1.RolePrimary {
			resp.Replicas = append(resp.Replicas, instanceOf(inst))
		}
	}
	return resp
}

func (s *Server) scaledownQuery(ctx context.Context, r *request) (any, error) {
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	return replicasOf(c), nil
}

func (s *Server) scaledown(ctx context.Context, r *request) (any, error) {
	ns, name, target := r.PathValue(pgoapi.ParamNamespace), r.PathValue(pgoapi.ParamName), r.PathValue(pgoapi.ParamReplica)
	keepData, err := boolQuery(r, pgoapi.QueryKeepData)
	if err != nil {
		return nil, err
	}
	c, err := s.getCluster(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	primary, err := s.primaryOf(ctx, c)
	if err != nil {
		return nil, err
	}
	rep := &pgov1.PGReplica{}
	err = s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: target}, rep)
	switch {
	case target == specs.FirstInstance(c):
		return nil, conflict("%s is the first instance of cluster %s, which scaledown does not remove; remove a replica that was added by scaling", target, name)
	case apierrors.IsNotFound(err) || (err == nil && string(rep.Spec.ClusterName) != name):
		return nil, notFound("replica %s of cluster %s not found; see pgo scaledown %s --query", target, name, name)
	case err != nil:
		return nil, err
	case target == primary:
		return nil, conflict("%s is the primary of cluster %s; fail over to another instance first (pgo failover %s --target=...)", target, name, name)
	case rep.DeletionTimestamp != nil || rep.Annotations[naming.AnnotationRemove] == "true":
		return nil, conflict("replica %s is already being removed", target)
	}
	patch := client.MergeFrom(rep.DeepCopy())
	if rep.Annotations == nil {
		rep.Annotations = map[string]string{}
	}
	rep.Annotations[naming.AnnotationRemove] = "true"
	if keepData {
		rep.Annotations[naming.AnnotationKeepData] = "true"
	}
	if err := s.Client.Patch(ctx, rep, patch, fieldOwner); err != nil {
		return nil, fmt.Errorf("marking replica %s for removal: %w", target, err)
	}
	c, err = s.changeCluster(ctx, ns, name, func(c *pgov1.PGCluster) error {
		if c.Spec.Replicas < 1 {
			return conflict("cluster %s has no replicas to remove", name)
		}
		c.Spec.Replicas--
		return nil
	})
	if err != nil {
		return nil, err
	}
	id, err := s.startTask(ctx, c, pgov1.PGTaskSpec{Type: pgov1.TaskScaledown, Scaledown: &pgov1.PGScaledownParameters{Replica: pgov1.InstanceName(target)}})
	if err != nil {
		return nil, err
	}
	return pgoapi.ScaledownResponse{Name: name, Replica: target, KeepData: keepData, WorkflowID: id}, nil
}
