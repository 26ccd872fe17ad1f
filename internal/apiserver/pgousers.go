package apiserver

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

func pgouserSecret(ns, name, hash string, roles, namespaces []string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pgoapi.PgouserSecret(name), Namespace: ns, Labels: map[string]string{pgoapi.LabelPgouser: "true"}},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			pgoapi.KeyUsername: []byte(name), pgoapi.KeyPassword: []byte(hash),
			pgoapi.KeyRoles: []byte(strings.Join(roles, ",")), pgoapi.KeyNamespaces: []byte(strings.Join(namespaces, ",")),
		},
	}
}

func pgoroleSecret(ns, name string, permissions []string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pgoapi.PgoroleSecret(name), Namespace: ns, Labels: map[string]string{pgoapi.LabelPgorole: "true"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{pgoapi.KeyPermissions: []byte(strings.Join(permissions, ","))},
	}
}

func pgouserOf(rec pgouserRecord) pgoapi.Pgouser {
	u := pgoapi.Pgouser{Name: rec.Name, Roles: rec.Roles, Namespaces: rec.Namespaces, AllNamespaces: len(rec.Namespaces) == 0}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u
}

// listPrefixed lists the Secrets of the operator namespace whose names
// start with prefix, by name.
func (s *Server) listPrefixed(ctx context.Context, prefix string) ([]corev1.Secret, error) {
	var list corev1.SecretList
	if err := s.Client.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		return nil, fmt.Errorf("listing Secrets in %s: %w", s.Namespace, err)
	}
	var out []corev1.Secret
	for _, sec := range list.Items {
		if strings.HasPrefix(sec.Name, prefix) {
			out = append(out, sec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Server) getPgoSecret(ctx context.Context, name, what, display string) (*corev1.Secret, error) {
	sec := &corev1.Secret{}
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, sec)
	if apierrors.IsNotFound(err) {
		return nil, notFound("%s %s not found", what, display)
	}
	return sec, err
}

// ---- pgo users ----

func (s *Server) showPgousers(ctx context.Context, _ *request) (any, error) {
	secrets, err := s.listPrefixed(ctx, pgoapi.PgouserSecretPrefix)
	if err != nil {
		return nil, err
	}
	resp := pgoapi.ShowPgouserResponse{Pgousers: []pgoapi.Pgouser{}}
	for i := range secrets {
		resp.Pgousers = append(resp.Pgousers, pgouserOf(parsePgouser(&secrets[i])))
	}
	return resp, nil
}

func (s *Server) showPgouser(ctx context.Context, r *request) (any, error) {
	name := r.PathValue(pgoapi.ParamName)
	sec, err := s.getPgoSecret(ctx, pgoapi.PgouserSecret(name), "pgo user", name)
	if err != nil {
		return nil, err
	}
	return pgoapi.ShowPgouserResponse{Pgousers: []pgoapi.Pgouser{pgouserOf(parsePgouser(sec))}}, nil
}

// checkGrant refuses to give a pgo user more than the caller has: roles
// whose permissions the caller lacks, or namespaces it may not access.
func (s *Server) checkGrant(ctx context.Context, caller *principal, v *checks, roles []string, namespaces []string, all bool) error {
	for i, role := range roles {
		field := fmt.Sprintf("roles[%d]", i)
		if why := rules.PgoName(role); why != "" {
			v.rule(field, role, why)
			continue
		}
		sec := &corev1.Secret{}
		err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: pgoapi.PgoroleSecret(role)}, sec)
		if apierrors.IsNotFound(err) {
			v.add(field, "pgo role %s does not exist; create it with pgo create pgorole", role)
			continue
		}
		if err != nil {
			return err
		}
		for _, perm := range parsePermissions(sec) {
			if !caller.can(pgoapi.Permission(perm)) || (perm == string(pgoapi.PermissionAll) && !caller.All) {
				v.add(field, "pgo role %s grants %s, which pgo user %s does not hold; it cannot grant more than it has", role, perm, caller.Name)
				break
			}
		}
	}
	if all && caller.Namespaces != nil {
		v.add("allNamespaces", "pgo user %s may access only %s; it cannot grant every namespace", caller.Name, strings.Join(caller.Namespaces, ", "))
	}
	for i, ns := range namespaces {
		field := fmt.Sprintf("namespaces[%d]", i)
		v.namespaceName(field, ns)
		if !caller.mayAccess(ns) {
			v.add(field, "pgo user %s may not access namespace %s, so it cannot grant it", caller.Name, ns)
		}
	}
	return nil
}

