package verify

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/controller"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/specs"
	"pgo.dev/pgo/internal/testenv"
)

// pod is a pod as a NetworkPolicy sees it.
type pod struct {
	namespace string
	nsLabels  map[string]string
	labels    map[string]string
}

func selects(t *testing.T, s *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel.Matches(labels.Set(l))
}

// admits says whether the policies let src reach dst on a TCP port, as the
// NetworkPolicy API defines it: a pod no policy selects takes everything;
// a selected one takes what one of its policies' rules allows.
func admits(t *testing.T, policies []networkingv1.NetworkPolicy, dst, src pod, port int) bool {
	t.Helper()
	isolated := false
	for _, np := range policies {
		if np.Namespace != dst.namespace || !selects(t, &np.Spec.PodSelector, dst.labels) {
			continue
		}
		isolated = true
		for _, rule := range np.Spec.Ingress {
			portOK := len(rule.Ports) == 0
			for _, p := range rule.Ports {
				portOK = portOK || p.Port == nil || p.Port.IntValue() == port
			}
			peerOK := len(rule.From) == 0
			for _, peer := range rule.From {
				switch {
				case peer.NamespaceSelector == nil && peer.PodSelector != nil:
					peerOK = peerOK || (src.namespace == np.Namespace && selects(t, peer.PodSelector, src.labels))
				case peer.NamespaceSelector != nil:
					nsOK := selects(t, peer.NamespaceSelector, src.nsLabels)
					podOK := peer.PodSelector == nil || selects(t, peer.PodSelector, src.labels)
					peerOK = peerOK || (nsOK && podOK)
				}
			}
			if portOK && peerOK {
				return true
			}
		}
	}
	return !isolated
}

// policies renders a kustomization's NetworkPolicies, placed in namespace
// when they name none.
func policies(t *testing.T, dir, namespace string) ([]networkingv1.NetworkPolicy, []*unstructured.Unstructured) {
	t.Helper()
	var out []networkingv1.NetworkPolicy
	objects := kustomize(t, dir)
	for _, obj := range objects {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		if obj.GetKind() != "NetworkPolicy" {
			t.Fatalf("%s holds a %s", dir, obj.GetKind())
		}
		var np networkingv1.NetworkPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &np); err != nil {
			t.Fatal(err)
		}
		out = append(out, np)
	}
	return out, objects
}

// podLabels are the labels of a Deployment's pods in config/default.
func podLabels(t *testing.T, deployment string) map[string]string {
	t.Helper()
	for _, obj := range kustomize(t, "config/default") {
		if obj.GetKind() == "Deployment" && obj.GetName() == deployment {
			l, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
			return l
		}
	}
	t.Fatalf("config/default has no Deployment %s", deployment)
	return nil
}

func nsPod(namespace string, nsLabels, labels map[string]string) pod {
	l := map[string]string{"kubernetes.io/metadata.name": namespace}
	for k, v := range nsLabels {
		l[k] = v
	}
	return pod{namespace: namespace, nsLabels: l, labels: labels}
}

