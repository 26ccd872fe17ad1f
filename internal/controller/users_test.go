package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/controller"
	"pgo.dev/pgo/internal/dcs"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/postgres"
	"pgo.dev/pgo/internal/specs"
)

// roles reads "<cluster>-users" from the API.
func (e *env) roles(ns, cluster string) (map[string]postgres.ManagedRole, error) {
	var s corev1.Secret
	if err := e.get(ns, naming.UsersSecret(cluster), &s); err != nil {
		return nil, err
	}
	var list []postgres.ManagedRole
	if err := json.Unmarshal(s.Data[naming.KeyRoles], &list); err != nil {
		return nil, err
	}
	out := map[string]postgres.ManagedRole{}
	for _, r := range list {
		out[r.Name] = r
	}
	return out, nil
}

// TestUsers: every user gets a Secret with a password, and "<cluster>-users"
// the roles with verifiers of those passwords; a verifier stays while its
// password does and follows a new one; a removed user's Secret goes.
func TestUsers(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "users"
	e.namespace(ns)
	storageClasses(t, e.c)

	// carol's Secret is made by hand, with a password of her choice.
	carol := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hippo-carol-secret", Namespace: ns},
		Data: map[string][]byte{"password": []byte("carol's own password")}}
	if err := e.c.Create(ctx, carol); err != nil {
		t.Fatal(err)
	}
	until := metav1.NewTime(time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC))
	c := newCluster(ns, "hippo")
	c.Spec.Replicas = 0
	c.Spec.Users = []pgov1.PGUser{
		{Name: "alice", Databases: []pgov1.DatabaseName{"reports", "hippo"}, Options: "CREATEDB CONNECTION LIMIT 5", ValidUntil: &until},
		{Name: "bob_md5", PasswordType: pgov1.PasswordMD5},
		{Name: "carol"},
	}
	if err := e.c.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.get(ns, "hippo", c); err != nil {
		t.Fatal(err)
	}

	var roles map[string]postgres.ManagedRole
	passwords := map[string]string{}
	secrets := map[string]string{"testuser": "hippo-testuser-secret", "alice": "hippo-alice-secret", "bob_md5": "hippo-bob-md5-secret", "carol": "hippo-carol-secret"}
	e.eventually("a Secret per user and the roles", func() error {
		for user, name := range secrets {
			var s corev1.Secret
			if err := e.get(ns, name, &s); err != nil {
				return err
			}
			passwords[user] = string(s.Data["password"])
			if string(s.Data["username"]) != user || !strings.HasPrefix(string(s.Data["uri"]), "postgresql://"+user+":") || s.Labels[naming.LabelCluster] != "hippo" {
				return fmt.Errorf("Secret %s: labels %v, keys %v", name, s.Labels, s.Data)
			}
			if user != "carol" {
				if err := ownedBy(&s, c); err != nil {
					return err
				}
				if len(passwords[user]) != postgres.PasswordLength {
					return fmt.Errorf("the generated password of %s has %d characters", user, len(passwords[user]))
				}
			}
		}
		var err error
		roles, err = e.roles(ns, "hippo")
		if err != nil {
			return err
		}
		if len(roles) != 4 {
			return fmt.Errorf("%d roles, want 4", len(roles))
		}
		return nil
	})
	if passwords["carol"] != "carol's own password" {
		t.Errorf("carol's own password became %q", passwords["carol"])
	}
	var s corev1.Secret
	if err := e.get(ns, naming.UsersSecret("hippo"), &s); err != nil {
		t.Fatal(err)
	}
	if err := ownedBy(&s, c); err != nil {
		t.Error(err)
	}
	if strings.Contains(string(s.Data["roles"]), passwords["alice"]) {
		t.Error("the roles hold a password in clear")
	}
	for user, r := range roles {
		if !postgres.VerifierMatches(r.Verifier, user, passwords[user]) {
			t.Errorf("the verifier of %s is not made from its password", user)
		}
	}
	if postgres.VerifierType(roles["bob_md5"].Verifier) != postgres.PasswordMD5 || postgres.VerifierType(roles["alice"].Verifier) != postgres.PasswordSCRAM {
		t.Errorf("verifier types: bob_md5 %q, alice %q", roles["bob_md5"].Verifier[:3], roles["alice"].Verifier[:6])
	}
	a := roles["alice"]
	if a.Options != "CREATEDB CONNECTION LIMIT 5" || !slices.Equal(a.Databases, []string{"hippo", "reports"}) || a.ValidUntil == nil || !a.ValidUntil.Equal(until.Time) {
		t.Errorf("alice: %+v", a)
	}
	if app := roles["testuser"]; !slices.Equal(app.Databases, []string{"hippo"}) || app.ValidUntil != nil {
		t.Errorf("the application user: %+v", app)
	}

	// The instance managers may read that Secret, and authenticate md5.
	var role rbacv1.Role
	if err := e.get(ns, "hippo-instance", &role); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
		return slices.Equal(r.ResourceNames, []string{"hippo-users"}) && slices.Equal(r.Resources, []string{"secrets"})
	}) {
		t.Errorf("the instance Role does not let the managers read hippo-users: %+v", role.Rules)
	}
	var cm corev1.ConfigMap
	if err := e.get(ns, "hippo-config", &cm); err != nil {
		t.Fatal(err)
	}
	var dc dcs.DynamicConfig
	if err := json.Unmarshal([]byte(cm.Data["config"]), &dc); err != nil || dc.PostgreSQL.PasswordMethod != "md5" {
		t.Errorf("with an md5 user the password method is %q (%v)", dc.PostgreSQL.PasswordMethod, err)
	}

	// Unchanged passwords: no writes, the same verifiers, also for a
	// controller that starts afresh.
	e.steady(ns, "hippo")
	fresh := &controller.ClusterReconciler{Client: e.c, Reader: e.c, Scheme: kubescheme.Scheme, Options: specs.DefaultOptions(), Config: testConfig(t)}
	if _, err := fresh.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "hippo"}}); err != nil {
		t.Fatal(err)
	}
	again, err := e.roles(ns, "hippo")
	if err != nil {
		t.Fatal(err)
	}
	for user, r := range roles {
		if again[user].Verifier != r.Verifier {
			t.Errorf("the verifier of %s changed with its password unchanged", user)
		}
	}

	// A new password in alice's Secret (as the apiserver writes it): a new
	// verifier for her only, and the URI follows.
	var aliceSecret corev1.Secret
	if err := e.get(ns, "hippo-alice-secret", &aliceSecret); err != nil {
		t.Fatal(err)
	}
	aliceSecret.Data["password"] = []byte("a new password for alice")
	if err := e.c.Update(ctx, &aliceSecret); err != nil {
		t.Fatal(err)
	}
	e.eventually("a new verifier for alice", func() error {
		again, err = e.roles(ns, "hippo")
		if err != nil {
			return err
		}
		if !postgres.VerifierMatches(again["alice"].Verifier, "alice", "a new password for alice") {
			return fmt.Errorf("alice's verifier is not made from her new password")
		}
		if err := e.get(ns, "hippo-alice-secret", &aliceSecret); err != nil {
			return err
		}
		if !strings.HasPrefix(string(aliceSecret.Data["uri"]), "postgresql://alice:a%20new%20password%20for%20alice@") {
			return fmt.Errorf("alice's URI %s", aliceSecret.Data["uri"])
		}
		return nil
	})
	for _, user := range []string{"testuser", "bob_md5", "carol"} {
		if again[user].Verifier != roles[user].Verifier {
			t.Errorf("the verifier of %s changed with alice's password", user)
		}
	}

	// bob's password type goes to SCRAM: a SCRAM verifier of the same
	// password.
	e.patchCluster(ns, "hippo", `{"spec": {"users": [{"name": "alice", "databases": ["reports", "hippo"]}, {"name": "bob_md5"}, {"name": "carol"}]}}`)
	e.eventually("bob with a SCRAM verifier, alice without options or expiry", func() error {
		again, err = e.roles(ns, "hippo")
		if err != nil {
			return err
		}
		if b := again["bob_md5"].Verifier; postgres.VerifierType(b) != postgres.PasswordSCRAM || !postgres.VerifierMatches(b, "bob_md5", passwords["bob_md5"]) {
			return fmt.Errorf("bob's verifier is not a SCRAM verifier of his password")
		}
		if a := again["alice"]; a.Options != "" || a.ValidUntil != nil {
			return fmt.Errorf("alice %+v", a)
		}
		return nil
	})

	// alice and carol leave: alice's Secret goes; carol's, made by hand,
	// stays.
	e.patchCluster(ns, "hippo", `{"spec": {"users": [{"name": "bob_md5"}]}}`)
	e.eventually("alice's Secret deleted", func() error {
		if err := e.get(ns, "hippo-alice-secret", &corev1.Secret{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("alice's Secret is still there (%w)", err)
		}
		again, err = e.roles(ns, "hippo")
		if err != nil {
			return err
		}
		if _, ok := again["alice"]; ok || len(again) != 2 {
			return fmt.Errorf("roles after alice left: %d", len(again))
		}
		return nil
	})
	if err := e.get(ns, "hippo-carol-secret", &corev1.Secret{}); err != nil {
		t.Errorf("carol's own Secret: %v", err)
	}
	for _, name := range []string{"hippo-testuser-secret", "hippo-bob-md5-secret", "hippo-postgres-secret", "hippo-api-secret"} {
		if err := e.get(ns, name, &corev1.Secret{}); err != nil {
			t.Errorf("Secret %s: %v", name, err)
		}
	}
	e.steady(ns, "hippo")
}
