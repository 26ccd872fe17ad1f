package endpoints

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "db", Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5433}},
		}}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      "127.1.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func pending(p *corev1.Pod)  { p.Status.Phase = corev1.PodPending }
func noIP(p *corev1.Pod)     { p.Status.PodIP = "" }
func failed(p *corev1.Pod)   { p.Status.Phase = corev1.PodFailed }
func terminating(p *corev1.Pod) {
	now := metav1.NewTime(time.Now())
	p.DeletionTimestamp = &now
}
func otherNamespace(p *corev1.Pod) { p.Namespace = "other" }
func otherLabels(p *corev1.Pod)    { p.Labels = map[string]string{"app": "web"} }

func TestOf(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "db"}},
	}
	publishing := svc.DeepCopy()
	publishing.Spec.PublishNotReadyAddresses = true
	selectorless := svc.DeepCopy()
	selectorless.Spec.Selector = nil

	for _, tt := range []struct {
		name string
		svc  *corev1.Service
		pod  *corev1.Pod
		want bool
	}{
		{"ready", svc, pod("a"), true},
		{"not ready", svc, pod("a", notReady), false},
		{"pending", svc, pod("a", pending), false},
		{"without an IP", svc, pod("a", noIP), false},
		{"terminating", svc, pod("a", terminating), false},
		{"other namespace", svc, pod("a", otherNamespace), false},
		{"other labels", svc, pod("a", otherLabels), false},
		{"selector-less Service", selectorless, pod("a"), false},
		{"not ready, published", publishing, pod("a", notReady), true},
		{"pending, published", publishing, pod("a", pending, notReady), true},
		{"terminating, published", publishing, pod("a", terminating), true},
		{"failed, published", publishing, pod("a", failed), false},
		{"without an IP, published", publishing, pod("a", noIP), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Of(tt.svc, []*corev1.Pod{tt.pod})
			if (len(got) == 1) != tt.want {
				t.Fatalf("Of = %v, want the pod: %v", got, tt.want)
			}
		})
	}
}

func TestOfHostnameAndOrder(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db-pods", Namespace: "ns"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "db"}},
	}
	b := pod("b", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "b", "db-pods" })
	a := pod("a", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "a", "elsewhere" })
	got := Of(svc, []*corev1.Pod{b, a})
	if len(got) != 2 || got[0].Pod != a || got[1].Pod != b {
		t.Fatalf("Of = %v, want a then b", got)
	}
	if got[0].Hostname != "" || got[1].Hostname != "b" {
		t.Fatalf("hostnames %q, %q; want none for a pod of another subdomain, and b", got[0].Hostname, got[1].Hostname)
	}
}

func TestTargetPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	sidecar := pod("a", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: &always,
			Ports: []corev1.ContainerPort{{Name: "bouncer", ContainerPort: 6432}}}}
	})
	for _, tt := range []struct {
		name   string
		port   corev1.ServicePort
		pod    *corev1.Pod
		want   int32
		wantOK bool
	}{
		{"named", corev1.ServicePort{Port: 5432, TargetPort: intstr.FromString("postgres")}, pod("a"), 5433, true},
		{"unknown name", corev1.ServicePort{Port: 5432, TargetPort: intstr.FromString("nope")}, pod("a"), 0, false},
		{"named, other protocol", corev1.ServicePort{Port: 5432, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("postgres")}, pod("a"), 0, false},
		{"named on a sidecar", corev1.ServicePort{Port: 6432, TargetPort: intstr.FromString("bouncer")}, sidecar, 6432, true},
		{"number", corev1.ServicePort{Port: 5432, TargetPort: intstr.FromInt32(15432)}, pod("a"), 15432, true},
		{"unset", corev1.ServicePort{Port: 5432}, pod("a"), 5432, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := TargetPort(tt.port, tt.pod)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("TargetPort = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
