package pgoapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestPathsMatchRoutes(t *testing.T) {
	mux := http.NewServeMux()
	for _, r := range Routes {
		op := r.Operation
		mux.HandleFunc(r.Method+" "+r.Pattern, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(op)) })
	}
	for _, tc := range []struct{ method, path, op string }{
		{"GET", PathHealthz, "Healthz"},
		{"GET", PathOpenAPI, "OpenAPI"},
		{"GET", PathVersion, "Version"},
		{"GET", PathStatus, "Status"},
		{"GET", PathNamespaces, "ShowNamespace"},
		{"POST", PathNamespaces, "CreateNamespace"},
		{"DELETE", NamespacePath("ns1"), "DeleteNamespace"},
		{"GET", ClustersPath("ns1"), "ShowClusters"},
		{"POST", ClustersPath("ns1"), "CreateCluster"},
		{"GET", ClusterPath("ns1", "c"), "ShowCluster"},
		{"PATCH", ClusterPath("ns1", "c"), "UpdateCluster"},
		{"DELETE", ClusterPath("ns1", "c"), "DeleteCluster"},
		{"GET", ClusterTestPath("ns1", "c"), "TestCluster"},
		{"POST", ClusterScalePath("ns1", "c"), "ScaleCluster"},
		{"GET", ClusterReplicasPath("ns1", "c"), "ScaledownQuery"},
		{"DELETE", ClusterReplicaPath("ns1", "c", "c-abcd"), "ScaledownCluster"},
		{"GET", ClusterFailoverPath("ns1", "c"), "FailoverQuery"},
		{"POST", ClusterFailoverPath("ns1", "c"), "CreateFailover"},
		{"GET", ClusterRestartPath("ns1", "c"), "RestartQuery"},
		{"POST", ClusterRestartPath("ns1", "c"), "Restart"},
		{"GET", ClusterUsersPath("ns1", "c"), "ShowUser"},
		{"POST", ClusterUsersPath("ns1", "c"), "CreateUser"},
		{"PATCH", ClusterUserPath("ns1", "c", "u"), "UpdateUser"},
		{"DELETE", ClusterUserPath("ns1", "c", "u"), "DeleteUser"},
		{"GET", WorkflowPath("ns1", "abc"), "ShowWorkflow"},
		{"GET", PathPgousers, "ShowPgousers"},
		{"GET", PgouserPath("bob"), "ShowPgouser"},
		{"POST", PathPgousers, "CreatePgouser"},
		{"PATCH", PgouserPath("bob"), "UpdatePgouser"},
		{"DELETE", PgouserPath("bob"), "DeletePgouser"},
		{"GET", PathPgoroles, "ShowPgoroles"},
		{"GET", PgorolePath("r"), "ShowPgorole"},
		{"POST", PathPgoroles, "CreatePgorole"},
		{"PATCH", PgorolePath("r"), "UpdatePgorole"},
		{"DELETE", PgorolePath("r"), "DeletePgorole"},
	} {
		req, _ := http.NewRequest(tc.method, "https://x"+tc.path, nil)
		_, pattern := mux.Handler(req)
		if pattern == "" {
			t.Errorf("%s %s: no route", tc.method, tc.path)
			continue
		}
		var got string
		for _, r := range Routes {
			if r.Method+" "+r.Pattern == pattern {
				got = r.Operation
			}
		}
		if got != tc.op {
			t.Errorf("%s %s: route %s, want %s", tc.method, tc.path, got, tc.op)
		}
	}
}

func TestRoutesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Routes {
		if seen[r.Operation] {
			t.Errorf("operation %s twice", r.Operation)
		}
		seen[r.Operation] = true
		if r.Permission != "" && !KnownPermission(r.Permission) {
			t.Errorf("%s: unknown permission %s", r.Operation, r.Permission)
		}
		if r.Namespaced() != strings.Contains(r.Pattern, "{ns}") {
			t.Errorf("%s: Namespaced wrong", r.Operation)
		}
	}
}
