package controller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/postgres"
	"pgo.dev/pgo/internal/specs"
)

// users keeps the cluster's database users: a Secret with a password for
// each (generated unless the Secret has one), and the Secret
// "<cluster>-users" with the roles the primary's instance manager keeps,
// their passwords as verifiers. A verifier stays while its password does,
// so that the instance manager changes nothing. The Secrets of users taken
// out of the spec go.
func (r *ClusterReconciler) users(ctx context.Context, a applier, c *pgov1.PGCluster) error {
	previous, err := r.previousRoles(ctx, c)
	if err != nil {
		return err
	}
	var roles []postgres.ManagedRole
	for _, u := range clusterUsers(c) {
		password, err := r.userPassword(ctx, a, c, u)
		if err != nil {
			return err
		}
		role, rotated, err := managedRole(c, u, password, previous[string(u.Name)])
		if err != nil {
			return err
		}
		if rotated {
			r.event(c, corev1.EventTypeNormal, "PasswordChanged", "Users", "the password of user %s changed: new verifier", u.Name)
		}
		roles = append(roles, role)
	}
	secret, err := usersSecret(c, roles)
	if err != nil {
		return err
	}
	if _, err := a.apply(ctx, c, secret); err != nil {
		return err
	}
	r.verifiers.remember(c.UID, roles)
	return r.removeUserSecrets(ctx, c)
}

// clusterUsers are the application user (owner of the cluster's database)
// and spec.users, by name.
func clusterUsers(c *pgov1.PGCluster) []pgov1.PGUser {
	var out []pgov1.PGUser
	if c.Spec.User != "" {
		out = append(out, pgov1.PGUser{Name: c.Spec.User, Databases: []pgov1.DatabaseName{pgov1.DatabaseName(specs.Database(c))}})
	}
	for _, u := range c.Spec.Users {
		if u.Name != c.Spec.User {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b pgov1.PGUser) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return out
}

// userDatabase is the database a user's Secret tells to connect to.
func userDatabase(c *pgov1.PGCluster, u pgov1.PGUser) string {
	if len(u.Databases) > 0 {
		return string(u.Databases[0])
	}
	return specs.Database(c)
}

// passwordType is how a user's password is stored.
func passwordType(c *pgov1.PGCluster, u pgov1.PGUser) string {
	switch {
	case u.PasswordType != "":
		return string(u.PasswordType)
	case c.Spec.PasswordType != "":
		return string(c.Spec.PasswordType)
	}
	return postgres.PasswordSCRAM
}

// managedRole is a user as the instance manager keeps it. The previous
// verifier stays when it is of the right type and made from the same
// password; rotated tells that an existing user got a new one.
func managedRole(c *pgov1.PGCluster, u pgov1.PGUser, password string, previous postgres.ManagedRole) (postgres.ManagedRole, bool, error) {
	if _, err := postgres.ParseRoleOptions(u.Options); err != nil {
		return postgres.ManagedRole{}, false, fmt.Errorf("user %s: %w", u.Name, err)
	}
	role := postgres.ManagedRole{Name: string(u.Name), Options: u.Options}
	for _, d := range u.Databases {
		role.Databases = append(role.Databases, string(d))
	}
	slices.Sort(role.Databases)
	role.Databases = slices.Compact(role.Databases)
	if u.ValidUntil != nil {
		t := u.ValidUntil.UTC()
		role.ValidUntil = &t
	}
	typ := passwordType(c, u)
	if previous.Verifier != "" && postgres.VerifierType(previous.Verifier) == typ && verified.matches(previous.Verifier, role.Name, password) {
		role.Verifier = previous.Verifier
		return role, false, nil
	}
	v, err := postgres.Verifier(typ, role.Name, password)
	if err != nil {
		return postgres.ManagedRole{}, false, fmt.Errorf("user %s: %w", u.Name, err)
	}
	verified.add(v, role.Name, password)
	role.Verifier = v
	return role, previous.Verifier != "", nil
}

// usersSecret is "<cluster>-users": the roles as JSON, in name order.
func usersSecret(c *pgov1.PGCluster, roles []postgres.ManagedRole) (*corev1.Secret, error) {
	raw, err := json.Marshal(roles)
	if err != nil {
		return nil, fmt.Errorf("rendering the roles: %w", err)
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: naming.UsersSecret(c.Name), Namespace: c.Namespace, Labels: specs.ClusterLabels(c.Name)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{naming.KeyRoles: raw},
	}, nil
}

// previousRoles are the roles last written, by name: from memory, else from
// "<cluster>-users" (the cache, else the API).
func (r *ClusterReconciler) previousRoles(ctx context.Context, c *pgov1.PGCluster) (map[string]postgres.ManagedRole, error) {
	if roles, ok := r.verifiers.recall(c.UID); ok {
		return roles, nil
	}
	secret, err := r.getSecret(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.UsersSecret(c.Name)})
	if err != nil || secret == nil {
		return nil, err
	}
	var roles []postgres.ManagedRole
	if err := json.Unmarshal(secret.Data[naming.KeyRoles], &roles); err != nil {
		// Unreadable: every verifier is made again.
		return map[string]postgres.ManagedRole{}, nil
	}
	out := map[string]postgres.ManagedRole{}
	for _, role := range roles {
		out[role.Name] = role
	}
	return out, nil
}

