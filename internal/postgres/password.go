package postgres

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// Password types, as PostgreSQL's password_encryption names them.
const (
	PasswordSCRAM = "scram-sha-256"
	PasswordMD5   = "md5"
)

// Password generation and SCRAM parameters.
const (
	// PasswordLength is how many characters NewPassword returns: 24 of 62
	// possible ones are 142 bits.
	PasswordLength = 24
	// passwordAlphabet holds only characters that need no quoting in a
	// URI, a shell or a libpq password file.
	passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// scramIterations and scramSaltLength are PostgreSQL's defaults
	// (scram_iterations, SCRAM_DEFAULT_SALT_LEN).
	scramIterations = 4096
	scramSaltLength = 16
)

// NewPassword is a random password of PasswordLength letters and digits,
// from crypto/rand.
func NewPassword() (string, error) { return NewPasswordOfLength(PasswordLength) }

// NewPasswordOfLength is a random password of n letters and digits, from
// crypto/rand.
func NewPasswordOfLength(n int) (string, error) {
	out := make([]byte, n)
	// Rejection sampling keeps every character equally likely: bytes at or
	// above the largest multiple of the alphabet's size are drawn again.
	limit := byte(256 - 256%len(passwordAlphabet))
	buf := make([]byte, 2*n)
	for n := 0; n < len(out); {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generating a password: %w", err)
		}
		for _, b := range buf {
			if b < limit && n < len(out) {
				out[n] = passwordAlphabet[int(b)%len(passwordAlphabet)]
				n++
			}
		}
	}
	return string(out), nil
}

// Verifier is what PostgreSQL stores for a password (pg_authid.rolpassword),
// computed here so that the password itself never reaches the server:
// SCRAM-SHA-256 with a fresh salt, or md5 when passwordType is "md5".
func Verifier(passwordType, user, password string) (string, error) {
	switch passwordType {
	case "", PasswordSCRAM:
		salt := make([]byte, scramSaltLength)
		if _, err := rand.Read(salt); err != nil {
			return "", fmt.Errorf("generating a salt: %w", err)
		}
		return SCRAMVerifier(password, salt, scramIterations)
	case PasswordMD5:
		return MD5Verifier(user, password), nil
	}
	return "", fmt.Errorf("unknown password type %q: use %s or %s", passwordType, PasswordSCRAM, PasswordMD5)
}

// SCRAMVerifier is a SCRAM-SHA-256 verifier (RFC 5802, RFC 7677) as
// PostgreSQL stores it:
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// with base64 salt and keys. The password is prepared with SASLprep as
// PostgreSQL does.
func SCRAMVerifier(password string, salt []byte, iterations int) (string, error) {
	if len(salt) == 0 || iterations < 1 {
		return "", errors.New("a SCRAM verifier needs a salt and at least one iteration")
	}
	stored, server, err := scramKeys(password, salt, iterations)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored), b64(server)), nil
}

func scramKeys(password string, salt []byte, iterations int) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, saslprep(password), salt, iterations, sha256.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("deriving the SCRAM key: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	sum := sha256.Sum256(clientKey)
	return sum[:], mac(salted, "Server Key"), nil
}

// MD5Verifier is PostgreSQL's md5 password: "md5" and the hex MD5 of the
// password followed by the user name.
func MD5Verifier(user, password string) string {
	sum := md5.Sum([]byte(password + user))
	return "md5" + hex.EncodeToString(sum[:])
}

// VerifierType is the password type of a verifier: PasswordSCRAM,
// PasswordMD5, or "" when it is neither (such as a password in clear).
func VerifierType(verifier string) string {
	if _, _, _, _, err := parseSCRAM(verifier); err == nil {
		return PasswordSCRAM
	}
	if len(verifier) == 35 && strings.HasPrefix(verifier, "md5") {
		if _, err := hex.DecodeString(verifier[3:]); err == nil && strings.ToLower(verifier[3:]) == verifier[3:] {
			return PasswordMD5
		}
	}
	return ""
}

// VerifierMatches reports whether verifier was made from the user's
// password, so that an unchanged password keeps its verifier (and its
// salt).
func VerifierMatches(verifier, user, password string) bool {
	switch VerifierType(verifier) {
	case PasswordMD5:
		return subtle.ConstantTimeCompare([]byte(verifier), []byte(MD5Verifier(user, password))) == 1
	case PasswordSCRAM:
		iterations, salt, stored, server, _ := parseSCRAM(verifier)
		s, v, err := scramKeys(password, salt, iterations)
		return err == nil && hmac.Equal(s, stored) && hmac.Equal(v, server)
	}
	return false
}

