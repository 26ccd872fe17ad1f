package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

// TestSameVerdictAsTheAPIServer: pgo and the apiserver take their rules
// from internal/rules, so pgo refuses what the apiserver would refuse (with
// the flag to change, before sending anything) and sends what it would
// accept. Each case here was once read differently on the two sides.
func TestSameVerdictAsTheAPIServer(t *testing.T) {
	s3 := []string{"--pgbackrest-s3-bucket=backups", "--pgbackrest-s3-endpoint=s3.example.com", "--pgbackrest-s3-region=us-east-1", "--pgbackrest-s3-key=k", "--pgbackrest-s3-key-secret=s"}
	labels := make([]string, 65)
	databases := make([]string, 65)
	for i := range labels {
		labels[i] = fmt.Sprintf("--label=k%d=v", i)
		databases[i] = fmt.Sprintf("db%d", i)
	}
	bad := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
	}{
		{"cluster password too long", []string{"create", "cluster", "hacluster", "--password-stdin"}, strings.Repeat("p", 200), "--password-stdin: the password is 200 characters long; give at most 128"},
		{"cluster password too short", []string{"create", "cluster", "hacluster", "--password-stdin"}, "short", "--password-stdin: the password is shorter than 8 characters"},
		{"user password with a tab", []string{"create", "user", "hacluster", "--username=app", "--password-stdin"}, "pass\tword1", "--password-stdin: the password holds control characters"},
		{"workflow id not a uuid", []string{"show", "workflow", "abc"}, "", `workflow id "abc" is invalid`},
		{"65 labels", append([]string{"create", "cluster", "hacluster"}, labels...), "", "--label has 65 entries; give at most 64"},
		{"s3 region too long", append(append([]string{"create", "cluster", "hacluster", "--pgbackrest-storage-type=s3"}, s3...), "--pgbackrest-s3-region="+strings.Repeat("r", 65)), "", `--pgbackrest-s3-region "` + strings.Repeat("r", 65) + `" is 65 characters long; give at most 64`},
		{"restore option pgo sets", []string{"create", "cluster", "hacluster", "--restore-from=old", "--restore-opts=--stanza=db"}, "", "--restore-opts: --stanza is set by pgo; remove it"},
		{"restore type", []string{"create", "cluster", "hacluster", "--restore-from=old", "--restore-opts=--type=later"}, "", "--restore-opts: --type=later is not one of time, xid, lsn, name, immediate, default"},
		{"restore repo", []string{"create", "cluster", "hacluster", "--restore-from=old", "--restore-opts=--repo=5"}, "", "--restore-opts: --repo=5 is not a repository number from 1 to 4"},
		{"valid days", []string{"create", "user", "hacluster", "--username=app", "--valid-days=40000"}, "", "--valid-days 40000 is more than 36500 days"},
		{"65 databases", []string{"create", "user", "hacluster", "--username=app", "--databases=" + strings.Join(databases, ",")}, "", "--databases has 65 entries; give at most 64"},
		{"* with others", []string{"create", "pgorole", "ops", "--permissions=*,ShowCluster"}, "", "--permissions gives * with other permissions"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) { refused(t, tt.stdin, tt.wantErr, tt.args...) })
	}

	accepted := []struct {
		name string
		args []string
	}{
		{"storage types in either order", append([]string{"create", "cluster", "hacluster", "--pgbackrest-storage-type=s3,posix"}, s3...)},
		{"restore options with a backslash", []string{"create", "cluster", "hacluster", "--restore-from=old", `--restore-opts=--type=name --target='a b' --set=x\ y`}},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.on(http.MethodPost, pgoapi.ClustersPath(testNS), http.StatusCreated, "create_cluster.json")
			res := run(api.env(), t.TempDir(), "", tt.args...)
			if res.err != nil {
				t.Errorf("error = %v, want the request sent", res.err)
			}
			if reqs := api.received(); len(reqs) != 1 {
				t.Errorf("pgo sent %d requests, want 1", len(reqs))
			}
		})
	}
}
