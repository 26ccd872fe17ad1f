package apiserver

import (
	"context"
	"crypto/hmac"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pgoconfig"
)

// principal is an authenticated pgo user with what its roles grant.
type principal struct {
	Name string
	// All is true when a role grants "*".
	All         bool
	Permissions map[pgoapi.Permission]bool
	// Namespaces the user may access; nil means all.
	Namespaces []string
}

// can reports whether the user holds a permission.
func (p *principal) can(perm pgoapi.Permission) bool {
	return p.All || p.Permissions[perm]
}

// mayAccess reports whether the user may work in namespace ns.
func (p *principal) mayAccess(ns string) bool {
	return p.Namespaces == nil || slices.Contains(p.Namespaces, ns)
}

// pgouserRecord is a pgouser Secret, parsed.
type pgouserRecord struct {
	Name       string
	Password   string
	Roles      []string
	Namespaces []string
}

func parsePgouser(s *corev1.Secret) pgouserRecord {
	name := strings.TrimPrefix(s.Name, pgoapi.PgouserSecretPrefix)
	if u := string(s.Data[pgoapi.KeyUsername]); u != "" {
		name = u
	}
	return pgouserRecord{
		Name:       name,
		Password:   string(s.Data[pgoapi.KeyPassword]),
		Roles:      splitList(string(s.Data[pgoapi.KeyRoles])),
		Namespaces: splitList(string(s.Data[pgoapi.KeyNamespaces])),
	}
}

// parsePermissions reads a pgorole Secret's permission list.
func parsePermissions(s *corev1.Secret) []string {
	return splitList(string(s.Data[pgoapi.KeyPermissions]))
}

// splitList splits a comma-separated list, dropping blanks.
var splitList = pgoconfig.List

// hashSlots bounds how many password hashes are computed at once: a flood
// of logins waits for a slot rather than taking every CPU.
var hashSlots = make(chan struct{}, 2)

// checkSlowly compares a password with what a pgouser Secret stores (""
// when there is no such user) at the cost of one hash whatever is stored,
// so that a failure takes as long for a user that does not exist.
func checkSlowly(ctx context.Context, stored, password string) (bool, error) {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false, unavailable("the request was cancelled")
	}
	verifier := verifierFor(stored)
	ok := checkPassword(verifier, password)
	<-hashSlots
	if verifier != stored {
		// The hash was for the time it takes; the answer is here.
		ok = stored != "" && checkPassword(stored, password)
	}
	return ok, nil
}

// verified remembers credentials already checked against a Secret version.
type verified struct {
	mu      sync.Mutex
	key     []byte
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	resourceVersion string
	mac             []byte
}

func (v *verified) check(user, rv, password string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[user]
	return ok && e.resourceVersion == rv && hmac.Equal(e.mac, credentialMAC(v.key, user, password))
}

func (v *verified) remember(user, rv, password string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = map[string]verifiedEntry{}
	}
	v.entries[user] = verifiedEntry{resourceVersion: rv, mac: credentialMAC(v.key, user, password)}
}

// unauthorized is the answer to missing or wrong credentials; it never says
// which of user or password was wrong.
func unauthorized() *apiError {
	return newError(http.StatusUnauthorized, pgoapi.ReasonUnauthorized,
		"authentication failed: give a pgo user and password (PGOUSERNAME and PGOUSERPASS, or ~/.pgouser)")
}

// invalidName stands for a user name that is not a valid one in the log.
const invalidName = "(invalid)"

// attemptedName is a user name given at login as it may be shown (in the
// log or an answer): cut at 63 characters, and invalidName unless it is a
// valid name, so that hostile input cannot add to a log line.
func attemptedName(user string) string {
	if len(user) > 63 {
		user = user[:63]
	}
	if !dns1035.MatchString(user) {
		return invalidName
	}
	return user
}

// authenticate checks HTTP Basic credentials against the pgouser Secrets and
// gathers the permissions of the user's roles. An attempt whose user and
// address, or address, failed too often is refused before anything else.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (*principal, error) {
	user, password, ok := r.BasicAuth()
	if !ok || user == "" {
		return nil, unauthorized()
	}
	name, addr := attemptedName(user), clientAddress(r.RemoteAddr)
	if e := s.logins.check(name, addr, s.Now()); e != nil {
		return nil, e
	}
	rec, rv, err := s.pgouser(ctx, user)
	if err != nil {
		// The caller is not authenticated: what Kubernetes said goes to
		// the log only.
		s.Log.Error(err, "cannot read a pgo user from Kubernetes", "attemptedUser", name)
		return nil, unavailable("cannot check credentials now; try again later (the apiserver's log says why)")
	}
	if rec.Password != "" && s.verified.check(user, rv, password) {
		s.logins.succeeded(name, addr)
		return s.principalOf(ctx, rec, nil)
	}
	if err := s.checkCounted(ctx, name, addr, rec.Password, password); err != nil {
		return nil, err
	}
	s.logins.succeeded(name, addr)
	s.verified.remember(user, rv, password)
	return s.principalOf(ctx, rec, nil)
}

