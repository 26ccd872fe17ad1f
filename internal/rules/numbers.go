package rules

import "fmt"

// Range checks a whole number from lo to hi.
func Range(n, lo, hi int) string {
	if n < lo || n > hi {
		return fmt.Sprintf("is out of range; give %d to %d", lo, hi)
	}
	return ""
}

// MaxDays is the furthest a password's expiry may be set, and looked for.
const MaxDays = 36500

// Days checks a number of days from now: when a password expires, or how
// far ahead to look for expiring ones.
func Days(n int) string {
	switch {
	case n < 0:
		return "must not be negative; give 0 or more days"
	case n > MaxDays:
		return fmt.Sprintf("is more than %d days (100 years); give fewer", MaxDays)
	}
	return ""
}

// Count checks how many entries a list or map has, against its limit.
func Count(n, limit int) string {
	if n > limit {
		return fmt.Sprintf("has %d entries; give at most %d", n, limit)
	}
	return ""
}
