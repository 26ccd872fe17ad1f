package apiserver

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/postgres"
)

// checks collects the invalid fields of a request.
type checks []pgoapi.FieldError

func (c *checks) add(field, format string, args ...any) {
	*c = append(*c, pgoapi.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err is nil without problems, else a 422 answer.
func (c checks) err() error {
	if len(c) == 0 {
		return nil
	}
	return invalid(c)
}

var (
	dns1035    = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	roleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	databaseRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$-]*$`)
)

// reservedRoles are the users pgo manages itself.
var reservedRoles = []string{"postgres", "replicator", "pgbouncer", "ccp_monitoring", "pgbackrest"}

// checkClusterName: as the PGCluster CRD's rules.
func (c *checks) clusterName(field, name string) {
	c.dnsLabel(field, name, pgov1.MaxClusterNameLength, "a cluster name")
}

// dnsLabel checks an RFC 1035 label of at most max characters.
func (c *checks) dnsLabel(field, name string, max int, what string) {
	switch {
	case name == "":
		c.add(field, "is required: %s", what)
	case len(name) > max:
		c.add(field, "%q is %d characters long; %s has at most %d", name, len(name), what, max)
	case !dns1035.MatchString(name):
		c.add(field, "%q is not valid: %s starts with a lowercase letter and holds only lowercase letters, digits and '-', not at the end", name, what)
	}
}

// namespaceName checks a namespace name (an RFC 1123 label).
func (c *checks) namespaceName(field, name string) {
	if name == "" {
		c.add(field, "is required: a namespace name")
		return
	}
	for _, msg := range validation.IsDNS1123Label(name) {
		c.add(field, "%q is not a valid namespace name: %s", name, msg)
	}
}

// objectName checks the name of a Secret or ConfigMap (a DNS subdomain).
func (c *checks) objectName(field, name string) {
	if name == "" {
		return
	}
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		c.add(field, "%q is not a valid object name: %s", name, msg)
	}
}

// roleName checks a PostgreSQL user name that pgo manages.
func (c *checks) roleName(field, name string) {
	switch {
	case name == "":
		c.add(field, "is required: a user name")
	case len(name) > 63:
		c.add(field, "%q is %d characters long; user names have at most 63", name, len(name))
	case !roleNameRE.MatchString(name):
		c.add(field, "%q is not valid: a user name starts with a lowercase letter and holds only lowercase letters, digits, '_' and '-'", name)
	case slices.Contains(reservedRoles, name):
		c.add(field, "%q is one of the users pgo manages itself (%s); choose another name", name, strings.Join(reservedRoles, ", "))
	case strings.HasPrefix(name, "pg_"):
		c.add(field, "%q starts with pg_, which PostgreSQL reserves for its own roles", name)
	}
}

// databaseName checks a PostgreSQL database name.
func (c *checks) databaseName(field, name string) {
	switch {
	case len(name) > 63:
		c.add(field, "%q is %d characters long; database names have at most 63", name, len(name))
	case !databaseRE.MatchString(name):
		c.add(field, "%q is not valid: a database name starts with a letter or '_' and holds letters, digits, '_', '$' and '-'", name)
	}
}

// roleOptions checks role attributes with the controller's own parser, and
// answers them.
func (c *checks) roleOptions(field, options string) postgres.RoleAttributes {
	if len(options) > 256 {
		c.add(field, "is %d characters long; at most 256", len(options))
		return postgres.DefaultRoleAttributes()
	}
	a, err := postgres.ParseRoleOptions(options)
	if err != nil {
		c.add(field, "%q is not valid: %s", options, err.Error())
	}
	return a
}

// mayGiveRoleOptions refuses the role options that reach beyond a user's
// own databases to a caller without PermCreateSuperuser.
func mayGiveRoleOptions(caller *principal, a postgres.RoleAttributes) error {
	if p := a.Privileged(); len(p) > 0 && !caller.can(pgoapi.PermCreateSuperuser) {
		return forbidden("role options %s need the %s permission, which pgo user %s does not hold", strings.Join(p, ", "), pgoapi.PermCreateSuperuser, caller.Name)
	}
	return nil
}

// quantity parses a size or CPU amount; empty is allowed and gives nil.
func (c *checks) quantity(field, value, example string) *resource.Quantity {
	if value == "" {
		return nil
	}
	q, err := resource.ParseQuantity(value)
	if err != nil {
		c.add(field, "%q is not a quantity; write it like %s", value, example)
		return nil
	}
	if q.Sign() <= 0 {
		c.add(field, "%q must be greater than zero, such as %s", value, example)
		return nil
	}
	return &q
}

// enum checks that value is one of allowed (empty is allowed: the default).
func (c *checks) enum(field, value string, allowed ...string) {
	if value != "" && !slices.Contains(allowed, value) {
		c.add(field, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

// labels checks label (or annotation, when annotations) keys and values.
func (c *checks) labels(field string, m map[string]string, annotations bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := fmt.Sprintf("%s[%s]", field, k)
		for _, msg := range validation.IsQualifiedName(k) {
			c.add(f, "the key is not valid: %s", msg)
		}
		if strings.HasPrefix(k, "pgo.dev/") {
			c.add(f, "keys under pgo.dev/ belong to pgo; choose another key")
		}
		if !annotations {
			for _, msg := range validation.IsValidLabelValue(m[k]) {
				c.add(f, "the value is not valid: %s", msg)
			}
		}
	}
	if len(m) > 64 {
		c.add(field, "has %d entries; at most 64", len(m))
	}
}
