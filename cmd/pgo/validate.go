package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"pgo.dev/pgo/internal/rules"
)

// The CLI checks its input before sending a request, with the rules the
// apiserver applies (internal/rules), so that a mistake is reported with the
// flag to change; the apiserver and the Kubernetes API check again.

// invalid is the error for a value that breaks a rule, or nil when why is
// empty: what holds the value (a flag, or "cluster name" for an argument),
// the value, and the rule's reason.
func invalid(what, value, why string) error {
	switch {
	case why == "":
		return nil
	case value == "":
		return fmt.Errorf("%s %s", what, why)
	}
	return fmt.Errorf("%s %q %s", what, value, why)
}

// invalidNumber is invalid for a number.
func invalidNumber(flag string, n int, why string) error {
	if why == "" {
		return nil
	}
	return fmt.Errorf("%s %d %s", flag, n, why)
}

// validateEach checks names in turn, as arguments of commands that take
// several, and returns the first error.
func validateEach(names []string, validate func(string) error) error {
	for _, name := range names {
		if err := validate(name); err != nil {
			return err
		}
	}
	return nil
}

func validateClusterName(name string) error {
	return invalid("cluster name", name, rules.ClusterName(name))
}

func validateInstanceName(flag, name string) error {
	if err := invalid(flag, name, rules.InstanceName(name)); err != nil {
		return fmt.Errorf("%w (see the --query output)", err)
	}
	return nil
}

func validateNamespace(ns string) error {
	return invalid("namespace", ns, rules.Namespace(ns))
}

// validateRoleName checks a database user's name (--username).
func validateRoleName(flag, name string) error {
	return invalid(flag, name, rules.RoleName(name))
}

func validateDatabaseName(flag, name string) error {
	return invalid(flag, name, rules.DatabaseName(name))
}

// validateObjectName checks the name of a Kubernetes object such as a Secret,
// a ConfigMap or a StorageClass.
func validateObjectName(flag, name string) error {
	return invalid(flag, name, rules.ObjectName(name))
}

// checkQuantity checks a size or CPU amount such as 1Gi, 512Mi or 500m, if
// given.
func checkQuantity(flag, value, example string) error {
	if value == "" {
		return nil
	}
	_, why := rules.Quantity(value, example)
	return invalid(flag, value, why)
}

// checkLimit checks that a limit is at least its request when both are given.
func checkLimit(limitFlag, limit, request string) error {
	if request == "" || limit == "" {
		return nil
	}
	r, err1 := resource.ParseQuantity(request)
	l, err2 := resource.ParseQuantity(limit)
	if err1 != nil || err2 != nil {
		return nil // checkQuantity says what is wrong
	}
	if why := rules.Limit(l, r); why != "" {
		return fmt.Errorf("%s %s %s", limitFlag, limit, why)
	}
	return nil
}

// checkEnum checks that value is one of allowed (case-sensitive).
func checkEnum(flag, value string, allowed ...string) error {
	return invalid(flag, value, rules.OneOf(value, allowed))
}

// parseKeyValues reads "key=value" pairs (from a repeated or comma-separated
// flag) as labels or annotations.
func parseKeyValues(flag string, pairs []string, labels bool) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	if err := invalid(flag, "", rules.Count(len(pairs), rules.MaxMetadataEntries)); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(pairs))
	for _, pair := range pairs {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%s %q must be key=value", flag, pair)
		}
		if err := invalid(flag+" key", key, rules.MetadataKey(key)); err != nil {
			return nil, err
		}
		if labels {
			if err := invalid(flag+" value", value, rules.LabelValue(value)); err != nil {
				return nil, err
			}
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s gives %s twice; give each key once", flag, key)
		}
		out[key] = value
	}
	return out, nil
}

// checkToleration checks a --toleration.
func checkToleration(value string) error {
	_, why := rules.Toleration(value)
	return invalid("--toleration", value, why)
}

// validateSelector checks a label selector such as env=prod,team!=db.
func validateSelector(selector string) error {
	_, why := rules.Selector(selector)
	return invalid("--selector", selector, why)
}
