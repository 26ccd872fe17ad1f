package controller

import (
	"bytes"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pki"
	"pgo.dev/pgo/internal/postgres"
	"pgo.dev/pgo/internal/specs"
)

// secrets makes the passwords and certificates, once.
func (r *ClusterReconciler) secrets(ctx context.Context, a applier, c *pgov1.PGCluster) error {
	for _, build := range []func(*pgov1.PGCluster, string) *corev1.Secret{specs.SuperuserSecret, specs.APISecret, specs.AppUserSecret, specs.RepoHostAPISecret} {
		s := build(c, "")
		if exists, err := r.secretExists(ctx, client.ObjectKeyFromObject(s)); err != nil || exists {
			if err != nil {
				return err
			}
			continue
		}
		password, err := postgres.NewPassword()
		if err != nil {
			return err
		}
		if created, err := a.create(ctx, c, build(c, password)); err != nil {
			return err
		} else if created {
			r.event(c, corev1.EventTypeNormal, "SecretCreated", "Create", "created Secret %s", s.Name)
		}
	}
	return nil
}

// certificates keeps the cluster's own CA and, issued from it, the
// cluster's server certificate (which the members present to each other,
// and PostgreSQL to clients unless the user gave one) and the replication
// user's client certificate. Each names the cluster and is issued again at
// two thirds of its life, or when it is not the cluster CA's. It returns
// when the next renewal is due.
func (r *ClusterReconciler) certificates(ctx context.Context, a applier, c *pgov1.PGCluster) (time.Time, error) {
	ca, err := r.clusterCA(ctx, a, c)
	if err != nil {
		return time.Time{}, err
	}
	now := r.now()
	var next time.Time
	for _, want := range specs.Certificates(c, r.Options.CertificateLifetime) {
		existing := &corev1.Secret{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: want.Secret}, existing)
		if err != nil && !apierrors.IsNotFound(err) {
			return time.Time{}, err
		}
		found := err == nil
		cert := existing.Data[corev1.TLSCertKey]
		if found && pki.Current(ca.Cert, cert, now) && bytes.Equal(existing.Data[naming.KeyCACert], ca.Cert) {
			renew, _ := pki.RenewAt(cert)
			if next.IsZero() || renew.Before(next) {
				next = renew
			}
			continue
		}
		pair, err := pki.Issue(ca, want.Leaf, now)
		if err != nil {
			return time.Time{}, err
		}
		secret := specs.TLSSecret(c, want.Secret, pair.Cert, pair.Key, ca.Cert)
		if !found {
			if _, err := a.create(ctx, c, secret); err != nil {
				return time.Time{}, err
			}
		} else {
			existing.Data = secret.Data
			if err := r.Client.Update(ctx, existing); err != nil {
				return time.Time{}, fmt.Errorf("renewing the certificate in Secret %s: %w", want.Secret, err)
			}
			r.event(c, corev1.EventTypeNormal, "CertificateRenewed", "Renew", "renewed the certificate in Secret %s", want.Secret)
		}
		renew, _ := pki.RenewAt(pair.Cert)
		if next.IsZero() || renew.Before(next) {
			next = renew
		}
	}
	return next, nil
}

// clusterCA is the cluster's own CA, made on first use: certificates of
// one cluster are worth nothing to another.
func (r *ClusterReconciler) clusterCA(ctx context.Context, a applier, c *pgov1.PGCluster) (pki.Pair, error) {
	key := client.ObjectKey{Namespace: c.Namespace, Name: naming.ClusterCASecret(c.Name)}
	s := &corev1.Secret{}
	if err := r.Client.Get(ctx, key, s); err == nil {
		return pki.Pair{Cert: s.Data[naming.KeyCACert], Key: s.Data[naming.KeyCAKey]}, nil
	} else if !apierrors.IsNotFound(err) {
		return pki.Pair{}, err
	}
	ca, err := pki.NewCA(specs.ClusterCAName(c), r.now())
	if err != nil {
		return pki.Pair{}, err
	}
	created, err := a.create(ctx, c, specs.ClusterCASecret(c, ca.Cert, ca.Key))
	if err != nil {
		return pki.Pair{}, fmt.Errorf("creating the cluster's CA: %w", err)
	}
	if !created {
		// The cache had not seen it yet: read what is there.
		if err := r.Reader.Get(ctx, key, s); err != nil {
			return pki.Pair{}, err
		}
		return pki.Pair{Cert: s.Data[naming.KeyCACert], Key: s.Data[naming.KeyCAKey]}, nil
	}
	return ca, nil
}

// secretExists looks a Secret up in the cache, then (for Secrets a user made,
// which the cache does not hold) in the API.
func (r *ClusterReconciler) secretExists(ctx context.Context, key client.ObjectKey) (bool, error) {
	err := r.Client.Get(ctx, key, &corev1.Secret{})
	if err == nil {
		return true, nil
	}
	if !apierrors.IsNotFound(err) || r.Reader == nil {
		return false, client.IgnoreNotFound(err)
	}
	err = r.Reader.Get(ctx, key, &corev1.Secret{})
	if err == nil {
		return true, nil
	}
	return false, client.IgnoreNotFound(err)
}
