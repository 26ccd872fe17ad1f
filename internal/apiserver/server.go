// Package apiserver is pgo's REST apiserver: it authenticates pgo users
// (HTTP Basic against pgouser Secrets), authorises them by the permissions
// of their pgo roles and the namespaces they may access, and turns requests
// into pgo.dev/v1 objects and Secrets. The routes, bodies and permissions
// are those of package pgoapi.
package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pgoconfig"
	"pgo.dev/pgo/internal/version"
)

// fieldOwner names the apiserver in managedFields.
const fieldOwner = client.FieldOwner("pgo-apiserver")

// Server serves the API. Build it with New.
type Server struct {
	// Client reads and writes Kubernetes objects, uncached: answers show
	// the state of the moment.
	Client client.Client
	// Discovery tells the Kubernetes version; optional.
	Discovery discovery.DiscoveryInterface
	// Namespace is the operator's namespace: pgo users, pgo roles and the
	// apiserver's certificate live there.
	Namespace string
	// Config is where and as what pgo may run clusters: the controller
	// enforces the same.
	Config pgoconfig.Config
	// Log receives the audit lines and errors.
	Log logr.Logger
	// RenewCheck is the longest the apiserver waits between looks at
	// whether its certificate is due for renewal (an hour when 0).
	RenewCheck time.Duration
	// InstanceTimeout bounds a call of an instance manager's REST API
	// (port 8008).
	InstanceTimeout time.Duration
	// ConnectTimeout bounds each PostgreSQL connection of TestCluster.
	ConnectTimeout time.Duration
	// Now is the clock.
	Now func() time.Time

	verified verified
	logins   *loginLimiter
	turns    checkTurns
	handlers map[string]handlerFunc
}

// New builds a Server.
func New(c client.Client, namespace string, log logr.Logger) *Server {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	// The defaults: the namespaces labelled by pgo, and the images pgo is
	// installed with; they cannot fail to parse.
	config, _ := pgoconfig.New(namespace, func(string) string { return "" })
	s := &Server{
		Client:          c,
		Namespace:       namespace,
		Config:          config,
		Log:             log,
		InstanceTimeout: 90 * time.Second,
		ConnectTimeout:  5 * time.Second,
		Now:             time.Now,
		verified:        verified{key: key},
		logins:          newLoginLimiter(),
	}
	s.handlers = map[string]handlerFunc{
		"Healthz":          nil,
		"OpenAPI":          nil,
		"Version":          s.version,
		"Status":           s.status,
		"ShowNamespace":    s.showNamespaces,
		"CreateNamespace":  s.createNamespace,
		"DeleteNamespace":  s.deleteNamespace,
		"ShowClusters":     s.showClusters,
		"CreateCluster":    s.createCluster,
		"ShowCluster":      s.showCluster,
		"UpdateCluster":    s.updateCluster,
		"DeleteCluster":    s.deleteCluster,
		"TestCluster":      s.testCluster,
		"ScaleCluster":     s.scaleCluster,
		"ScaledownQuery":   s.scaledownQuery,
		"ScaledownCluster": s.scaledown,
		"FailoverQuery":    s.failoverQuery,
		"CreateFailover":   s.failover,
		"RestartQuery":     s.restartQuery,
		"Restart":          s.restart,
		"CreateBackup":     s.createBackup,
		"ShowBackup":       s.showBackup,
		"DeleteBackup":     s.deleteBackup,
		"ShowUser":         s.showUsers,
		"CreateUser":       s.createUser,
		"UpdateUser":       s.updateUser,
		"DeleteUser":       s.deleteUser,
		"ShowWorkflow":     s.showWorkflow,
		"ShowPgousers":     s.showPgousers,
		"ShowPgouser":      s.showPgouser,
		"CreatePgouser":    s.createPgouser,
		"UpdatePgouser":    s.updatePgouser,
		"DeletePgouser":    s.deletePgouser,
		"ShowPgoroles":     s.showPgoroles,
		"ShowPgorole":      s.showPgorole,
		"CreatePgorole":    s.createPgorole,
		"UpdatePgorole":    s.updatePgorole,
		"DeletePgorole":    s.deletePgorole,
	}
	return s
}

