package apiserver

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
)

// The apiserver reads a request as pgo reads its flags and as the CRD
// reads the spec it writes (all three hold to internal/rules). Each case
// here was once read differently on one of the sides.
func TestClusterRequestReadAsTheCLIAndTheCRDReadIt(t *testing.T) {
	// pgo's tokeniser: a backslash escapes a blank.
	nc, err := clusterFromRequest("ns1", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: `--type=name --target='a b' --set=x\ y`}, nil, nil)
	if err != nil {
		t.Errorf("restore options with a backslash: %v", err)
	} else if ds := nc.Cluster.Spec.DataSource; !slices.Equal(ds.Options, pgov1.PgBackRestOptions{"--set=x y"}) || ds.Target == nil || ds.Target.Value != "a b" {
		t.Errorf("restore options with a backslash: %+v", ds)
	}

	custom := func(data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: data}
	}
	for _, tc := range []struct {
		name   string
		req    pgoapi.CreateClusterRequest
		custom *corev1.ConfigMap
		field  string
		phrase string
	}{
		{"password of 200 characters", pgoapi.CreateClusterRequest{Name: "a", Password: strings.Repeat("p", 200)}, nil, "password", "give at most 128"},
		{"password of 5 characters", pgoapi.CreateClusterRequest{Name: "a", Password: "short"}, nil, "password", "shorter than 8"},
		{"xid target", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: "--type=xid --target=abc"}, nil, "restoreOpts", "not a transaction number"},
		{"restore option too long", pgoapi.CreateClusterRequest{Name: "a", RestoreFrom: "b", RestoreOpts: "--set=" + strings.Repeat("x", 300)}, nil, "restoreOpts", "at most 256"},
		{"parameter value too long", pgoapi.CreateClusterRequest{Name: "a", CustomConfig: "c"}, custom(map[string]string{"work_mem": strings.Repeat("1", 5000)}), "customConfig", "at most 4096"},
		{"pg_hba rule too long", pgoapi.CreateClusterRequest{Name: "a", CustomConfig: "c"}, custom(map[string]string{"pg_hba.conf": "hostssl all all 0.0.0.0/0 scram-sha-256 " + strings.Repeat("x", 500)}), "customConfig", "at most 512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clusterFromRequest("ns1", tc.req, tc.custom, nil)
			wantFieldError(t, err, tc.field, tc.phrase)
		})
	}
}

// Users: the same limits as pgo's flags and the CRD's markers.
func TestUserRequestReadAsTheCLIAndTheCRDReadIt(t *testing.T) {
	h := newHarness(t, "agree")
	h.mustAdmin("POST", pgoapi.ClustersPath("agree"), pgoapi.CreateClusterRequest{Name: "hippo"}, http.StatusCreated, nil)
	users := pgoapi.ClusterUsersPath("agree", "hippo")
	for _, tc := range []struct {
		name   string
		req    pgoapi.CreateUserRequest
		phrase string
	}{
		{"generated password of 200 characters", pgoapi.CreateUserRequest{Username: "u1", PasswordLength: 200}, "give 8 to 128"},
		{"password of 200 characters", pgoapi.CreateUserRequest{Username: "u2", Password: strings.Repeat("p", 200)}, "give at most 128"},
		{"password of 5 characters", pgoapi.CreateUserRequest{Username: "u3", Password: "short"}, "shorter than 8"},
		{"options with two spaces", pgoapi.CreateUserRequest{Username: "u4", Options: "CREATEDB  NOINHERIT"}, "single spaces"},
	} {
		a := h.admin("POST", users, tc.req)
		if a.code != http.StatusUnprocessableEntity || !strings.Contains(string(a.body), tc.phrase) {
			t.Errorf("%s: %d %s, want a 422 saying %q", tc.name, a.code, a.body, tc.phrase)
		}
	}
}