// mayChange refuses a change to a pgo user, or its deletion, by a caller
// that does not hold every permission and namespace the user holds now.
func (s *Server) mayChange(ctx context.Context, caller *principal, rec pgouserRecord, what string) error {
	target, err := s.principalOf(ctx, rec, nil)
	if err != nil {
		return err
	}
	if missing := lacks(caller, target); missing != "" {
		return forbidden("pgo user %s may not %s pgo user %s, who holds what it does not: %s", caller.Name, what, rec.Name, missing)
	}
	return nil
}

// keepsASuperuser refuses a change after which no pgo user would hold
// every permission in every namespace: change gives each user as it would
// be (ok false for a deleted one), overrides each changed role.
func (s *Server) keepsASuperuser(ctx context.Context, change func(pgouserRecord) (pgouserRecord, bool), override map[string][]string) error {
	users, err := s.listPrefixed(ctx, pgoapi.PgouserSecretPrefix)
	if err != nil {
		return err
	}
	before, after := 0, 0
	for i := range users {
		rec := parsePgouser(&users[i])
		p, err := s.principalOf(ctx, rec, nil)
		if err != nil {
			return err
		}
		if !p.superuser() {
			continue
		}
		before++
		next, ok := change(rec)
		if !ok {
			continue
		}
		if p, err = s.principalOf(ctx, next, override); err != nil {
			return err
		}
		if p.superuser() {
			after++
		}
	}
	if before > 0 && after == 0 {
		return conflict("no pgo user would hold every permission in every namespace after this; give another pgo user a role with * and every namespace first")
	}
	return nil
}

func (s *Server) createPgouser(ctx context.Context, r *request) (any, error) {
	var req pgoapi.CreatePgouserRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var v checks
	v.rule("name", req.Name, rules.PgoName(req.Name))
	v.rule("password", "", rules.Password(req.Password))
	if len(req.Roles) == 0 {
		v.add("roles", "is empty; give at least one pgo role")
	}
	switch {
	case req.AllNamespaces && len(req.Namespaces) > 0:
		v.add("allNamespaces", "goes without namespaces: give either")
	case !req.AllNamespaces && len(req.Namespaces) == 0:
		v.add("namespaces", "is empty; give the namespaces the user may access, or allNamespaces")
	}
	if err := s.checkGrant(ctx, r.user, &v, req.Roles, req.Namespaces, req.AllNamespaces); err != nil {
		return nil, err
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	sec := pgouserSecret(s.Namespace, req.Name, hash, req.Roles, req.Namespaces)
	if err := s.Client.Create(ctx, sec, fieldOwner); apierrors.IsAlreadyExists(err) {
		return nil, conflict("pgo user %s already exists", req.Name)
	} else if err != nil {
		return nil, fmt.Errorf("creating pgo user %s: %w", req.Name, err)
	}
	return pgoapi.PgouserResponse{Pgouser: pgouserOf(parsePgouser(sec))}, nil
}

func (s *Server) updatePgouser(ctx context.Context, r *request) (any, error) {
	name := r.PathValue(pgoapi.ParamName)
	var req pgoapi.UpdatePgouserRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var v checks
	if req.Password != nil {
		v.rule("password", "", rules.Password(*req.Password))
	}
	var roles, namespaces []string
	if req.Roles != nil {
		roles = *req.Roles
		if len(roles) == 0 {
			v.add("roles", "is empty; give at least one pgo role")
		}
	}
	all := req.AllNamespaces != nil && *req.AllNamespaces
	if req.Namespaces != nil {
		namespaces = *req.Namespaces
		if all && len(namespaces) > 0 {
			v.add("allNamespaces", "goes without namespaces: give either")
		}
		if !all && len(namespaces) == 0 {
			v.add("namespaces", "is empty; give the namespaces the user may access, or allNamespaces")
		}
	}
	if req.AllNamespaces != nil && !*req.AllNamespaces && req.Namespaces == nil {
		v.add("allNamespaces", "false needs namespaces: the namespaces the user may access from now on")
	}
	if req.Password == nil && req.Roles == nil && req.Namespaces == nil && req.AllNamespaces == nil {
		v.add("", "nothing to change: give password, roles, namespaces or allNamespaces")
	}
	if err := s.checkGrant(ctx, r.user, &v, roles, namespaces, all); err != nil {
		return nil, err
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	current, err := s.getPgoSecret(ctx, pgoapi.PgouserSecret(name), "pgo user", name)
	if err != nil {
		return nil, err
	}
	if err := s.mayChange(ctx, r.user, parsePgouser(current), "change"); err != nil {
		return nil, err
	}
	changed := func(rec pgouserRecord) pgouserRecord {
		if req.Roles != nil {
			rec.Roles = roles
		}
		if all {
			rec.Namespaces = nil
		} else if req.Namespaces != nil {
			rec.Namespaces = namespaces
		}
		return rec
	}
	if err := s.keepsASuperuser(ctx, func(rec pgouserRecord) (pgouserRecord, bool) {
		if rec.Name == name {
			return changed(rec), true
		}
		return rec, true
	}, nil); err != nil {
		return nil, err
	}
	hash := ""
	if req.Password != nil {
		var err error
		if hash, err = hashPassword(*req.Password); err != nil {
			return nil, err
		}
	}
	var out pgouserRecord
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sec, err := s.getPgoSecret(ctx, pgoapi.PgouserSecret(name), "pgo user", name)
		if err != nil {
			return err
		}
		rec := changed(parsePgouser(sec))
		if hash != "" {
			rec.Password = hash
		}
		want := pgouserSecret(s.Namespace, rec.Name, rec.Password, rec.Roles, rec.Namespaces)
		sec.Data = want.Data
		if sec.Labels == nil {
			sec.Labels = map[string]string{}
		}
		sec.Labels[pgoapi.LabelPgouser] = "true"
		out = rec
		return s.Client.Update(ctx, sec, fieldOwner)
	})
	if err != nil {
		return nil, err
	}
	return pgoapi.PgouserResponse{Pgouser: pgouserOf(out)}, nil
}