// request is what a handler gets.
type request struct {
	*http.Request
	user  *principal
	route pgoapi.Route
}

// handlerFunc answers one route with the body of a success, or an error.
type handlerFunc func(ctx context.Context, r *request) (any, error)

// Handler serves every route of pgoapi.Routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, route := range pgoapi.Routes {
		switch route.Operation {
		case "Healthz":
			mux.HandleFunc(route.Method+" "+route.Pattern, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set(pgoapi.HeaderContentType, "text/plain")
				_, _ = w.Write([]byte("ok\n"))
			})
			continue
		case "OpenAPI":
			doc := OpenAPI()
			mux.HandleFunc(route.Method+" "+route.Pattern, func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusOK, doc)
			})
			continue
		}
		h, ok := s.handlers[route.Operation]
		if !ok || h == nil {
			panic("apiserver: no handler for " + route.Operation)
		}
		mux.Handle(route.Method+" "+route.Pattern, s.serve(route, h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("no route %s %s; see %s for the API", r.Method, r.URL.Path, pgoapi.PathOpenAPI))
	})
	return s.audit(mux)
}

// serve authenticates, authorises and runs one route's handler.
func (s *Server) serve(route pgoapi.Route, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		user, err := s.authenticate(ctx, r)
		if err != nil {
			if name, _, ok := r.BasicAuth(); ok && name != "" {
				setAuditAttempt(w, name)
			}
			if ae := toAPIError(err); ae.code == http.StatusUnauthorized {
				w.Header().Set(pgoapi.HeaderAuthenticate, pgoapi.AuthenticateChallenge)
			}
			writeError(w, toAPIError(err))
			return
		}
		setAuditUser(w, user.Name)
		if err := authorize(user, route, r); err != nil {
			writeError(w, toAPIError(err))
			return
		}
		body, err := h(ctx, &request{Request: r, user: user, route: route})
		if err != nil {
			ae := toAPIError(err)
			if ae.code >= 500 {
				s.Log.Error(err, "request failed", "operation", route.Operation, "user", user.Name)
			}
			writeError(w, ae)
			return
		}
		writeJSON(w, route.Status, body)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"code":500,"reason":"Internal","message":"encoding the answer failed"}`)
	}
	w.Header().Set(pgoapi.HeaderContentType, pgoapi.ContentTypeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.code, e.body())
}

// auditWriter records what the audit line needs.
type auditWriter struct {
	http.ResponseWriter
	status int
	user   string
	// attempted is the user a failed login gave, as attemptedName shows it.
	attempted string
}

func (a *auditWriter) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *auditWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.ResponseWriter.Write(b)
}

func setAuditUser(w http.ResponseWriter, user string) {
	if a, ok := w.(*auditWriter); ok {
		a.user = user
	}
}

func setAuditAttempt(w http.ResponseWriter, user string) {
	if a, ok := w.(*auditWriter); ok {
		a.attempted = attemptedName(user)
	}
}

// audit writes one line per call: who (or, when authentication failed,
// whom the caller tried to be), what, the answer and how long it took.
// Bodies, queries and passwords are never logged.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		aw := &auditWriter{ResponseWriter: w}
		aw.Header().Set(pgoapi.HeaderServerVersion, version.Version)
		defer func() {
			if p := recover(); p != nil {
				s.Log.Error(fmt.Errorf("panic: %v", p), "handler panicked", "stack", string(debug.Stack()))
				if aw.status == 0 {
					writeError(aw, newError(http.StatusInternalServerError, pgoapi.ReasonInternal, "internal error"))
				}
			}
			user := aw.user
			if user == "" {
				user = "-"
			}
			kv := []any{"user", user, "method", r.Method, "path", r.URL.Path,
				"status", aw.status, "durationMs", time.Since(start).Milliseconds(),
				"remote", r.RemoteAddr, "clientVersion", r.Header.Get(pgoapi.HeaderClientVersion)}
			if aw.attempted != "" {
				kv = append(kv, "attemptedUser", aw.attempted)
			}
			s.Log.Info("audit", kv...)
		}()
		next.ServeHTTP(aw, r)
	})
}
