package apiserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
)

// matrixCase is how the authorisation matrix calls one route, and what a
// user who holds the permission gets.
type matrixCase struct {
	path string
	body any
	want int
}

// TestAuthorizationMatrix calls every route: without credentials and with
// wrong ones (401 with a challenge), as a user whose roles grant every
// permission but the route's (403), as a user who may access every
// namespace but ns1 (403), and as a user whose only permission is the
// route's (success).
func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t, "ns1", "ns2")
	ctx := context.Background()

	// Fixtures: cluster hippo in ns1, as if the controller ran it with a
	// primary and two replicas.
	var created pgoapi.CreateClusterResponse
	h.mustAdmin("POST", pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "hippo", ReplicaCount: 2}, http.StatusCreated, &created)
	hippo := &pgov1.PGCluster{}
	if err := h.c.Get(ctx, objectKey("ns1", "hippo"), hippo); err != nil {
		t.Fatal(err)
	}
	hippo.Status = pgov1.PGClusterStatus{Phase: pgov1.PhaseReady, Primary: "hippo-aaaa", Replicas: 2, ReadyInstances: 3,
		Instances: []pgov1.PGInstanceStatus{
			{Name: "hippo-aaaa", Role: pgov1.RolePrimary, Ready: true, Node: "node-1", Timeline: 1},
			{Name: "hippo-bbbb", Role: pgov1.RoleReplica, Ready: true, Node: "node-2", Timeline: 1, LagBytes: new(int64)},
			{Name: "hippo-cccc", Role: pgov1.RoleReplica, Ready: true, Node: "node-3", Timeline: 1, LagBytes: new(int64)},
		}}
	if err := h.c.Status().Update(ctx, hippo); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hippo-bbbb", "hippo-cccc"} {
		h.create(&pgov1.PGReplica{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1"}, Spec: pgov1.PGReplicaSpec{ClusterName: "hippo"}})
	}

	h.pgouser("limited", "limited-password", nil, nil)
	h.create(pgoroleSecret(operatorNS, "updatable", []string{"UpdatePgorole"}))
	h.create(pgoroleSecret(operatorNS, "deletable", []string{"DeletePgorole"}))
	h.pgouser("elsewhere", "elsewhere-password", []string{"*"}, []string{"ns2"})

	cases := map[string]matrixCase{
		"Version":          {pgoapi.PathVersion, nil, http.StatusOK},
		"Status":           {pgoapi.PathStatus, nil, http.StatusOK},
		"ShowNamespace":    {pgoapi.PathNamespaces, nil, http.StatusOK},
		"CreateNamespace":  {pgoapi.PathNamespaces, pgoapi.CreateNamespaceRequest{Name: "ns3"}, http.StatusCreated},
		"DeleteNamespace":  {pgoapi.NamespacePath("ns3"), nil, http.StatusOK},
		"ShowClusters":     {pgoapi.ClustersPath("ns1"), nil, http.StatusOK},
		"CreateCluster":    {pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "zebra"}, http.StatusCreated},
		"ShowCluster":      {pgoapi.ClusterPath("ns1", "hippo"), nil, http.StatusOK},
		"UpdateCluster":    {pgoapi.ClusterPath("ns1", "hippo"), pgoapi.UpdateClusterRequest{Memory: ptr("256Mi")}, http.StatusOK},
		"DeleteCluster":    {pgoapi.ClusterPath("ns1", "zebra"), nil, http.StatusOK},
		"TestCluster":      {pgoapi.ClusterTestPath("ns1", "hippo"), nil, http.StatusOK},
		"ScaleCluster":     {pgoapi.ClusterScalePath("ns1", "hippo"), pgoapi.ScaleClusterRequest{ReplicaCount: 1}, http.StatusOK},
		"ScaledownQuery":   {pgoapi.ClusterReplicasPath("ns1", "hippo"), nil, http.StatusOK},
		"ScaledownCluster": {pgoapi.ClusterReplicaPath("ns1", "hippo", "hippo-cccc"), nil, http.StatusOK},
		"FailoverQuery":    {pgoapi.ClusterFailoverPath("ns1", "hippo"), nil, http.StatusOK},
		// A switchover task is created; no task engine runs here.
		"CreateFailover": {pgoapi.ClusterFailoverPath("ns1", "hippo"), pgoapi.FailoverRequest{Target: "hippo-bbbb"}, http.StatusOK},
		"RestartQuery":   {pgoapi.ClusterRestartPath("ns1", "hippo"), nil, http.StatusOK},
		"Restart":        {pgoapi.ClusterRestartPath("ns1", "hippo"), pgoapi.RestartRequest{Targets: []string{"hippo-bbbb"}}, http.StatusOK},
		"CreateBackup":   {pgoapi.BackupsPath("ns1", "hippo"), pgoapi.CreateBackupRequest{BackupOpts: "--type=incr"}, http.StatusCreated},
		// No repository host runs here: past the authorisation, the
		// answer is that it does not answer yet.
		"ShowBackup":   {pgoapi.BackupsPath("ns1", "hippo"), nil, http.StatusServiceUnavailable},
		"DeleteBackup": {pgoapi.BackupPath("ns1", "hippo", "20261207-010203F"), nil, http.StatusServiceUnavailable},
		"ShowUser":     {pgoapi.ClusterUsersPath("ns1", "hippo"), nil, http.StatusOK},
		"CreateUser":   {pgoapi.ClusterUsersPath("ns1", "hippo"), pgoapi.CreateUserRequest{Username: "alice"}, http.StatusCreated},
		"UpdateUser":   {pgoapi.ClusterUserPath("ns1", "hippo", "alice"), pgoapi.UpdateUserRequest{RotatePassword: true}, http.StatusOK},
		"DeleteUser":   {pgoapi.ClusterUserPath("ns1", "hippo", "alice"), nil, http.StatusOK},
		"ShowWorkflow": {pgoapi.WorkflowPath("ns1", created.WorkflowID), nil, http.StatusOK},
		"ShowPgousers": {pgoapi.PathPgousers, nil, http.StatusOK},
		"ShowPgouser":  {pgoapi.PgouserPath("admin"), nil, http.StatusOK},
		"CreatePgouser": {pgoapi.PathPgousers, pgoapi.CreatePgouserRequest{Name: "bob", Password: "bob-password",
			Roles: []string{"limited-role"}, AllNamespaces: true}, http.StatusCreated},
		"UpdatePgouser": {pgoapi.PgouserPath("bob"), pgoapi.UpdatePgouserRequest{Password: ptr("new-bob-password")}, http.StatusOK},
		"DeletePgouser": {pgoapi.PgouserPath("bob"), nil, http.StatusOK},
		"ShowPgoroles":  {pgoapi.PathPgoroles, nil, http.StatusOK},
		"ShowPgorole":   {pgoapi.PgorolePath("pgoadmin"), nil, http.StatusOK},
		"CreatePgorole": {pgoapi.PathPgoroles, pgoapi.CreatePgoroleRequest{Name: "viewer", Permissions: []string{"CreatePgorole"}}, http.StatusCreated},
		// A role is changed or deleted only by a user who holds what it
		// grants (TestNoEscalationThroughPgoUsersAndRoles).
		"UpdatePgorole": {pgoapi.PgorolePath("updatable"), pgoapi.UpdatePgoroleRequest{Permissions: []string{"UpdatePgorole"}}, http.StatusOK},
		"DeletePgorole": {pgoapi.PgorolePath("deletable"), nil, http.StatusOK},
	}

	for _, route := range pgoapi.Routes {
		if route.Permission == "" {
			a := h.call(route.Method, route.Pattern, "", "", nil)
			if a.code != http.StatusOK {
				t.Errorf("%s needs no credentials, but answered %d %s", route.Operation, a.code, a.body)
			}
			continue
		}
		tc, ok := cases[route.Operation]
		if !ok {
			t.Errorf("route %s has no case in the authorisation matrix", route.Operation)
			continue
		}
		t.Run(route.Operation, func(t *testing.T) {
			h.t = t
			// Four wrong logins per route: more than the login limits
			// allow (TestFailedLoginsAreLimited).
			h.srv.logins.forgetAll()
			for _, who := range []struct{ user, password, what string }{
				{"", "", "no credentials"},
				{pgoapi.AdminUser, "wrong-password", "a wrong password"},
				{"nobody", "whatever-password", "an unknown user"},
				{"Admin", h.adminPassword, "a malformed user name"},
			} {
				a := h.call(route.Method, tc.path, who.user, who.password, tc.body)
				if a.code != http.StatusUnauthorized || a.header.Get(pgoapi.HeaderAuthenticate) != pgoapi.AuthenticateChallenge {
					t.Errorf("with %s: %d (challenge %q) %s, want 401 with a challenge", who.what, a.code, a.header.Get(pgoapi.HeaderAuthenticate), a.body)
				}
				if e := a.apiError(t); e.Reason != pgoapi.ReasonUnauthorized {
					t.Errorf("with %s: reason %q", who.what, e.Reason)
				}
			}

			var others []string
			for _, p := range pgoapi.Permissions {
				if p != route.Permission {
					others = append(others, string(p))
				}
			}
			h.setPermissions("limited", others)
			a := h.call(route.Method, tc.path, "limited", "limited-password", tc.body)
			if a.code != http.StatusForbidden || !strings.Contains(a.apiError(t).Message, string(route.Permission)) {
				t.Errorf("without %s: %d %s, want 403 naming it", route.Permission, a.code, a.body)
			}

			if route.Namespaced() {
				a := h.call(route.Method, tc.path, "elsewhere", "elsewhere-password", tc.body)
				if a.code != http.StatusForbidden || !strings.Contains(a.apiError(t).Message, "may not access namespace ns") {
					t.Errorf("outside the user's namespaces: %d %s, want 403", a.code, a.body)
				}
			}

			h.setPermissions("limited", []string{string(route.Permission)})
			a = h.call(route.Method, tc.path, "limited", "limited-password", tc.body)
			if a.code != tc.want {
				t.Errorf("with %s only: %d %s, want %d", route.Permission, a.code, a.body, tc.want)
			}
		})
	}
	h.t = t

	// Namespaces outside the user's are refused where they come from the
	// body or the query, and left out of lists.
	a := h.call("POST", pgoapi.PathNamespaces, "elsewhere", "elsewhere-password", pgoapi.CreateNamespaceRequest{Name: "ns4"})
	if a.code != http.StatusForbidden {
		t.Errorf("creating a namespace outside the user's: %d %s", a.code, a.body)
	}
	a = h.call("GET", pgoapi.PathStatus+"?"+url.Values{pgoapi.QueryNamespace: {"ns1"}}.Encode(), "elsewhere", "elsewhere-password", nil)
	if a.code != http.StatusForbidden {
		t.Errorf("status of a namespace outside the user's: %d %s", a.code, a.body)
	}
	var nss pgoapi.ShowNamespaceResponse
	a = h.call("GET", pgoapi.PathNamespaces, "elsewhere", "elsewhere-password", nil)
	a.decode(t, &nss)
	if len(nss.Namespaces) != 1 || nss.Namespaces[0].Name != "ns2" || !nss.Namespaces[0].Watched {
		t.Errorf("namespaces of a user limited to ns2: %+v", nss)
	}
	// Showing passwords needs ShowSecrets besides ShowUser.
	h.setPermissions("limited", []string{string(pgoapi.PermShowUser)})
	if a := h.call("GET", pgoapi.ClusterUsersPath("ns1", "hippo")+"?showPassword=true", "limited", "limited-password", nil); a.code != http.StatusForbidden {
		t.Errorf("passwords without ShowSecrets: %d %s", a.code, a.body)
	}
	h.setPermissions("limited", []string{string(pgoapi.PermShowUser), string(pgoapi.PermShowSecrets)})
	var users pgoapi.ShowUserResponse
	a = h.call("GET", pgoapi.ClusterUsersPath("ns1", "hippo")+"?showPassword=true", "limited", "limited-password", nil)
	a.decode(t, &users)
	if len(users.Users) != 1 || users.Users[0].Password != created.Password || !users.Users[0].Owner {
		t.Errorf("users with passwords: %+v", users)
	}
}

func ptr[T any](v T) *T { return &v }

// CreateSuperuser is a permission a pgo role may grant.
func TestCreateSuperuserIsAPermission(t *testing.T) {
	if createSuperuser != pgoapi.PermCreateSuperuser || !pgoapi.KnownPermission(createSuperuser) {
		t.Errorf("%s is not a known permission", createSuperuser)
	}
}
