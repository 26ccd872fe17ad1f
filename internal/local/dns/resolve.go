package dns

import (
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"

	"pgo.dev/pgo/internal/local/proxy/endpoints"
)

// Cluster is what the DNS server knows of the cluster: the informers' caches,
// or plain maps in tests.
type Cluster interface {
	// Service returns the Service or nil.
	Service(namespace, name string) *corev1.Service
	// Pods returns the pods of a namespace.
	Pods(namespace string) []*corev1.Pod
}

// zone answers questions about names under a cluster domain.
type zone struct {
	domain string // lower case, without dots at either end: "cluster.local"
	ttl    uint32
}

// answer is the outcome of a question.
type answer struct {
	rcode       dnsmessage.RCode
	answers     []dnsmessage.Resource
	additionals []dnsmessage.Resource
	// inZone is false for names outside the cluster domain.
	inZone bool
}

// Kinds of names under the cluster domain ("<...>.<kind>.<domain>").
const (
	kindService = "svc"
	kindPod     = "pod"
)

// resolve answers q from c. Names outside the cluster domain are REFUSED:
// the server forwards nothing. An unknown name under it is NXDOMAIN, and a
// known name without records of the asked type is an empty NOERROR answer.
func (z zone) resolve(q dnsmessage.Question, c Cluster) answer {
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	var labels []string
	switch {
	case name == z.domain:
	case strings.HasSuffix(name, "."+z.domain):
		labels = strings.Split(strings.TrimSuffix(name, "."+z.domain), ".")
	default:
		return answer{rcode: dnsmessage.RCodeRefused}
	}
	found := answer{rcode: dnsmessage.RCodeSuccess, inZone: true}
	missing := answer{rcode: dnsmessage.RCodeNameError, inZone: true}
	if q.Class != dnsmessage.ClassINET && q.Class != dnsmessage.ClassANY {
		return missing
	}
	n := len(labels)
	switch {
	case n == 0:
		// The zone itself, and "svc.<domain>", "<ns>.svc.<domain>", which
		// hold names: no records of their own.
		if q.Type == dnsmessage.TypeSOA {
			found.answers = []dnsmessage.Resource{z.soa()}
		}
		return found
	case labels[n-1] == kindService && n <= 2:
		return found
	case labels[n-1] == kindService && n == 3:
		// <svc>.<ns>.svc
		svc := c.Service(labels[1], labels[0])
		if svc == nil {
			return missing
		}
		return z.service(q, svc, c.Pods(svc.Namespace))
	case labels[n-1] == kindService && n == 4:
		// <hostname or dashed IP>.<svc>.<ns>.svc
		svc := c.Service(labels[2], labels[1])
		if svc == nil || !endpoints.IsHeadless(svc) {
			return missing
		}
		for _, ep := range endpoints.Of(svc, c.Pods(svc.Namespace)) {
			if ep.Hostname == labels[0] || (ep.Hostname == "" && dashed(ep.IP) == labels[0]) {
				found.answers = z.addresses(q, ep.IP)
				return found
			}
		}
		return missing
	case labels[n-1] == kindService && n == 5:
		// _<port>._<protocol>.<svc>.<ns>.svc
		svc := c.Service(labels[3], labels[2])
		if svc == nil || !strings.HasPrefix(labels[0], "_") || !strings.HasPrefix(labels[1], "_") {
			return missing
		}
		port, protocol := labels[0][1:], labels[1][1:]
		srv, additionals := z.srv(svc, c.Pods(svc.Namespace), func(p corev1.ServicePort) bool {
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			return p.Name == port && strings.EqualFold(string(proto), protocol)
		})
		if len(srv) == 0 {
			return missing
		}
		if q.Type == dnsmessage.TypeSRV || q.Type == dnsmessage.TypeALL {
			found.answers, found.additionals = srv, additionals
		}
		return found
	case labels[n-1] == kindPod && n <= 2:
		return found
	case labels[n-1] == kindPod && n == 3:
		// <dashed IP>.<ns>.pod: only the IP of a pod of that namespace.
		ip, ok := undashed(labels[0])
		if !ok {
			return missing
		}
		for _, pod := range c.Pods(labels[1]) {
			if pod.Status.PodIP == ip.String() {
				found.answers = z.addresses(q, ip.String())
				return found
			}
		}
		return missing
	default:
		return missing
	}
}

// service answers for "<svc>.<ns>.svc": the ClusterIP, the ready endpoints of
// a headless Service, the external name of an ExternalName Service, and SRV
// records for its named ports.
func (z zone) service(q dnsmessage.Question, svc *corev1.Service, pods []*corev1.Pod) answer {
	found := answer{rcode: dnsmessage.RCodeSuccess, inZone: true}
	if q.Type == dnsmessage.TypeSRV {
		found.answers, found.additionals = z.srv(svc, pods, func(p corev1.ServicePort) bool { return p.Name != "" })
		return found
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		target, err := dnsmessage.NewName(strings.TrimSuffix(svc.Spec.ExternalName, ".") + ".")
		if err != nil {
			return found
		}
		found.answers = []dnsmessage.Resource{{
			Header: z.header(q.Name, dnsmessage.TypeCNAME),
			Body:   &dnsmessage.CNAMEResource{CNAME: target},
		}}
	case endpoints.IsHeadless(svc):
		for _, ep := range endpoints.Of(svc, pods) {
			found.answers = append(found.answers, z.addresses(q, ep.IP)...)
		}
	default:
		for _, ip := range endpoints.ClusterIPs(svc) {
			found.answers = append(found.answers, z.addresses(q, ip)...)
		}
	}
	return found
}

