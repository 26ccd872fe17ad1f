package apiserver

// Login hardening, against a real kube-apiserver (internal/testenv): every
// failed login costs one password hash, wrong passwords are limited per pgo
// user and client address before any hash is computed, the audit line
// names the attempted user, and Kubernetes errors stay in the log.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"pgo.dev/pgo/internal/pgoapi"
)

// TestFailedLoginsCostAHash: a login that fails because the user does not
// exist, its name is invalid or its record holds no password waits for a
// hash slot and hashes, as a wrong password for a known user does, so that
// the time of the answer does not tell which users exist.
func TestFailedLoginsCostAHash(t *testing.T) {
	h := newHarness(t)
	hash, err := hashPassword("known-password")
	if err != nil {
		t.Fatal(err)
	}
	h.create(pgouserSecret(operatorNS, "known", hash, nil, nil))
	h.create(pgouserSecret(operatorNS, "nopassword", "", nil, nil))
	h.create(pgouserSecret(operatorNS, "clear", "clear-password", nil, nil))

	for _, tc := range []struct{ what, user string }{
		{"a wrong password for a known user", "known"},
		{"an unknown user", "nobody"},
		{"a user whose record has no password", "nopassword"},
		{"a user whose password is stored in clear", "clear"},
		{"an invalid user name", "Admin"},
		{"a user name too long", strings.Repeat("a", 64)},
	} {
		// Hold every hash slot: a login that hashes must wait for one.
		hashSlots <- struct{}{}
		hashSlots <- struct{}{}
		done := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", h.url+pgoapi.PathVersion, nil)
			req.SetBasicAuth(tc.user, "wrong-password")
			resp, err := h.client.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		code := -1
		select {
		case code = <-done:
			t.Errorf("%s: answered %d while every hash slot was taken: no password was hashed", tc.what, code)
		case <-time.After(300 * time.Millisecond):
		}
		<-hashSlots
		<-hashSlots
		if code == -1 {
			code = <-done
		}
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.what, code)
		}
	}
}
