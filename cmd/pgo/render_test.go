package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
)

// The renderers are pure: an answer in, text out. These cases are the ones
// the golden files do not show.

func TestRenderEmpty(t *testing.T) {
	tests := []struct {
		name   string
		render func(io.Writer) error
		want   string
	}{
		{"clusters", func(w io.Writer) error { return renderClusters(w, pgoapi.ShowClusterResponse{}) }, "no clusters found\n"},
		{"users", func(w io.Writer) error { return renderUsers(w, pgoapi.ShowUserResponse{}) }, "no users found\n"},
		{"pgousers", func(w io.Writer) error { return renderPgousers(w, pgoapi.ShowPgouserResponse{}) }, "no pgo users found\n"},
		{"pgoroles", func(w io.Writer) error { return renderPgoroles(w, pgoapi.ShowPgoroleResponse{}) }, "no pgo roles found\n"},
		{"replicas", func(w io.Writer) error { return renderReplicas(w, pgoapi.ReplicasResponse{Name: "solo"}) }, "Cluster: solo\nno replicas found\n"},
		{"namespaces", func(w io.Writer) error { return renderNamespaces(w, pgoapi.ShowNamespaceResponse{}) }, "NAMESPACE WATCHED CREATED BY PGO CLUSTERS\n--------- ------- -------------- --------\n"},
		{"unchanged cluster", func(w io.Writer) error {
			return renderUpdateCluster(w, pgoapi.UpdateClusterResponse{Name: "hacluster"})
		}, "cluster hacluster is unchanged\n"},
		{"workflow without steps", func(w io.Writer) error {
			return renderWorkflow(w, pgoapi.Workflow{ID: "abc", Cluster: "c", Operation: "scale", Phase: "Running", StartTime: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
		}, "parameter      value\n---------      -----\nworkflowid     abc\npg-cluster     c\noperation      scale\nphase          Running\ntask submitted 2026-12-01T10:00:00Z\ntask completed -\n"},
		{"rolling restart", func(w io.Writer) error {
			return renderRestart(w, pgoapi.RestartResponse{Name: "hacluster", Rolling: true, WorkflowID: "w1"})
		}, "rolling restart of cluster hacluster started\nworkflow id: w1\n"},
		{"failed restart", func(w io.Writer) error {
			return renderRestart(w, pgoapi.RestartResponse{Name: "hacluster", Results: []pgoapi.RestartResult{{Instance: "a", Message: "instance manager unreachable"}}})
		}, "failed to restart instance a: instance manager unreachable\n"},
		{"delete keeping all", func(w io.Writer) error {
			return renderDeleteCluster(w, pgoapi.DeleteClusterResponse{Name: "x", KeepData: true, KeepBackups: true})
		}, "deleted cluster x (keeping its data volumes and backups)\n"},
		{"scale to one", func(w io.Writer) error { return renderScale(w, pgoapi.ScaleClusterResponse{Name: "x", Replicas: 1}) }, "scaled cluster x to 1 replica\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := tt.render(&b); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, b.String(), tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5767168: "5.5 MiB", 3 << 30: "3.0 GiB"} {
		if got := formatBytes(in); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", in, got, want)
		}
	}
	if got := formatLag(nil); got != "unknown" {
		t.Errorf("formatLag(nil) = %q", got)
	}
}

// failingWriter fails every write, as a closed pipe does.
type failingWriter struct{}

var errClosed = errors.New("closed")

func (failingWriter) Write([]byte) (int, error) { return 0, errClosed }

// TestRenderWriteErrors: a renderer reports a failed write instead of
// pretending it printed.
func TestRenderWriteErrors(t *testing.T) {
	renders := map[string]func(io.Writer) error{
		"clusters": func(w io.Writer) error {
			return renderClusters(w, pgoapi.ShowClusterResponse{Clusters: []pgoapi.Cluster{{Name: "x"}}})
		},
		"test":      func(w io.Writer) error { return renderTest(w, pgoapi.TestClusterResponse{Name: "x"}) },
		"replicas":  func(w io.Writer) error { return renderReplicas(w, pgoapi.ReplicasResponse{Name: "x"}) },
		"instances": func(w io.Writer) error { return renderInstances(w, pgoapi.ReplicasResponse{Name: "x"}) },
		"users": func(w io.Writer) error {
			return renderUsers(w, pgoapi.ShowUserResponse{Users: []pgoapi.User{{Name: "u"}}})
		},
		"status":   func(w io.Writer) error { return renderStatus(w, pgoapi.StatusResponse{}) },
		"workflow": func(w io.Writer) error { return renderWorkflow(w, pgoapi.Workflow{}) },
		"versions": func(w io.Writer) error { return renderVersions(w, versions{Client: "dev"}) },
		"create":   func(w io.Writer) error { return renderCreateCluster(w, pgoapi.CreateClusterResponse{}) },
		"json":     func(w io.Writer) error { return render(w, outputJSON, versions{}, renderVersions) },
	}
	for name, r := range renders {
		if err := r(failingWriter{}); !errors.Is(err, errClosed) {
			t.Errorf("%s: error = %v, want %v", name, err, errClosed)
		}
	}
}