// srv returns the SRV records of the Service's ports that match, and the
// addresses of their targets: the Service's name for a Service with a
// ClusterIP, each endpoint's name for a headless one.
func (z zone) srv(svc *corev1.Service, pods []*corev1.Pod, match func(corev1.ServicePort) bool) (answers, additionals []dnsmessage.Resource) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil
	}
	base := svc.Name + "." + svc.Namespace + "." + kindService + "." + z.domain + "."
	owner := func(p corev1.ServicePort) dnsmessage.Name {
		return mustName("_" + p.Name + "._" + strings.ToLower(string(protocolOf(p))) + "." + base)
	}
	var eps []endpoints.Endpoint
	if endpoints.IsHeadless(svc) {
		eps = endpoints.Of(svc, pods)
	}
	seen := map[string]bool{}
	for _, p := range svc.Spec.Ports {
		if p.Name == "" || !match(p) {
			continue
		}
		if !endpoints.IsHeadless(svc) {
			answers = append(answers, z.srvRecord(owner(p), base, p.Port))
			if !seen[base] {
				seen[base] = true
				for _, ip := range endpoints.ClusterIPs(svc) {
					additionals = append(additionals, z.addresses(dnsmessage.Question{Name: mustName(base), Type: dnsmessage.TypeA}, ip)...)
				}
			}
			continue
		}
		for _, ep := range eps {
			target, ok := endpoints.TargetPort(p, ep.Pod)
			if !ok {
				continue
			}
			host := ep.Hostname
			if host == "" {
				host = dashed(ep.IP)
			}
			name := host + "." + base
			answers = append(answers, z.srvRecord(owner(p), name, target))
			if !seen[name] {
				seen[name] = true
				additionals = append(additionals, z.addresses(dnsmessage.Question{Name: mustName(name), Type: dnsmessage.TypeA}, ep.IP)...)
			}
		}
	}
	return answers, additionals
}

func (z zone) srvRecord(owner dnsmessage.Name, target string, port int32) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: z.header(owner, dnsmessage.TypeSRV),
		Body:   &dnsmessage.SRVResource{Priority: 0, Weight: 100, Port: uint16(port), Target: mustName(target)},
	}
}

// addresses is the A or AAAA record of ip for the question, or nothing when
// the question asks for the other family or another type.
func (z zone) addresses(q dnsmessage.Question, ip string) []dnsmessage.Resource {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	all := q.Type == dnsmessage.TypeALL
	switch {
	case addr.Is4() && (q.Type == dnsmessage.TypeA || all):
		return []dnsmessage.Resource{{Header: z.header(q.Name, dnsmessage.TypeA), Body: &dnsmessage.AResource{A: addr.As4()}}}
	case addr.Is6() && (q.Type == dnsmessage.TypeAAAA || all):
		return []dnsmessage.Resource{{Header: z.header(q.Name, dnsmessage.TypeAAAA), Body: &dnsmessage.AAAAResource{AAAA: addr.As16()}}}
	}
	return nil
}

func (z zone) header(name dnsmessage.Name, typ dnsmessage.Type) dnsmessage.ResourceHeader {
	return dnsmessage.ResourceHeader{Name: name, Type: typ, Class: dnsmessage.ClassINET, TTL: z.ttl}
}

// soa is the zone's SOA record, sent with negative answers so that
// resolvers cache them for the TTL.
func (z zone) soa() dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: z.header(mustName(z.domain+"."), dnsmessage.TypeSOA),
		Body: &dnsmessage.SOAResource{
			NS:      mustName("ns.dns." + z.domain + "."),
			MBox:    mustName("hostmaster." + z.domain + "."),
			Serial:  1,
			Refresh: 7200,
			Retry:   1800,
			Expire:  86400,
			MinTTL:  z.ttl,
		},
	}
}

func protocolOf(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

// dashed is an IPv4 address as a DNS label: 127.77.0.2 → 127-77-0-2.
func dashed(ip string) string { return strings.ReplaceAll(ip, ".", "-") }

func undashed(label string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
	return addr, err == nil && addr.Is4()
}

// mustName makes a name of parts that are valid: Kubernetes names are DNS
// labels, and the whole stays far below 255 bytes. A name too long becomes
// the root, which no client asked for.
func mustName(s string) dnsmessage.Name {
	n, err := dnsmessage.NewName(s)
	if err != nil {
		return dnsmessage.MustNewName(".")
	}
	return n
}
