package controller

import "testing"

func TestNextRollout(t *testing.T) {
	m := func(name string, primary, current, ready bool) rolloutMember {
		return rolloutMember{Name: name, Primary: primary, Current: current, Ready: ready}
	}
	cases := []struct {
		name    string
		members []rolloutMember
		want    rolloutStep
		active  bool
	}{
		{"nothing to do", []rolloutMember{m("a", true, true, true), m("b", false, true, true)}, rolloutStep{}, false},
		{"replicas first", []rolloutMember{m("a", true, false, true), m("b", false, false, true), m("c", false, false, true)}, rolloutStep{DeletePod: "b"}, true},
		{"one at a time", []rolloutMember{m("a", true, false, true), m("b", false, true, false), m("c", false, false, true)}, rolloutStep{Waiting: "b to be ready"}, true},
		{"then the next replica", []rolloutMember{m("a", true, false, true), m("b", false, true, true), m("c", false, false, true)}, rolloutStep{DeletePod: "c"}, true},
		{"then switch over to an updated replica", []rolloutMember{m("a", true, false, true), m("b", false, true, true), m("c", false, true, true)}, rolloutStep{SwitchoverTo: "b"}, true},
		{"the old primary, now a replica, last", []rolloutMember{m("a", false, false, true), m("b", true, true, true), m("c", false, true, true)}, rolloutStep{DeletePod: "a"}, true},
		{"a single instance restarts", []rolloutMember{m("a", true, false, true)}, rolloutStep{DeletePod: "a"}, true},
		{"no primary: wait", []rolloutMember{m("a", false, false, true), m("b", false, false, true)}, rolloutStep{Waiting: "a primary"}, true},
	}
	for _, tc := range cases {
		got, active := nextRollout(tc.members)
		if got != tc.want || active != tc.active {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, active, tc.want, tc.active)
		}
	}
}
