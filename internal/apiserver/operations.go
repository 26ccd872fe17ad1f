package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/specs"
)

// primaryOf is the instance holding the leader lock, else the one the
// status names.
func (s *Server) primaryOf(ctx context.Context, c *pgov1.PGCluster) (string, error) {
	lease := &coordinationv1.Lease{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.LeaderLease(c.Name)}, lease)
	if apierrors.IsNotFound(err) {
		return c.Status.Primary, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the leader lock of cluster %s: %w", c.Name, err)
	}
	return dcs.LeaderInstance(lease, s.Now()), nil
}

// instancePods are a cluster's database pods by instance.
func (s *Server) instancePods(ctx context.Context, c *pgov1.PGCluster) (map[string]*corev1.Pod, error) {
	var pods corev1.PodList
	if err := s.Client.List(ctx, &pods, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return nil, fmt.Errorf("listing the pods of cluster %s: %w", c.Name, err)
	}
	out := map[string]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if inst := p.Labels[naming.LabelInstance]; inst != "" && p.DeletionTimestamp == nil {
			out[inst] = p
		}
	}
	return out, nil
}

// instanceNames lists a cluster's instances: from its status, else the first
// instance and its PGReplicas.
func (s *Server) instanceNames(ctx context.Context, c *pgov1.PGCluster) ([]string, error) {
	var names []string
	for _, inst := range c.Status.Instances {
		names = append(names, inst.Name)
	}
	if len(names) > 0 {
		return names, nil
	}
	var reps pgov1.PGReplicaList
	if err := s.Client.List(ctx, &reps, client.InNamespace(c.Namespace)); err != nil {
		return nil, err
	}
	var replicas []pgov1.PGReplica
	for _, r := range reps.Items {
		if string(r.Spec.ClusterName) == c.Name {
			replicas = append(replicas, r)
		}
	}
	for _, inst := range specs.Instances(c, replicas) {
		names = append(names, inst.Name)
	}
	return names, nil
}

// instanceAPI calls an instance manager's REST API with the cluster's API
// credentials. It returns the status code and the message of the answer.
func (s *Server) instanceAPI(ctx context.Context, c *pgov1.PGCluster, pod *corev1.Pod, path string, body any) (int, string, error) {
	if pod == nil || pod.Status.PodIP == "" {
		return 0, "", unavailable("the pod has no IP yet; try again when it runs")
	}
	secret := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.APISecret(c.Name)}, secret); err != nil {
		return 0, "", fmt.Errorf("reading the instance managers' API credentials: %w", err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	// Over TLS: the member's certificate must be the cluster CA's.
	certs := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.ServerCertSecret(c.Name)}, certs); err != nil {
		return 0, "", fmt.Errorf("reading the cluster's CA: %w", err)
	}
	hc, err := instanceapi.Client(certs.Data[naming.KeyCACert], instanceapi.ServerName(pod.Name, c.Name, c.Namespace), s.InstanceTimeout)
	if err != nil {
		return 0, "", err
	}
	defer hc.CloseIdleConnections()
	url := instanceapi.URL(net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(naming.APIPort))) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set(pgoapi.HeaderContentType, pgoapi.ContentTypeJSON)
	req.SetBasicAuth(string(secret.Data[naming.KeyUsername]), string(secret.Data[naming.KeyPassword]))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", unavailable("the instance manager of %s does not answer: %v", pod.Name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var msg instanceapi.Reply
	_ = json.Unmarshal(raw, &msg)
	text := msg.Message
	if text == "" {
		text = msg.Error
	}
	if text == "" {
		text = string(bytes.TrimSpace(raw))
	}
	return resp.StatusCode, text, nil
}

// ---- failover ----

func (s *Server) failoverQuery(ctx context.Context, r *request) (any, error) {
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	return replicasOf(c), nil
}

func (s *Server) failover(ctx context.Context, r *request) (any, error) {
	var req pgoapi.FailoverRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	primary, err := s.primaryOf(ctx, c)
	if err != nil {
		return nil, err
	}
	candidates := replicasOf(c).Replicas
	var names []string
	for _, inst := range candidates {
		if inst.Name != primary {
			names = append(names, inst.Name)
		}
	}
	var v checks
	switch {
	case req.Force && req.Target == "":
		v.add("target", "a failover (force) needs the replica to promote; candidates: %v", names)
	case req.Target != "" && req.Target == primary:
		v.add("target", "%s is already the primary; candidates: %v", req.Target, names)
	case req.Target != "" && !slices.Contains(names, req.Target):
		v.add("target", "%s is not a replica of cluster %s; candidates: %v", req.Target, c.Name, names)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, conflict("cluster %s has no replica to fail over to; scale it first", c.Name)
	}
	if primary == "" && !req.Force {
		return nil, conflict("no instance of cluster %s holds the leader lock, so there is nothing to switch over from; promote a replica with force and a target", c.Name)
	}
	pods, err := s.instancePods(ctx, c)
	if err != nil {
		return nil, err
	}
	var code int
	var msg string
	candidate := ""
	if req.Target != "" {
		candidate = naming.PodOfInstance(req.Target)
	}
	if req.Force {
		code, msg, err = s.instanceAPI(ctx, c, pods[req.Target], instanceapi.PathFailover, instanceapi.FailoverRequest{Candidate: candidate})
	} else {
		code, msg, err = s.instanceAPI(ctx, c, pods[primary], instanceapi.PathSwitchover, instanceapi.FailoverRequest{Leader: naming.PodOfInstance(primary), Candidate: candidate})
	}
	if err != nil {
		return nil, err
	}
	if err := instanceAnswer(code, msg); err != nil {
		return nil, err
	}
	id, err := s.startWorkflow(ctx, c, opFailover, workflowParams{Primary: primary, Target: req.Target})
	if err != nil {
		return nil, err
	}
	return pgoapi.FailoverResponse{Name: c.Name, Target: req.Target, WorkflowID: id, Message: msg}, nil
}

