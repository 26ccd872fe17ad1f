package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Lengths of passwords, given or generated, of database users and pgo
// users alike.
//
// MaxPasswordLength is 128: SCRAM-SHA-256 keeps 256-bit keys, which about
// 43 random characters already fill, so a longer password is no stronger;
// 128 leaves room for any passphrase, and stays well inside what the
// programs a password passes through read: PostgreSQL takes password
// messages of about 1000 bytes at most, and older PgBouncer releases kept
// passwords in fixed buffers that later ones had to enlarge.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// Password checks a password a user gives.
func Password(pw string) string {
	switch n := utf8.RuneCountInString(pw); {
	case strings.ContainsFunc(pw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "holds control characters, such as a line break or a tab; use printable characters only"
	case n < MinPasswordLength:
		return fmt.Sprintf("is shorter than %d characters; give a longer one", MinPasswordLength)
	case n > MaxPasswordLength:
		return fmt.Sprintf("is %d characters long; give at most %d", n, MaxPasswordLength)
	}
	return ""
}

// PasswordLength checks the length asked of a generated password.
func PasswordLength(n int) string {
	return Range(n, MinPasswordLength, MaxPasswordLength)
}
