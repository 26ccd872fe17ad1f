package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

// TestBadInput: every invalid name, size, value or combination of flags is
// refused with a message saying what to change, and no request is sent.
func TestBadInput(t *testing.T) {
	s3 := []string{"--pgbackrest-storage-type=s3", "--pgbackrest-s3-bucket=backups", "--pgbackrest-s3-endpoint=s3.example.com", "--pgbackrest-s3-region=us-east-1", "--pgbackrest-s3-key=k", "--pgbackrest-s3-key-secret=s"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		// create cluster
		{"cluster name uppercase", []string{"create", "cluster", "HACluster"}, `cluster name "HACluster" is invalid: start with a lowercase letter`},
		{"cluster name too long", []string{"create", "cluster", strings.Repeat("a", 41)}, "give at most 40"},
		{"cluster name missing", []string{"create", "cluster"}, "give the cluster's name"},
		{"two cluster names", []string{"create", "cluster", "a", "b"}, "give one cluster name, not 2"},
		{"replica count", []string{"create", "cluster", "hacluster", "--replica-count=40"}, "--replica-count 40 is out of range; give 0 to 32"},
		{"postgres version", []string{"create", "cluster", "hacluster", "--postgres-version=12"}, "--postgres-version 12 is out of range; give 13 to 17"},
		{"memory", []string{"create", "cluster", "hacluster", "--memory=lots"}, `--memory "lots" is not a quantity; give one such as 256Mi or 2Gi`},
		{"cpu", []string{"create", "cluster", "hacluster", "--cpu=fast"}, `--cpu "fast" is not a quantity; give one such as 500m or 2`},
		{"pvc size zero", []string{"create", "cluster", "hacluster", "--pvc-size=0"}, `--pvc-size "0" must be greater than zero, such as 1Gi or 20Gi`},
		{"wal size", []string{"create", "cluster", "hacluster", "--wal-storage-size=5GB!"}, "--wal-storage-size"},
		{"limit below request", []string{"create", "cluster", "hacluster", "--memory=1Gi", "--memory-limit=512Mi"}, "--memory-limit 512Mi is less than the request 1Gi; a limit must be at least the request"},
		{"password type", []string{"create", "cluster", "hacluster", "--password-type=sha1"}, `--password-type "sha1" is not one of scram-sha-256, md5`},
		{"service type", []string{"create", "cluster", "hacluster", "--service-type=External"}, `--service-type "External" is not one of ClusterIP, NodePort, LoadBalancer`},
		{"anti-affinity", []string{"create", "cluster", "hacluster", "--pod-anti-affinity=sometimes"}, `--pod-anti-affinity "sometimes" is not one of preferred, required, disabled`},
		{"backrest storage", []string{"create", "cluster", "hacluster", "--pgbackrest-storage-type=gcs"}, `--pgbackrest-storage-type "gcs" is not one of posix, s3, posix,s3`},
		{"affinity type without label", []string{"create", "cluster", "hacluster", "--node-affinity-type=required"}, "--node-affinity-type needs --node-label"},
		{"affinity type unknown", []string{"create", "cluster", "hacluster", "--node-label=a=b", "--node-affinity-type=always"}, `--node-affinity-type "always" is not one of preferred, required`},
		{"node label", []string{"create", "cluster", "hacluster", "--node-label=zone"}, `--node-label "zone" is not key=value`},
		{"toleration effect", []string{"create", "cluster", "hacluster", "--toleration=zone=east:Sometimes"}, `effect "Sometimes" is not one of NoSchedule, PreferNoSchedule, NoExecute`},
		{"tls secrets apart", []string{"create", "cluster", "hacluster", "--server-tls-secret=my-tls"}, "--server-ca-secret and --server-tls-secret go together"},
		{"secret name", []string{"create", "cluster", "hacluster", "--server-ca-secret=My_CA", "--server-tls-secret=tls"}, `--server-ca-secret "My_CA" is not a valid Kubernetes object name`},
		{"storage class", []string{"create", "cluster", "hacluster", "--storage-config=Fast Disks"}, `--storage-config "Fast Disks" is not a valid Kubernetes object name`},
		{"label under pgo.dev", []string{"create", "cluster", "hacluster", "--label=pgo.dev/cluster=x"}, `--label key "pgo.dev/cluster" is under pgo.dev/, which belongs to pgo`},
		{"label without value", []string{"create", "cluster", "hacluster", "--label=env"}, `--label "env" must be key=value`},
		{"s3 flag without s3", []string{"create", "cluster", "hacluster", "--pgbackrest-s3-bucket=b"}, "--pgbackrest-s3-bucket needs --pgbackrest-storage-type=s3 or posix,s3"},
		{"s3 missing flags", []string{"create", "cluster", "hacluster", "--pgbackrest-storage-type=posix,s3", "--pgbackrest-s3-bucket=backups"}, "an S3 backup repository needs --pgbackrest-s3-endpoint, --pgbackrest-s3-region, --pgbackrest-s3-key, --pgbackrest-s3-key-secret"},
		{"s3 endpoint scheme", append(append([]string{"create", "cluster", "hacluster"}, s3...), "--pgbackrest-s3-endpoint=https://s3.example.com"), "without https://"},
		{"s3 bucket", append(append([]string{"create", "cluster", "hacluster"}, s3...), "--pgbackrest-s3-bucket=Backups"), `--pgbackrest-s3-bucket "Backups" is invalid`},
		{"s3 uri style", append(append([]string{"create", "cluster", "hacluster"}, s3...), "--pgbackrest-s3-uri-style=virtual"), `--pgbackrest-s3-uri-style "virtual" is not one of host, path`},
		{"restore opts alone", []string{"create", "cluster", "hacluster", "--restore-opts=--type=immediate"}, "--restore-opts needs --restore-from"},
		{"restore from itself", []string{"create", "cluster", "hacluster", "--restore-from=hacluster"}, "--restore-from must name another cluster"},
		{"restore opts", []string{"create", "cluster", "hacluster", "--restore-from=old", "--restore-opts=type=time"}, `"type=time" is not a pgBackRest long option`},
		{"reserved username", []string{"create", "cluster", "hacluster", "--username=postgres"}, `--username "postgres" is a user pgo manages itself`},
		{"database name", []string{"create", "cluster", "hacluster", "--database=1db"}, `--database "1db" is invalid`},
		{"wait timeout", []string{"create", "cluster", "hacluster", "--wait", "--wait-timeout=0s"}, "--wait-timeout 0s must be positive"},
		{"namespace", []string{"create", "cluster", "hacluster", "-n", "Bad_NS"}, `namespace "Bad_NS" is invalid`},

		// backups
		{"backrest pvc size", []string{"create", "cluster", "hacluster", "--pgbackrest-pvc-size=big"}, `--pgbackrest-pvc-size "big" is not a quantity`},
		{"backrest storage class", []string{"create", "cluster", "hacluster", "--pgbackrest-storage-config=Fast_Disks"}, `--pgbackrest-storage-config "Fast_Disks" is not a valid Kubernetes object name`},
		{"retention", []string{"create", "cluster", "hacluster", "--pgbackrest-repo1-retention-full=0"}, "--pgbackrest-repo1-retention-full 0 is out of range; give 1 to 9999999"},
		{"retention type", []string{"create", "cluster", "hacluster", "--pgbackrest-repo1-retention-full=2", "--pgbackrest-repo1-retention-full-type=weeks"}, `--pgbackrest-repo1-retention-full-type "weeks" is not one of count, time`},
		{"retention type alone", []string{"create", "cluster", "hacluster", "--pgbackrest-repo2-retention-full-type=time"}, "--pgbackrest-repo2-retention-full-type needs --pgbackrest-repo2-retention-full"},
		{"backup opts", []string{"backup", "hacluster", "--backup-opts=--type=weekly"}, "--backup-opts: --type=weekly is not one of full, diff, incr"},
		{"backup opts owned", []string{"backup", "hacluster", "--backup-opts=--stanza=x"}, "--backup-opts: --stanza is set by pgo; remove it"},
		{"backup opts not allowed", []string{"backup", "hacluster", "--backup-opts=--exclude=base"}, "--exclude is not an option pgo passes to pgbackrest backup"},
		{"backup repo", []string{"backup", "hacluster", "--repo=repo5"}, `--repo "repo5" is not a repository`},
		{"delete backup without target", []string{"delete", "backup", "hacluster", "--no-prompt"}, "--target is required"},
		{"delete backup repo", []string{"delete", "backup", "hacluster", "--target=x", "--repo=2", "--no-prompt"}, `--repo "2" is not a repository`},

		// show, test
		{"show cluster nothing", []string{"show", "cluster"}, "give cluster names or --all"},
		{"show cluster both", []string{"show", "cluster", "hacluster", "--all"}, "give cluster names or --all (or --selector), not both"},
		{"show cluster output", []string{"show", "cluster", "--all", "-o", "yaml"}, `--output "yaml" is not one of table, json`},
		{"show cluster selector", []string{"show", "cluster", "--selector=env in (a"}, "is not a label selector"},
		{"show user output", []string{"show", "user", "hacluster", "-o", "wide"}, `--output "wide" is not one of table, json`},
		{"show user expired", []string{"show", "user", "hacluster", "--expired=-1"}, "--expired -1 must not be negative"},
		{"show workflow id", []string{"show", "workflow", "Not An ID"}, `workflow id "Not An ID" is invalid`},
		{"show namespace name", []string{"show", "namespace", "Bad_NS"}, `namespace "Bad_NS" is invalid`},
		{"show pgouser nothing", []string{"show", "pgouser"}, "give pgo user names or --all"},
		{"test name", []string{"test", "Bad"}, `cluster name "Bad" is invalid`},

		// scale, scaledown, failover, restart, update cluster
		{"scale count", []string{"scale", "hacluster", "--replica-count=0"}, "--replica-count 0 is out of range; give 1 to 32"},
		{"scaledown neither", []string{"scaledown", "hacluster"}, "give --query to list the replicas, or --target=REPLICA to remove one"},
		{"scaledown both", []string{"scaledown", "hacluster", "--query", "--target=hacluster-p9zt"}, "give --query or --target, not both"},
		{"scaledown target", []string{"scaledown", "hacluster", "--target=Replica_1"}, `--target "Replica_1" is not an instance name`},
		{"scaledown query keep", []string{"scaledown", "hacluster", "--query", "--keep-data"}, "--keep-data and --wait go with --target, not --query"},
		{"failover force without target", []string{"failover", "hacluster", "--force"}, "--force needs --target"},
		{"failover both", []string{"failover", "hacluster", "--query", "--target=hacluster-p9zt"}, "give --query or --target, not both"},
		{"restart rolling target", []string{"restart", "hacluster", "--rolling", "--target=hacluster-p9zt"}, "give --rolling or --target, not both"},
		{"restart query rolling", []string{"restart", "hacluster", "--query", "--rolling"}, "--query lists the instances"},
		{"update nothing", []string{"update", "cluster", "hacluster"}, "nothing to change"},
		{"update autofail both", []string{"update", "cluster", "hacluster", "--enable-autofail", "--disable-autofail"}, "give --enable-autofail or --disable-autofail, not both"},
		{"update shutdown startup", []string{"update", "cluster", "hacluster", "--shutdown", "--startup"}, "give --shutdown or --startup, not both"},
		{"update memory", []string{"update", "cluster", "hacluster", "--memory=256MB!"}, `--memory "256MB!" is not a quantity`},
		{"update cpu limit", []string{"update", "cluster", "hacluster", "--cpu=2", "--cpu-limit=1"}, "--cpu-limit 1 is less than the request 2"},
		{"delete cluster no name", []string{"delete", "cluster"}, "requires at least 1 arg"},
		{"delete cluster bad name", []string{"delete", "cluster", "ha_cluster"}, `cluster name "ha_cluster" is invalid`},

		// users
		{"create user no username", []string{"create", "user", "hacluster"}, "--username is required"},
		{"create user pg_", []string{"create", "user", "hacluster", "--username=pg_app"}, "starts with pg_"},
		{"create user short password", []string{"create", "user", "hacluster", "--username=app", "--password=short"}, "--password: the password is shorter than 8 characters"},
		{"create user password and length", []string{"create", "user", "hacluster", "--username=app", "--password=longenough", "--password-length=30"}, "give --password or --password-length, not both"},
		{"create user length", []string{"create", "user", "hacluster", "--username=app", "--password-length=4"}, "--password-length 4 is out of range; give 8 to 128"},
		{"create user valid days", []string{"create", "user", "hacluster", "--username=app", "--valid-days=-3"}, "--valid-days -3 must not be negative"},
		{"create user database", []string{"create", "user", "hacluster", "--username=app", "--databases=ok,9bad"}, `--databases "9bad" is invalid`},
		{"update user nothing", []string{"update", "user", "hacluster", "--username=app"}, "nothing to change"},
		{"update user password and rotate", []string{"update", "user", "hacluster", "--username=app", "--password=longenough", "--rotate-password"}, "give --password or --rotate-password, not both"},
		{"update user length without rotate", []string{"update", "user", "hacluster", "--username=app", "--password-length=30"}, "--password-length goes with --rotate-password"},
		{"update user expire and days", []string{"update", "user", "hacluster", "--username=app", "--expire-user", "--valid-days=3"}, "give --expire-user or --valid-days, not both"},
		{"update user password type", []string{"update", "user", "hacluster", "--username=app", "--password-type=plain"}, `--password-type "plain" is not one of scram-sha-256, md5`},
		{"delete user no username", []string{"delete", "user", "hacluster"}, "--username is required"},

		// pgo users and roles, namespaces
		{"create pgouser password", []string{"create", "pgouser", "bob", "--pgouser-roles=readonly", "--all-namespaces"}, "a pgo user needs a password: give it on standard input with --pgouser-password-stdin"},
		{"create pgouser short password", []string{"create", "pgouser", "bob", "--pgouser-password=short", "--pgouser-roles=readonly", "--all-namespaces"}, "--pgouser-password: the password is shorter than 8 characters"},
		{"create pgouser roles", []string{"create", "pgouser", "bob", "--pgouser-password=longenough", "--all-namespaces"}, "--pgouser-roles is required"},
		{"create pgouser namespaces", []string{"create", "pgouser", "bob", "--pgouser-password=longenough", "--pgouser-roles=readonly"}, "give --pgouser-namespaces or --all-namespaces"},
		{"create pgouser both namespaces", []string{"create", "pgouser", "bob", "--pgouser-password=longenough", "--pgouser-roles=readonly", "--pgouser-namespaces=a", "--all-namespaces"}, "give --pgouser-namespaces or --all-namespaces, not both"},
		{"create pgouser name", []string{"create", "pgouser", "Bob", "--pgouser-password=longenough", "--pgouser-roles=readonly", "--all-namespaces"}, `pgo user name "Bob" is invalid`},
		{"update pgouser nothing", []string{"update", "pgouser", "bob"}, "nothing to change"},
		{"create pgorole permission", []string{"create", "pgorole", "ops", "--permissions=ShowCluster,DropEverything"}, `"DropEverything" is not a permission`},
		{"create pgorole no permissions", []string{"create", "pgorole", "ops"}, "--permissions is required"},
		{"create namespace", []string{"create", "namespace", "Bad_NS"}, `namespace "Bad_NS" is invalid`},
		{"delete namespace", []string{"delete", "namespace", "bad.ns"}, `namespace "bad.ns" is invalid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { refused(t, "yes\n", tt.wantErr, tt.args...) })
	}
}

// TestPrompt: destructive commands ask, do nothing unless the answer is yes,
// and --no-prompt skips the question.
func TestPrompt(t *testing.T) {
	ns := testNS
	tests := []struct {
		name   string
		args   []string
		method string
		path   string
		file   string
	}{
		{"delete cluster", []string{"delete", "cluster", "hacluster"}, http.MethodDelete, pgoapi.ClusterPath(ns, "hacluster"), "delete_cluster.json"},
		{"delete namespace", []string{"delete", "namespace", "app2"}, http.MethodDelete, pgoapi.NamespacePath("app2"), "delete_namespace.json"},
		{"delete user", []string{"delete", "user", "hacluster", "--username=orion"}, http.MethodDelete, pgoapi.ClusterUserPath(ns, "hacluster", "orion"), "delete_user.json"},
		{"delete pgouser", []string{"delete", "pgouser", "alice"}, http.MethodDelete, pgoapi.PgouserPath("alice"), "deleted_alice.json"},
		{"delete pgorole", []string{"delete", "pgorole", "readonly"}, http.MethodDelete, pgoapi.PgorolePath("readonly"), "pgorole.json"},
		{"scaledown", []string{"scaledown", "hacluster", "--target=hacluster-q4rv"}, http.MethodDelete, pgoapi.ClusterReplicaPath(ns, "hacluster", "hacluster-q4rv"), "scaledown.json"},
		{"failover", []string{"failover", "hacluster", "--target=hacluster-p9zt"}, http.MethodPost, pgoapi.ClusterFailoverPath(ns, "hacluster"), "failover.json"},
		{"restart", []string{"restart", "hacluster"}, http.MethodPost, pgoapi.ClusterRestartPath(ns, "hacluster"), "restart.json"},
		{"update cluster", []string{"update", "cluster", "hacluster", "--cpu=1"}, http.MethodPatch, pgoapi.ClusterPath(ns, "hacluster"), "update_cluster.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, answer := range []string{"no\n", "n\n", "\n", ""} {
				api := newFakeAPI(t)
				api.on(tt.method, tt.path, http.StatusOK, tt.file)
				res := run(api.env(), t.TempDir(), answer, tt.args...)
				if !errors.Is(res.err, errAborted) {
					t.Errorf("answer %q: error = %v, want %v", answer, res.err, errAborted)
				}
				if !strings.HasPrefix(res.stdout, promptText) {
					t.Errorf("answer %q: stdout = %q, want the prompt", answer, res.stdout)
				}
				if reqs := api.received(); len(reqs) > 0 {
					t.Errorf("answer %q: pgo sent %s", answer, reqs[0])
				}
			}

			api := newFakeAPI(t)
			api.on(tt.method, tt.path, http.StatusOK, tt.file)
			res := run(api.env(), t.TempDir(), "yes\n", tt.args...)
			if res.err != nil {
				t.Fatalf("answer yes: %v", res.err)
			}
			if !strings.HasPrefix(res.stdout, promptText) {
				t.Errorf("answer yes: stdout = %q, want the prompt first", res.stdout)
			}
			if reqs := api.received(); len(reqs) != 1 || reqs[0].method != tt.method || reqs[0].path != tt.path {
				t.Errorf("answer yes: requests %v, want %s %s", reqs, tt.method, tt.path)
			}

			api = newFakeAPI(t)
			api.on(tt.method, tt.path, http.StatusOK, tt.file)
			res = run(api.env(), t.TempDir(), "", append(tt.args, "--no-prompt")...)
			if res.err != nil {
				t.Fatalf("--no-prompt: %v", res.err)
			}
			if strings.Contains(res.stdout, "Are you sure") {
				t.Errorf("--no-prompt: stdout = %q, asked anyway", res.stdout)
			}
			if reqs := api.received(); len(reqs) != 1 || reqs[0].method != tt.method {
				t.Errorf("--no-prompt: requests %v, want one %s", reqs, tt.method)
			}
		})
	}
}
