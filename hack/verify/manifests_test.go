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
// operator's ServiceAccount gets what it needs and no more.
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
	access := []struct {
		namespace, group, resource, subresource, verb string
		allowed                                       bool
	}{
		{"app", "pgo.dev", "pgclusters", "", "watch", true},
		{"app", "pgo.dev", "pgclusters", "status", "update", true},
		{"app", "pgo.dev", "pgtasks", "", "create", true},
		{"app", "pgo.dev", "pgschedules", "", "list", true},
		{"app", "", "events", "", "create", true},
		{"app", "apps", "statefulsets", "", "patch", true},
		{"app", "", "secrets", "", "create", true},
		{"app", "rbac.authorization.k8s.io", "roles", "", "create", true},
		{"app", "coordination.k8s.io", "leases", "", "update", true},
		{"app", "", "pods", "", "delete", true},
		// Least privilege: nothing beyond what the reconcilers use.
		{"app", "", "pods", "exec", "create", false},
		{"app", "apps", "deployments", "", "create", false},
		{"", "", "nodes", "", "list", false},
		{"", "", "persistentvolumes", "", "delete", false},
		{"", "rbac.authorization.k8s.io", "clusterroles", "", "create", false},
		{"app", "pgo.dev", "pgclusters", "", "deletecollection", false},
		{"", "apiextensions.k8s.io", "customresourcedefinitions", "", "update", false},
	}
	for _, a := range access {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: operator,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.namespace, Group: a.group, Resource: a.resource, Subresource: a.subresource, Verb: a.verb,
			},
		}}
		if err := env.Client.Create(ctx, review); err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != a.allowed {
			t.Errorf("%s may %s %s.%s/%s in %q: %v, want %v", operator, a.verb, a.resource, a.group, a.subresource, a.namespace, review.Status.Allowed, a.allowed)
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
