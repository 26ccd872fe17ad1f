package main

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestValidateNames(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"cluster ok", validateClusterName("hacluster"), ""},
		{"cluster empty", validateClusterName(""), "a cluster name is required"},
		{"cluster upper", validateClusterName("HA"), "start with a lowercase letter"},
		{"cluster underscore", validateClusterName("ha_cluster"), "start with a lowercase letter"},
		{"cluster trailing dash", validateClusterName("ha-"), "end with a letter or digit"},
		{"cluster too long", validateClusterName(strings.Repeat("a", 41)), "use at most 40"},
		{"role ok", validateRoleName("--username", "app_user-1"), ""},
		{"role reserved", validateRoleName("--username", "postgres"), "a user pgo manages itself"},
		{"role pg_", validateRoleName("--username", "pg_monitor2"), "starts with pg_"},
		{"role upper", validateRoleName("--username", "Alice"), "start with a lowercase letter"},
		{"database ok", validateDatabaseName("--database", "App_db"), ""},
		{"database bad", validateDatabaseName("--database", "1db"), "start with a letter or '_'"},
		{"object ok", validateObjectName("--server-tls-secret", "my.tls-secret"), ""},
		{"object bad", validateObjectName("--server-tls-secret", "My_Secret"), "not a valid Kubernetes object name"},
		{"instance bad", validateInstanceName("--target", "Bad"), "not an instance name"},
		{"pgouser bad", validatePgoUserName("pgo user", "Bob!"), "start with a lowercase letter"},
		{"pgouser digit", validatePgoUserName("pgo user", "1bob"), "start with a lowercase letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr == "" {
				if tt.err != nil {
					t.Fatalf("unexpected error: %v", tt.err)
				}
				return
			}
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", tt.err, tt.wantErr)
			}
		})
	}
}

func TestQuantities(t *testing.T) {
	if err := checkQuantity("--memory", "256Mi", "256Mi"); err != nil {
		t.Error(err)
	}
	if err := checkQuantity("--memory", "", "256Mi"); err != nil {
		t.Error(err)
	}
	if err := checkQuantity("--memory", "lots", "256Mi"); err == nil || !strings.Contains(err.Error(), `--memory "lots" is not a quantity; give one such as 256Mi`) {
		t.Errorf("error = %v", err)
	}
	if err := checkQuantity("--pvc-size", "0", "1Gi"); err == nil || !strings.Contains(err.Error(), "must be greater than zero") {
		t.Errorf("error = %v", err)
	}
	if err := checkLimit("--memory", "1Gi", "--memory-limit", "512Mi"); err == nil || !strings.Contains(err.Error(), "--memory-limit 512Mi is less than --memory 1Gi") {
		t.Errorf("error = %v", err)
	}
	if err := checkLimit("--cpu", "500m", "--cpu-limit", "1"); err != nil {
		t.Error(err)
	}
}

func TestParseKeyValues(t *testing.T) {
	got, err := parseKeyValues("--label", []string{"env=prod", "example.com/team=db"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"env": "prod", "example.com/team": "db"}; !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	for _, bad := range [][]string{{"env"}, {"pgo.dev/x=y"}, {"a=b", "a=c"}, {"bad key=x"}, {"k=not valid"}} {
		if _, err := parseKeyValues("--label", bad, true); err == nil {
			t.Errorf("labels %q: no error", bad)
		}
	}
	if _, err := parseKeyValues("--annotation", []string{"note=free text, any value"}, false); err != nil {
		t.Errorf("annotation values are free: %v", err)
	}
}

func TestParseToleration(t *testing.T) {
	tests := []struct {
		in      string
		want    corev1.Toleration
		wantErr string
	}{
		{in: "zone=east:NoSchedule", want: corev1.Toleration{Key: "zone", Operator: corev1.TolerationOpEqual, Value: "east", Effect: corev1.TaintEffectNoSchedule}},
		{in: "dedicated:NoExecute", want: corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
		{in: "dedicated", wantErr: "must be key=value:Effect or key:Effect"},
		{in: "zone=east:Never", wantErr: `effect "Never" is not one of NoSchedule, PreferNoSchedule, NoExecute`},
		{in: ":NoSchedule", wantErr: "must be key=value:Effect or key:Effect"},
	}
	for _, tt := range tests {
		got, err := parseToleration(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseBackRestOptions(t *testing.T) {
	got, err := parseBackRestOptions("--restore-opts", `--type=time "--target=2026-11-27 11:59:59+00" --set='x y'`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--type=time", "--target=2026-11-27 11:59:59+00", "--set=x y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options = %q, want %q", got, want)
	}
	if _, err := parseBackRestOptions("--restore-opts", "type=time"); err == nil || !strings.Contains(err.Error(), "not a pgBackRest long option") {
		t.Errorf("error = %v", err)
	}
	if _, err := parseBackRestOptions("--restore-opts", `--target="open`); err == nil || !strings.Contains(err.Error(), "unterminated") {
		t.Errorf("error = %v", err)
	}
}
