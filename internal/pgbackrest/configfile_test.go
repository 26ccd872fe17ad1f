package pgbackrest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The configuration as read back gives the repositories and the server's
// TLS files that the builders wrote (the golden files), and the include
// path's *.conf files in pgBackRest's order.
func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	include := filepath.Join(dir, "conf.d")
	// A mounted Secret: the keys are links into a timestamped directory
	// that ..data points to.
	data := filepath.Join(include, "..2026_12_07_21_00_00.1")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := SecretConfig(Secrets{S3Keys: map[int][2]string{2: {"AKIA", "secret"}}})
	if err := os.WriteFile(filepath.Join(data, "secret.conf"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{filepath.Base(data), "..data"}, {"..data/secret.conf", "secret.conf"}} {
		if err := os.Symlink(l[0], filepath.Join(include, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	c, err := ReadConfig(filepath.Join("testdata", "repo-host.conf"), include)
	if err != nil {
		t.Fatal(err)
	}
	want := []ConfiguredRepo{{Index: 1, Type: "posix"}, {Index: 2, Type: "s3", Bucket: "backups"}, {Index: 3, Type: "s3", Bucket: "more"}}
	if got := c.Repos(); !reflect.DeepEqual(got, want) {
		t.Errorf("repos: %+v, want %+v", got, want)
	}
	if got := c.ServerTLS(); got != podTLS {
		t.Errorf("server TLS: %+v, want %+v", got, podTLS)
	}
	if c["global"]["repo2-s3-key"] != "AKIA" {
		t.Errorf("the include path's options were not read: %v", c["global"]["repo2-s3-key"])
	}
	files, err := IncludeFiles(include)
	if err != nil || len(files) != 1 || filepath.Base(files[0]) != "secret.conf" {
		t.Errorf("include files: %v, %v", files, err)
	}

	// Options in a command's section win for that command; comments and
	// blank lines are skipped.
	c = ParseConfig("# a comment\n[global]\ntls-server-cert-file=/a\n\n[global:server]\ntls-server-cert-file = /b\n[db]\nrepo4-path=/x\n")
	if got := c.ServerTLS().CertFile; got != "/b" {
		t.Errorf("the server's section gives %q, want /b", got)
	}
	if got := c.Repos(); len(got) != 1 || got[0].Index != 4 {
		t.Errorf("a repository in the stanza's section: %+v", got)
	}
}

// ERROR lines, with the lines that continue them, as pgBackRest 2.45
// writes them to the console; the label of a new backup.
func TestOutputLines(t *testing.T) {
	out := `2026-12-07 21:14:36.772 P00   INFO: repo-create command begin 2.45: --repo=1 --repo1-s3-key=<redacted>
2026-12-07 21:14:36.779 P00  ERROR: [039]: HTTP request failed with 409 (Conflict):
                                    *** Path/Query ***:
                                    PUT /pgo-bkt/

                                    <Error><Code>BucketAlreadyOwnedByYou</Code></Error>
2026-12-07 21:14:36.779 P00   INFO: repo-create command end: aborted with exception [039]
P00  ERROR: [056]: unable to find primary cluster - cannot proceed
                   HINT: are all available clusters in recovery?
    not a continuation`
	e := &errorLines{}
	for _, l := range strings.Split(out, "\n") {
		e.see(l)
	}
	want := []string{
		"[039]: HTTP request failed with 409 (Conflict):\n*** Path/Query ***:\nPUT /pgo-bkt/",
		"[056]: unable to find primary cluster - cannot proceed\nHINT: are all available clusters in recovery?",
	}
	if got := e.messages(); !reflect.DeepEqual(got, want) {
		t.Errorf("error messages:\n%q\nwant\n%q", got, want)
	}
	if l, ok := BackupLabel("2026-12-07 21:30:00.000 P00   INFO: new backup label = 20261207-213000F_20261207-213100I"); !ok || l != "20261207-213000F_20261207-213100I" {
		t.Errorf("backup label: %q, %v", l, ok)
	}
	if _, ok := BackupLabel("P00   INFO: backup start archive = 000000010000000000000003"); ok {
		t.Error("a label in a line that names none")
	}
}
