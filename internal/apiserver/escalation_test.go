package apiserver

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
)

// No pgo user gets further than its roles through the pgo users and roles:
// changing or deleting a pgo user needs every permission and namespace it
// holds, changing or deleting a pgo role every permission it grants and
// every namespace of its holders, and the last pgo user holding every
// permission in every namespace stays one.
func TestNoEscalationThroughPgoUsersAndRoles(t *testing.T) {
	h := newHarness(t, "ns1", "ns2")
	managers := []string{
		string(pgoapi.PermUpdatePgouser), string(pgoapi.PermDeletePgouser),
		string(pgoapi.PermUpdatePgorole), string(pgoapi.PermDeletePgorole), string(pgoapi.PermShow),
	}
	// ns1admin manages pgo users and roles, in ns1 only.
	h.pgouser("ns1admin", "ns1admin-password", managers, []string{"ns1"})
	// Users it may manage: a subset of what it has.
	h.pgouser("ns1viewer", "ns1viewer-password", []string{string(pgoapi.PermShow)}, []string{"ns1"})
	h.pgouser("ns1viewer2", "ns1viewer2-password", []string{string(pgoapi.PermShow)}, []string{"ns1"})
	// Users it may not: more permissions, or more namespaces.
	h.pgouser("creator", "creator-password", []string{string(pgoapi.PermCreate)}, []string{"ns1"})
	h.pgouser("wide", "wide-password", []string{string(pgoapi.PermShow)}, nil)
	h.pgouser("ns2viewer", "ns2viewer-password", []string{string(pgoapi.PermShow)}, []string{"ns2"})

	as := func(user, method, path string, body any) answer {
		return h.call(method, path, user, user+"-password", body)
	}
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		want         int
		says         string
	}{
		{"reset admin's password", "PATCH", pgoapi.PgouserPath(pgoapi.AdminUser), pgoapi.UpdatePgouserRequest{Password: ptr("taken-over-admin")}, 403, "every permission (*)"},
		{"delete admin", "DELETE", pgoapi.PgouserPath(pgoapi.AdminUser), nil, 403, "every permission (*)"},
		{"strip pgoadmin", "PATCH", pgoapi.PgorolePath(pgoapi.AdminRole), pgoapi.UpdatePgoroleRequest{Permissions: []string{string(pgoapi.PermShow)}}, 403, "every permission (*)"},
		{"delete pgoadmin", "DELETE", pgoapi.PgorolePath(pgoapi.AdminRole), nil, 403, "every permission (*)"},
		{"reset the password of a user with a permission it lacks", "PATCH", pgoapi.PgouserPath("creator"), pgoapi.UpdatePgouserRequest{Password: ptr("taken-over-creator")}, 403, "CreateCluster"},
		{"delete a user with a permission it lacks", "DELETE", pgoapi.PgouserPath("creator"), nil, 403, "CreateCluster"},
		{"reset the password of a user of every namespace", "PATCH", pgoapi.PgouserPath("wide"), pgoapi.UpdatePgouserRequest{Password: ptr("taken-over-wide")}, 403, "every namespace"},
		{"reset the password of a user of another namespace", "PATCH", pgoapi.PgouserPath("ns2viewer"), pgoapi.UpdatePgouserRequest{Password: ptr("taken-over-ns2")}, 403, "namespace ns2"},
		{"change a role whose holder works in every namespace", "PATCH", pgoapi.PgorolePath("wide-role"), pgoapi.UpdatePgoroleRequest{Permissions: []string{string(pgoapi.PermShow)}}, 403, "every namespace"},
		{"change a role whose holder works in another namespace", "PATCH", pgoapi.PgorolePath("ns2viewer-role"), pgoapi.UpdatePgoroleRequest{Permissions: []string{string(pgoapi.PermShow)}}, 403, "namespace ns2"},
		{"change a role that grants a permission it lacks", "PATCH", pgoapi.PgorolePath("creator-role"), pgoapi.UpdatePgoroleRequest{Permissions: []string{string(pgoapi.PermShow)}}, 403, "CreateCluster"},
		// What it holds, it may manage.
		{"reset the password of a user within its reach", "PATCH", pgoapi.PgouserPath("ns1viewer"), pgoapi.UpdatePgouserRequest{Password: ptr("new-viewer-password")}, 200, ""},
		{"change a role within its reach", "PATCH", pgoapi.PgorolePath("ns1viewer-role"), pgoapi.UpdatePgoroleRequest{Permissions: []string{string(pgoapi.PermShow), string(pgoapi.PermUpdatePgouser)}}, 200, ""},
		{"delete a user within its reach", "DELETE", pgoapi.PgouserPath("ns1viewer2"), nil, 200, ""},
	} {
		a := as("ns1admin", tc.method, tc.path, tc.body)
		if a.code != tc.want || (tc.says != "" && !strings.Contains(a.apiError(t).Message, tc.says)) {
			t.Errorf("ns1admin may %s? %d %s, want %d saying %q", tc.name, a.code, a.body, tc.want, tc.says)
		}
	}
	if a := as("ns1viewer", "GET", pgoapi.ClustersPath("ns1"), nil); a.code != http.StatusUnauthorized {
		t.Errorf("the old password of a user whose password was reset: %d", a.code)
	}

	// The last pgo user with every permission in every namespace stays one.
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
	}{
		{"take pgoadmin from admin", "PATCH", pgoapi.PgouserPath(pgoapi.AdminUser), pgoapi.UpdatePgouserRequest{Roles: &[]string{"wide-role"}}},
		{"limit admin to ns1", "PATCH", pgoapi.PgouserPath(pgoapi.AdminUser), pgoapi.UpdatePgouserRequest{Namespaces: &[]string{"ns1"}}},
		{"strip pgoadmin", "PATCH", pgoapi.PgorolePath(pgoapi.AdminRole), pgoapi.UpdatePgoroleRequest{Permissions: []string{string(pgoapi.PermShow)}}},
	} {
		if a := h.admin(tc.method, tc.path, tc.body); a.code != http.StatusConflict || !strings.Contains(a.apiError(t).Message, "every permission in every namespace") {
			t.Errorf("admin may %s, the last superuser? %d %s, want 409", tc.name, a.code, a.body)
		}
	}
	// With a second one, admin may go.
	h.pgouser("second", "second-password", []string{"*"}, nil)
	if a := as("second", "DELETE", pgoapi.PgouserPath(pgoapi.AdminUser), nil); a.code != http.StatusOK {
		t.Errorf("a superuser deleting admin while it remains one: %d %s", a.code, a.body)
	}
	if a := as("second", "PATCH", pgoapi.PgorolePath("second-role"), pgoapi.UpdatePgoroleRequest{Permissions: []string{string(pgoapi.PermShow)}}); a.code != http.StatusConflict {
		t.Errorf("the last superuser stripping its own role: %d %s, want 409", a.code, a.body)
	}
}