// instanceAnswer turns an instance manager's refusal into an answer.
func instanceAnswer(code int, msg string) error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusBadRequest || code == http.StatusPreconditionFailed || code == http.StatusUnprocessableEntity:
		return conflict("the instance manager refused: %s", msg)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return newError(http.StatusInternalServerError, pgoapi.ReasonInternal, "the instance manager refused the cluster's API credentials: %s", msg)
	}
	return unavailable("the instance manager answered %d: %s", code, msg)
}

// ---- restart ----

func (s *Server) restartQuery(ctx context.Context, r *request) (any, error) {
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	resp := pgoapi.ReplicasResponse{Name: c.Name, Primary: c.Status.Primary, Replicas: []pgoapi.Instance{}}
	for _, inst := range c.Status.Instances {
		resp.Replicas = append(resp.Replicas, instanceOf(inst))
	}
	return resp, nil
}

func (s *Server) restart(ctx context.Context, r *request) (any, error) {
	var req pgoapi.RestartRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	instances, err := s.instanceNames(ctx, c)
	if err != nil {
		return nil, err
	}
	var v checks
	if req.Rolling && len(req.Targets) > 0 {
		v.add("targets", "a rolling restart restarts every instance; leave targets out, or restart targets without rolling")
	}
	for i, t := range req.Targets {
		if !slices.Contains(instances, t) {
			v.add(fmt.Sprintf("targets[%d]", i), "%s is not an instance of cluster %s; instances: %v", t, c.Name, instances)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if c.Spec.Shutdown {
		return nil, conflict("cluster %s is shut down; start it with pgo update cluster %s --startup", c.Name, c.Name)
	}
	if req.Rolling {
		return s.rollingRestart(ctx, c)
	}
	primary, err := s.primaryOf(ctx, c)
	if err != nil {
		return nil, err
	}
	targets := req.Targets
	if len(targets) == 0 {
		targets = instances
	}
	// Replicas first, the primary last.
	slices.SortStableFunc(targets, func(a, b string) int {
		switch {
		case a == primary && b != primary:
			return 1
		case b == primary && a != primary:
			return -1
		}
		return 0
	})
	pods, err := s.instancePods(ctx, c)
	if err != nil {
		return nil, err
	}
	resp := pgoapi.RestartResponse{Name: c.Name}
	for _, t := range targets {
		res := pgoapi.RestartResult{Instance: t}
		code, msg, err := s.instanceAPI(ctx, c, pods[t], instanceapi.PathRestart, struct{}{})
		switch {
		case err != nil:
			res.Message = err.Error()
		case code == http.StatusOK:
			res.Success, res.Message = true, msg
		default:
			res.Message = fmt.Sprintf("the instance manager answered %d: %s", code, msg)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

// rollingRestart changes the pod template of every instance, which the
// controller rolls out.
func (s *Server) rollingRestart(ctx context.Context, c *pgov1.PGCluster) (any, error) {
	var stss appsv1.StatefulSetList
	if err := s.Client.List(ctx, &stss, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return nil, fmt.Errorf("listing the StatefulSets of cluster %s: %w", c.Name, err)
	}
	if len(stss.Items) == 0 {
		return nil, conflict("cluster %s has no instances yet; try again when it runs", c.Name)
	}
	at := s.Now().UTC().Format(time.RFC3339)
	for i := range stss.Items {
		sts := &stss.Items[i]
		if sts.Labels[naming.LabelInstance] == "" {
			continue
		}
		patch := client.MergeFrom(sts.DeepCopy())
		if sts.Spec.Template.Annotations == nil {
			sts.Spec.Template.Annotations = map[string]string{}
		}
		sts.Spec.Template.Annotations[naming.AnnotationRestartedAt] = at
		if err := s.Client.Patch(ctx, sts, patch, fieldOwner); err != nil {
			return nil, fmt.Errorf("asking for a rolling restart of %s: %w", sts.Name, err)
		}
	}
	id, err := s.startWorkflow(ctx, c, opRolling, workflowParams{})
	if err != nil {
		return nil, err
	}
	return pgoapi.RestartResponse{Name: c.Name, Rolling: true, WorkflowID: id}, nil
}

// rolledOut reports whether every instance's pod runs its StatefulSet's
// latest template and is ready.
func (s *Server) rolledOut(ctx context.Context, c *pgov1.PGCluster) (bool, error) {
	var stss appsv1.StatefulSetList
	if err := s.Client.List(ctx, &stss, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return false, err
	}
	pods, err := s.instancePods(ctx, c)
	if err != nil {
		return false, err
	}
	for _, sts := range stss.Items {
		inst := sts.Labels[naming.LabelInstance]
		if inst == "" {
			continue
		}
		pod := pods[inst]
		if sts.Status.ObservedGeneration < sts.Generation || pod == nil || !podReady(pod) ||
			pod.Labels[appsv1.ControllerRevisionHashLabelKey] != sts.Status.UpdateRevision {
			return false, nil
		}
	}
	return true, nil
}
