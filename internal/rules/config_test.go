package rules

import (
	"fmt"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/postgres"
)

func TestCustomConfig(t *testing.T) {
	checkVerdicts(t, "ParameterName", ParameterName, []verdict{
		{"work_mem", ""},
		{"pg_stat_statements.max", ""},
		{"postgres-ha.yaml", "is not a PostgreSQL setting name"},
		{"Work_Mem", "is not a PostgreSQL setting name"},
		{"a.b.c", "is not a PostgreSQL setting name"},
	})
	checkVerdicts(t, "ParameterValue", ParameterValue, []verdict{
		{"64MB", ""},
		{`it's "quoted" \ and escaped`, ""},
		{strings.Repeat("1", 4096), ""},
		{strings.Repeat("1", 4097), "is 4097 characters long; give at most 4096"},
		{"1MB\nfsync = off", "holds a line break or NUL"},
		{"1MB\rfsync = off", "holds a line break or NUL"},
		{"1MB\x00", "holds a line break or NUL"},
	})
	checkVerdicts(t, "HBARule", HBARule, []verdict{
		{"hostssl all all 0.0.0.0/0 scram-sha-256", ""},
		{"hostssl all all 10.0.0.0 255.0.0.0 cert", ""},
		{"local all all peer", ""},
		{"hostssl trustdb trusted 0.0.0.0/0 scram-sha-256", ""},
		{"host all all 0.0.0.0/0 trust", "uses the trust method"},
		{"hostssl all all 10.0.0.0 255.0.0.0 trust", "uses the trust method"},
		{"local all all trust", "uses the trust method"},
		{"hostnossl all all ::1/128   trust clientcert=0", "uses the trust method"},
		{"hostssl all all 0.0.0.0/0 scram-sha-256\nhost all all 0.0.0.0/0 trust", "holds a line break or NUL"},
		{"hostssl all all 0.0.0.0/0 scram-sha-256 " + strings.Repeat("x", 500), "give at most 512"},
	})
}

func TestRoleOptions(t *testing.T) {
	for _, c := range []verdict{
		{"", ""},
		{"CREATEDB NOINHERIT", ""},
		{"CONNECTION LIMIT 10", ""},
		{"CREATEDB  NOINHERIT", "separate role attributes with single spaces"},
		{" CREATEDB", "separate role attributes with single spaces"},
		{"CREATEDB\tNOINHERIT", "separate role attributes with single spaces"},
		{strings.Repeat("LOGIN ", 43) + "LOGIN", "is 263 characters long; give at most 256"},
	} {
		// What passes the form is left to the controller's parser.
		if reasonOK(t, fmt.Sprintf("RoleOptions(%q)", c.in), RoleOptions(c.in), c.says) {
			if _, err := postgres.ParseRoleOptions(c.in); err != nil {
				t.Errorf("ParseRoleOptions(%q): %v", c.in, err)
			}
		}
	}
}

func TestPermissions(t *testing.T) {
	checkVerdicts(t, "Permission", Permission, []verdict{
		{"ShowCluster", ""},
		{"*", ""},
		{"DropEverything", "is not a permission; give * or some of"},
		{"ShowClusters", "is not a permission"},
	})
	for _, c := range []struct {
		perms []string
		says  string
	}{
		{[]string{"ShowCluster", "ShowUser"}, ""},
		{[]string{"*"}, ""},
		{nil, "is empty"},
		{[]string{"*", "ShowCluster"}, "gives * with other permissions"},
	} {
		reasonOK(t, fmt.Sprintf("Permissions(%q)", c.perms), Permissions(c.perms), c.says)
	}
}
