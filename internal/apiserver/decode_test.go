package apiserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

func TestDecodeRefusesBadBodies(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       int
		contains   string
	}{
		{"empty", "", http.StatusBadRequest, "the body is empty"},
		{"blank", "  \n", http.StatusBadRequest, "the body is empty"},
		{"not JSON", "name=hippo", http.StatusBadRequest, "not valid JSON"},
		{"truncated", `{"name": "hippo"`, http.StatusBadRequest, "truncated"},
		{"unknown field", `{"name": "hippo", "replicas": 2}`, http.StatusBadRequest, `unknown field "replicas"; the fields are`},
		{"wrong type", `{"name": "hippo", "replicaCount": "two"}`, http.StatusBadRequest, "field replicaCount must be a whole number, not a JSON string"},
		{"wrong type in list", `{"name": "hippo", "tolerations": [1]}`, http.StatusBadRequest, "must be a string"},
		{"array", `["hippo"]`, http.StatusBadRequest, "must be a JSON object"},
		{"two values", `{"name": "a"} {"name": "b"}`, http.StatusBadRequest, "more than one JSON value"},
		{"number too big", `{"name": "a", "replicaCount": 99999999999}`, http.StatusBadRequest, "replicaCount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req pgoapi.CreateClusterRequest
			err := decodeBytes([]byte(tc.body), &req)
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want an apiError", err)
			}
			if ae.code != tc.code || !strings.Contains(ae.message, tc.contains) {
				t.Errorf("got %d %q, want %d containing %q", ae.code, ae.message, tc.code, tc.contains)
			}
		})
	}
}

func TestDecodeAcceptsAGoodBody(t *testing.T) {
	var req pgoapi.CreateClusterRequest
	if err := decodeBytes([]byte(`{"name": "hippo", "replicaCount": 1, "metrics": true, "labels": {"team": "db"}}`+"\n"), &req); err != nil {
		t.Fatal(err)
	}
	if req.Name != "hippo" || req.ReplicaCount != 1 || !req.Metrics || req.Labels["team"] != "db" {
		t.Errorf("decoded %+v", req)
	}
}

// FuzzDecodeCreateCluster feeds arbitrary bodies to the decoding and the
// building of a cluster: they never panic, refuse with a 4xx that says what
// is wrong, and what they accept is a cluster the CRD's rules accept too.
func FuzzDecodeCreateCluster(f *testing.F) {
	for _, seed := range []string{
		`{"name": "hippo"}`,
		`{"name": "hippo", "replicaCount": 2, "cpu": "500m", "memory": "1Gi", "cpuLimit": "1", "memoryLimit": "2Gi", "pvcSize": "5Gi"}`,
		`{"name": "hippo", "pgBackRestStorageType": "posix,s3", "pgBackRestS3Bucket": "b1b", "pgBackRestS3Endpoint": "s3.local:9000", "pgBackRestS3Region": "us-east-1", "pgBackRestS3Key": "k", "pgBackRestS3KeySecret": "s"}`,
		`{"name": "hippo", "restoreFrom": "other", "restoreOpts": "--type=time --target='2026-11-27 11:59:59+00' --repo=2 --set=x"}`,
		`{"name": "hippo", "tolerations": ["zone=east:NoSchedule", "ssd:NoExecute"], "nodeLabel": "zone=east", "nodeAffinityType": "required"}`,
		`{"name": "Hippo!", "pvcSize": "-1"}`,
		`{"name": "h", "labels": {"pgo.dev/x": "y"}}`,
		`[]`, `{`, `null`, `{"name": null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req pgoapi.CreateClusterRequest
		err := decodeBytes(body, &req)
		if err == nil {
			var nc newCluster
			nc, err = clusterFromRequest("ns1", req, nil, nil)
			if err == nil {
				checkBuiltCluster(t, req, nc)
				return
			}
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			t.Fatalf("error %v is not an apiError", err)
		}
		if ae.code < 400 || ae.code > 499 || ae.message == "" {
			t.Fatalf("refused with %d %q, want a 4xx with a message", ae.code, ae.message)
		}
		if ae.code == http.StatusUnprocessableEntity && len(ae.fields) == 0 {
			t.Fatalf("422 without the fields at fault: %q", ae.message)
		}
	})
}

// checkBuiltCluster checks what the CRD would check of an accepted request.
func checkBuiltCluster(t *testing.T, req pgoapi.CreateClusterRequest, nc newCluster) {
	t.Helper()
	c := nc.Cluster
	if !dns1035.MatchString(c.Name) || len(c.Name) > 40 {
		t.Fatalf("accepted cluster name %q", c.Name)
	}
	if c.Spec.PrimaryStorage.Size.Sign() <= 0 {
		t.Fatalf("accepted size %s", c.Spec.PrimaryStorage.Size.String())
	}
	if c.Spec.Replicas < 0 || c.Spec.Replicas > 32 {
		t.Fatalf("accepted %d replicas", c.Spec.Replicas)
	}
	for name, q := range c.Spec.Resources.Requests {
		if l, ok := c.Spec.Resources.Limits[name]; ok && l.Cmp(q) < 0 {
			t.Fatalf("accepted %s limit %s under request %s", name, l.String(), q.String())
		}
	}
	for k := range c.Labels {
		if strings.HasPrefix(k, "pgo.dev/") {
			t.Fatalf("accepted label %s", k)
		}
	}
	if rules.RoleName(string(c.Spec.User)) != "" {
		t.Fatalf("accepted user %q", c.Spec.User)
	}
	if _, err := json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	if req.PVCSize != "" {
		if _, err := resource.ParseQuantity(req.PVCSize); err != nil {
			t.Fatalf("accepted pvcSize %q", req.PVCSize)
		}
	}
}
