package repohostapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
)

// ErrDown is a repository host that does not run (yet): try again.
var ErrDown = errors.New("the repository host does not run")

// ForCluster is how pgo reaches a cluster's repository host: at its pod's
// IP, over TLS (its certificate must be the cluster CA's and name its
// pod), with the credentials of the Secret RepoHostAPISecret.
func ForCluster(ctx context.Context, c client.Reader, cluster *pgov1.PGCluster, timeout time.Duration) (API, error) {
	pod := &corev1.Pod{}
	key := client.ObjectKey{Namespace: cluster.Namespace, Name: naming.PodOfInstance(naming.RepoHost(cluster.Name))}
	if err := c.Get(ctx, key, pod); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return API{}, fmt.Errorf("%w: no pod %s", ErrDown, key.Name)
		}
		return API{}, fmt.Errorf("reading the repository host's pod: %w", err)
	}
	if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
		return API{}, fmt.Errorf("%w: pod %s has no IP", ErrDown, key.Name)
	}
	creds, certs := &corev1.Secret{}, &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: naming.RepoHostAPISecret(cluster.Name)}, creds); err != nil {
		return API{}, fmt.Errorf("reading the repository host's API credentials: %w", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: naming.BackRestCertSecret(cluster.Name)}, certs); err != nil {
		return API{}, fmt.Errorf("reading the cluster's CA: %w", err)
	}
	hc, err := Client(certs.Data[naming.KeyCACert], ServerName(cluster.Name, cluster.Namespace), timeout)
	if err != nil {
		return API{}, err
	}
	return API{HTTP: hc, URL: URL(pod.Status.PodIP),
		User: string(creds.Data[naming.KeyUsername]), Password: string(creds.Data[naming.KeyPassword])}, nil
}
