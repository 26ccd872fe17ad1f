package rules

import (
	"fmt"
	"slices"
	"strings"

	"pgo.dev/pgo/internal/pgoapi"
)

// Database users' attributes and databases, and pgo roles' permissions.

const (
	// MaxRoleOptionsLength limits a user's role attributes.
	MaxRoleOptionsLength = 256
	// MaxUserDatabases is the most databases a user is given.
	MaxUserDatabases = 64
)

// RoleOptions checks the form of a user's role attributes, such as
// "CREATEDB NOINHERIT": the controller's parser (postgres.ParseRoleOptions)
// then reads them.
func RoleOptions(options string) string {
	switch {
	case len(options) > MaxRoleOptionsLength:
		return fmt.Sprintf("is %d characters long; give at most %d", len(options), MaxRoleOptionsLength)
	case options != strings.Join(strings.Fields(options), " "):
		return `is invalid: separate role attributes with single spaces, such as "CREATEDB NOINHERIT"`
	}
	return ""
}

// Permission checks the name of a permission a pgo role grants.
func Permission(p string) string {
	if pgoapi.KnownPermission(pgoapi.Permission(p)) {
		return ""
	}
	names := make([]string, len(pgoapi.Permissions))
	for i, q := range pgoapi.Permissions {
		names[i] = string(q)
	}
	return fmt.Sprintf("is not a permission; give %s or some of %s", pgoapi.PermissionAll, strings.Join(names, ", "))
}

// Permissions checks the permissions of a pgo role as a whole.
func Permissions(perms []string) string {
	switch {
	case len(perms) == 0:
		return fmt.Sprintf("is empty; give permissions such as %s, or %s for all", pgoapi.PermShow, pgoapi.PermissionAll)
	case len(perms) > 1 && slices.Contains(perms, string(pgoapi.PermissionAll)):
		return fmt.Sprintf("gives %s with other permissions; %s grants every permission, so give it alone", pgoapi.PermissionAll, pgoapi.PermissionAll)
	}
	return ""
}
