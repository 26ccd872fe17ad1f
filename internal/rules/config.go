package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// Custom PostgreSQL configuration: spec.config, and the ConfigMap that
// `pgo create cluster --custom-config` names.

// Patterns and limits of custom configuration, as the CRD's markers write
// them.
const (
	// ParameterNamePattern is a PostgreSQL setting name, such as work_mem
	// or pg_stat_statements.max.
	ParameterNamePattern = `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$`
	// MaxParameters and MaxParameterValueLength limit spec.config.parameters.
	MaxParameters           = 256
	MaxParameterValueLength = 4096
	// MaxHBARules and MaxHBARuleLength limit spec.config.pgHBA.
	MaxHBARules      = 256
	MaxHBARuleLength = 512
	// ConfigValueBreaks are the characters a postgresql.conf value or a
	// pg_hba.conf rule may not hold: the files are written a line per
	// setting or rule, and a line break would add one (quotes and
	// backslashes are escaped when the file is written).
	ConfigValueBreaks = "\n\r\x00"
	// HBATrustPattern matches a pg_hba.conf rule whose method is trust:
	// the method follows the database, user and, for host rules, the
	// address (with or without a separate mask).
	HBATrustPattern = `^(local(\s+\S+){2}|host\S*(\s+\S+){3}|host\S*(\s+\S+){4})\s+trust(\s|$)`
)

var (
	parameterName = regexp.MustCompile(ParameterNamePattern)
	hbaTrust      = regexp.MustCompile(HBATrustPattern)
)

// ParameterName checks the name of a PostgreSQL setting.
func ParameterName(name string) string {
	if !parameterName.MatchString(name) {
		return "is not a PostgreSQL setting name, such as work_mem or pg_stat_statements.max"
	}
	return ""
}

// ParameterValue checks a postgresql.conf value.
func ParameterValue(value string) string {
	switch {
	case len(value) > MaxParameterValueLength:
		return fmt.Sprintf("is %d characters long; give at most %d", len(value), MaxParameterValueLength)
	case strings.ContainsAny(value, ConfigValueBreaks):
		return "holds a line break or NUL, which would add a line to postgresql.conf; give the value on one line"
	}
	return ""
}

// HBARule checks a custom pg_hba.conf rule.
func HBARule(rule string) string {
	switch {
	case len(rule) > MaxHBARuleLength:
		return fmt.Sprintf("is %d characters long; give at most %d", len(rule), MaxHBARuleLength)
	case strings.ContainsAny(rule, ConfigValueBreaks):
		return "holds a line break or NUL, which would add a rule to pg_hba.conf; give one rule per entry"
	case hbaTrust.MatchString(rule):
		return "uses the trust method, which lets anyone who reaches the server in as that user without a password; use scram-sha-256 or cert"
	}
	return ""
}
