package controller

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/ha"
	"pgo.dev/pgo/internal/naming"
)

// A member's heartbeat (its unchanged state published again) asks nothing
// of the operator; any other change of its pod does.
func TestOnlyHeartbeat(t *testing.T) {
	pod := func(rv string, st dcs.MemberStatus, role string) *corev1.Pod {
		raw, _ := json.Marshal(st)
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hippo-abcd-0", ResourceVersion: rv,
			Labels:      map[string]string{naming.LabelRole: role},
			Annotations: map[string]string{naming.AnnotationStatus: string(raw)}}}
	}
	st := dcs.MemberStatus{Role: ha.RoleReplica, State: "streaming", Running: true, WAL: 100, Heartbeat: "2026-12-07T10:00:00Z"}
	beat := st
	beat.Heartbeat = "2026-12-07T10:00:30Z"
	moved := beat
	moved.WAL = 200
	stopped := beat
	stopped.Running, stopped.State = false, "stopped"
	for _, c := range []struct {
		what     string
		old, cur *corev1.Pod
		want     bool
	}{
		{"a heartbeat", pod("1", st, "replica"), pod("2", beat, "replica"), true},
		{"the same pod", pod("1", st, "replica"), pod("1", st, "replica"), true},
		{"a new WAL position", pod("1", st, "replica"), pod("2", moved, "replica"), false},
		{"a stopped member", pod("1", st, "replica"), pod("2", stopped, "replica"), false},
		{"a new role label", pod("1", st, "replica"), pod("2", beat, "primary"), false},
	} {
		if got := onlyHeartbeat(c.old, c.cur); got != c.want {
			t.Errorf("%s: only a heartbeat %t, want %t", c.what, got, c.want)
		}
	}
}
