package apiserver

import (
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, pgoapi.PasswordHashPrefix) || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := hashPassword("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		stored, password string
		ok               bool
	}{
		{h, "correct horse", true},
		{h, "correct horse ", false},
		{h, "", false},
		{"plain-secret", "plain-secret", true},
		{"plain-secret", "plain-secreT", false},
		{pgoapi.PasswordHashPrefix + "x$y$z", "x", false},
		{pgoapi.PasswordHashPrefix + "99999999999$AAAA$AAAA", "x", false},
		{pgoapi.PasswordHashPrefix, "", false},
	} {
		if got := checkPassword(tc.stored, tc.password); got != tc.ok {
			t.Errorf("checkPassword(%.30q, %q) = %v", tc.stored, tc.password, got)
		}
	}
}

func TestNewPassword(t *testing.T) {
	p, err := newPassword(0)
	if err != nil || len(p) != DefaultPasswordLength {
		t.Fatalf("%q %v", p, err)
	}
	q, _ := newPassword(40)
	if len(q) != 40 || p == q[:DefaultPasswordLength] {
		t.Errorf("%q", q)
	}
	if strings.ContainsAny(p+q, `'"\ :@/%`) {
		t.Errorf("passwords need quoting: %q %q", p, q)
	}
}
