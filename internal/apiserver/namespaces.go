package apiserver

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/version"
)

func (s *Server) version(_ context.Context, _ *request) (any, error) {
	v := pgoapi.VersionResponse{Version: version.Version, GoVersion: runtime.Version()}
	if s.Discovery != nil {
		if kv, err := s.Discovery.ServerVersion(); err == nil {
			v.KubernetesVersion = kv.GitVersion
		}
	}
	return v, nil
}

// accessibleNamespaces are the existing namespaces a user may access.
func (s *Server) accessibleNamespaces(ctx context.Context, p *principal) ([]corev1.Namespace, error) {
	var list corev1.NamespaceList
	if err := s.Client.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var out []corev1.Namespace
	for _, ns := range list.Items {
		if p.mayAccess(ns.Name) {
			out = append(out, ns)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Server) showNamespaces(ctx context.Context, r *request) (any, error) {
	nss, err := s.accessibleNamespaces(ctx, r.user)
	if err != nil {
		return nil, err
	}
	var clusters pgov1.PGClusterList
	if err := s.Client.List(ctx, &clusters); err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	count := map[string]int{}
	for _, c := range clusters.Items {
		count[c.Namespace]++
	}
	resp := pgoapi.ShowNamespaceResponse{Namespaces: []pgoapi.Namespace{}}
	for _, ns := range nss {
		resp.Namespaces = append(resp.Namespaces, namespaceInfo(&ns, s.Config.NamespaceProblem(ns.Name, ns.Labels) == "", count[ns.Name]))
	}
	return resp, nil
}

func namespaceInfo(ns *corev1.Namespace, watched bool, clusters int) pgoapi.Namespace {
	return pgoapi.Namespace{Name: ns.Name, Watched: watched, CreatedByPgo: ns.Annotations[pgoapi.AnnotationCreatedBy] == "pgo", Clusters: clusters}
}

func (s *Server) createNamespace(ctx context.Context, r *request) (any, error) {
	var req pgoapi.CreateNamespaceRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var c checks
	c.namespaceName("name", req.Name)
	if err := c.err(); err != nil {
		return nil, err
	}
	if !r.user.mayAccess(req.Name) {
		return nil, forbidden("pgo user %s may not access namespace %s, so it may not create it", r.user.Name, req.Name)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Labels: map[string]string{pgoapi.LabelNamespace: "true"},
		Annotations: map[string]string{pgoapi.AnnotationCreatedBy: "pgo"}}}
	if why := s.Config.NamespaceProblem(ns.Name, ns.Labels); why != "" {
		return nil, forbidden("%s", why)
	}
	if err := s.Client.Create(ctx, ns, fieldOwner); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", req.Name, err)
	}
	return pgoapi.CreateNamespaceResponse{Namespace: namespaceInfo(ns, true, 0)}, nil
}

// managed refuses a namespace pgo does not work in, as the controller
// would: it creates nothing there.
func (s *Server) managed(ctx context.Context, name string) error {
	ns := &corev1.Namespace{}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: name}, ns); apierrors.IsNotFound(err) {
		return notFound("namespace %s does not exist; create it with pgo create namespace %s", name, name)
	} else if err != nil {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	if why := s.Config.NamespaceProblem(ns.Name, ns.Labels); why != "" {
		return forbidden("%s", why)
	}
	return nil
}

func (s *Server) deleteNamespace(ctx context.Context, r *request) (any, error) {
	name := r.PathValue(pgoapi.ParamNamespace)
	if name == s.Namespace {
		return nil, conflict("namespace %s is the operator's own; it cannot be deleted with pgo", name)
	}
	ns := &corev1.Namespace{}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	if ns.Annotations[pgoapi.AnnotationCreatedBy] != "pgo" {
		return nil, conflict("namespace %s was not created with pgo create namespace; delete it with kubectl if you mean to", name)
	}
	if err := s.Client.Delete(ctx, ns); err != nil {
		return nil, fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	return pgoapi.DeleteNamespaceResponse{Name: name}, nil
}

func (s *Server) status(ctx context.Context, r *request) (any, error) {
	wanted := r.URL.Query()[pgoapi.QueryNamespace]
	for _, ns := range wanted {
		if !r.user.mayAccess(ns) {
			return nil, forbidden("pgo user %s may not access namespace %s", r.user.Name, ns)
		}
	}
	if len(wanted) == 0 {
		nss, err := s.accessibleNamespaces(ctx, r.user)
		if err != nil {
			return nil, err
		}
		for _, ns := range nss {
			wanted = append(wanted, ns.Name)
		}
	}
	resp := pgoapi.StatusResponse{Namespaces: wanted, Phases: map[string]int{}, Labels: map[string]int{}}
	capacity := resource.Quantity{}
	nodes := map[string]bool{}
	// A user who may access every namespace and asks for all of them gets
	// one list of each kind rather than two per namespace.
	scopes := wanted
	if r.user.Namespaces == nil && len(r.URL.Query()[pgoapi.QueryNamespace]) == 0 {
		scopes = []string{metav1.NamespaceAll}
	}
	for _, ns := range scopes {
		var clusters pgov1.PGClusterList
		if err := s.Client.List(ctx, &clusters, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing clusters in %s: %w", ns, err)
		}
		for _, c := range clusters.Items {
			resp.Clusters++
			resp.Phases[string(c.Status.Phase)]++
			if c.Status.Phase != pgov1.PhaseReady {
				resp.NotReady = append(resp.NotReady, c.Namespace+"/"+c.Name)
			}
			for _, inst := range c.Status.Instances {
				resp.Instances++
				if inst.Ready {
					resp.ReadyInstances++
				}
				if inst.Node != "" {
					nodes[inst.Node] = true
				}
			}
			for k, v := range c.Labels {
				resp.Labels[k+"="+v]++
			}
		}
		var pvcs corev1.PersistentVolumeClaimList
		if err := s.Client.List(ctx, &pvcs, client.InNamespace(ns), client.HasLabels{naming.LabelCluster}); err != nil {
			return nil, fmt.Errorf("listing volumes in %s: %w", ns, err)
		}
		for _, pvc := range pvcs.Items {
			resp.Volumes++
			capacity.Add(pvcSize(&pvc))
		}
	}
	resp.VolumeCapacity = capacity.String()
	for n := range nodes {
		resp.Nodes = append(resp.Nodes, n)
	}
	slices.Sort(resp.Nodes)
	return resp, nil
}

// pvcSize is a claim's capacity, else its request.
func pvcSize(pvc *corev1.PersistentVolumeClaim) resource.Quantity {
	if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
		return q
	}
	return pvc.Spec.Resources.Requests[corev1.ResourceStorage]
}
