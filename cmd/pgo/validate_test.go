package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidateNames(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"cluster ok", validateClusterName("hacluster"), ""},
		{"cluster empty", validateClusterName(""), "cluster name is required"},
		{"cluster upper", validateClusterName("HA"), "start with a lowercase letter"},
		{"cluster underscore", validateClusterName("ha_cluster"), "start with a lowercase letter"},
		{"cluster trailing dash", validateClusterName("ha-"), "end with a letter or digit"},
		{"cluster too long", validateClusterName(strings.Repeat("a", 41)), "give at most 40"},
		{"role ok", validateRoleName("--username", "app_user-1"), ""},
		{"role reserved", validateRoleName("--username", "postgres"), "a user pgo manages itself"},
		{"role pg_", validateRoleName("--username", "pg_monitor2"), "starts with pg_"},
		{"role upper", validateRoleName("--username", "Alice"), "start with a lowercase letter"},
		{"database ok", validateDatabaseName("--database", "App_db"), ""},
		{"database bad", validateDatabaseName("--database", "1db"), "start with a letter or '_'"},
		{"object ok", validateObjectName("--server-tls-secret", "my.tls-secret"), ""},
		{"object bad", validateObjectName("--server-tls-secret", "My_Secret"), "not a valid Kubernetes object name"},
		{"instance bad", validateInstanceName("--target", "Bad"), "not an instance name"},
		{"pgouser bad", validatePgoName("pgo user", "Bob!"), `pgo user name "Bob!" is invalid: start with a lowercase letter`},
		{"pgouser digit", validatePgoName("pgo user", "1bob"), "start with a lowercase letter"},
		{"pgouser too long", validatePgoName("pgo user", strings.Repeat("a", 56)), "give at most 55"},
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
	if err := checkLimit("--memory-limit", "512Mi", "1Gi"); err == nil || !strings.Contains(err.Error(), "--memory-limit 512Mi is less than the request 1Gi") {
		t.Errorf("error = %v", err)
	}
	if err := checkLimit("--cpu-limit", "1", "500m"); err != nil {
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

// Tolerations, as internal/rules reads them, refused with the flag.
func TestCheckToleration(t *testing.T) {
	if err := checkToleration("zone=east:NoSchedule"); err != nil {
		t.Error(err)
	}
	if err := checkToleration("zone=east:Never"); err == nil || !strings.Contains(err.Error(), `--toleration "zone=east:Never" is invalid: effect "Never" is not one of NoSchedule, PreferNoSchedule, NoExecute`) {
		t.Errorf("error = %v", err)
	}
}
