package controller_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/specs"
)

// TestInstanceRoleNamesItsObjects: with the Roles the operator applies for
// two clusters of a namespace, a pod of cluster alpha may update alpha's
// lease and ConfigMaps and patch alpha's pods, and nothing of beta's; it
// creates nothing. The operator made the Lease and ConfigMaps the pods only
// update. Checked by SubjectAccessReviews against the API server's RBAC.
func TestInstanceRoleNamesItsObjects(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "rbac"
	e.namespace(ns)
	storageClasses(t, e.c)
	for _, name := range []string{"alpha", "beta"} {
		if err := e.c.Create(ctx, newCluster(ns, name)); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("both clusters' leases and ConfigMaps, made by the operator", func() error {
		for _, c := range []string{"alpha", "beta"} {
			if err := e.get(ns, naming.LeaderLease(c), &coordinationv1.Lease{}); err != nil {
				return err
			}
			for _, name := range []string{naming.ConfigMap(c), naming.SyncConfigMap(c), naming.FailoverConfigMap(c)} {
				if err := e.get(ns, name, &corev1.ConfigMap{}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	podsOf := func(cluster string) []string {
		role := &rbacv1.Role{}
		if err := e.get(ns, naming.InstanceServiceAccount(cluster), role); err != nil {
			return nil
		}
		for _, rule := range role.Rules {
			if slices.Contains(rule.Verbs, "patch") {
				return rule.ResourceNames
			}
		}
		return nil
	}
	e.eventually("each Role naming its cluster's two pods", func() error {
		for _, c := range []string{"alpha", "beta"} {
			if pods := podsOf(c); len(pods) != 2 {
				return fmt.Errorf("%s's pods may patch %v, want its two pods", c, pods)
			}
		}
		return nil
	})

	alpha := "system:serviceaccount:" + ns + ":" + naming.InstanceServiceAccount("alpha")
	can := func(verb, group, resource, name string) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   alpha,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Group: group, Resource: resource, Name: name,
			},
		}}
		out, err := e.api.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out.Status.Allowed
	}
	const leases, coordination = "leases", "coordination.k8s.io"
	for _, c := range []struct {
		verb, group, resource, name string
		want                        bool
	}{
		{"update", coordination, leases, naming.LeaderLease("alpha"), true},
		{"get", coordination, leases, naming.LeaderLease("alpha"), true},
		{"watch", coordination, leases, naming.LeaderLease("alpha"), true},
		{"update", coordination, leases, naming.LeaderLease("beta"), false},
		{"get", coordination, leases, naming.LeaderLease("beta"), false},
		{"create", coordination, leases, "", false},
		{"delete", coordination, leases, naming.LeaderLease("alpha"), false},
		{"update", "", "configmaps", naming.FailoverConfigMap("alpha"), true},
		{"update", "", "configmaps", naming.SyncConfigMap("alpha"), true},
		{"update", "", "configmaps", naming.ConfigMap("alpha"), true},
		{"update", "", "configmaps", naming.FailoverConfigMap("beta"), false},
		{"update", "", "configmaps", naming.ConfigMap("beta"), false},
		{"create", "", "configmaps", "", false},
		{"patch", "", "pods", podsOf("alpha")[0], true},
		{"patch", "", "pods", podsOf("alpha")[1], true},
		{"patch", "", "pods", podsOf("beta")[0], false},
		{"delete", "", "pods", podsOf("alpha")[0], false},
		{"get", "", "secrets", naming.UsersSecret("alpha"), true},
		{"get", "", "secrets", naming.UsersSecret("beta"), false},
		{"get", "", "secrets", naming.SuperuserSecret("alpha"), false},
		{"list", "", "secrets", "", false},
	} {
		if got := can(c.verb, c.group, c.resource, c.name); got != c.want {
			t.Errorf("a pod of alpha may %s %s %q: %t, want %t", c.verb, c.resource, c.name, got, c.want)
		}
	}
}

// TestCertificatesAreRenewed: with a lifetime of 9 s, the operator issues
// the cluster's server and replication certificates again at two thirds of
// it, from the same cluster CA, and says so in an event.
func TestCertificatesAreRenewed(t *testing.T) {
	opts := specs.DefaultOptions()
	opts.CertificateLifetime = 9 * time.Second
	e := startWith(t, opts)
	ctx := context.Background()
	ns := "renewal"
	e.namespace(ns)
	storageClasses(t, e.c)
	c := newCluster(ns, "hippo")
	if err := e.c.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	first := map[string][]byte{}
	var ca []byte
	e.eventually("the cluster's certificates", func() error {
		caSecret := &corev1.Secret{}
		if err := e.get(ns, naming.ClusterCASecret("hippo"), caSecret); err != nil {
			return err
		}
		ca = caSecret.Data[naming.KeyCACert]
		for _, name := range []string{naming.ServerCertSecret("hippo"), naming.ReplicationCertSecret("hippo")} {
			s := &corev1.Secret{}
			if err := e.get(ns, name, s); err != nil {
				return err
			}
			first[name] = s.Data[corev1.TLSCertKey]
		}
		return nil
	})
	issued := time.Now()
	e.eventuallyWithin("both certificates renewed", 20*time.Second, func() error {
		for name, old := range first {
			s := &corev1.Secret{}
			if err := e.get(ns, name, s); err != nil {
				return err
			}
			if bytes.Equal(s.Data[corev1.TLSCertKey], old) {
				return fmt.Errorf("%s still holds its first certificate", name)
			}
			if !bytes.Equal(s.Data[naming.KeyCACert], ca) || !pki.Current(ca, s.Data[corev1.TLSCertKey], time.Now()) {
				return fmt.Errorf("%s holds a certificate that is not the cluster CA's", name)
			}
		}
		return nil
	})
	// Two thirds of 9 s, counted from the start set back by a tenth.
	if took := time.Since(issued); took < 3*time.Second {
		t.Errorf("renewed after %s, before two thirds of the lifetime", took)
	}
	e.eventually("a CertificateRenewed event", func() error {
		var events corev1.EventList
		if err := e.c.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, ev := range events.Items {
			if ev.Reason == "CertificateRenewed" {
				return nil
			}
		}
		return errors.New("none")
	})
}
