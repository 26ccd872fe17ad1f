// Package endpoints decides, from Services and Pods alone, which pods serve a
// Service and on which port, as the EndpointSlice controller would. The local
// environment needs it because its pod IPs are loopback addresses, which the
// API server refuses in EndpointSlices: the Service proxy and the DNS server
// compute endpoints themselves.
package endpoints

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Endpoint is a pod that serves a Service.
type Endpoint struct {
	Pod *corev1.Pod
	// IP is the pod's IP.
	IP string
	// Hostname is the pod's DNS name under the Service (spec.hostname) when
	// its spec.subdomain is the Service's name, else empty.
	Hostname string
}

// HasSelector tells whether Kubernetes computes the Service's endpoints from
// pods: a Service without a selector has endpoints managed by someone else.
func HasSelector(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && len(svc.Spec.Selector) > 0
}

// IsHeadless tells whether the Service has no ClusterIP.
func IsHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// Of returns the endpoints of svc that receive traffic, sorted by pod name:
// pods of its namespace matched by its selector, with an IP, not finished,
// and Running, Ready and not terminating, or any of these when the Service
// publishes not-ready addresses. pods may hold pods of any namespace.
func Of(svc *corev1.Service, pods []*corev1.Pod) []Endpoint {
	if !HasSelector(svc) {
		return nil
	}
	selector := labels.SelectorFromSet(svc.Spec.Selector)
	var out []Endpoint
	for _, pod := range pods {
		if pod.Namespace != svc.Namespace || !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		if !Serves(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ep := Endpoint{Pod: pod, IP: pod.Status.PodIP}
		if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
			ep.Hostname = pod.Spec.Hostname
		}
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod.Name < out[j].Pod.Name })
	return out
}

// Serves tells whether a pod selected by a Service receives its traffic.
// With publishNotReady, any pod with an IP that has not finished does, as the
// EndpointSlice controller publishes it; otherwise only a pod that is Running,
// Ready and not terminating.
func Serves(pod *corev1.Pod, publishNotReady bool) bool {
	if pod.Status.PodIP == "" {
		return false
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	if publishNotReady {
		return true
	}
	return pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil && IsReady(pod)
}

// IsReady tells whether the pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TargetPort resolves a Service port's target port on a pod: a number as is
// (the port itself when unset), a name through the pod's container ports of
// the same protocol (of its containers and sidecars). ok is false when the
// pod has no port of that name.
func TargetPort(port corev1.ServicePort, pod *corev1.Pod) (target int32, ok bool) {
	switch {
	case port.TargetPort.Type == intstr.String && port.TargetPort.StrVal != "":
		protocol := port.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		containers := pod.Spec.Containers
		for _, c := range pod.Spec.InitContainers {
			if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				containers = append(containers[:len(containers):len(containers)], c)
			}
		}
		for _, c := range containers {
			for _, p := range c.Ports {
				pp := p.Protocol
				if pp == "" {
					pp = corev1.ProtocolTCP
				}
				if p.Name == port.TargetPort.StrVal && pp == protocol {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	case port.TargetPort.Type == intstr.Int && port.TargetPort.IntVal != 0:
		return port.TargetPort.IntVal, true
	default:
		return port.Port, true
	}
}

// ClusterIPs are a Service's cluster IPs: spec.clusterIPs, or
// spec.clusterIP alone when an older client left the list empty.
func ClusterIPs(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) == 0 && svc.Spec.ClusterIP != "" {
		return []string{svc.Spec.ClusterIP}
	}
	return svc.Spec.ClusterIPs
}
