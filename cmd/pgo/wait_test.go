package main

import (
	"net/http"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

func TestWaitConditions(t *testing.T) {
	ready := clusterProgress{phase: "Ready", ready: 2, total: 2, desired: 2, primary: "a", current: true}
	tests := []struct {
		name string
		cond waitCondition
		p    clusterProgress
		want bool
	}{
		{"ready", untilReady, ready, true},
		{"stale status", untilReady, with(ready, func(p *clusterProgress) { p.current = false }), false},
		{"replica missing", untilReady, with(ready, func(p *clusterProgress) { p.desired = 3 }), false},
		{"replica not ready", untilReady, with(ready, func(p *clusterProgress) { p.ready = 1 }), false},
		{"updating", untilReady, with(ready, func(p *clusterProgress) { p.phase = "Updating" }), false},
		{"extra instance still there", untilReady, with(ready, func(p *clusterProgress) { p.total = 3 }), false},
		{"shut down", untilShutdown, clusterProgress{phase: "Shutdown", current: true}, true},
		{"shutting down", untilShutdown, clusterProgress{phase: "Shutdown", ready: 1, current: true}, false},
		{"target primary", untilPrimary("b", ""), with(ready, func(p *clusterProgress) { p.primary = "b" }), true},
		{"target not yet primary", untilPrimary("b", ""), ready, false},
		{"any new primary", untilPrimary("", "a"), with(ready, func(p *clusterProgress) { p.primary = "c" }), true},
		{"old primary still", untilPrimary("", "a"), ready, false},
	}
	for _, tt := range tests {
		got, err := tt.cond(tt.p)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func with(p clusterProgress, f func(*clusterProgress)) clusterProgress {
	f(&p)
	return p
}

// TestWaitTimeout: --wait gives up after --wait-timeout with the last state.
func TestWaitTimeout(t *testing.T) {
	api := newFakeAPI(t)
	api.on(http.MethodPost, pgoapi.ClusterScalePath(testNS, "hacluster"), http.StatusOK, "scale.json")
	api.on(http.MethodGet, pgoapi.ClusterPath(testNS, "hacluster"), http.StatusOK, "cluster_updating.json")
	res := run(api.env(), t.TempDir(), "", "scale", "hacluster", "--wait", "--wait-timeout=100ms")
	want := "cluster hacluster is not done after 100ms (Updating, 1 of 2 instances ready, primary hacluster-x7k2)"
	if res.err == nil || !strings.Contains(res.err.Error(), want) {
		t.Fatalf("error = %v, want %q", res.err, want)
	}
	if strings.Count(res.stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want one progress line: the state never changed", res.stderr)
	}
}

// TestWaitRetries: an apiserver that fails for a moment does not end the
// wait; a client error does.
func TestWaitRetries(t *testing.T) {
	api := newFakeAPI(t)
	api.on(http.MethodPost, pgoapi.ClusterScalePath(testNS, "hacluster"), http.StatusOK, "scale.json")
	api.on(http.MethodGet, pgoapi.ClusterPath(testNS, "hacluster"), http.StatusServiceUnavailable, "error_unavailable.json")
	api.on(http.MethodGet, pgoapi.ClusterPath(testNS, "hacluster"), http.StatusOK, "cluster_hacluster.json")
	res := run(api.env(), t.TempDir(), "", "scale", "hacluster", "--wait")
	if res.err != nil {
		t.Fatalf("error = %v", res.err)
	}
	if !strings.Contains(res.stderr, "the apiserver is restarting (retrying)") || !strings.Contains(res.stderr, "hacluster: Ready") {
		t.Errorf("stderr = %q", res.stderr)
	}

	api = newFakeAPI(t)
	api.on(http.MethodPost, pgoapi.ClusterScalePath(testNS, "hacluster"), http.StatusOK, "scale.json")
	api.on(http.MethodGet, pgoapi.ClusterPath(testNS, "hacluster"), http.StatusNotFound, "error_notfound.json")
	res = run(api.env(), t.TempDir(), "", "scale", "hacluster", "--wait", "--wait-timeout=10s")
	if res.err == nil || !strings.Contains(res.err.Error(), "waiting for cluster hacluster: cluster nocluster does not exist") {
		t.Errorf("error = %v", res.err)
	}
}
