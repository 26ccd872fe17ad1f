package main

import (
	"net/http"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

// route is one recorded answer of the fake apiserver.
type route struct {
	method, path string
	status       int
	files        []string
}

func get(path string, files ...string) route {
	return route{http.MethodGet, path, http.StatusOK, files}
}

func post(path string, status int, file string) route {
	return route{http.MethodPost, path, status, []string{file}}
}

func patch(path, file string) route {
	return route{http.MethodPatch, path, http.StatusOK, []string{file}}
}

func del(path, file string) route {
	return route{http.MethodDelete, path, http.StatusOK, []string{file}}
}

// TestGolden runs every command against recorded apiserver answers and
// compares the requests it sends and what it prints with testdata/*.golden.
// Every read command is run in table and JSON form.
func TestGolden(t *testing.T) {
	const ns = testNS
	tests := []struct {
		name    string
		args    []string
		stdin   string
		routes  []route
		wantErr bool
	}{
		// Read commands, as tables and as JSON.
		{name: "show_namespace", args: []string{"show", "namespace"}, routes: []route{get(pgoapi.PathNamespaces, "namespaces.json")}},
		{name: "show_namespace_json", args: []string{"show", "namespace", "-o", "json"}, routes: []route{get(pgoapi.PathNamespaces, "namespaces.json")}},
		{name: "show_namespace_one", args: []string{"show", "namespace", "app1"}, routes: []route{get(pgoapi.PathNamespaces, "namespaces.json")}},
		{name: "show_cluster", args: []string{"show", "cluster", "hacluster"}, routes: []route{get(pgoapi.ClusterPath(ns, "hacluster"), "cluster_hacluster.json")}},
		{name: "show_cluster_json", args: []string{"show", "cluster", "hacluster", "-o", "json"}, routes: []route{get(pgoapi.ClusterPath(ns, "hacluster"), "cluster_hacluster.json")}},
		{name: "show_cluster_all", args: []string{"show", "cluster", "--all"}, routes: []route{get(pgoapi.ClustersPath(ns), "clusters.json")}},
		{name: "show_cluster_all_json", args: []string{"show", "cluster", "--all", "-o", "json"}, routes: []route{get(pgoapi.ClustersPath(ns), "clusters.json")}},
		{name: "show_cluster_selector", args: []string{"show", "cluster", "--selector", "env=demo"}, routes: []route{get(pgoapi.ClustersPath(ns), "clusters.json")}},
		{name: "show_cluster_missing", args: []string{"show", "cluster", "nocluster"}, routes: []route{{http.MethodGet, pgoapi.ClusterPath(ns, "nocluster"), http.StatusNotFound, []string{"error_notfound.json"}}}, wantErr: true},
		{name: "test", args: []string{"test", "hacluster"}, routes: []route{get(pgoapi.ClusterTestPath(ns, "hacluster"), "test_up.json")}},
		{name: "test_json", args: []string{"test", "hacluster", "-o", "json"}, routes: []route{get(pgoapi.ClusterTestPath(ns, "hacluster"), "test_up.json")}},
		{name: "test_down", args: []string{"test", "hacluster"}, routes: []route{get(pgoapi.ClusterTestPath(ns, "hacluster"), "test_down.json")}, wantErr: true},
		{name: "scaledown_query", args: []string{"scaledown", "hacluster", "--query"}, routes: []route{get(pgoapi.ClusterReplicasPath(ns, "hacluster"), "replicas.json")}},
		{name: "scaledown_query_json", args: []string{"scaledown", "hacluster", "--query", "-o", "json"}, routes: []route{get(pgoapi.ClusterReplicasPath(ns, "hacluster"), "replicas.json")}},
		{name: "failover_query", args: []string{"failover", "hacluster", "--query"}, routes: []route{get(pgoapi.ClusterFailoverPath(ns, "hacluster"), "replicas.json")}},
		{name: "failover_query_json", args: []string{"failover", "hacluster", "--query", "-o", "json"}, routes: []route{get(pgoapi.ClusterFailoverPath(ns, "hacluster"), "replicas.json")}},
		{name: "restart_query", args: []string{"restart", "hacluster", "--query"}, routes: []route{get(pgoapi.ClusterRestartPath(ns, "hacluster"), "instances.json")}},
		{name: "restart_query_json", args: []string{"restart", "hacluster", "--query", "-o", "json"}, routes: []route{get(pgoapi.ClusterRestartPath(ns, "hacluster"), "instances.json")}},
		{name: "show_user", args: []string{"show", "user", "hacluster"}, routes: []route{get(pgoapi.ClusterUsersPath(ns, "hacluster"), "users.json")}},
		{name: "show_user_json", args: []string{"show", "user", "hacluster", "-o", "json"}, routes: []route{get(pgoapi.ClusterUsersPath(ns, "hacluster"), "users.json")}},
		{name: "show_backup", args: []string{"show", "backup", "hacluster"}, routes: []route{get(pgoapi.BackupsPath(ns, "hacluster"), "backups.json")}},
		{name: "show_backup_json", args: []string{"show", "backup", "hacluster", "-o", "json"}, routes: []route{get(pgoapi.BackupsPath(ns, "hacluster"), "backups.json")}},
		{name: "backup", args: []string{"backup", "hacluster", "--backup-opts=--type=incr --start-fast"}, routes: []route{post(pgoapi.BackupsPath(ns, "hacluster"), http.StatusCreated, "create_backup.json")}},
		{name: "delete_backup", args: []string{"delete", "backup", "hacluster", "--target=20261207-210900F_20261207-210905D", "--no-prompt"}, routes: []route{del(pgoapi.BackupPath(ns, "hacluster", "20261207-210900F_20261207-210905D"), "delete_backup.json")}},
		{name: "show_user_options", args: []string{"show", "user", "hacluster", "--show-password", "--expired", "7"}, routes: []route{get(pgoapi.ClusterUsersPath(ns, "hacluster"), "users.json")}},
		{name: "show_pgouser", args: []string{"show", "pgouser", "--all"}, routes: []route{get(pgoapi.PathPgousers, "pgousers.json")}},
		{name: "show_pgouser_json", args: []string{"show", "pgouser", "--all", "-o", "json"}, routes: []route{get(pgoapi.PathPgousers, "pgousers.json")}},
		{name: "show_pgorole", args: []string{"show", "pgorole", "--all"}, routes: []route{get(pgoapi.PathPgoroles, "pgoroles.json")}},
		{name: "show_pgorole_json", args: []string{"show", "pgorole", "--all", "-o", "json"}, routes: []route{get(pgoapi.PathPgoroles, "pgoroles.json")}},
		{name: "show_workflow", args: []string{"show", "workflow", "6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5"}, routes: []route{get(pgoapi.WorkflowPath(ns, "6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5"), "workflow.json")}},
		{name: "show_workflow_json", args: []string{"show", "workflow", "6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5", "-o", "json"}, routes: []route{get(pgoapi.WorkflowPath(ns, "6f1c2d3e-0a4b-4c5d-8e9f-a0b1c2d3e4f5"), "workflow.json")}},
		{name: "status", args: []string{"status"}, routes: []route{get(pgoapi.PathStatus, "status.json")}},
		{name: "status_json", args: []string{"status", "-o", "json"}, routes: []route{get(pgoapi.PathStatus, "status.json")}},
		{name: "status_all_namespaces", args: []string{"status", "--all-namespaces"}, routes: []route{get(pgoapi.PathStatus, "status.json")}},
		{name: "version", args: []string{"version"}, routes: []route{get(pgoapi.PathVersion, "version.json")}},
		{name: "version_json", args: []string{"version", "-o", "json"}, routes: []route{get(pgoapi.PathVersion, "version.json")}},
		{name: "version_client", args: []string{"version", "--client"}},

		// Commands that change things: the request sent and what is printed.
		{name: "create_namespace", args: []string{"create", "namespace", "app2"}, routes: []route{post(pgoapi.PathNamespaces, http.StatusCreated, "create_namespace.json")}},
		{name: "delete_namespace", args: []string{"delete", "namespace", "app2", "--no-prompt"}, routes: []route{del(pgoapi.NamespacePath("app2"), "delete_namespace.json")}},
		{name: "create_cluster", args: []string{"create", "cluster", "hacluster", "--replica-count=1", "--metrics"}, routes: []route{post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json")}},
		{
			name: "create_cluster_every_flag",
			args: []string{
				"create", "cluster", "hacluster", "--replica-count=2", "--metrics", "--postgres-version=16",
				"--cpu=500m", "--memory=1Gi", "--cpu-limit=2", "--memory-limit=2Gi", "--pvc-size=20Gi",
				"--storage-config=fast", "--replica-storage-config=standard", "--wal-storage-config=fast", "--wal-storage-size=5Gi",
				"--username=app", "--database=orders", "--password-type=md5", "--sync-replication",
				"--node-label=topology.kubernetes.io/zone=zone-a", "--node-affinity-type=required", "--pod-anti-affinity=required",
				"--toleration=dedicated=db:NoSchedule", "--toleration=spot:NoExecute", "--tls-only",
				"--server-ca-secret=my-ca", "--server-tls-secret=my-tls", "--pgbouncer", "--custom-config=hacluster-config",
				"--label=env=prod,team=db", "--annotation=owner=alice@example.com", "--service-type=LoadBalancer",
				"--pgbackrest-storage-type=posix,s3", "--pgbackrest-s3-bucket=backups", "--pgbackrest-s3-endpoint=s3.example.com:9000",
				"--pgbackrest-s3-region=us-east-1", "--pgbackrest-s3-key=AKIAEXAMPLE", "--pgbackrest-s3-key-secret-stdin",
				"--pgbackrest-s3-uri-style=path", "--pgbackrest-s3-verify-tls=false", "--pgbackrest-s3-ca-secret=s3-ca",
				"--pgbackrest-pvc-size=50Gi", "--pgbackrest-storage-config=backup", "--pgbackrest-repo1-retention-full=2",
				"--pgbackrest-repo1-retention-diff=7", "--pgbackrest-repo2-retention-full=14", "--pgbackrest-repo2-retention-full-type=time", "--pgbackrest-repo2-encrypted",
				"--restore-from=oldcluster", "--restore-opts=--type=time \"--target=2026-11-27 11:59:59+00\"",
			},
			stdin:  "examplesecret\n",
			routes: []route{post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json")},
		},
		{name: "create_cluster_refused", args: []string{"create", "cluster", "hacluster", "--custom-config=hacluster-config", "--storage-config=fast"}, routes: []route{post(pgoapi.ClustersPath(ns), http.StatusUnprocessableEntity, "error_invalid.json")}, wantErr: true},
		{name: "create_cluster_wait", args: []string{"create", "cluster", "hacluster", "--wait"}, routes: []route{
			post(pgoapi.ClustersPath(ns), http.StatusCreated, "create_cluster.json"),
			get(pgoapi.ClusterPath(ns, "hacluster"), "cluster_creating.json", "cluster_creating.json", "cluster_initializing.json", "cluster_hacluster.json"),
		}},
		{name: "update_cluster", args: []string{"update", "cluster", "hacluster", "--memory=256Mi", "--cpu=1", "--disable-autofail", "--no-prompt"}, routes: []route{patch(pgoapi.ClusterPath(ns, "hacluster"), "update_cluster.json")}},
		{name: "update_cluster_wait", args: []string{"update", "cluster", "hacluster", "--memory=256Mi", "--no-prompt", "--wait"}, routes: []route{
			patch(pgoapi.ClusterPath(ns, "hacluster"), "update_cluster.json"),
			get(pgoapi.ClusterPath(ns, "hacluster"), "cluster_stale.json", "cluster_updating.json", "cluster_hacluster.json"),
		}},
		{name: "update_cluster_remove_limit", args: []string{"update", "cluster", "hacluster", "--memory-limit=", "--shutdown", "--no-prompt"}, routes: []route{patch(pgoapi.ClusterPath(ns, "hacluster"), "update_cluster.json")}},
		{name: "delete_cluster", args: []string{"delete", "cluster", "hacluster", "--keep-data", "--no-prompt"}, routes: []route{del(pgoapi.ClusterPath(ns, "hacluster"), "delete_cluster.json")}},
		{name: "scale", args: []string{"scale", "hacluster", "--replica-count=1"}, routes: []route{post(pgoapi.ClusterScalePath(ns, "hacluster"), http.StatusOK, "scale.json")}},
		{name: "scaledown_target", args: []string{"scaledown", "hacluster", "--target=hacluster-q4rv", "--keep-data", "--no-prompt"}, routes: []route{del(pgoapi.ClusterReplicaPath(ns, "hacluster", "hacluster-q4rv"), "scaledown.json")}},
		{name: "failover_target", args: []string{"failover", "hacluster", "--target=hacluster-p9zt", "--no-prompt"}, routes: []route{post(pgoapi.ClusterFailoverPath(ns, "hacluster"), http.StatusOK, "failover.json")}},
		{name: "failover_target_wait", args: []string{"failover", "hacluster", "--target=hacluster-p9zt", "--no-prompt", "--wait"}, routes: []route{
			post(pgoapi.ClusterFailoverPath(ns, "hacluster"), http.StatusOK, "failover.json"),
			get(pgoapi.ClusterPath(ns, "hacluster"), "cluster_hacluster.json", "cluster_failed_over.json"),
		}},
		{name: "restart", args: []string{"restart", "hacluster", "--target=hacluster-p9zt", "--target=hacluster-x7k2", "--no-prompt"}, routes: []route{post(pgoapi.ClusterRestartPath(ns, "hacluster"), http.StatusOK, "restart.json")}},
		{name: "create_user", args: []string{"create", "user", "hacluster", "--username=orion", "--valid-days=45", "--databases=hacluster"}, routes: []route{post(pgoapi.ClusterUsersPath(ns, "hacluster"), http.StatusCreated, "create_user.json")}},
		{name: "update_user", args: []string{"update", "user", "hacluster", "--username=orion", "--rotate-password", "--password-length=32", "--password-type=scram-sha-256"}, routes: []route{patch(pgoapi.ClusterUserPath(ns, "hacluster", "orion"), "create_user.json")}},
		{name: "update_user_expire", args: []string{"update", "user", "hacluster", "--username=orion", "--expire-user"}, routes: []route{patch(pgoapi.ClusterUserPath(ns, "hacluster", "orion"), "create_user.json")}},
		{name: "delete_user", args: []string{"delete", "user", "hacluster", "--username=orion", "--no-prompt"}, routes: []route{del(pgoapi.ClusterUserPath(ns, "hacluster", "orion"), "delete_user.json")}},
		{name: "create_pgouser", args: []string{"create", "pgouser", "alice", "--pgouser-password-stdin", "--pgouser-roles=readonly", "--pgouser-namespaces=app1"}, stdin: "change-me-now\n", routes: []route{post(pgoapi.PathPgousers, http.StatusCreated, "pgouser.json")}},
		{name: "update_pgouser", args: []string{"update", "pgouser", "alice", "--all-namespaces"}, routes: []route{patch(pgoapi.PgouserPath("alice"), "pgouser.json")}},
		{name: "delete_pgouser", args: []string{"delete", "pgouser", "alice", "--no-prompt"}, routes: []route{del(pgoapi.PgouserPath("alice"), "deleted_alice.json")}},
		{name: "create_pgorole", args: []string{"create", "pgorole", "readonly", "--permissions=ShowCluster,Status"}, routes: []route{post(pgoapi.PathPgoroles, http.StatusCreated, "pgorole.json")}},
		{name: "update_pgorole", args: []string{"update", "pgorole", "readonly", "--permissions=ShowCluster,Status"}, routes: []route{patch(pgoapi.PgorolePath("readonly"), "pgorole.json")}},
		{name: "delete_pgorole", args: []string{"delete", "pgorole", "readonly", "--no-prompt"}, routes: []route{del(pgoapi.PgorolePath("readonly"), "pgorole.json")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t)
			for _, r := range tt.routes {
				api.on(r.method, r.path, r.status, r.files...)
			}
			res := run(api.env(), t.TempDir(), tt.stdin, tt.args...)
			if (res.err != nil) != tt.wantErr {
				t.Errorf("error = %v, want error: %v", res.err, tt.wantErr)
			}
			golden(t, tt.name, transcript(api.received(), res))
		})
	}
}
