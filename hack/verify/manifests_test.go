package verify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"pgo.dev/pgo/internal/controlplane"
	"pgo.dev/pgo/internal/testenv"
)

// kustomize renders a kustomization with the kubectl that `make kube` built.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	assets, err := controlplane.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", filepath.Join(testenv.RepoRoot(), dir)).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, exit.Stderr)
		}
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	var objects []*unstructured.Unstructured
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return objects
		} else if err != nil {
			t.Fatalf("decoding kubectl kustomize %s: %v", dir, err)
		}
		if len(obj.Object) > 0 {
			objects = append(objects, obj)
		}
	}
}

// config/default installs pgo: it applies to a real API server, and the
// controller's and the apiserver's ServiceAccounts get what each needs and
// no more.
func TestInstallManifests(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()

	for _, obj := range kustomize(t, "config/default") {
		err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("pgo-test"), client.ForceOwnership)
		if err != nil {
			t.Fatalf("applying %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}

	operator := "system:serviceaccount:pgo:pgo-operator"
	apiserver := "system:serviceaccount:pgo:pgo-apiserver"
	access := []struct {
		user                                          string
		namespace, group, resource, subresource, verb string
		allowed                                       bool
	}{
		{operator, "app", "pgo.dev", "pgclusters", "", "watch", true},
		{operator, "app", "pgo.dev", "pgclusters", "status", "update", true},
		{operator, "app", "pgo.dev", "pgtasks", "", "create", true},
		// It runs tasks, and deletes old ones.
		{operator, "app", "pgo.dev", "pgtasks", "status", "patch", true},
		{operator, "app", "pgo.dev", "pgtasks", "", "delete", true},
		{operator, "app", "pgo.dev", "pgschedules", "", "list", true},
		{operator, "app", "", "events", "", "create", true},
		{operator, "app", "apps", "statefulsets", "", "patch", true},
		{operator, "app", "", "secrets", "", "create", true},
		{operator, "app", "rbac.authorization.k8s.io", "roles", "", "create", true},
		{operator, "app", "coordination.k8s.io", "leases", "", "update", true},
		{operator, "app", "", "pods", "", "delete", true},
		// Its metrics endpoint asks who a scraper is.
		{operator, "", "authentication.k8s.io", "tokenreviews", "", "create", true},
		// Least privilege: nothing beyond what the reconcilers use.
		{operator, "app", "", "pods", "exec", "create", false},
		{operator, "app", "apps", "deployments", "", "create", false},
		{operator, "", "", "namespaces", "", "get", true},
		{operator, "", "", "namespaces", "", "create", false},
		{operator, "", "", "nodes", "", "list", false},
		{operator, "", "", "persistentvolumes", "", "delete", false},
		{operator, "", "rbac.authorization.k8s.io", "clusterroles", "", "create", false},
		{operator, "app", "pgo.dev", "pgclusters", "", "deletecollection", false},
		{operator, "", "apiextensions.k8s.io", "customresourcedefinitions", "", "update", false},
		// The apiserver: what its handlers use, as its own ServiceAccount.
		{apiserver, "pgo", "", "secrets", "", "get", true},
		{apiserver, "app", "pgo.dev", "pgclusters", "", "create", true},
		{apiserver, "", "", "namespaces", "", "create", true},
		// Long operations are tasks it creates, which the controller runs.
		{apiserver, "app", "pgo.dev", "pgtasks", "", "create", true},
		// None of the controller's rights over what runs in a namespace.
		{apiserver, "app", "", "serviceaccounts", "", "create", false},
		{apiserver, "app", "rbac.authorization.k8s.io", "roles", "", "create", false},
		{apiserver, "app", "rbac.authorization.k8s.io", "rolebindings", "", "create", false},
		{apiserver, "app", "apps", "statefulsets", "", "create", false},
		{apiserver, "app", "", "pods", "", "delete", false},
		{apiserver, "app", "", "pods", "exec", "create", false},
		{apiserver, "app", "apps", "statefulsets", "", "patch", false},
		{apiserver, "app", "", "configmaps", "", "create", false},
		{apiserver, "app", "pgo.dev", "pgtasks", "status", "patch", false},
		{apiserver, "app", "", "secrets", "", "watch", false},
		{apiserver, "pgo", "coordination.k8s.io", "leases", "", "update", false},
	}
	for _, a := range access {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: a.user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.namespace, Group: a.group, Resource: a.resource, Subresource: a.subresource, Verb: a.verb,
			},
		}}
		if err := env.Client.Create(ctx, review); err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != a.allowed {
			t.Errorf("%s may %s %s.%s/%s in %q: %v, want %v", a.user, a.verb, a.resource, a.group, a.subresource, a.namespace, review.Status.Allowed, a.allowed)
		}
	}
}

// Every sample is in config/samples/kustomization.yaml.
func TestSamplesKustomization(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(), "config", "samples")
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if name != "kustomization.yaml" && !slices.Contains(k.Resources, name) {
			t.Errorf("config/samples/%s is not listed in config/samples/kustomization.yaml", name)
		}
	}
}