// getSecret reads a Secret from the cache, then (for Secrets without pgo's
// labels, which the cache does not hold) from the API; nil when missing.
func (r *ClusterReconciler) getSecret(ctx context.Context, key client.ObjectKey) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.Client.Get(ctx, key, s)
	if apierrors.IsNotFound(err) && r.Reader != nil {
		err = r.Reader.Get(ctx, key, s)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s: %w", key.Name, err)
	}
	return s, nil
}

// userPassword is a user's password from its Secret, which it creates with
// a generated password when missing. It keeps the Secret's other keys (user
// name, host, port, database, URI) in line with the password, and labels it
// so that a new password there reaches the controller at once.
func (r *ClusterReconciler) userPassword(ctx context.Context, a applier, c *pgov1.PGCluster, u pgov1.PGUser) (string, error) {
	name := naming.UserSecret(c.Name, string(u.Name))
	existing, err := r.getSecret(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name})
	if err != nil {
		return "", err
	}
	if existing == nil {
		password, err := postgres.NewPassword()
		if err != nil {
			return "", err
		}
		s := userSecret(c, u, name, password)
		created, err := a.create(ctx, c, s)
		if err != nil {
			return "", err
		}
		if !created {
			// Made meanwhile, by the apiserver: its password counts.
			if existing, err = r.getSecret(ctx, client.ObjectKeyFromObject(s)); err != nil {
				return "", err
			}
			if existing == nil {
				return "", fmt.Errorf("the Secret %s of user %s appeared and went while pgo created it; trying again", name, u.Name)
			}
			return r.existingPassword(ctx, c, u, existing)
		}
		r.event(c, corev1.EventTypeNormal, "SecretCreated", "Users", "created Secret %s with a password for user %s", name, u.Name)
		return password, nil
	}
	return r.existingPassword(ctx, c, u, existing)
}

// existingPassword is the password in a user's Secret (generated when
// empty), with the Secret's other keys and labels brought in line.
func (r *ClusterReconciler) existingPassword(ctx context.Context, c *pgov1.PGCluster, u pgov1.PGUser, existing *corev1.Secret) (string, error) {
	name := existing.Name
	var err error
	password := string(existing.Data[naming.KeyPassword])
	generated := password == ""
	if generated {
		if password, err = postgres.NewPassword(); err != nil {
			return "", err
		}
	}
	want := userSecret(c, u, name, password)
	changed := existing.DeepCopy()
	if changed.Data == nil {
		changed.Data = map[string][]byte{}
	}
	maps.Copy(changed.Data, want.Data)
	if changed.Labels == nil {
		changed.Labels = map[string]string{}
	}
	maps.Copy(changed.Labels, want.Labels)
	if maps.EqualFunc(changed.Data, existing.Data, bytes.Equal) && maps.Equal(changed.Labels, existing.Labels) {
		return password, nil
	}
	if err := r.Client.Patch(ctx, changed, client.MergeFromWithOptions(existing, client.MergeFromWithOptimisticLock{})); err != nil {
		return "", fmt.Errorf("updating Secret %s of user %s: %w", name, u.Name, err)
	}
	if generated {
		r.event(c, corev1.EventTypeNormal, "PasswordGenerated", "Users", "generated a password for user %s in Secret %s", u.Name, name)
	}
	return password, nil
}