// checkCounted checks a password with checkSlowly, in addr's turn, and
// counts a failure before the turn passes on, so that the next attempt
// from addr sees it.
func (s *Server) checkCounted(ctx context.Context, name, addr, stored, password string) error {
	release, err := s.turns.take(ctx, addr)
	if err != nil {
		return unavailable("the request was cancelled")
	}
	defer release()
	// The attempt before, from this address, may have failed once too often.
	if e := s.logins.check(name, addr, s.Now()); e != nil {
		return e
	}
	ok, err := checkSlowly(ctx, stored, password)
	if err != nil {
		return err
	}
	if !ok {
		s.logins.failed(name, addr, s.Now())
		return unauthorized()
	}
	return nil
}

// pgouser reads a pgo user's record and its Secret's resourceVersion: a
// zero record when there is no such user, or the name cannot be one.
func (s *Server) pgouser(ctx context.Context, user string) (pgouserRecord, string, error) {
	if len(user) > 63 || !dns1035.MatchString(user) {
		return pgouserRecord{}, "", nil
	}
	secret := &corev1.Secret{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: pgoapi.PgouserSecret(user)}, secret)
	if apierrors.IsNotFound(err) {
		return pgouserRecord{}, "", nil
	}
	if err != nil {
		return pgouserRecord{}, "", err
	}
	rec := parsePgouser(secret)
	if rec.Name != user {
		return pgouserRecord{}, "", nil
	}
	return rec, secret.ResourceVersion, nil
}

// principalOf is what a pgo user may do: the permissions of its roles (as
// stored, or as override gives them for the roles it names) and its
// namespaces.
func (s *Server) principalOf(ctx context.Context, rec pgouserRecord, override map[string][]string) (*principal, error) {
	p := &principal{Name: rec.Name, Permissions: map[pgoapi.Permission]bool{}}
	if len(rec.Namespaces) > 0 {
		p.Namespaces = rec.Namespaces
	}
	for _, role := range rec.Roles {
		perms, ok := override[role]
		if !ok {
			rs := &corev1.Secret{}
			err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: pgoapi.PgoroleSecret(role)}, rs)
			if apierrors.IsNotFound(err) {
				continue // a deleted role grants nothing
			}
			if err != nil {
				return nil, unavailable("cannot read pgo roles from Kubernetes: %v", err)
			}
			perms = parsePermissions(rs)
		}
		for _, perm := range perms {
			if pgoapi.Permission(perm) == pgoapi.PermissionAll {
				p.All = true
			}
			p.Permissions[pgoapi.Permission(perm)] = true
		}
	}
	return p, nil
}

// superuser: every permission in every namespace.
func (p *principal) superuser() bool { return p.All && p.Namespaces == nil }

// lacks says what target may do that caller may not, or "" when caller
// holds every permission and every namespace of target: only then may it
// change or delete target (a pgo user, or a role with its holders).
func lacks(caller, target *principal) string {
	var missing []string
	if target.All && !caller.All {
		missing = append(missing, "every permission (*)")
	}
	for _, perm := range slices.Sorted(maps.Keys(target.Permissions)) {
		if perm != pgoapi.PermissionAll && !caller.can(perm) {
			missing = append(missing, string(perm))
		}
	}
	switch {
	case target.Namespaces == nil && caller.Namespaces != nil:
		missing = append(missing, "every namespace")
	case target.Namespaces != nil:
		for _, ns := range target.Namespaces {
			if !caller.mayAccess(ns) {
				missing = append(missing, "namespace "+ns)
			}
		}
	}
	return strings.Join(missing, ", ")
}

// authorize checks a route's permission and namespace.
func authorize(p *principal, route pgoapi.Route, r *http.Request) error {
	if !p.can(route.Permission) {
		return forbidden("pgo user %s lacks the permission %s; ask an administrator to add it to one of the user's pgo roles", p.Name, route.Permission)
	}
	if route.Namespaced() {
		if ns := r.PathValue(pgoapi.ParamNamespace); !p.mayAccess(ns) {
			return forbidden("pgo user %s may not access namespace %s", p.Name, ns)
		}
	}
	return nil
}
