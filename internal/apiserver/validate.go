package apiserver

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/postgres"
	"pgo.dev/pgo/internal/rules"
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

// rule adds a field's problem, if a rule found one: the value (unless
// empty), then the rule's reason.
func (c *checks) rule(field, value, why string) {
	switch {
	case why == "":
	case value == "":
		c.add(field, "%s", why)
	default:
		c.add(field, "%q %s", value, why)
	}
}

// number is rule for a number.
func (c *checks) number(field string, n int, why string) {
	if why != "" {
		c.add(field, "%d %s", n, why)
	}
}

// dns1035 matches the names of pgo users (auth.go checks credentials' user
// names with it).
var dns1035 = regexp.MustCompile(rules.DNSLabelPattern)

func (c *checks) clusterName(field, name string) {
	c.rule(field, name, rules.ClusterName(name))
}

func (c *checks) namespaceName(field, name string) {
	c.rule(field, name, rules.Namespace(name))
}

// objectName checks the name of a Secret, a ConfigMap or a StorageClass.
func (c *checks) objectName(field, name string) {
	c.rule(field, name, rules.ObjectName(name))
}

// roleName checks a PostgreSQL user name that pgo manages.
func (c *checks) roleName(field, name string) {
	c.rule(field, name, rules.RoleName(name))
}

func (c *checks) databaseName(field, name string) {
	c.rule(field, name, rules.DatabaseName(name))
}

// password checks a password given by the user; empty is fine where the
// apiserver generates one.
func (c *checks) password(field, pw string) {
	if pw != "" {
		c.rule(field, "", rules.Password(pw))
	}
}

// roleOptions checks role attributes with the controller's own parser, and
// answers them.
func (c *checks) roleOptions(field, options string) postgres.RoleAttributes {
	if why := rules.RoleOptions(options); why != "" {
		c.rule(field, "", why)
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
	q, why := rules.Quantity(value, example)
	if why != "" {
		c.rule(field, value, why)
		return nil
	}
	return &q
}

// enum checks that value is one of allowed (empty is allowed: the default).
func (c *checks) enum(field, value string, allowed []string) {
	c.rule(field, value, rules.OneOf(value, allowed))
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
		c.rule(f, k, rules.MetadataKey(k))
		if !annotations {
			c.rule(f, m[k], rules.LabelValue(m[k]))
		}
	}
	c.rule(field, "", rules.Count(len(m), rules.MaxMetadataEntries))
}
