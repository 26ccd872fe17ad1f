package repohost

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohostapi"
)

// routes is the API: the health check for anyone, the rest with basic
// authentication.
func (m *Manager) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST "+repohostapi.PathStanza, m.postStanza)
	api.HandleFunc("POST "+repohostapi.PathBackups, m.postBackup)
	api.HandleFunc("GET "+repohostapi.PathBackup+"{id}", m.getBackup)
	api.HandleFunc("GET "+repohostapi.PathInfo, m.getInfo)
	api.HandleFunc("POST "+repohostapi.PathExpire, m.postExpire)

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+repohostapi.PathHealth, m.health)
	mux.Handle("/", m.authorized(api))
	return mux
}

// health answers 200 while pgbackrest server runs.
func (m *Manager) health(w http.ResponseWriter, _ *http.Request) {
	if !m.Running() {
		writeError(w, http.StatusServiceUnavailable, "pgbackrest server is not running")
		return
	}
	writeJSON(w, http.StatusOK, repohostapi.Reply{Message: "pgbackrest server runs"})
}

// authorized lets a request through with the API's credentials only,
// compared in constant time. The password file is read at each request.
func (m *Manager) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pwd, err := m.password()
		if err != nil {
			m.log.Error(err, "the API's password cannot be read; refusing requests")
			writeError(w, http.StatusServiceUnavailable, "the repository host cannot read its API password")
			return
		}
		user, given, ok := r.BasicAuth()
		// Both comparisons run, so that the time does not tell which failed.
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(m.opts.APIUser))
		pwdOK := subtle.ConstantTimeCompare([]byte(given), []byte(pwd))
		if !ok || userOK&pwdOK != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="pgo repository host"`)
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (m *Manager) password() (string, error) {
	data, err := os.ReadFile(m.opts.APIPasswordFile)
	if err != nil {
		return "", fmt.Errorf("reading the API password: %w", err)
	}
	pwd := strings.TrimRight(string(data), "\r\n")
	if pwd == "" {
		return "", fmt.Errorf("the API password in %s is empty", m.opts.APIPasswordFile)
	}
	return pwd, nil
}

func (m *Manager) postStanza(w http.ResponseWriter, r *http.Request) {
	var req repohostapi.StanzaRequest
	if !decode(w, r, &req) {
		return
	}
	reply, err := m.createStanza(r.Context(), req)
	if err != nil {
		m.fail(w, "creating the stanza", err)
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

func (m *Manager) getInfo(w http.ResponseWriter, r *http.Request) {
	out, err := m.info(r.Context())
	if err != nil {
		m.fail(w, "reading pgbackrest info", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// errRequest is a request the API refuses as it is (400).
type errRequest struct{ msg string }

func (e errRequest) Error() string { return e.msg }

// errStatus is an error with its status code.
type errStatus struct {
	code int
	err  error
	// backup is the backup that runs (with 409).
	backup string
}

func (e errStatus) Error() string { return e.err.Error() }
func (e errStatus) Unwrap() error { return e.err }

// statusOf is the status code that fits an error.
func statusOf(err error) int {
	var st errStatus
	var req errRequest
	var pe *pgbackrest.Error
	switch {
	case errors.As(err, &st):
		return st.code
	case errors.As(err, &req):
		return http.StatusBadRequest
	case errors.As(err, &pe) && pe.TimedOut:
		return http.StatusGatewayTimeout
	case errors.As(err, &pe) && pe.Code == pgbackrest.ErrLockAcquire:
		// Another pgbackrest command (a backup, an expire) holds the lock.
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// fail answers an error, and logs it when it is the repository host's.
func (m *Manager) fail(w http.ResponseWriter, doing string, err error) {
	code := statusOf(err)
	if code >= 500 {
		m.log.Error(err, doing)
	}
	reply := repohostapi.Reply{Error: err.Error()}
	var st errStatus
	if errors.As(err, &st) {
		reply.Backup = st.backup
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "10")
	}
	writeJSON(w, code, reply)
}

// decode reads a JSON body (none leaves v as it is); it answers 400 and
// false when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "the body is not the JSON this request takes: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, repohostapi.Reply{Error: msg})
}