// parseSCRAM splits a SCRAM-SHA-256 verifier.
func parseSCRAM(v string) (iterations int, salt, stored, server []byte, err error) {
	bad := errors.New("not a SCRAM-SHA-256 verifier")
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$")
	if !ok {
		return 0, nil, nil, nil, bad
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return 0, nil, nil, nil, bad
	}
	iter, saltB64, ok1 := strings.Cut(params, ":")
	storedB64, serverB64, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return 0, nil, nil, nil, bad
	}
	if iterations, err = strconv.Atoi(iter); err != nil || iterations < 1 || iterations > 10_000_000 {
		return 0, nil, nil, nil, bad
	}
	dec := base64.StdEncoding.DecodeString
	if salt, err = dec(saltB64); err != nil || len(salt) == 0 {
		return 0, nil, nil, nil, bad
	}
	if stored, err = dec(storedB64); err != nil || len(stored) != sha256.Size {
		return 0, nil, nil, nil, bad
	}
	if server, err = dec(serverB64); err != nil || len(server) != sha256.Size {
		return 0, nil, nil, nil, bad
	}
	return iterations, salt, stored, server, nil
}

// saslprep prepares a password as PostgreSQL's pg_saslprep does (RFC 4013):
// ASCII passwords are used as they are; others are mapped (non-ASCII spaces
// to a space, characters "commonly mapped to nothing" removed) and
// normalized with NFKC. Like PostgreSQL, it falls back to the password's
// raw bytes when the result holds prohibited characters or breaks the
// bidirectional rules. Unassigned code points are judged by Go's Unicode
// tables rather than Unicode 3.2's, so a password with characters assigned
// after 3.2 may differ from PostgreSQL's preparation.
func saslprep(password string) string {
	ascii := true
	for _, b := range []byte(password) {
		if b >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii || !utf8.ValidString(password) {
		return password
	}
	var mapped strings.Builder
	for _, r := range password {
		switch {
		case mappedToNothing(r):
		case nonASCIISpace(r):
			mapped.WriteByte(' ')
		default:
			mapped.WriteRune(r)
		}
	}
	prepared := norm.NFKC.String(mapped.String())
	if prepared == "" {
		return password
	}
	var hasRandAL, hasL bool
	runes := []rune(prepared)
	for _, r := range runes {
		if prohibited(r) {
			return password
		}
		switch bidiClass(r) {
		case bidi.R, bidi.AL:
			hasRandAL = true
		case bidi.L:
			hasL = true
		}
	}
	if hasRandAL {
		first, last := bidiClass(runes[0]), bidiClass(runes[len(runes)-1])
		if hasL || (first != bidi.R && first != bidi.AL) || (last != bidi.R && last != bidi.AL) {
			return password
		}
	}
	return prepared
}

func bidiClass(r rune) bidi.Class {
	p, _ := bidi.LookupRune(r)
	return p.Class()
}

// mappedToNothing is RFC 3454 table B.1.
func mappedToNothing(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x1806, r == 0x180B, r == 0x180C, r == 0x180D,
		r == 0x200B, r == 0x200C, r == 0x200D, r == 0x2060, r == 0xFEFF:
		return true
	case r >= 0xFE00 && r <= 0xFE0F:
		return true
	}
	return false
}

// nonASCIISpace is RFC 3454 table C.1.2.
func nonASCIISpace(r rune) bool {
	switch {
	case r == 0x00A0, r == 0x1680, r == 0x202F, r == 0x205F, r == 0x3000:
		return true
	case r >= 0x2000 && r <= 0x200B:
		return true
	}
	return false
}

// prohibited is RFC 4013's prohibited output (RFC 3454 tables C.1.2 to
// C.9) and unassigned code points.
func prohibited(r rune) bool {
	switch {
	case nonASCIISpace(r):
		return true
	case unicode.Is(unicode.Cc, r): // C.2.1, C.2.2 (controls)
		return true
	case r == 0x06DD, r == 0x070F, r == 0x180E, r == 0x200C, r == 0x200D, r == 0x2028, r == 0x2029,
		r >= 0x2060 && r <= 0x2063, r >= 0x206A && r <= 0x206F, r == 0xFEFF,
		r >= 0xFFF9 && r <= 0xFFFC, r >= 0x1D173 && r <= 0x1D17A: // C.2.2
		return true
	case unicode.Is(unicode.Co, r): // C.3 private use
		return true
	case r&0xFFFE == 0xFFFE, r >= 0xFDD0 && r <= 0xFDEF: // C.4 non-characters
		return true
	case unicode.Is(unicode.Cs, r): // C.5 surrogates
		return true
	case r >= 0xFFF9 && r <= 0xFFFD: // C.6, C.7
		return true
	case r >= 0x0340 && r <= 0x0341, r >= 0x200E && r <= 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x206A && r <= 0x206F: // C.8
		return true
	case r == 0xE0001, r >= 0xE0020 && r <= 0xE007F: // C.9 tagging
		return true
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs, unicode.Cf): // unassigned
		return true
	}
	return false
}
