package controller

import (
	"crypto/tls"
	"fmt"
	"net"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// MetricsServerOptions serve the controller's metrics: in plain HTTP on a
// loopback address only, anywhere else over HTTPS with every scrape
// authenticated and authorised by the Kubernetes API (TokenReview and
// SubjectAccessReview of "get /metrics"). HTTP/2 is off, as the Kubernetes
// projects turn it off against rapid-reset floods.
func MetricsServerOptions(address string, secure bool) (metricsserver.Options, error) {
	if address == "0" || address == "" {
		return metricsserver.Options{BindAddress: "0"}, nil
	}
	if !secure {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return metricsserver.Options{}, fmt.Errorf("--metrics-bind-address %q: give host:port: %w", address, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return metricsserver.Options{}, fmt.Errorf("--metrics-bind-address %s is not a loopback address: "+
				"metrics served there need --metrics-secure, or bind them to 127.0.0.1", address)
		}
		return metricsserver.Options{BindAddress: address}, nil
	}
	return metricsserver.Options{
		BindAddress:    address,
		SecureServing:  true,
		FilterProvider: filters.WithAuthenticationAndAuthorization,
		TLSOpts:        []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}, nil
}
