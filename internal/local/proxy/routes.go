package proxy

import (
	"net"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"pgo.dev/pgo/internal/local/proxy/endpoints"
)

// Route is what the proxy does with connections to one ClusterIP and port.
type Route struct {
	Service types.NamespacedName
	// Port is the name of the Service port.
	Port string
	// Backends are the "ip:port" addresses of the ready endpoints, sorted.
	Backends []string
}

// Routes maps every "clusterIP:port" the proxy serves to its Route: each TCP
// port of each Service with a loopback ClusterIP (headless and ExternalName
// Services have none) whose backends come from a selector, or from static for
// a Service without one (e.g. default/kubernetes → the API server; each of
// those addresses serves every port). Addresses outside 127.0.0.0/8 are left
// out: the proxy only ever listens on loopback. pods may hold pods of any
// namespace.
func Routes(services []*corev1.Service, pods []*corev1.Pod, static map[types.NamespacedName][]string) map[string]Route {
	byNamespace := map[string][]*corev1.Pod{}
	for _, pod := range pods {
		byNamespace[pod.Namespace] = append(byNamespace[pod.Namespace], pod)
	}
	out := map[string]Route{}
	for _, svc := range services {
		key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		fixed, isStatic := static[key]
		if !isStatic && !endpoints.HasSelector(svc) {
			continue
		}
		ips := clusterIPs(svc)
		if len(ips) == 0 {
			continue
		}
		var eps []endpoints.Endpoint
		if !isStatic {
			eps = endpoints.Of(svc, byNamespace[svc.Namespace])
		}
		for _, port := range svc.Spec.Ports {
			if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
				continue
			}
			route := Route{Service: key, Port: port.Name}
			if isStatic {
				route.Backends = slices.Clone(fixed)
			}
			for _, ep := range eps {
				if target, ok := endpoints.TargetPort(port, ep.Pod); ok {
					route.Backends = append(route.Backends, net.JoinHostPort(ep.IP, strconv.Itoa(int(target))))
				}
			}
			slices.Sort(route.Backends)
			route.Backends = slices.Compact(route.Backends)
			for _, ip := range ips {
				out[net.JoinHostPort(ip, strconv.Itoa(int(port.Port)))] = route
			}
		}
	}
	return out
}

// clusterIPs are the Service's loopback ClusterIPs.
func clusterIPs(svc *corev1.Service) []string {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || endpoints.IsHeadless(svc) {
		return nil
	}
	var out []string
	for _, s := range endpoints.ClusterIPs(svc) {
		if ip, err := netip.ParseAddr(s); err == nil && ip.IsLoopback() {
			out = append(out, ip.String())
		}
	}
	return out
}
