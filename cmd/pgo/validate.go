package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/labels"

	pgov1 "pgo.dev/pgo/api/v1"
)

// The CLI checks its input before sending a request, with the rules of the
// pgo.dev/v1 schema, so that a mistake is reported with the flag to change;
// the apiserver and the Kubernetes API check again.

var (
	clusterNamePattern  = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	roleNamePattern     = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	databaseNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$-]*$`)
	pgoUserNamePattern  = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	backrestOptPattern  = regexp.MustCompile(`^--[a-z][a-z0-9-]*(=.*)?$`)
	s3BucketPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)
	s3EndpointPattern   = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)
	workflowIDPattern   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// reservedRoles are the database users pgo manages itself.
var reservedRoles = []string{"postgres", "replicator", "pgbouncer", "ccp_monitoring", "pgbackrest"}

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
	switch {
	case name == "":
		return fmt.Errorf("a cluster name is required")
	case len(name) > pgov1.MaxClusterNameLength:
		return fmt.Errorf("cluster name %q is %d characters long; use at most %d, so that the names pgo derives from it fit Kubernetes limits", name, len(name), pgov1.MaxClusterNameLength)
	case !clusterNamePattern.MatchString(name):
		return fmt.Errorf("cluster name %q is invalid: start with a lowercase letter, use only lowercase letters, digits and '-', and end with a letter or digit (such as hacluster)", name)
	}
	return nil
}

func validateInstanceName(flag, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s needs an instance name (see the --query output)", flag)
	case len(name) > pgov1.MaxInstanceNameLength:
		return fmt.Errorf("%s %q is longer than %d characters; give an instance name from the --query output", flag, name, pgov1.MaxInstanceNameLength)
	case !clusterNamePattern.MatchString(name):
		return fmt.Errorf("%s %q is not an instance name: instance names hold lowercase letters, digits and '-' (see the --query output)", flag, name)
	}
	return nil
}

func validateNamespace(ns string) error {
	if msgs := content.IsDNS1123Label(ns); len(msgs) > 0 {
		return fmt.Errorf("namespace %q is invalid: %s", ns, strings.Join(msgs, "; "))
	}
	return nil
}

// validateRoleName checks a database user's name (--username).
func validateRoleName(flag, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is required", flag)
	case len(name) > 63:
		return fmt.Errorf("%s %q is longer than 63 characters, PostgreSQL's limit", flag, name)
	case !roleNamePattern.MatchString(name):
		return fmt.Errorf("%s %q is invalid: start with a lowercase letter and use only lowercase letters, digits, '_' and '-'", flag, name)
	case slices.Contains(reservedRoles, name):
		return fmt.Errorf("%s %q is a user pgo manages itself; choose another name (not %s)", flag, name, strings.Join(reservedRoles, ", "))
	case strings.HasPrefix(name, "pg_"):
		return fmt.Errorf("%s %q starts with pg_, which PostgreSQL reserves for its own roles; choose another name", flag, name)
	}
	return nil
}

func validateDatabaseName(flag, name string) error {
	switch {
	case len(name) > 63:
		return fmt.Errorf("%s %q is longer than 63 characters, PostgreSQL's limit", flag, name)
	case !databaseNamePattern.MatchString(name):
		return fmt.Errorf("%s %q is invalid: start with a letter or '_' and use only letters, digits, '_', '$' and '-'", flag, name)
	}
	return nil
}

// validateObjectName checks the name of a Kubernetes object such as a Secret,
// a ConfigMap or a StorageClass.
func validateObjectName(flag, name string) error {
	if msgs := content.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("%s %q is not a valid Kubernetes object name: %s", flag, name, strings.Join(msgs, "; "))
	}
	return nil
}

// validatePgoUserName checks the name of a pgo user or role: it names the
// Secret pgouser-<name> or pgorole-<name>.
func validatePgoUserName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a %s name is required", kind)
	case len(name) > 63:
		return fmt.Errorf("%s name %q is longer than 63 characters", kind, name)
	case !pgoUserNamePattern.MatchString(name):
		return fmt.Errorf("%s name %q is invalid: start with a lowercase letter and use only lowercase letters, digits and '-', not at the end", kind, name)
	}
	return nil
}

// parseQuantity checks a size or CPU amount such as 1Gi, 512Mi or 500m;
// it must be greater than zero.
func parseQuantity(flag, value, example string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return q, fmt.Errorf("%s %q is not a quantity; give one such as %s", flag, value, example)
	}
	if q.Sign() <= 0 {
		return q, fmt.Errorf("%s %q must be greater than zero, such as %s", flag, value, example)
	}
	return q, nil
}

// checkQuantity is parseQuantity for a flag that may be empty.
func checkQuantity(flag, value, example string) error {
	if value == "" {
		return nil
	}
	_, err := parseQuantity(flag, value, example)
	return err
}

// checkLimit checks that a limit is at least its request when both are given.
func checkLimit(requestFlag, request, limitFlag, limit string) error {
	if request == "" || limit == "" {
		return nil
	}
	r, err1 := resource.ParseQuantity(request)
	l, err2 := resource.ParseQuantity(limit)
	if err1 == nil && err2 == nil && l.Cmp(r) < 0 {
		return fmt.Errorf("%s %s is less than %s %s; a limit must be at least the request", limitFlag, limit, requestFlag, request)
	}
	return nil
}

// checkEnum checks that value is one of allowed (case-sensitive).
func checkEnum(flag, value string, allowed ...string) error {
	if value == "" || slices.Contains(allowed, value) {
		return nil
	}
	return fmt.Errorf("%s %q is not one of %s", flag, value, strings.Join(allowed, ", "))
}

// parseKeyValues reads "key=value" pairs (from a repeated or comma-separated
// flag) as labels or annotations; keys under pgo.dev/ belong to pgo.
func parseKeyValues(flag string, pairs []string, labels bool) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, pair := range pairs {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%s %q must be key=value", flag, pair)
		}
		if msgs := content.IsLabelKey(key); len(msgs) > 0 {
			return nil, fmt.Errorf("%s key %q is invalid: %s", flag, key, strings.Join(msgs, "; "))
		}
		if strings.HasPrefix(key, "pgo.dev/") {
			return nil, fmt.Errorf("%s key %q is under pgo.dev/, which belongs to pgo; choose another key", flag, key)
		}
		if labels {
			if msgs := content.IsLabelValue(value); len(msgs) > 0 {
				return nil, fmt.Errorf("%s value %q of %s is invalid: %s", flag, value, key, strings.Join(msgs, "; "))
			}
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s gives %s twice; give each key once", flag, key)
		}
		out[key] = value
	}
	return out, nil
}

// parseNodeLabel reads --node-label=key=value.
func parseNodeLabel(value string) (key, val string, err error) {
	key, val, ok := strings.Cut(value, "=")
	if !ok || key == "" {
		return "", "", fmt.Errorf("--node-label %q must be key=value, such as topology.kubernetes.io/zone=zone-a", value)
	}
	if msgs := content.IsLabelKey(key); len(msgs) > 0 {
		return "", "", fmt.Errorf("--node-label key %q is invalid: %s", key, strings.Join(msgs, "; "))
	}
	if msgs := content.IsLabelValue(val); len(msgs) > 0 {
		return "", "", fmt.Errorf("--node-label value %q is invalid: %s", val, strings.Join(msgs, "; "))
	}
	return key, val, nil
}

// tolerationEffects are the effects a --toleration may name.
var tolerationEffects = []string{
	string(corev1.TaintEffectNoSchedule),
	string(corev1.TaintEffectPreferNoSchedule),
	string(corev1.TaintEffectNoExecute),
}

// parseToleration reads a --toleration as Crunchy 4.x does: "key=value:Effect"
// tolerates a taint with that value, "key:Effect" any taint with that key.
func parseToleration(value string) (corev1.Toleration, error) {
	var t corev1.Toleration
	rule, effect, ok := strings.Cut(value, ":")
	key, val, hasValue := strings.Cut(rule, "=")
	if !ok || key == "" {
		return t, fmt.Errorf("--toleration %q must be key=value:Effect or key:Effect, such as zone=east:NoSchedule", value)
	}
	if !slices.Contains(tolerationEffects, effect) {
		return t, fmt.Errorf("--toleration %q: effect %q is not one of %s", value, effect, strings.Join(tolerationEffects, ", "))
	}
	t.Effect = corev1.TaintEffect(effect)
	if msgs := content.IsLabelKey(key); len(msgs) > 0 {
		return t, fmt.Errorf("--toleration key %q is invalid: %s", key, strings.Join(msgs, "; "))
	}
	t.Key = key
	if hasValue {
		if msgs := content.IsLabelValue(val); len(msgs) > 0 {
			return t, fmt.Errorf("--toleration value %q is invalid: %s", val, strings.Join(msgs, "; "))
		}
		t.Operator, t.Value = corev1.TolerationOpEqual, val
	} else {
		t.Operator = corev1.TolerationOpExists
	}
	return t, nil
}

// parseBackRestOptions splits --restore-opts ("--type=time
// --target='2026-11-27 11:59:59+00'") into pgBackRest long options, with
// shell-style single and double quotes.
func parseBackRestOptions(flag, value string) ([]string, error) {
	words, err := splitWords(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	for _, w := range words {
		if !backrestOptPattern.MatchString(w) {
			return nil, fmt.Errorf("%s: %q is not a pgBackRest long option; give options such as --type=time \"--target=2026-11-27 11:59:59+00\"", flag, w)
		}
	}
	if len(words) > 32 {
		return nil, fmt.Errorf("%s gives %d options; give at most 32", flag, len(words))
	}
	return words, nil
}

// splitWords splits s at unquoted spaces; single and double quotes group.
func splitWords(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				escaped = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// validateSelector checks a label selector such as env=prod,team!=db.
func validateSelector(selector string) error {
	if _, err := labels.Parse(selector); err != nil {
		return fmt.Errorf("--selector %q is not a label selector (%w); give one such as env=prod", selector, err)
	}
	return nil
}

// checkRange checks a count flag.
func checkRange(flag string, value, lo, hi int) error {
	if value < lo || value > hi {
		return fmt.Errorf("%s %d is out of range; give %s to %s", flag, value, strconv.Itoa(lo), strconv.Itoa(hi))
	}
	return nil
}
