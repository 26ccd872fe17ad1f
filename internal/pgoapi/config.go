package pgoapi

import (
	"regexp"
	"strings"
)

// The rules for custom PostgreSQL configuration (spec.config, and the
// ConfigMap `pgo create cluster --custom-config` names). The CRD's markers
// on PGConfigSpec say the same (api/v1's tests hold both to one table).

// ConfigValueBreaks are the characters a postgresql.conf value or a
// pg_hba.conf rule may not hold: the files are written a line per setting
// or rule, and a line break would add one (quotes and backslashes are
// escaped when the file is written).
const ConfigValueBreaks = "\n\r\x00"

// hbaTrust matches a pg_hba.conf rule whose method is trust: the method
// follows the database, user and, for host rules, the address (with or
// without a separate mask).
var hbaTrust = regexp.MustCompile(`^(local(\s+\S+){2}|host\S*(\s+\S+){3}|host\S*(\s+\S+){4})\s+trust(\s|$)`)

// ParameterValueProblem says what is wrong with a postgresql.conf value,
// or "".
func ParameterValueProblem(value string) string {
	if strings.ContainsAny(value, ConfigValueBreaks) {
		return "holds a line break or NUL, which would add a line to postgresql.conf; give the value on one line"
	}
	return ""
}

// HBARuleProblem says what is wrong with a custom pg_hba.conf rule, or "".
func HBARuleProblem(rule string) string {
	switch {
	case strings.ContainsAny(rule, ConfigValueBreaks):
		return "holds a line break or NUL, which would add a rule to pg_hba.conf; give one rule per entry"
	case hbaTrust.MatchString(rule):
		return "uses the trust method, which lets anyone who reaches the server in as that user without a password; use scram-sha-256 or cert"
	}
	return ""
}