func (s *Server) deletePgouser(ctx context.Context, r *request) (any, error) {
	name := r.PathValue(pgoapi.ParamName)
	if name == r.user.Name {
		return nil, conflict("pgo user %s cannot delete itself; log in as another pgo user", name)
	}
	sec, err := s.getPgoSecret(ctx, pgoapi.PgouserSecret(name), "pgo user", name)
	if err != nil {
		return nil, err
	}
	if err := s.mayChange(ctx, r.user, parsePgouser(sec), "delete"); err != nil {
		return nil, err
	}
	if err := s.keepsASuperuser(ctx, func(rec pgouserRecord) (pgouserRecord, bool) { return rec, rec.Name != name }, nil); err != nil {
		return nil, err
	}
	if err := s.Client.Delete(ctx, sec, client.Preconditions{ResourceVersion: &sec.ResourceVersion}); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("deleting pgo user %s: %w", name, err)
	}
	return pgoapi.DeletedResponse{Name: name}, nil
}

// ---- pgo roles ----

func pgoroleOf(sec *corev1.Secret) pgoapi.Pgorole {
	perms := parsePermissions(sec)
	if perms == nil {
		perms = []string{}
	}
	return pgoapi.Pgorole{Name: strings.TrimPrefix(sec.Name, pgoapi.PgoroleSecretPrefix), Permissions: perms}
}

func (s *Server) showPgoroles(ctx context.Context, _ *request) (any, error) {
	secrets, err := s.listPrefixed(ctx, pgoapi.PgoroleSecretPrefix)
	if err != nil {
		return nil, err
	}
	resp := pgoapi.ShowPgoroleResponse{Pgoroles: []pgoapi.Pgorole{}}
	for i := range secrets {
		resp.Pgoroles = append(resp.Pgoroles, pgoroleOf(&secrets[i]))
	}
	return resp, nil
}

func (s *Server) showPgorole(ctx context.Context, r *request) (any, error) {
	name := r.PathValue(pgoapi.ParamName)
	sec, err := s.getPgoSecret(ctx, pgoapi.PgoroleSecret(name), "pgo role", name)
	if err != nil {
		return nil, err
	}
	return pgoapi.ShowPgoroleResponse{Pgoroles: []pgoapi.Pgorole{pgoroleOf(sec)}}, nil
}

// checkPermissions validates a permission list; a caller grants only what
// it holds.
func checkPermissions(v *checks, caller *principal, perms []string) {
	v.rule("permissions", "", rules.Permissions(perms))
	for i, p := range perms {
		field := fmt.Sprintf("permissions[%d]", i)
		switch why := rules.Permission(p); {
		case why != "":
			v.rule(field, p, why)
		case p == string(pgoapi.PermissionAll) && !caller.All:
			v.add(field, "pgo user %s does not hold every permission, so it cannot grant *", caller.Name)
		case !caller.can(pgoapi.Permission(p)):
			v.add(field, "pgo user %s does not hold %s, so it cannot grant it", caller.Name, p)
		}
	}
}

