package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgo.dev/pgo/internal/postgres"
)

// verdict is a case of a rule that answers a reason: the input, and a
// phrase of the reason ("" when the input is fine).
type verdict struct {
	in   string
	says string
}

func checkVerdicts(t *testing.T, name string, rule func(string) string, cases []verdict) {
	t.Helper()
	for _, c := range cases {
		reasonOK(t, fmt.Sprintf("%s(%q)", name, c.in), rule(c.in), c.says)
	}
}

// reasonOK checks the reason a rule gave for a call against the phrase
// wanted ("" for none), and answers whether the input was fine, as wanted:
// then the caller checks what a parser read.
func reasonOK(t *testing.T, call, why, says string) bool {
	t.Helper()
	switch {
	case says == "" && why != "":
		t.Errorf("%s: %q, want it fine", call, why)
	case says != "" && !strings.Contains(why, says):
		t.Errorf("%s: %q, want a reason saying %q", call, why, says)
	}
	return says == "" && why == ""
}

func TestClusterName(t *testing.T) {
	checkVerdicts(t, "ClusterName", ClusterName, []verdict{
		{"hacluster", ""},
		{"a", ""},
		{"ha-1", ""},
		{strings.Repeat("a", 40), ""},
		{"", "is required"},
		{strings.Repeat("a", 41), "is 41 characters long; give at most 40"},
		{"HA", "start with a lowercase letter"},
		{"ha_cluster", "use only lowercase letters, digits and '-'"},
		{"ha-", "end with a letter or digit"},
		{"1ha", "start with a lowercase letter"},
	})
}

func TestInstanceName(t *testing.T) {
	checkVerdicts(t, "InstanceName", InstanceName, []verdict{
		{"hacluster-p9zt", ""},
		{"", "is required"},
		{strings.Repeat("a", 53), "more than an instance name's 52"},
		{"Replica_1", "is not an instance name"},
	})
}

func TestNamespace(t *testing.T) {
	checkVerdicts(t, "Namespace", Namespace, []verdict{
		{"app1", ""},
		{"1app", ""},
		{"", "is required"},
		{"Bad_NS", "is invalid"},
		{"bad.ns", "is invalid"},
		{strings.Repeat("a", 64), "is invalid"},
	})
}

func TestObjectName(t *testing.T) {
	checkVerdicts(t, "ObjectName", ObjectName, []verdict{
		{"", ""},
		{"my.tls-secret", ""},
		{"My_Secret", "is not a valid Kubernetes object name"},
		{"Fast Disks", "is not a valid Kubernetes object name"},
		{strings.Repeat("a", 254), "is not a valid Kubernetes object name"},
	})
}

func TestRoleName(t *testing.T) {
	checkVerdicts(t, "RoleName", RoleName, []verdict{
		{"app_user-1", ""},
		{"pgx", ""},
		{strings.Repeat("a", 63), ""},
		{"", "is required"},
		{strings.Repeat("a", 64), "is 64 characters long; give at most 63, PostgreSQL's limit"},
		{"Alice", "start with a lowercase letter"},
		{"Robert'); DROP TABLE students;--", "use only lowercase letters"},
		{"postgres", "is a user pgo manages itself"},
		{"ccp_monitoring", "is a user pgo manages itself"},
		{"pg_monitor2", "starts with pg_, which PostgreSQL reserves"},
	})
}

// The users the instance manager connects and replicates as are reserved.
func TestReservedRolesHoldPgoUsers(t *testing.T) {
	for _, u := range []string{postgres.SuperUser, postgres.ReplicationUser} {
		if !slices.Contains(ReservedRoles, u) {
			t.Errorf("ReservedRoles %v lack %s", ReservedRoles, u)
		}
	}
}

func TestDatabaseName(t *testing.T) {
	checkVerdicts(t, "DatabaseName", DatabaseName, []verdict{
		{"App_db", ""},
		{"_x$1-2", ""},
		{"", "is invalid"},
		{"1db", "start with a letter or '_'"},
		{"my db", "use only letters, digits"},
		{strings.Repeat("d", 64), "give at most 63"},
	})
}

func TestPgoName(t *testing.T) {
	checkVerdicts(t, "PgoName", PgoName, []verdict{
		{"alice", ""},
		{strings.Repeat("a", 55), ""},
		{"", "is required"},
		{strings.Repeat("a", 56), "is 56 characters long; give at most 55"},
		{"Bob", "start with a lowercase letter"},
		{"1bob", "start with a lowercase letter"},
		{"a.b", "use only lowercase letters, digits and '-'"},
		{"bob-", "end with a letter or digit"},
	})
}

func TestWorkflowID(t *testing.T) {
	checkVerdicts(t, "WorkflowID", WorkflowID, []verdict{
		{"0b6c6f35-8d9b-4b1e-9a55-6f5f3c2f9d10", ""},
		{"abc", "is invalid: give the id a command printed"},
		{"Not An ID", "is invalid"},
		{"0B6C6F35-8D9B-4B1E-9A55-6F5F3C2F9D10", "is invalid"},
	})
}
