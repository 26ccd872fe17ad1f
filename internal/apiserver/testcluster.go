package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/specs"
)

// probe is one connection TestCluster tries.
type probe struct {
	endpoint pgoapi.Endpoint
	host     string
	port     uint16
}

// testCluster connects to every Service and every instance of a cluster
// as its application user, over TLS, and runs SELECT 1.
func (s *Server) testCluster(ctx context.Context, r *request) (any, error) {
	c, err := s.clusterOf(ctx, r)
	if err != nil {
		return nil, err
	}
	secret := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.UserSecret(c.Name, string(c.Spec.User))}, secret); err != nil {
		return nil, fmt.Errorf("reading the credentials of the application user %s: %w", c.Spec.User, err)
	}
	user, password := string(secret.Data[naming.KeyUsername]), string(secret.Data[naming.KeyPassword])
	database := string(secret.Data[naming.KeyDatabase])
	if database == "" {
		database = specs.Database(c)
	}
	tlsConfig := s.clusterTLS(ctx, c)

	var svcs corev1.ServiceList
	if err := s.Client.List(ctx, &svcs, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return nil, fmt.Errorf("listing the Services of cluster %s: %w", c.Name, err)
	}
	pods, err := s.instancePods(ctx, c)
	if err != nil {
		return nil, err
	}
	probes := testProbes(c, svcs.Items, pods)

	results := make([]pgoapi.Endpoint, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() {
			ep := p.endpoint
			if err := s.ping(ctx, p.host, p.port, user, password, database, tlsConfig); err != nil {
				ep.Status, ep.Message = pgoapi.StatusDown, err.Error()
			} else {
				ep.Status = pgoapi.StatusUp
			}
			results[i] = ep
		})
	}
	wg.Wait()
	resp := pgoapi.TestClusterResponse{Name: c.Name, Endpoints: results, AllUp: len(results) > 0, WALArchiving: walArchiving(c)}
	if a := resp.WALArchiving; a != nil && !a.OK {
		resp.AllUp = false
	}
	for _, ep := range results {
		if ep.Status != pgoapi.StatusUp {
			resp.AllUp = false
		}
	}
	if resp.Endpoints == nil {
		resp.Endpoints = []pgoapi.Endpoint{}
	}
	return resp, nil
}

// testProbes lists what TestCluster connects to: the cluster's Services with
// a cluster IP (the replica Service only when the cluster has replicas), then
// every instance's pod.
func testProbes(c *pgov1.PGCluster, svcs []corev1.Service, pods map[string]*corev1.Pod) []probe {
	var out []probe
	hasReplicas := c.Spec.Replicas > 0 || len(c.Status.Instances) > 1
	for _, svc := range sortedServices(svcs) {
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
			continue
		}
		role := ""
		switch svc.Name {
		case naming.PrimaryService(c.Name):
			role = naming.RolePrimary
		case naming.ReplicaService(c.Name):
			if !hasReplicas {
				continue
			}
			role = naming.RoleReplica
		case c.Name + "-pgbouncer":
			role = "pgbouncer"
		default:
			continue
		}
		port := svc.Spec.Ports[0].Port
		out = append(out, probe{
			endpoint: pgoapi.Endpoint{Kind: pgoapi.EndpointService, Name: svc.Name, Role: role, Address: net.JoinHostPort(ip, strconv.Itoa(int(port)))},
			host:     ip, port: uint16(port),
		})
	}
	port := c.Spec.Port
	if port == 0 {
		port = 5432
	}
	for _, name := range slices.Sorted(maps.Keys(pods)) {
		pod := pods[name]
		ep := pgoapi.Endpoint{Kind: pgoapi.EndpointInstance, Name: pod.Name, Role: pod.Labels[naming.LabelRole]}
		if pod.Status.PodIP != "" {
			ep.Address = net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port)))
		}
		out = append(out, probe{endpoint: ep, host: pod.Status.PodIP, port: uint16(port)})
	}
	return out
}

// clusterTLS verifies a cluster's server certificate against the cluster's
// CA (by chain only: Services and pods are reached by IP address, which the
// certificate does not name). Without the CA it still encrypts.
func (s *Server) clusterTLS(ctx context.Context, c *pgov1.PGCluster) *tls.Config {
	caSecret, caKey := naming.ServerCertSecret(c.Name), naming.KeyCACert
	if c.Spec.TLS != nil && c.Spec.TLS.CASecret != "" {
		caSecret = string(c.Spec.TLS.CASecret)
	}
	secret := &corev1.Secret{}
	pool := x509.NewCertPool()
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: caSecret}, secret); err != nil || !pool.AppendCertsFromPEM(secret.Data[caKey]) {
		return &tls.Config{InsecureSkipVerify: true} // no CA to verify with; the test still encrypts
	}
	return &tls.Config{
		InsecureSkipVerify: true, // the chain is verified below, without the host name
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("the server sent no certificate")
			}
			certs := make([]*x509.Certificate, len(raw))
			for i, b := range raw {
				cert, err := x509.ParseCertificate(b)
				if err != nil {
					return err
				}
				certs[i] = cert
			}
			inter := x509.NewCertPool()
			for _, cert := range certs[1:] {
				inter.AddCert(cert)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
	}
}

// ping connects and runs SELECT 1.
func (s *Server) ping(ctx context.Context, host string, port uint16, user, password, database string, tlsConfig *tls.Config) error {
	if host == "" {
		return errors.New("no address: the pod has no IP")
	}
	cfg, err := pgconn.ParseConfig("")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = host, port, user, password, database
	cfg.TLSConfig, cfg.Fallbacks = tlsConfig, nil
	cfg.ConnectTimeout = s.ConnectTimeout
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout+time.Second)
	defer cancel()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "SELECT 1").ReadAll()
	return err
}

func sortedServices(svcs []corev1.Service) []corev1.Service {
	out := slices.Clone(svcs)
	slices.SortFunc(out, func(a, b corev1.Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}
