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
	"sync"

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
	return formatHash(hashIterations, salt, key), nil
}

// formatHash is how a hash is stored: prefix, iterations, salt and key.
func formatHash(iterations int, salt, key []byte) string {
	enc := base64.RawStdEncoding
	return pgoapi.PasswordHashPrefix + strconv.Itoa(iterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key)
}

// parseHash reads a stored hash; ok is false for a password in clear or a
// malformed hash.
func parseHash(stored string) (iterations int, salt, key []byte, ok bool) {
	rest, hashed := strings.CutPrefix(stored, pgoapi.PasswordHashPrefix)
	if !hashed {
		return 0, nil, nil, false
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return 0, nil, nil, false
	}
	iterations, err := strconv.Atoi(parts[0])
	if err != nil || iterations < 1 || iterations > 10_000_000 {
		return 0, nil, nil, false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[1])
	key, err2 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return 0, nil, nil, false
	}
	return iterations, salt, key, true
}

// checkPassword compares a password with what a pgouser Secret stores.
func checkPassword(stored, password string) bool {
	if !strings.HasPrefix(stored, pgoapi.PasswordHashPrefix) {
		return subtle.ConstantTimeCompare([]byte(stored), []byte(password)) == 1
	}
	iterations, salt, want, ok := parseHash(stored)
	if !ok {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iterations, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// dummyVerifier is a hash of the stored kind and cost that no password
// matches (its key is random, not derived). A login whose user has no
// stored hash (no such user, an invalid name, no password, or a password
// in clear) is hashed against it, so that every check costs one hash and
// the time of a failure does not tell which users exist.
var dummyVerifier = sync.OnceValue(func() string {
	salt, key := make([]byte, hashSaltBytes), make([]byte, hashKeyBytes)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	return formatHash(hashIterations, salt, key)
})

// verifierFor is what a password is hashed against: the stored hash, or
// the dummy verifier when there is none.
func verifierFor(stored string) string {
	if _, _, _, ok := parseHash(stored); ok {
		return stored
	}
	return dummyVerifier()
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
