package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
)

// Patterns of names, as the CRD's markers write them.
const (
	// DNSLabelPattern is an RFC 1035 label: the names of clusters,
	// instances, pgo users and pgo roles, which name Services and Secrets.
	DNSLabelPattern = `^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// RoleNamePattern is the name of a database user pgo manages.
	RoleNamePattern = `^[a-z][a-z0-9_-]*$`
	// DatabaseNamePattern is the name of a database pgo creates.
	DatabaseNamePattern = `^[A-Za-z_][A-Za-z0-9_$-]*$`
	// WorkflowIDPattern is a random (version 4) UUID, as the apiserver
	// makes them.
	WorkflowIDPattern = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`
)

// Lengths of names. The longest cluster and instance names are in api/v1
// (pgov1.MaxClusterNameLength, pgov1.MaxInstanceNameLength), beside the
// types they limit.
const (
	// MaxIdentifierLength is PostgreSQL's limit on the names of roles and
	// databases (NAMEDATALEN - 1).
	MaxIdentifierLength = 63
	// MaxPgoNameLength keeps the Secret of a pgo user or role,
	// "pgouser-NAME" or "pgorole-NAME", within a DNS label.
	MaxPgoNameLength = 63 - len(pgoapi.PgouserSecretPrefix)
)

// ReservedRoles are the database users pgo manages itself.
var ReservedRoles = []string{"postgres", "replicator", "pgbouncer", "ccp_monitoring", "pgbackrest"}

var (
	dnsLabel     = regexp.MustCompile(DNSLabelPattern)
	roleName     = regexp.MustCompile(RoleNamePattern)
	databaseName = regexp.MustCompile(DatabaseNamePattern)
	workflowID   = regexp.MustCompile(WorkflowIDPattern)
)

// ClusterName checks the name of a PGCluster.
func ClusterName(name string) string {
	switch {
	case name == "":
		return "is required: give a cluster name"
	case len(name) > pgov1.MaxClusterNameLength:
		return fmt.Sprintf("is %d characters long; give at most %d, so that the names pgo derives from it fit Kubernetes limits", len(name), pgov1.MaxClusterNameLength)
	case !dnsLabel.MatchString(name):
		return "is invalid: start with a lowercase letter, use only lowercase letters, digits and '-', and end with a letter or digit (such as hacluster)"
	}
	return ""
}

// InstanceName checks the name of an instance (a PGReplica, or the
// primary's), such as hacluster-abcd.
func InstanceName(name string) string {
	switch {
	case name == "":
		return "is required: give an instance name"
	case len(name) > pgov1.MaxInstanceNameLength:
		return fmt.Sprintf("is %d characters long, more than an instance name's %d; give an instance name", len(name), pgov1.MaxInstanceNameLength)
	case !dnsLabel.MatchString(name):
		return "is not an instance name: instance names hold lowercase letters, digits and '-'"
	}
	return ""
}

// Namespace checks a namespace name (an RFC 1123 label).
func Namespace(name string) string {
	if name == "" {
		return "is required: give a namespace name"
	}
	if msgs := content.IsDNS1123Label(name); len(msgs) > 0 {
		return "is invalid: " + strings.Join(msgs, "; ")
	}
	return ""
}

// ObjectName checks the name of a Kubernetes object such as a Secret, a
// ConfigMap or a StorageClass (a DNS subdomain). Empty is fine: the object
// is optional wherever pgo names one.
func ObjectName(name string) string {
	if name == "" {
		return ""
	}
	if msgs := content.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return "is not a valid Kubernetes object name: " + strings.Join(msgs, "; ")
	}
	return ""
}

// RoleName checks the name of a database user pgo manages.
func RoleName(name string) string {
	switch {
	case name == "":
		return "is required: give a user name"
	case len(name) > MaxIdentifierLength:
		return fmt.Sprintf("is %d characters long; give at most %d, PostgreSQL's limit", len(name), MaxIdentifierLength)
	case !roleName.MatchString(name):
		return "is invalid: start with a lowercase letter and use only lowercase letters, digits, '_' and '-'"
	case slices.Contains(ReservedRoles, name):
		return "is a user pgo manages itself; choose another name (not " + strings.Join(ReservedRoles, ", ") + ")"
	case strings.HasPrefix(name, "pg_"):
		return "starts with pg_, which PostgreSQL reserves for its own roles; choose another name"
	}
	return ""
}

// DatabaseName checks the name of a database.
func DatabaseName(name string) string {
	switch {
	case len(name) > MaxIdentifierLength:
		return fmt.Sprintf("is %d characters long; give at most %d, PostgreSQL's limit", len(name), MaxIdentifierLength)
	case !databaseName.MatchString(name):
		return "is invalid: start with a letter or '_' and use only letters, digits, '_', '$' and '-'"
	}
	return ""
}

// PgoName checks the name of a pgo user or pgo role.
func PgoName(name string) string {
	switch {
	case name == "":
		return "is required"
	case len(name) > MaxPgoNameLength:
		return fmt.Sprintf("is %d characters long; give at most %d, so that its Secret's name fits in 63 characters", len(name), MaxPgoNameLength)
	case !dnsLabel.MatchString(name):
		return "is invalid: start with a lowercase letter, use only lowercase letters, digits and '-', and end with a letter or digit"
	}
	return ""
}

// WorkflowID checks the id of a workflow, as pgo prints it after an
// operation.
func WorkflowID(id string) string {
	if !workflowID.MatchString(id) {
		return "is invalid: give the id a command printed, such as 0b6c6f35-8d9b-4b1e-9a55-6f5f3c2f9d10"
	}
	return ""
}
