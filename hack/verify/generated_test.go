// Package verify checks that what is generated from the code is committed
// up to date.
package verify

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, mode := range []string{"objects", "manifests"} {
		cmd := exec.Command(filepath.Join(root, "hack", "generate.sh"), mode, out)
		if output, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("hack/generate.sh %s: %v\n%s", mode, err, output)
		}
	}

	// Every file the generator writes must be committed as written, and
	// every committed file in these places must still be generated.
	for _, pattern := range []string{
		"api/v1/zz_generated.*.go",
		"config/crd/bases/*.yaml",
		"config/rbac/role.yaml",
		"config/apiserver/role.yaml",
	} {
		fresh, _ := filepath.Glob(filepath.Join(out, pattern))
		committed, _ := filepath.Glob(filepath.Join(root, pattern))
		if len(fresh) == 0 {
			t.Errorf("hack/generate.sh wrote nothing matching %s", pattern)
		}
		names := map[string]bool{}
		for _, path := range fresh {
			rel, _ := filepath.Rel(out, path)
			names[rel] = true
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Errorf("%s is not committed: run `make generate manifests`", rel)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: run `make generate manifests` and commit the result", rel)
			}
		}
		for _, path := range committed {
			rel, _ := filepath.Rel(root, path)
			if !names[rel] {
				t.Errorf("%s is no longer generated: delete it", rel)
			}
		}
	}
}
