package apiserver

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/postgres"
)

// pgo user passwords are stored hashed with PBKDF2-HMAC-SHA256 and a random
// salt, so that reading the pgouser Secrets does not reveal them (pgo users
// are people; their passwords are often used elsewhere too). A password in
// clear, as an administrator may write it with kubectl, is accepted as well
// and compared in constant time. Verified passwords are remembered (as an
// HMAC under a key that lives only in this process) until the user's Secret
// changes, so that the deliberately slow hash costs once per user, not per
// request.
const (
	hashIterations = 600_000
	hashSaltBytes  = 16
	hashKeyBytes   = 32
)

// hashPassword hashes a pgo user's password for its Secret.
func hashPassword(password string) (string, error) {
	salt := make([]byte, hashSaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("making a salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, hashIterations, hashKeyBytes)
	if err != nil {
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	enc := base64.RawStdEncoding
	return pgoapi.PasswordHashPrefix + strconv.Itoa(hashIterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// checkPassword compares a password with what a pgouser Secret stores.
func checkPassword(stored, password string) bool {
	rest, hashed := strings.CutPrefix(stored, pgoapi.PasswordHashPrefix)
	if !hashed {
		return subtle.ConstantTimeCompare([]byte(stored), []byte(password)) == 1
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return false
	}
	iter, err := strconv.Atoi(parts[0])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[1])
	want, err2 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// credentialMAC identifies verified credentials in memory without keeping
// the password.
func credentialMAC(key []byte, user, password string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return m.Sum(nil)
}

// DefaultPasswordLength of generated passwords.
const DefaultPasswordLength = postgres.PasswordLength

// newPassword generates a password of n characters (DefaultPasswordLength
// when n <= 0) that needs no quoting in a shell, a URI or a connection
// string.
func newPassword(n int) (string, error) {
	if n <= 0 {
		n = DefaultPasswordLength
	}
	return postgres.NewPasswordOfLength(n)
}
