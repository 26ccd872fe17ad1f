package environment

import (
	"context"
	"net"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"

	"pgo.dev/pgo/internal/local/dns"
	"pgo.dev/pgo/internal/local/proxy"
	"pgo.dev/pgo/internal/local/storage"
)

// startServices starts the Service proxy, the cluster DNS server and the
// local-path volume provisioner; they run until ctx ends.
func (e *Env) startServices(ctx context.Context) error {
	host, port := e.APIServerHostPort()
	p, err := proxy.New(e.Config, proxy.Options{Static: map[types.NamespacedName][]string{
		{Namespace: "default", Name: "kubernetes"}: {net.JoinHostPort(host, port)},
	}})
	if err != nil {
		return err
	}
	e.run(ctx, "Service proxy", p.Start)
	d, err := dns.New(e.Config, dns.Options{Addr: net.JoinHostPort(DNSAddress, "53")})
	if err != nil {
		return err
	}
	e.run(ctx, "cluster DNS", d.Start)
	v, err := storage.New(e.Config, storage.Options{Dir: filepath.Join(e.opts.Dir, "volumes")})
	if err != nil {
		return err
	}
	e.run(ctx, "local-path provisioner", v.Start)
	return nil
}

// run runs a service until ctx ends; an error before then is logged.
func (e *Env) run(ctx context.Context, name string, start func(context.Context) error) {
	e.services.Add(1)
	go func() {
		defer e.services.Done()
		if err := start(ctx); err != nil && ctx.Err() == nil && e.opts.Logf != nil {
			e.opts.Logf("%s stopped: %v", name, err)
		}
	}()
}