// Role options that reach beyond a user's own databases need
// CreateSuperuser, and the controller's parser checks every option.
func TestPrivilegedRoleOptionsNeedTheirPermission(t *testing.T) {
	h := newHarness(t, "ns1")
	h.mustAdmin("POST", pgoapi.ClustersPath("ns1"), pgoapi.CreateClusterRequest{Name: "hippo"}, http.StatusCreated, nil)
	h.pgouser("usermaker", "usermaker-password", []string{string(pgoapi.PermCreateUser), string(pgoapi.PermUpdateUser)}, []string{"ns1"})
	users := pgoapi.ClusterUsersPath("ns1", "hippo")
	as := func(method, path string, body any) answer {
		return h.call(method, path, "usermaker", "usermaker-password", body)
	}
	for _, options := range []string{"SUPERUSER", "REPLICATION", "BYPASSRLS", "CREATEROLE", "CREATEDB SUPERUSER"} {
		a := as("POST", users, pgoapi.CreateUserRequest{Username: "eve", Options: options})
		if a.code != http.StatusForbidden || !strings.Contains(a.apiError(t).Message, string(createSuperuser)) {
			t.Errorf("options %q without %s: %d %s, want 403", options, createSuperuser, a.code, a.body)
		}
	}
	for _, options := range []string{"CONNECTION LIMIT -5", "SUPERUSER;DROP", "superuser"} {
		if a := as("POST", users, pgoapi.CreateUserRequest{Username: "eve", Options: options}); a.code != http.StatusUnprocessableEntity {
			t.Errorf("options %q: %d %s, want 422", options, a.code, a.body)
		}
	}
	if a := as("POST", users, pgoapi.CreateUserRequest{Username: "carol", Options: "CREATEDB NOSUPERUSER CONNECTION LIMIT 5"}); a.code != http.StatusCreated {
		t.Errorf("ordinary options: %d %s", a.code, a.body)
	}
	if a := as("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "carol"), pgoapi.UpdateUserRequest{Options: ptr("SUPERUSER")}); a.code != http.StatusForbidden {
		t.Errorf("making a superuser by update: %d %s, want 403", a.code, a.body)
	}
	// The password of a superuser is a superuser's.
	h.mustAdmin("POST", users, pgoapi.CreateUserRequest{Username: "root2", Options: "SUPERUSER"}, http.StatusCreated, nil)
	if a := as("PATCH", pgoapi.ClusterUserPath("ns1", "hippo", "root2"), pgoapi.UpdateUserRequest{RotatePassword: true}); a.code != http.StatusForbidden {
		t.Errorf("rotating a superuser's password: %d %s, want 403", a.code, a.body)
	}
	h.setPermissions("usermaker", []string{string(pgoapi.PermCreateUser), string(pgoapi.PermUpdateUser), string(createSuperuser)})
	if a := as("POST", users, pgoapi.CreateUserRequest{Username: "eve", Options: "SUPERUSER"}); a.code != http.StatusCreated {
		t.Errorf("SUPERUSER with %s: %d %s", createSuperuser, a.code, a.body)
	}
}

