package rules

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMetadata(t *testing.T) {
	checkVerdicts(t, "MetadataKey", MetadataKey, []verdict{
		{"env", ""},
		{"example.com/team", ""},
		{"pgo.dev/cluster", "is under pgo.dev/, which belongs to pgo"},
		{"bad key", "is not a valid key"},
		{"", "is not a valid key"},
	})
	checkVerdicts(t, "LabelValue", LabelValue, []verdict{
		{"prod", ""},
		{"", ""},
		{"not valid", "is not a valid label value"},
		{strings.Repeat("v", 64), "is not a valid label value"},
	})
	checkVerdicts(t, "Selector", func(s string) string { _, why := Selector(s); return why }, []verdict{
		{"env=prod,team!=db", ""},
		{"env in (a,b)", ""},
		{"env in (a", "is not a label selector"},
	})
	checkVerdicts(t, "OneOf", func(s string) string { return OneOf(s, PasswordTypes) }, []verdict{
		{"", ""},
		{"md5", ""},
		{"scram-sha-256", ""},
		{"sha1", "is not one of scram-sha-256, md5"},
		{"MD5", "is not one of"},
	})
}

func TestNodeLabel(t *testing.T) {
	for _, c := range []struct {
		in, key, value, says string
	}{
		{in: "topology.kubernetes.io/zone=zone-a", key: "topology.kubernetes.io/zone", value: "zone-a"},
		{in: "ssd=", key: "ssd"},
		{in: "zone", says: "is not key=value"},
		{in: "=east", says: "is not key=value"},
		{in: "bad key=x", says: `key "bad key" is not a label key`},
		{in: "zone=not valid", says: `value "not valid" is not a label value`},
	} {
		key, value, why := NodeLabel(c.in)
		if reasonOK(t, fmt.Sprintf("NodeLabel(%q)", c.in), why, c.says) && (key != c.key || value != c.value) {
			t.Errorf("NodeLabel(%q) = %q, %q", c.in, key, value)
		}
	}
}

func TestToleration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want corev1.Toleration
		says string
	}{
		{in: "zone=east:NoSchedule", want: corev1.Toleration{Key: "zone", Operator: corev1.TolerationOpEqual, Value: "east", Effect: corev1.TaintEffectNoSchedule}},
		{in: "dedicated:NoExecute", want: corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
		{in: "example.com/gpu:PreferNoSchedule", want: corev1.Toleration{Key: "example.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule}},
		{in: "dedicated", says: "is not key=value:Effect or key:Effect"},
		{in: "zone=east", says: "is not key=value:Effect or key:Effect"},
		{in: ":NoSchedule", says: "is not key=value:Effect or key:Effect"},
		{in: "=east:NoSchedule", says: "is not key=value:Effect or key:Effect"},
		{in: "zone=east:Never", says: `effect "Never" is not one of NoSchedule, PreferNoSchedule, NoExecute`},
		{in: "bad key:NoSchedule", says: `key "bad key" is not a label key`},
		{in: "zone=not valid:NoSchedule", says: `value "not valid" is not a label value`},
	} {
		got, why := Toleration(c.in)
		if reasonOK(t, fmt.Sprintf("Toleration(%q)", c.in), why, c.says) && got != c.want {
			t.Errorf("Toleration(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}
