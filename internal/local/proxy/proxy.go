// Package proxy is the local environment's Service proxy: it listens on every
// ClusterIP and TCP port (the service CIDR is a loopback range, and Linux lets
// a process bind any 127.0.0.0/8 address) and forwards each connection to a
// ready pod of the Service, as kube-proxy would. Endpoints come from Pods and
// Services directly (package endpoints), not from EndpointSlices, which
// cannot hold loopback pod IPs.
//
// When a pod stops serving a Service (it is no longer ready, or no longer
// matches the selector, as a demoted primary), new connections go to the
// remaining backends at once and the connections it was serving are closed,
// so that clients notice a failover as they do when kube-proxy flushes
// conntrack entries.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"pgo.dev/pgo/internal/local/watch"
)

// Defaults of Options.
const (
	DefaultDialTimeout = 2 * time.Second
	// retryInterval is how often listeners that could not be opened are
	// tried again.
	retryInterval = time.Second
)

// Options configure a Proxy.
type Options struct {
	// Static gives the backends ("host:port") of Services without a
	// selector, for instance default/kubernetes → the API server's address.
	// Each backend serves every TCP port of its Service.
	Static map[types.NamespacedName][]string
	// DialTimeout bounds connecting to a backend (DefaultDialTimeout when 0).
	DialTimeout time.Duration
}

// Proxy serves Service ClusterIPs. Create it with New and run it with Start.
type Proxy struct {
	client kubernetes.Interface
	opts   Options

	// frontends are the open listeners by "ip:port"; only the sync loop
	// touches the map.
	frontends map[string]*frontend
	// failed holds the last error of each address that could not be
	// opened, so that it is logged once, not at every retry.
	failed map[string]string
	wg     sync.WaitGroup
}

// New returns a Proxy that watches the API server cfg points to.
func New(cfg *rest.Config, opts Options) (*Proxy, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a Kubernetes client for the Service proxy: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	return &Proxy{client: client, opts: opts, frontends: map[string]*frontend{}, failed: map[string]string{}}, nil
}

// Start serves Services until ctx is done, then closes every listener and
// connection and returns. It returns an error only when it cannot watch
// Services and Pods.
func (p *Proxy) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("service-proxy")
	ctx = log.IntoContext(ctx, logger)
	defer p.shutdown()

	factory := watch.NewFactory(p.client)
	defer factory.Shutdown()
	services := factory.Core().V1().Services()
	pods := factory.Core().V1().Pods()
	changed, err := watch.Changes(ctx, factory, "Service proxy", services.Informer(), pods.Informer())
	if err != nil || changed == nil {
		return err
	}
	logger.Info("serving Service ClusterIPs")

	retry := time.NewTicker(retryInterval)
	defer retry.Stop()
	for {
		svcs, err := services.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing Services from the cache: %w", err)
		}
		podList, err := pods.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("listing Pods from the cache: %w", err)
		}
		p.sync(ctx, Routes(svcs, podList, p.opts.Static))
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-retry.C:
		}
	}
}

// sync opens, updates and closes listeners to match routes.
func (p *Proxy) sync(ctx context.Context, routes map[string]Route) {
	logger := log.FromContext(ctx)
	for addr, f := range p.frontends {
		if _, ok := routes[addr]; !ok {
			logger.V(1).Info("closing", "address", addr, "service", f.route().Service)
			f.close()
			delete(p.frontends, addr)
		}
	}
	for addr := range p.failed {
		if _, ok := routes[addr]; !ok {
			delete(p.failed, addr)
		}
	}
	for addr, route := range routes {
		if f, ok := p.frontends[addr]; ok {
			f.update(route)
			continue
		}
		f, err := listen(ctx, addr, route, p.opts.DialTimeout, &p.wg)
		if err != nil {
			// Another process may hold the address for a while; the next
			// sync tries again.
			if p.failed[addr] != err.Error() {
				logger.Error(err, "cannot serve a Service; retrying", "address", addr, "service", route.Service)
				p.failed[addr] = err.Error()
			}
			continue
		}
		delete(p.failed, addr)
		logger.V(1).Info("serving", "address", addr, "service", route.Service, "backends", route.Backends)
		p.frontends[addr] = f
	}
}

func (p *Proxy) shutdown() {
	for addr, f := range p.frontends {
		f.close()
		delete(p.frontends, addr)
	}
	p.wg.Wait()
}

var errNoBackend = errors.New("no ready backend")
