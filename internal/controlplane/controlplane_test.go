package controlplane

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The binaries `make kube` builds are the ones Start looks for.
func TestKubernetesVersionMatchesTheBuild(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join(RepoRoot(), "hack", "kube", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("hack/kube/go.mod does not require k8s.io/kubernetes")
	}
	if got := string(m[1]); got != KubernetesVersion {
		t.Errorf("hack/kube/go.mod builds Kubernetes %s, but testenv looks for %s: update KubernetesVersion", got, KubernetesVersion)
	}
}
