package dns

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// objects is Cluster over plain lists, for tests of the pure resolution.
type objects struct {
	services []*corev1.Service
	pods     []*corev1.Pod
}

func (o objects) Service(namespace, name string) *corev1.Service {
	for _, s := range o.services {
		if s.Namespace == namespace && s.Name == name {
			return s
		}
	}
	return nil
}

func (o objects) Pods(namespace string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range o.pods {
		if p.Namespace == namespace {
			out = append(out, p)
		}
	}
	return out
}

func testPod(name, ip string, ready bool, hostname, subdomain string) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{
			Hostname: hostname, Subdomain: subdomain,
			Containers: []corev1.Container{{Name: "db", Ports: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5433}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

func testCluster() objects {
	port := []corev1.ServicePort{{Name: "postgres", Port: 5432, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("postgres")}}
	return objects{
		services: []*corev1.Service{
			{
				ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "ns"},
				Spec: corev1.ServiceSpec{ClusterIP: "127.96.0.20", ClusterIPs: []string{"127.96.0.20"},
					Selector: map[string]string{"app": "db"}, Ports: port},
			},
			{
				ObjectMeta: metav1.ObjectMeta{Name: "db-pods", Namespace: "ns"},
				Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
					Selector: map[string]string{"app": "db"}, Ports: port},
			},
			{
				ObjectMeta: metav1.ObjectMeta{Name: "db-all", Namespace: "ns"},
				Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
					Selector: map[string]string{"app": "db"}, Ports: port, PublishNotReadyAddresses: true},
			},
			{
				ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "ns"},
				Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			},
		},
		pods: []*corev1.Pod{
			testPod("db-0", "127.1.0.1", true, "db-0", "db-pods"),
			testPod("db-1", "127.1.0.2", false, "db-1", "db-all"),
			func() *corev1.Pod {
				p := testPod("web", "127.1.0.3", true, "", "")
				p.Labels = map[string]string{"app": "web"}
				return p
			}(),
		},
	}
}

// text renders an answer as "RCODE rr rr ...", records as "type=value".
func text(a answer) string {
	parts := []string{a.rcode.String()}
	for _, r := range a.answers {
		switch b := r.Body.(type) {
		case *dnsmessage.AResource:
			parts = append(parts, "A="+netipString(b.A))
		case *dnsmessage.CNAMEResource:
			parts = append(parts, "CNAME="+b.CNAME.String())
		case *dnsmessage.SRVResource:
			parts = append(parts, "SRV="+b.Target.String()+":"+itoa(int(b.Port)))
		case *dnsmessage.SOAResource:
			parts = append(parts, "SOA")
		default:
			parts = append(parts, r.Header.Type.String())
		}
	}
	return strings.Join(parts, " ")
}

func netipString(a [4]byte) string {
	return itoa(int(a[0])) + "." + itoa(int(a[1])) + "." + itoa(int(a[2])) + "." + itoa(int(a[3]))
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append(b, byte('0'+i%10))
	}
	slices.Reverse(b)
	return string(b)
}

func TestResolve(t *testing.T) {
	z := zone{domain: "cluster.local", ttl: 5}
	c := testCluster()
	A, AAAA, SRV := dnsmessage.TypeA, dnsmessage.TypeAAAA, dnsmessage.TypeSRV
	for _, tt := range []struct {
		name string
		typ  dnsmessage.Type
		want string
	}{
		{"db.ns.svc.cluster.local.", A, "RCodeSuccess A=127.96.0.20"},
		{"DB.NS.svc.Cluster.Local.", A, "RCodeSuccess A=127.96.0.20"},
		{"db.ns.svc.cluster.local.", AAAA, "RCodeSuccess"},
		{"db-pods.ns.svc.cluster.local.", A, "RCodeSuccess A=127.1.0.1"},
		{"db-all.ns.svc.cluster.local.", A, "RCodeSuccess A=127.1.0.1 A=127.1.0.2"},
		{"db-0.db-pods.ns.svc.cluster.local.", A, "RCodeSuccess A=127.1.0.1"},
		{"db-1.db-pods.ns.svc.cluster.local.", A, "RCodeNameError"},
		{"db-1.db-all.ns.svc.cluster.local.", A, "RCodeSuccess A=127.1.0.2"},
		// db-0 has the other subdomain: under db-all it is known by its IP.
		{"127-1-0-1.db-all.ns.svc.cluster.local.", A, "RCodeSuccess A=127.1.0.1"},
		{"db-0.db.ns.svc.cluster.local.", A, "RCodeNameError"},
		{"_postgres._tcp.db.ns.svc.cluster.local.", SRV, "RCodeSuccess SRV=db.ns.svc.cluster.local.:5432"},
		{"_postgres._tcp.db-pods.ns.svc.cluster.local.", SRV, "RCodeSuccess SRV=db-0.db-pods.ns.svc.cluster.local.:5433"},
		{"_postgres._udp.db.ns.svc.cluster.local.", SRV, "RCodeNameError"},
		{"db.ns.svc.cluster.local.", SRV, "RCodeSuccess SRV=db.ns.svc.cluster.local.:5432"},
		{"ext.ns.svc.cluster.local.", A, "RCodeSuccess CNAME=db.example.com."},
		{"127-1-0-3.ns.pod.cluster.local.", A, "RCodeSuccess A=127.1.0.3"},
		{"127-1-0-9.ns.pod.cluster.local.", A, "RCodeNameError"},
		{"127-1-0-3.other.pod.cluster.local.", A, "RCodeNameError"},
		{"nope.ns.svc.cluster.local.", A, "RCodeNameError"},
		{"db.other.svc.cluster.local.", A, "RCodeNameError"},
		// What a search path makes of names: NXDOMAIN under the domain, so
		// that the resolver tries the next suffix.
		{"db.ns.svc.cluster.local.ns.svc.cluster.local.", A, "RCodeNameError"},
		{"example.com.ns.svc.cluster.local.", A, "RCodeNameError"},
		{"cluster.local.", dnsmessage.TypeSOA, "RCodeSuccess SOA"},
		{"ns.svc.cluster.local.", A, "RCodeSuccess"},
		{"example.com.", A, "RCodeRefused"},
		{"local.", A, "RCodeRefused"},
		{"notcluster.local.", A, "RCodeRefused"},
	} {
		t.Run(tt.name+" "+tt.typ.String(), func(t *testing.T) {
			q := dnsmessage.Question{Name: dnsmessage.MustNewName(tt.name), Type: tt.typ, Class: dnsmessage.ClassINET}
			if got := text(z.resolve(q, c)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