// The shipped NetworkPolicies let in what pgo and its users need and
// nothing else: their selectors against the labels pgo really puts on its
// pods.
func TestNetworkPolicySelectors(t *testing.T) {
	operatorPolicies, _ := policies(t, "config/networkpolicy/operator", "pgo")
	databasePolicies, _ := policies(t, "config/networkpolicy/database", "app")
	all := append(operatorPolicies, databasePolicies...)

	c := &pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: "hippo", Namespace: "app", UID: "1234"}}
	inst := specs.Instance{Name: specs.FirstInstance(c)}
	member := specs.StatefulSet(c, inst, specs.DefaultOptions()).Spec.Template.Labels
	database := nsPod("app", nil, member)
	other := specs.StatefulSet(&pgov1.PGCluster{ObjectMeta: metav1.ObjectMeta{Name: "rhino", Namespace: "app", UID: "5678"}},
		specs.Instance{Name: "rhino-abcd"}, specs.DefaultOptions()).Spec.Template.Labels

	repoHost := nsPod("app", nil, specs.RepoHostStatefulSet(c, specs.DefaultOptions()).Spec.Template.Labels)
	operator := nsPod("pgo", nil, podLabels(t, "pgo-operator"))
	apiserver := nsPod("pgo", nil, podLabels(t, "pgo-apiserver"))
	application := nsPod("app", nil, map[string]string{"app": "web"})
	elsewhere := nsPod("web", nil, map[string]string{"app": "web"})
	strangerInPGO := nsPod("pgo", nil, map[string]string{"app.kubernetes.io/component": "debug"})
	monitoring := nsPod("monitoring", map[string]string{"pgo.dev/monitoring": "true"}, map[string]string{"app": "prometheus"})

	for _, tc := range []struct {
		name     string
		dst, src pod
		port     int
		want     bool
	}{
		{"an application reaches PostgreSQL", database, application, naming.PostgresPort, true},
		{"another member streams", database, nsPod("app", nil, member), naming.PostgresPort, true},
		{"another namespace does not reach PostgreSQL", database, elsewhere, naming.PostgresPort, false},
		{"an application does not reach the instance API", database, application, naming.APIPort, false},
		{"the controller reaches the instance API", database, operator, naming.APIPort, true},
		{"the apiserver reaches the instance API", database, apiserver, naming.APIPort, true},
		{"a member reaches another's instance API", database, nsPod("app", nil, member), naming.APIPort, true},
		{"a pod of another cluster of the namespace", database, nsPod("app", nil, other), naming.APIPort, true},
		{"another pod of the operator namespace does not", database, strangerInPGO, naming.APIPort, false},
		{"monitoring does not reach the instance API", database, monitoring, naming.APIPort, false},
		{"monitoring scrapes database metrics", database, monitoring, naming.MetricsPort, true},
		{"an application does not scrape", database, application, naming.MetricsPort, false},
		{"the repository host reaches pgBackRest in a database pod", database, repoHost, pgbackrest.ServerPort, true},
		{"an application does not reach pgBackRest in a database pod", database, application, pgbackrest.ServerPort, false},
		{"a member does not reach another's pgBackRest", database, nsPod("app", nil, member), pgbackrest.ServerPort, false},
		{"a database pod reaches the repository host's pgBackRest", repoHost, database, pgbackrest.ServerPort, true},
		{"an application does not reach the repository host", repoHost, application, pgbackrest.ServerPort, false},
		{"the controller reaches the repository host's API", repoHost, operator, repohostapi.Port, true},
		{"the apiserver reaches the repository host's API", repoHost, apiserver, repohostapi.Port, true},
		{"a database pod does not reach the repository host's API", repoHost, database, repohostapi.Port, false},
		{"another pod of the operator namespace does not reach it", repoHost, strangerInPGO, repohostapi.Port, false},
		{"pgo clients reach the apiserver", apiserver, elsewhere, 8443, true},
		{"monitoring scrapes the controller", operator, monitoring, 8443, true},
		{"an application does not reach the controller", operator, application, 8443, false},
		{"nor its probes' port", operator, application, 8081, false},
	} {
		if got := admits(t, all, tc.dst, tc.src, tc.port); got != tc.want {
			t.Errorf("%s (port %d): admitted %v, want %v", tc.name, tc.port, got, tc.want)
		}
	}
}

// The shipped NetworkPolicies are valid: a real API server takes them
// (server-side dry-run), in the operator namespace and in a cluster's.
func TestNetworkPoliciesApply(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	for _, ns := range []string{"pgo", "app"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	_, operator := policies(t, "config/networkpolicy/operator", "pgo")
	_, database := policies(t, "config/networkpolicy/database", "app")
	for _, obj := range append(operator, database...) {
		if err := env.Client.Create(ctx, obj, client.DryRunAll); err != nil {
			t.Errorf("%s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
}

// The controller's metrics are not served in plain HTTP beyond loopback:
// the installed arguments pass the controller's own rule.
func TestControllerMetricsAreNotOpen(t *testing.T) {
	for _, obj := range kustomize(t, "config/default") {
		if obj.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
			if len(args) == 0 || args[0] != "controller" {
				continue
			}
			address, secure := "127.0.0.1:8080", false // the defaults
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, "--metrics-bind-address="); ok {
					address = v
				}
				secure = secure || a == "--metrics-secure" || a == "--metrics-secure=true"
			}
			if _, err := controller.MetricsServerOptions(address, secure); err != nil {
				t.Errorf("Deployment %s: %v", obj.GetName(), err)
			}
			return
		}
	}
	t.Fatal("config/default runs no controller")
}
