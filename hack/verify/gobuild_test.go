package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeGo stands in for the go command: `go list` prints 20 packages, `go
// build -v` prints FAKE_N of them as compiled, FAKE_DELAY seconds apart,
// then the compiler's errors and a failure when FAKE_FAIL is set.
const fakeGo = `#!/usr/bin/env bash
case $1 in
list) for i in $(seq 1 20); do echo "example.com/p$i"; done ;;
build)
	echo "go: downloading example.com/m v1.0.0" >&2
	for i in $(seq 1 "$FAKE_N"); do echo "example.com/p$i" >&2; sleep "$FAKE_DELAY"; done
	if [[ -n ${FAKE_FAIL:-} ]]; then
		echo "# example.com/p3" >&2
		echo "p3/x.go:1:1: undefined: y" >&2
		exit 1
	fi
	;;
esac
`

// TestGoBuildProgress: hack/go-build.sh, which make build and the
// Kubernetes build run, shows how far a long build is (packages compiled of
// the total) on stderr, says nothing when the build is quick (a warm
// cache), and passes the compiler's errors and failure on.
func TestGoBuildProgress(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(n, delay, fail string) (string, error) {
		cmd := exec.Command(filepath.Join(root, "hack", "go-build.sh"), "thing", t.TempDir(), "./...", "--", "-o", "out")
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_N="+n, "FAKE_DELAY="+delay, "FAKE_FAIL="+fail, "CI=true")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run("16", "0.25", "")
	if err != nil {
		t.Fatalf("a slow build that succeeds failed: %v\n%s", err, out)
	}
	progress := regexp.MustCompile(`(?m)^thing: \d+s, \d+ of at most 20 packages compiled`)
	done := regexp.MustCompile(`(?m)^thing: done in \d+s$`)
	if !progress.MatchString(out) || !done.MatchString(out) {
		t.Errorf("a build of 4 s shows no progress:\n%s", out)
	}

	if out, err := run("20", "0", ""); err != nil || out != "" {
		t.Errorf("a quick build printed %q (error %v), want nothing", out, err)
	}

	out, err = run("4", "0", "yes")
	if err == nil {
		t.Errorf("a failed build succeeded:\n%s", out)
	}
	if !strings.Contains(out, "# example.com/p3\np3/x.go:1:1: undefined: y\n") {
		t.Errorf("the compiler's errors did not pass through:\n%s", out)
	}
}
