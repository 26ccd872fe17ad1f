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

// TestDummyVerifier: what a login without a stored hash is hashed against
// costs what a stored hash costs (same kind, iterations, salt and key
// sizes), matches no password, and stands in for anything not a hash.
func TestDummyVerifier(t *testing.T) {
	hashed, err := hashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	dummy := dummyVerifier()
	ri, rs, rk, rok := parseHash(hashed)
	di, ds, dk, dok := parseHash(dummy)
	if !rok || !dok || di != ri || di != hashIterations || len(ds) != len(rs) || len(dk) != len(rk) {
		t.Errorf("dummy %q is not hashed like %q", dummy, hashed)
	}
	if dummyVerifier() != dummy {
		t.Error("the dummy verifier changes")
	}
	if checkPassword(dummy, "") || checkPassword(dummy, "correct horse") {
		t.Error("a password matches the dummy verifier")
	}
	for _, tc := range []struct{ stored, want string }{
		{hashed, hashed},
		{"", dummy},
		{"a password in clear", dummy},
		{pgoapi.PasswordHashPrefix + "x$y$z", dummy},
	} {
		if got := verifierFor(tc.stored); got != tc.want {
			t.Errorf("verifierFor(%.30q) = %.30q, want %.30q", tc.stored, got, tc.want)
		}
	}
}
