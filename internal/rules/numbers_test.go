package rules

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPassword(t *testing.T) {
	checkVerdicts(t, "Password", Password, []verdict{
		{"longenough", ""},
		{"12345678", ""},
		{strings.Repeat("p", 128), ""},
		{"pässwört", ""}, // characters, not bytes
		{"p@ss w'rd\"\\", ""},
		{"", "is shorter than 8 characters"},
		{"short", "is shorter than 8 characters"},
		{strings.Repeat("p", 129), "is 129 characters long; give at most 128"},
		{strings.Repeat("p", 200), "is 200 characters long; give at most 128"},
		{"pass\tword1", "holds control characters"},
		{"pass\nword1", "holds control characters"},
		{"password\x00", "holds control characters"},
		{"password\x7f", "holds control characters"},
		{"a\nb", "holds control characters"},
	})
}

func TestNumbers(t *testing.T) {
	for _, c := range []struct {
		name string
		why  string
		says string
	}{
		{"password length 8", PasswordLength(8), ""},
		{"password length 128", PasswordLength(128), ""},
		{"password length 4", PasswordLength(4), "is out of range; give 8 to 128"},
		{"password length 200", PasswordLength(200), "is out of range; give 8 to 128"},
		{"replicas 0", Replicas(0), ""},
		{"replicas 32", Replicas(32), ""},
		{"replicas -1", Replicas(-1), "is out of range; give 0 to 32"},
		{"replicas 33", Replicas(33), "is out of range; give 0 to 32"},
		{"added replicas 1", AddedReplicas(1), ""},
		{"added replicas 0", AddedReplicas(0), "is out of range; give 1 to 32"},
		{"added replicas 33", AddedReplicas(33), "give 1 to 32"},
		{"days 0", Days(0), ""},
		{"days 36500", Days(36500), ""},
		{"days -3", Days(-3), "must not be negative"},
		{"days 40000", Days(40000), "is more than 36500 days"},
		{"count 64 of 64", Count(64, 64), ""},
		{"count 65 of 64", Count(65, 64), "has 65 entries; give at most 64"},
		{"range", Range(12, 13, 17), "is out of range; give 13 to 17"},
	} {
		reasonOK(t, c.name, c.why, c.says)
	}
}

func TestQuantity(t *testing.T) {
	for _, c := range []struct {
		in, says string
	}{
		{"256Mi", ""},
		{"500m", ""},
		{"2", ""},
		{"lots", "is not a quantity; give one such as 1Gi or 20Gi"},
		{"5GB!", "is not a quantity"},
		{"0", "must be greater than zero, such as 1Gi or 20Gi"},
		{"-1", "must be greater than zero"},
	} {
		q, why := Quantity(c.in, ExampleSize)
		if reasonOK(t, fmt.Sprintf("Quantity(%q)", c.in), why, c.says) && q.Cmp(resource.MustParse(c.in)) != 0 {
			t.Errorf("Quantity(%q) = %s", c.in, q.String())
		}
	}
}

func TestLimit(t *testing.T) {
	q := resource.MustParse
	if why := Limit(q("512Mi"), q("1Gi")); why != "is less than the request 1Gi; a limit must be at least the request" {
		t.Errorf("limit under request: %q", why)
	}
	for _, c := range [][2]string{{"1", "500m"}, {"1Gi", "1024Mi"}, {"2", "2"}} {
		if why := Limit(q(c[0]), q(c[1])); why != "" {
			t.Errorf("limit %s, request %s: %q", c[0], c[1], why)
		}
	}
}
