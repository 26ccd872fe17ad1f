package proxy

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func service(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "127.96.0.20",
			ClusterIPs: []string{"127.96.0.20"},
			Selector:   map[string]string{"app": "db"},
			Ports: []corev1.ServicePort{
				{Name: "postgres", Port: 5432, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("postgres")},
				{Name: "api", Port: 8008, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8008)},
			},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func readyPod(name, ip string, ready bool) *corev1.Pod {
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "db", Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432}},
		}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

func TestRoutes(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "db"}
	pods := []*corev1.Pod{readyPod("b", "127.1.0.2", true), readyPod("a", "127.1.0.1", true), readyPod("c", "127.1.0.3", false)}
	for _, tt := range []struct {
		name     string
		services []*corev1.Service
		static   map[types.NamespacedName][]string
		want     map[string]Route
	}{
		{
			name:     "every TCP port, ready pods only, sorted",
			services: []*corev1.Service{service("db")},
			want: map[string]Route{
				"127.96.0.20:5432": {Service: key, Port: "postgres", Backends: []string{"127.1.0.1:5432", "127.1.0.2:5432"}},
				"127.96.0.20:8008": {Service: key, Port: "api", Backends: []string{"127.1.0.1:8008", "127.1.0.2:8008"}},
			},
		},
		{
			name: "NodePort and LoadBalancer Services have a ClusterIP too; UDP ports are left out",
			services: []*corev1.Service{service("db", func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeLoadBalancer
				s.Spec.Ports[1].Protocol = corev1.ProtocolUDP
			})},
			want: map[string]Route{
				"127.96.0.20:5432": {Service: key, Port: "postgres", Backends: []string{"127.1.0.1:5432", "127.1.0.2:5432"}},
			},
		},
		{
			name: "no ready pod: listen anyway, to close connections at once",
			services: []*corev1.Service{service("db", func(s *corev1.Service) {
				s.Spec.Selector = map[string]string{"app": "none"}
			})},
			want: map[string]Route{
				"127.96.0.20:5432": {Service: key, Port: "postgres"},
				"127.96.0.20:8008": {Service: key, Port: "api"},
			},
		},
		{
			name: "headless",
			services: []*corev1.Service{service("db", func(s *corev1.Service) {
				s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
			})},
			want: map[string]Route{},
		},
		{
			name: "selector-less",
			services: []*corev1.Service{service("db", func(s *corev1.Service) {
				s.Spec.Selector = nil
			})},
			want: map[string]Route{},
		},
		{
			name: "not loopback",
			services: []*corev1.Service{service("db", func(s *corev1.Service) {
				s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.20", []string{"10.96.0.20"}
			})},
			want: map[string]Route{},
		},
		{
			name: "static backends of a selector-less Service",
			services: []*corev1.Service{service("kubernetes", func(s *corev1.Service) {
				s.Namespace = "default"
				s.Spec.Selector = nil
				s.Spec.ClusterIP, s.Spec.ClusterIPs = "127.96.0.1", []string{"127.96.0.1"}
				s.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(6443)}}
			})},
			static: map[types.NamespacedName][]string{{Namespace: "default", Name: "kubernetes"}: {"127.0.0.1:6443"}},
			want: map[string]Route{
				"127.96.0.1:443": {Service: types.NamespacedName{Namespace: "default", Name: "kubernetes"}, Port: "https", Backends: []string{"127.0.0.1:6443"}},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Routes(tt.services, pods, tt.static)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Routes =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}
