// Package pgoapi is the contract between pgo's REST apiserver and the pgo
// command line: the URL paths, the request and response bodies, the
// permission names, the default port and the names of environment variables,
// headers, Secrets and labels. Both sides import it, so they cannot drift
// apart. It holds no behaviour beyond building paths and workflow ids and
// describing routes.
//
// Every body is JSON. Errors are answered with an Error body and a 4xx or 5xx
// status. Requests are authenticated with HTTP Basic authentication against
// pgo users, and authorised by the permissions of their pgo roles.
package pgoapi

import (
	"crypto/rand"
	"encoding/hex"
)

// DefaultPort is the apiserver's HTTPS port.
const DefaultPort = 8443

// DefaultAddress is where the apiserver listens unless told otherwise.
const DefaultAddress = ":8443"

// Environment variables read by the pgo client.
const (
	// EnvAPIServerURL is the apiserver's URL, such as https://127.0.0.1:8443.
	EnvAPIServerURL = "PGO_APISERVER_URL"
	// EnvNamespace is the namespace commands work in.
	EnvNamespace = "PGO_NAMESPACE"
	// EnvCACert is a file with the CA certificate that signed the
	// apiserver's certificate.
	EnvCACert = "PGO_CA_CERT"
	// EnvUsername and EnvPassword are the pgo user's credentials; when they
	// are unset the client reads "username:password" from the file named by
	// EnvUserFile, or ~/.pgouser.
	EnvUsername = "PGOUSERNAME"
	EnvPassword = "PGOUSERPASS"
	// EnvUserFile names the credentials file instead of ~/.pgouser.
	EnvUserFile = "PGOUSER"
)

// DefaultUserFile is the credentials file in the user's home directory; it
// holds one line "username:password".
const DefaultUserFile = ".pgouser"

// Environment variables read by the apiserver (each also has a flag).
const (
	// EnvServerAddress is the address the apiserver binds, such as
	// 10.1.2.3:8443 or :8443.
	EnvServerAddress = "PGO_APISERVER_ADDRESS"
	// EnvOperatorNamespace is the operator's namespace, where pgo users,
	// pgo roles and the apiserver's certificate live (the downward API sets
	// it in the operator pod).
	EnvOperatorNamespace = "POD_NAMESPACE"
	// EnvTLSCertFile and EnvTLSKeyFile name the apiserver's certificate and
	// key; without them it uses the Secret TLSSecret, creating it when missing.
	EnvTLSCertFile = "PGO_APISERVER_TLS_CERT"
	EnvTLSKeyFile  = "PGO_APISERVER_TLS_KEY"
	// EnvNamespaces lists the namespaces pgo works in, comma-separated;
	// when empty, those labelled LabelNamespace=true (as the controller's
	// --namespaces).
	EnvNamespaces = "PGO_NAMESPACES"
)

// HTTP header names and values.
const (
	// HeaderContentType and ContentTypeJSON: every body is JSON.
	HeaderContentType = "Content-Type"
	ContentTypeJSON   = "application/json"
	// HeaderAuthenticate is sent with 401 answers, with the value
	// AuthenticateChallenge.
	HeaderAuthenticate    = "WWW-Authenticate"
	AuthenticateChallenge = `Basic realm="pgo", charset="UTF-8"`
	// HeaderClientVersion carries the pgo client's version; the apiserver
	// logs it.
	HeaderClientVersion = "Pgo-Client-Version"
	// HeaderServerVersion carries the apiserver's version in every answer.
	HeaderServerVersion = "Pgo-Server-Version"
)

// Objects in the operator namespace.
const (
	// TLSSecret holds the apiserver's certificate: keys tls.crt, tls.key and
	// ca.crt (the CA clients trust, for PGO_CA_CERT).
	TLSSecret = "pgo-apiserver-tls"
	// ServiceName is the apiserver's Service, on port DefaultPort.
	ServiceName = "pgo-apiserver"
	// InitialAdminSecret holds the bootstrap admin's generated password
	// (keys username and password) in clear. Read it once, change the
	// password with `pgo update pgouser admin --password`, then delete it.
	InitialAdminSecret = "pgo-apiserver-initial-admin"
	// AdminUser and AdminRole are the bootstrap pgo user and its role,
	// created at start when no pgo user exists.
	AdminUser = "admin"
	AdminRole = "pgoadmin"
)

// Pgouser and pgorole Secrets: "pgouser-<name>" and "pgorole-<name>" in the
// operator namespace.
const (
	PgouserSecretPrefix = "pgouser-"
	PgoroleSecretPrefix = "pgorole-"
	// LabelPgouser and LabelPgorole ("true") mark those Secrets.
	LabelPgouser = "pgo.dev/pgouser"
	LabelPgorole = "pgo.dev/pgorole"

	// KeyUsername, KeyPassword, KeyRoles (comma-separated role names) and
	// KeyNamespaces (comma-separated; empty means every namespace) are the
	// keys of a pgouser Secret. KeyPassword holds either the password in
	// clear (as written by hand with kubectl) or a hash written by the
	// apiserver, starting with PasswordHashPrefix.
	KeyUsername   = "username"
	KeyPassword   = "password"
	KeyRoles      = "roles"
	KeyNamespaces = "namespaces"
	// KeyPermissions is the key of a pgorole Secret: comma-separated
	// permission names, or "*" for all.
	KeyPermissions = "permissions"

	// PasswordHashPrefix starts a hashed pgouser password:
	// "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 key>".
	PasswordHashPrefix = "pbkdf2-sha256$"
)

// PgouserSecret is the name of the Secret of pgo user name.
func PgouserSecret(name string) string { return PgouserSecretPrefix + name }

// PgoroleSecret is the name of the Secret of pgo role name.
func PgoroleSecret(name string) string { return PgoroleSecretPrefix + name }

// Labels on namespaces and workflows.
const (
	// LabelNamespace ("true") marks the namespaces pgo works in when the
	// operator names none; `pgo create namespace` sets it, and a user may
	// set it on a namespace of theirs.
	LabelNamespace = "pgo.dev/namespace"
	// AnnotationCreatedBy ("pgo") marks the namespaces `pgo create
	// namespace` made: only those can be deleted with `pgo delete
	// namespace`.
	AnnotationCreatedBy = "pgo.dev/created-by"
	// LabelWorkflow carries a workflow's id on the PGTask that runs it, so
	// that ShowWorkflow finds the task by the id.
	LabelWorkflow = "pgo.dev/workflow"
)

// NewWorkflowID is a random (version 4) UUID: the apiserver gives one to
// each task it creates, so that its answer carries the id at once, and the
// controller to a task created without one.
func NewWorkflowID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Test results.
const (
	StatusUp   = "UP"
	StatusDown = "DOWN"
)