// mayChangeRole refuses a change to a pgo role, or its deletion, by a
// caller that does not hold every permission the role grants, or every
// namespace of every pgo user holding it: a change to a role changes what
// each of them may do.
func (s *Server) mayChangeRole(ctx context.Context, caller *principal, role *corev1.Secret, what string) error {
	name := strings.TrimPrefix(role.Name, pgoapi.PgoroleSecretPrefix)
	target := &principal{Name: name, Permissions: map[pgoapi.Permission]bool{}}
	for _, perm := range parsePermissions(role) {
		target.Permissions[pgoapi.Permission(perm)] = true
		target.All = target.All || pgoapi.Permission(perm) == pgoapi.PermissionAll
	}
	target.Namespaces = []string{}
	users, err := s.listPrefixed(ctx, pgoapi.PgouserSecretPrefix)
	if err != nil {
		return err
	}
	for i := range users {
		rec := parsePgouser(&users[i])
		if !slices.Contains(rec.Roles, name) {
			continue
		}
		if len(rec.Namespaces) == 0 {
			target.Namespaces = nil
			break
		}
		target.Namespaces = append(target.Namespaces, rec.Namespaces...)
	}
	if target.Namespaces != nil {
		slices.Sort(target.Namespaces)
		target.Namespaces = slices.Compact(target.Namespaces)
	}
	if missing := lacks(caller, target); missing != "" {
		return forbidden("pgo user %s may not %s pgo role %s, which grants, or whose holders have, what it does not: %s", caller.Name, what, name, missing)
	}
	return nil
}

func (s *Server) createPgorole(ctx context.Context, r *request) (any, error) {
	var req pgoapi.CreatePgoroleRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var v checks
	v.rule("name", req.Name, rules.PgoName(req.Name))
	checkPermissions(&v, r.user, req.Permissions)
	if err := v.err(); err != nil {
		return nil, err
	}
	sec := pgoroleSecret(s.Namespace, req.Name, req.Permissions)
	if err := s.Client.Create(ctx, sec, fieldOwner); apierrors.IsAlreadyExists(err) {
		return nil, conflict("pgo role %s already exists", req.Name)
	} else if err != nil {
		return nil, fmt.Errorf("creating pgo role %s: %w", req.Name, err)
	}
	return pgoapi.PgoroleResponse{Pgorole: pgoroleOf(sec)}, nil
}

func (s *Server) updatePgorole(ctx context.Context, r *request) (any, error) {
	name := r.PathValue(pgoapi.ParamName)
	var req pgoapi.UpdatePgoroleRequest
	if err := decode(r.Request, &req); err != nil {
		return nil, err
	}
	var v checks
	checkPermissions(&v, r.user, req.Permissions)
	if err := v.err(); err != nil {
		return nil, err
	}
	current, err := s.getPgoSecret(ctx, pgoapi.PgoroleSecret(name), "pgo role", name)
	if err != nil {
		return nil, err
	}
	if err := s.mayChangeRole(ctx, r.user, current, "change"); err != nil {
		return nil, err
	}
	if err := s.keepsASuperuser(ctx, func(rec pgouserRecord) (pgouserRecord, bool) { return rec, true },
		map[string][]string{name: req.Permissions}); err != nil {
		return nil, err
	}
	var out *corev1.Secret
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sec, err := s.getPgoSecret(ctx, pgoapi.PgoroleSecret(name), "pgo role", name)
		if err != nil {
			return err
		}
		sec.Data = pgoroleSecret(s.Namespace, name, req.Permissions).Data
		out = sec
		return s.Client.Update(ctx, sec, fieldOwner)
	})
	if err != nil {
		return nil, err
	}
	return pgoapi.PgoroleResponse{Pgorole: pgoroleOf(out)}, nil
}

func (s *Server) deletePgorole(ctx context.Context, r *request) (any, error) {
	name := r.PathValue(pgoapi.ParamName)
	sec, err := s.getPgoSecret(ctx, pgoapi.PgoroleSecret(name), "pgo role", name)
	if err != nil {
		return nil, err
	}
	if err := s.mayChangeRole(ctx, r.user, sec, "delete"); err != nil {
		return nil, err
	}
	users, err := s.listPrefixed(ctx, pgoapi.PgouserSecretPrefix)
	if err != nil {
		return nil, err
	}
	var holders []string
	for i := range users {
		rec := parsePgouser(&users[i])
		if slices.Contains(rec.Roles, name) {
			holders = append(holders, rec.Name)
		}
	}
	if len(holders) > 0 {
		return nil, conflict("pgo role %s is held by %s; take it from them first (pgo update pgouser --pgouser-roles)", name, strings.Join(holders, ", "))
	}
	if err := s.Client.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("deleting pgo role %s: %w", name, err)
	}
	return pgoapi.DeletedResponse{Name: name}, nil
}
