package instance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/instanceapi"
)

// patroniGolden is what hack/patroni-golden recorded from live Patroni
// 3.0.2 members: by state, by path, the codes for each method.
type patroniGolden struct {
	Patroni string   `json:"patroni"`
	Methods []string `json:"methods"`
	States  map[string]struct {
		Description string           `json:"description"`
		Patroni     map[string]any   `json:"patroni"`
		Codes       map[string][]int `json:"codes"`
	} `json:"states"`
}

// healthStates are pgo's members in the states that the golden data
// recorded Patroni's in (the descriptions say how each was made). The tags
// come from what Patroni reported.
var healthStates = map[string]instanceapi.Health{
	"leader":                  {Leader: true, Role: ha.RolePrimary, Running: true, ClusterKnown: true},
	"replica":                 {Role: ha.RoleReplica, Running: true, Streaming: true, ClusterKnown: true},
	"replica-lagging":         {Role: ha.RoleReplica, Running: true, Streaming: true, ClusterKnown: true, LeaderOptime: 100 << 20, Replayed: 92 << 20},
	"replica-noloadbalance":   {Role: ha.RoleReplica, Running: true, Streaming: true, ClusterKnown: true},
	"leader-synchronous-mode": {Leader: true, Role: ha.RolePrimary, Running: true, ClusterKnown: true},
	"sync-standby":            {Role: ha.RoleReplica, Running: true, Streaming: true, ClusterKnown: true, SyncStandby: true},
	"async-standby":           {Role: ha.RoleReplica, Running: true, Streaming: true, ClusterKnown: true},
	"leader-paused":           {Leader: true, Role: ha.RolePrimary, Running: true, ClusterKnown: true, Paused: true},
	"replica-paused":          {Role: ha.RoleReplica, Running: true, Streaming: true, ClusterKnown: true, Paused: true},
	"replica-stopped":         {Role: ha.RoleReplica, ClusterKnown: true, Paused: true},
	// Patroni releases the lock of a paused leader whose PostgreSQL
	// stopped (pgo keeps it: decideLeader renews while paused).
	"leader-stopped-paused": {Role: ha.RolePrimary, ClusterKnown: true, Paused: true},
	"replica-not-streaming": {Role: ha.RoleReplica, Running: true, ClusterKnown: true, Paused: true},
	"leader-crashed":        {Leader: true, Role: ha.RolePrimary, ClusterKnown: true},
	"replica-starting":      {Role: ha.RoleReplica, ClusterKnown: true},
	"standby-leader":        {Leader: true, Role: ha.RoleStandbyLeader, Running: true, Streaming: true, ClusterKnown: true, StandbyCluster: true},
}

// healthDeviations are where pgo answers differently from Patroni 3.0.2 on
// purpose: none on /, /primary, /master, /leader, /replica, /read-only and
// /health. A key is "METHOD PATH"; the value is pgo's code and why.
var healthDeviations = map[string]struct {
	code int
	why  string
}{
	"HEAD /readiness":    {0, "Patroni's router sends HEAD and OPTIONS to its role checks, which know no /readiness and answer 503 whatever the state; pgo answers them as GET"},
	"OPTIONS /readiness": {0, "as HEAD /readiness"},
	"HEAD /liveness":     {0, "as HEAD /readiness"},
	"OPTIONS /liveness":  {0, "as HEAD /readiness"},
}

// The health checks answer GET, HEAD and OPTIONS with Patroni's codes in
// every state that live Patroni members were probed in.
func TestHealthChecksAnswerAsPatroni(t *testing.T) {
	b, err := os.ReadFile("../instanceapi/testdata/patroni-3.0.2.json")
	if err != nil {
		t.Fatal(err)
	}
	var g patroniGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Methods, []string{http.MethodGet, http.MethodHead, http.MethodOptions}) {
		t.Fatalf("the golden data has methods %v", g.Methods)
	}
	for name := range healthStates {
		if _, ok := g.States[name]; !ok {
			t.Errorf("the golden data has no state %s: run make golden-patroni", name)
		}
	}
	rows := 0
	for name, st := range g.States {
		h, ok := healthStates[name]
		if !ok {
			t.Errorf("Patroni was probed as %s (%s), and pgo has no such state here", name, st.Description)
			continue
		}
		h.Tags = map[string]string{}
		if tags, ok := st.Patroni["tags"].(map[string]any); ok {
			for k, v := range tags {
				h.Tags[k] = strings.ToLower(fmt.Sprint(v))
			}
		}
		h.Live = true
		handler := newHealthMux(func() (instanceapi.Health, Status) { return h, Status{Name: name} })
		for _, path := range sortedKeys(st.Codes) {
			for i, method := range g.Methods {
				want := st.Codes[path][i]
				bare, _, _ := strings.Cut(path, "?")
				if d, ok := healthDeviations[method+" "+bare]; ok {
					want = d.code
					if want == 0 {
						want = st.Codes[path][0]
					}
				}
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
				rows++
				if rec.Code != want {
					t.Errorf("%s: %s %s = %d, want %d (Patroni %s: %d)", name, method, path, rec.Code, want, g.Patroni, st.Codes[path][i])
				}
				if method == http.MethodGet && rec.Body.Len() == 0 {
					t.Errorf("%s: GET %s has no body", name, path)
				}
				if method != http.MethodGet && rec.Body.Len() != 0 {
					t.Errorf("%s: %s %s has a body", name, method, path)
				}
			}
		}
	}
	t.Logf("%d states, %d answers compared with Patroni %s", len(g.States), rows, g.Patroni)
}

// Deviations are allowed only off the paths that load balancers check.
func TestHealthDeviationsSpareTheLoadBalancerPaths(t *testing.T) {
	for key := range healthDeviations {
		_, path, _ := strings.Cut(key, " ")
		switch path {
		case "/", "/primary", "/master", "/leader", "/replica", "/read-only", "/health":
			t.Errorf("%s deviates from Patroni", key)
		}
	}
}

// What Patroni 3.0.2 does not have, and what the health checks refuse.
func TestHealthCheckBeyondPatroni(t *testing.T) {
	replica := instanceapi.Health{Role: ha.RoleReplica, Running: true, ClusterKnown: true, Live: true}
	notStreaming := replica
	replica.Streaming = true
	primaryWithoutLock := instanceapi.Health{Role: ha.RolePrimary, Running: true, ClusterKnown: true, Live: true}
	for _, tc := range []struct {
		h            instanceapi.Health
		method, path string
		want         int
	}{
		{replica, http.MethodGet, "/replica?replication_state=streaming", 200},
		{notStreaming, http.MethodGet, "/replica?replication_state=streaming", 503},
		{notStreaming, http.MethodGet, "/replica", 200},
		{replica, http.MethodGet, "/replica?replication_state=in%20archive%20recovery", 503},
		// A primary that lost its lock takes no writes through the Service.
		{primaryWithoutLock, http.MethodGet, "/readiness", 503},
		{primaryWithoutLock, http.MethodGet, "/primary", 503},
		// Without a view of the cluster a replica is not ready.
		{instanceapi.Health{Role: ha.RoleReplica, Running: true}, http.MethodGet, "/readiness", 503},
		{replica, http.MethodPost, "/replica", 405},
		{replica, http.MethodGet, "/nonsense", 404},
		{replica, http.MethodGet, "/replica?lag=junk", 200},
	} {
		handler := newHealthMux(func() (instanceapi.Health, Status) { return tc.h, Status{} })
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("%+v: %s %s = %d, want %d", tc.h, tc.method, tc.path, rec.Code, tc.want)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