// createSuperuser is pgoapi.PermCreateSuperuser, spelled out so that the
// test also runs against code from before the permission.
const createSuperuser = pgoapi.Permission("CreateSuperuser")

// No pgo user gets a cluster where pgo does not work, or one that runs an
// image or a PostgreSQL version the operator does not allow, even with
// every permission in every namespace: the operator's namespace and
// kube-* would hand the cluster's ServiceAccount and Role to whoever
// chose the image.
func TestNoClustersOutsideManagedNamespaces(t *testing.T) {
	h := newHarness(t, "ns1")
	for _, ns := range []string{"kube-system", "unlabelled"} {
		if ns != "kube-system" {
			h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		}
	}
	h.srv.Config.AllowedImages = []string{"registry.example.com/postgres:15-*"}
	cluster := func(name string, change func(*pgoapi.CreateClusterRequest)) pgoapi.CreateClusterRequest {
		req := pgoapi.CreateClusterRequest{Name: name}
		if change != nil {
			change(&req)
		}
		return req
	}
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		want         int
		says         string
	}{
		{"a cluster in kube-system", "POST", pgoapi.ClustersPath("kube-system"), cluster("a", nil), 403, "belongs to Kubernetes"},
		{"a cluster in the operator's namespace", "POST", pgoapi.ClustersPath(operatorNS), cluster("a", nil), 403, "operator's own namespace"},
		{"a cluster in a namespace pgo does not work in", "POST", pgoapi.ClustersPath("unlabelled"), cluster("a", nil), 403, "pgo create namespace"},
		{"a cluster in a namespace that does not exist", "POST", pgoapi.ClustersPath("ghost"), cluster("a", nil), 404, "does not exist"},
		{"a cluster with an image the operator does not allow", "POST", pgoapi.ClustersPath("ns1"), cluster("a", func(r *pgoapi.CreateClusterRequest) { r.Image = "evil.example.com/miner:1" }), 422, "not one this operator allows"},
		{"a cluster of a version the operator has no image for", "POST", pgoapi.ClustersPath("ns1"), cluster("a", func(r *pgoapi.CreateClusterRequest) { r.PostgresVersion = 16 }), 422, "PostgreSQL 16 is not available"},
		{"the namespace kube-mine", "POST", pgoapi.PathNamespaces, pgoapi.CreateNamespaceRequest{Name: "kube-mine"}, 403, "belongs to Kubernetes"},
		// What the operator allows, it creates.
		{"a cluster with an allowed image", "POST", pgoapi.ClustersPath("ns1"), cluster("b", func(r *pgoapi.CreateClusterRequest) { r.Image = "registry.example.com/postgres:15-3" }), 201, ""},
		{"a cluster of the default version", "POST", pgoapi.ClustersPath("ns1"), cluster("c", nil), 201, ""},
	} {
		a := h.admin(tc.method, tc.path, tc.body)
		if a.code != tc.want || (tc.says != "" && !strings.Contains(string(a.body), tc.says)) {
			t.Errorf("admin may create %s? %d %s, want %d saying %q", tc.name, a.code, a.body, tc.want, tc.says)
		}
	}
	var clusters pgov1.PGClusterList
	if err := h.c.List(context.Background(), &clusters); err != nil {
		t.Fatal(err)
	}
	if len(clusters.Items) != 2 {
		t.Errorf("%d clusters exist, want the 2 allowed", len(clusters.Items))
	}
}
