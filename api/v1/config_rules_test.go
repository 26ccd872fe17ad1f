package v1_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/testenv"
)

// The CRD's markers on spec.config and the apiserver's rules
// (rules.ParameterValue, rules.HBARule) refuse the same
// values: a line break or NUL that would add a line to postgresql.conf or
// pg_hba.conf, and pg_hba rules with the trust method.
func TestConfigRulesMatchTheCRD(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "config-rules"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	create := func(config map[string]any) error {
		obj := loadSample(t, "pgcluster_minimal.yaml")
		obj.SetNamespace(ns.Name)
		obj.SetName(uniqueName("rules"))
		if err := unstructured.SetNestedMap(obj.Object, config, "spec", "config"); err != nil {
			t.Fatal(err)
		}
		return env.Client.Create(ctx, obj)
	}
	for _, tc := range []struct {
		value   string
		refused bool
	}{
		{"64MB", false},
		{"it's \"quoted\" \\ and escaped", false},
		{"1MB\nfsync = off", true},
		{"1MB\rfsync = off", true},
		{"1MB\x00", true},
	} {
		err := create(map[string]any{"parameters": map[string]any{"work_mem": tc.value}})
		if (err != nil) != tc.refused {
			t.Errorf("parameter value %q: the CRD says %v, want refused=%v", tc.value, err, tc.refused)
		}
		if got := rules.ParameterValue(tc.value) != ""; got != tc.refused {
			t.Errorf("parameter value %q: rules refuses it: %v, want %v", tc.value, got, tc.refused)
		}
	}
	for _, tc := range []struct {
		rule    string
		refused bool
	}{
		{"hostssl all all 0.0.0.0/0 scram-sha-256", false},
		{"hostssl all all 10.0.0.0 255.0.0.0 cert", false},
		{"local all all peer", false},
		{"hostssl trustdb trusted 0.0.0.0/0 scram-sha-256", false},
		{"host all all 0.0.0.0/0 trust", true},
		{"hostssl all all 10.0.0.0 255.0.0.0 trust", true},
		{"local all all trust", true},
		{"hostnossl all all ::1/128   trust clientcert=0", true},
		{"hostssl all all 0.0.0.0/0 scram-sha-256\nhost all all 0.0.0.0/0 trust", true},
		{"hostssl all all 0.0.0.0/0 scram-sha-256\x00", true},
	} {
		err := create(map[string]any{"pgHBA": []any{tc.rule}})
		if (err != nil) != tc.refused {
			t.Errorf("pg_hba rule %q: the CRD says %v, want refused=%v", tc.rule, err, tc.refused)
		}
		if got := rules.HBARule(tc.rule) != ""; got != tc.refused {
			t.Errorf("pg_hba rule %q: rules refuses it: %v, want %v", tc.rule, got, tc.refused)
		}
	}
}
