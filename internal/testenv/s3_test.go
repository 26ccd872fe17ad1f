package testenv

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pgBackRest (Debian's 2.45) works with the S3 server the tests use: over
// HTTPS with the server's CA verified, SigV4, ListObjectsV2, a multipart
// upload (a file over the 5 MiB part size) and a bulk delete. Everything
// later built on S3 repositories stands on this.
func TestS3ServesPgBackRest(t *testing.T) {
	s3 := StartS3(t)
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		t.Fatalf("pgBackRest is needed (`make deps` installs it): %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "pgbackrest.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[global]
repo1-type=s3
repo1-path=/smoke
repo1-s3-bucket=pgo-smoke
repo1-s3-endpoint=%s
repo1-storage-port=%d
repo1-s3-region=us-east-1
repo1-s3-uri-style=path
repo1-storage-ca-file=%s
log-level-console=warn
log-level-file=off
lock-path=%s
`, s3.Host, s3.Port, s3.CAFile, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("pgbackrest", append([]string{"--config=" + conf}, args...)...)
		// The keys go through the environment, never the command line.
		cmd.Env = append(os.Environ(), "PGBACKREST_REPO1_S3_KEY="+s3.Key, "PGBACKREST_REPO1_S3_KEY_SECRET="+s3.Secret)
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pgbackrest %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}

	run(nil, "repo-create")
	if _, err := os.Stat(filepath.Join(s3.Dir, "pgo-smoke")); err != nil {
		t.Fatalf("repo-create made no bucket: %v", err)
	}
	big := make([]byte, 6<<20+12345)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	run(big, "repo-put", "--raw", "archive/big.bin")
	run([]byte("small\n"), "repo-put", "--raw", "archive/sub/small.txt")
	if got := strings.Fields(string(run(nil, "repo-ls", "--recurse"))); strings.Join(got, " ") != "archive archive/big.bin archive/sub archive/sub/small.txt" {
		t.Errorf("repo-ls --recurse: %q", got)
	}
	if got := run(nil, "repo-get", "--raw", "archive/big.bin"); !bytes.Equal(got, big) {
		t.Errorf("repo-get gave %d bytes back, not the %d put", len(got), len(big))
	}
	run(nil, "repo-rm", "--recurse", "archive")
	if got := strings.TrimSpace(string(run(nil, "repo-ls", "--recurse"))); got != "" {
		t.Errorf("repo-ls after repo-rm --recurse: %q", got)
	}

	// The server's log shows the S3 calls it answered: a multipart upload,
	// ListObjectsV2 and a bulk delete, each with 200.
	log, err := os.ReadFile(s3.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []string{"| POST | /pgo-smoke/smoke/archive/big.bin | - | uploads=", "list-type=2", "| POST | /pgo-smoke/ | - | delete="} {
		found := false
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, call) && strings.Contains(line, "| 200 |") {
				found = true
			}
		}
		if !found {
			t.Errorf("the server answered no %q with 200", call)
		}
	}
}
