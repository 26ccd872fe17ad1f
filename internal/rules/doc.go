// Package rules is pgo's rulebook for input: the names, sizes, passwords,
// options and placement a user gives to the pgo CLI or to the apiserver.
// Both call these functions, so they refuse the same input for the same
// reason; the CRD's markers in api/v1 say the same, and TestCRDMarkers holds
// them to the constants here.
//
// Every rule is a pure function. It answers "" when the input is fine, or
// the reason it is not, phrased to follow the input's name: the CLI prints
// the flag and the value before it (`--username "pg_app" starts with pg_,
// ...`), the apiserver the field (`username: "pg_app" starts with pg_,
// ...`). A parser answers the parsed value too. Reasons that follow a
// colon instead, because they name a part of the input themselves, say so.
package rules
