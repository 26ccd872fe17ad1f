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
	if c.Spec.Shutdown {
		return nil, conflict("cluster %s is shut down; start it with pgo update cluster %s --startup", c.Name, c.Name)
	}
	if len(names) == 0 {
		return nil, conflict("cluster %s has no replica to fail over to; scale it first", c.Name)
	}
	if primary == "" && !req.Force {
		return nil, conflict("no instance of cluster %s holds the leader lock, so there is nothing to switch over from; promote a replica with force and a target", c.Name)
	}
	// The task's steps ask the instance managers and wait for the new
	// primary; a refusal (a candidate not caught up yet) is asked again.
	spec := pgov1.PGTaskSpec{Type: pgov1.TaskSwitchover}
	msg := fmt.Sprintf("switchover of cluster %s requested", c.Name)
	switch {
	case req.Force:
		spec = pgov1.PGTaskSpec{Type: pgov1.TaskFailover, Failover: &pgov1.PGSwitchoverParameters{Candidate: pgov1.InstanceName(req.Target)}}
		msg = fmt.Sprintf("failover of cluster %s to %s requested", c.Name, req.Target)
	case req.Target != "":
		spec.Switchover = &pgov1.PGSwitchoverParameters{Candidate: pgov1.InstanceName(req.Target)}
		msg = fmt.Sprintf("switchover of cluster %s to %s requested", c.Name, req.Target)
	}
	id, err := s.startTask(ctx, c, spec)
	if err != nil {
		return nil, err
	}
	return pgoapi.FailoverResponse{Name: c.Name, Target: req.Target, WorkflowID: id, Message: msg}, nil
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

// rollingRestart asks for a restart task, whose steps change the pod
// template of every instance, which the controller rolls out, and wait for
// the roll.
func (s *Server) rollingRestart(ctx context.Context, c *pgov1.PGCluster) (any, error) {
	var stss appsv1.StatefulSetList
	if err := s.Client.List(ctx, &stss, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return nil, fmt.Errorf("listing the StatefulSets of cluster %s: %w", c.Name, err)
	}
	if len(stss.Items) == 0 {
		return nil, conflict("cluster %s has no instances yet; try again when it runs", c.Name)
	}
	id, err := s.startTask(ctx, c, pgov1.PGTaskSpec{Type: pgov1.TaskRestart})
	if err != nil {
		return nil, err
	}
	return pgoapi.RestartResponse{Name: c.Name, Rolling: true, WorkflowID: id}, nil
}