// userSecret is a user's Secret: its password and how to connect.
func userSecret(c *pgov1.PGCluster, u pgov1.PGUser, name, password string) *corev1.Secret {
	s := specs.UserSecret(c, name, string(u.Name), password, userDatabase(c, u))
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[naming.LabelUser] = string(u.Name)
	return s
}

// removeUserSecrets deletes the Secrets of users no longer in the spec:
// those the cluster controls that are named for the user they hold.
func (r *ClusterReconciler) removeUserSecrets(ctx context.Context, c *pgov1.PGCluster) error {
	var list corev1.SecretList
	if err := r.Client.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels(specs.ClusterLabels(c.Name))); err != nil {
		return fmt.Errorf("listing the cluster's Secrets: %w", err)
	}
	wanted := map[string]bool{
		naming.SuperuserSecret(c.Name): true, naming.APISecret(c.Name): true,
		naming.UsersSecret(c.Name): true,
	}
	for _, u := range clusterUsers(c) {
		wanted[naming.UserSecret(c.Name, string(u.Name))] = true
	}
	for i := range list.Items {
		s := &list.Items[i]
		user := string(s.Data[naming.KeyUsername])
		_, hasDatabase := s.Data[naming.KeyDatabase]
		isUserSecret := user != "" && s.Name == naming.UserSecret(c.Name, user) && (hasDatabase || s.Labels[naming.LabelUser] != "")
		if wanted[s.Name] || !isUserSecret || !metav1.IsControlledBy(s, c) {
			continue
		}
		if err := r.Client.Delete(ctx, s, client.Preconditions{UID: &s.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting Secret %s of removed user %s: %w", s.Name, user, err)
		}
		r.event(c, corev1.EventTypeNormal, "UserRemoved", "Users", "deleted Secret %s of user %s, no longer in the spec", s.Name, user)
	}
	return nil
}

// rolesMemo remembers the roles last written per cluster, so that a
// reconcile does not depend on the cache having seen that write.
type rolesMemo struct {
	mu    sync.Mutex
	roles map[types.UID]map[string]postgres.ManagedRole
}

func (m *rolesMemo) remember(uid types.UID, roles []postgres.ManagedRole) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.roles == nil {
		m.roles = map[types.UID]map[string]postgres.ManagedRole{}
	}
	byName := map[string]postgres.ManagedRole{}
	for _, r := range roles {
		byName[r.Name] = r
	}
	m.roles[uid] = byName
}

func (m *rolesMemo) recall(uid types.UID) (map[string]postgres.ManagedRole, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	roles, ok := m.roles[uid]
	return roles, ok
}

func (m *rolesMemo) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.roles, uid)
}

// verified remembers which verifiers match which passwords, so that the
// SCRAM check (4096 rounds of HMAC) runs once per password, not once per
// reconcile. It holds hashes only.
var verified = &verifierCache{}

type verifierCache struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
}

func verifierKey(verifier, user, password string) [sha256.Size]byte {
	return sha256.Sum256([]byte(verifier + "\x00" + user + "\x00" + password))
}

func (v *verifierCache) matches(verifier, user, password string) bool {
	key := verifierKey(verifier, user, password)
	v.mu.Lock()
	_, ok := v.seen[key]
	v.mu.Unlock()
	if ok {
		return true
	}
	if !postgres.VerifierMatches(verifier, user, password) {
		return false
	}
	v.add(verifier, user, password)
	return true
}

func (v *verifierCache) add(verifier, user, password string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil || len(v.seen) >= 100_000 {
		v.seen = map[[sha256.Size]byte]struct{}{}
	}
	v.seen[verifierKey(verifier, user, password)] = struct{}{}
}

// forgetUsers drops what users remembered of a deleted cluster.
func (r *ClusterReconciler) forgetUsers(c *pgov1.PGCluster) {
	r.verifiers.forget(c.UID)
}
