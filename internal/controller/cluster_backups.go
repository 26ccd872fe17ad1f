package controller

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/postgres"
	"pgo.dev/pgo/internal/specs"
)

// backupObjects applies the cluster's pgBackRest objects, before the pods
// that mount them: the configuration, the repository host's secret options,
// its volumes and its StatefulSet. It returns what keeps the repository
// host from running (a missing S3 credentials Secret), if something does;
// the instances run anyway, and their archiving waits.
func (r *ClusterReconciler) backupObjects(ctx context.Context, a applier, c *pgov1.PGCluster, instances []specs.Instance) (string, error) {
	if _, err := a.apply(ctx, c, specs.BackRestConfigMap(c, instances)); err != nil {
		return "", err
	}
	secret, problem, err := r.backRestSecret(ctx, c)
	if err != nil || problem != "" {
		return problem, err
	}
	if _, err := a.apply(ctx, c, secret); err != nil {
		return "", err
	}
	for _, pvc := range specs.RepoClaims(c) {
		if _, err := a.apply(ctx, c, pvc); err != nil {
			return "", err
		}
	}
	if _, err := a.apply(ctx, c, specs.RepoHostStatefulSet(c, r.Options)); err != nil {
		return "", err
	}
	return "", nil
}

// cipherPassLength is the length of a repository's passphrase: 64
// letters and digits, as strong as pgBackRest's advice (openssl rand
// -base64 48).
const cipherPassLength = 64

// backRestSecret builds the repository host's secret options: the keys of
// the S3 repositories, from their credentials Secrets (the user's: read
// from the API, not the cache), and the passphrases of encrypted
// repositories, generated once and kept.
func (r *ClusterReconciler) backRestSecret(ctx context.Context, c *pgov1.PGCluster) (*corev1.Secret, string, error) {
	credentials := map[string]*corev1.Secret{}
	for _, repo := range specs.Repos(c) {
		if repo.S3 == nil {
			continue
		}
		name := string(repo.S3.CredentialsSecret)
		s := &corev1.Secret{}
		err := r.Reader.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: name}, s)
		switch {
		case apierrors.IsNotFound(err):
			continue // S3Keys says which
		case err != nil:
			return nil, "", fmt.Errorf("reading the S3 credentials Secret %s: %w", name, err)
		}
		credentials[name] = s
	}
	keys, err := specs.S3Keys(c, credentials)
	if err != nil {
		return nil, err.Error(), nil
	}
	existing := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: naming.BackRestSecret(c.Name)}, existing); client.IgnoreNotFound(err) != nil {
		return nil, "", fmt.Errorf("reading Secret %s: %w", naming.BackRestSecret(c.Name), err)
	}
	passes := map[pgov1.RepoName]string{}
	for _, repo := range specs.EncryptedRepos(c) {
		pass := string(existing.Data[specs.CipherPassKey(repo)])
		if pass == "" {
			if pass, err = postgres.NewPasswordOfLength(cipherPassLength); err != nil {
				return nil, "", err
			}
			r.event(c, corev1.EventTypeNormal, "PassphraseCreated", "Create", "created the passphrase of the encrypted repository %s", repo)
		}
		passes[repo] = pass
	}
	return specs.BackRestSecret(c, keys, passes), "", nil
}

// removeBackups removes the repository host and, unless the cluster keeps
// its backups, its volumes and secret options. Kept ones lose their owner,
// so that they outlive the cluster: the Secret too, since it holds the
// passphrases of encrypted repositories.
func (r *ClusterReconciler) removeBackups(ctx context.Context, c *pgov1.PGCluster) error {
	keep := c.Spec.Deletion != nil && c.Spec.Deletion.KeepBackups
	for _, obj := range []client.Object{
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: naming.RepoHost(c.Name), Namespace: c.Namespace}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.BackRestConfigMap(c.Name), Namespace: c.Namespace}},
	} {
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting %s: %w", obj.GetName(), err)
		}
	}
	for _, pvc := range specs.RepoClaims(c) {
		if err := r.keepOrDelete(ctx, &corev1.PersistentVolumeClaim{}, client.ObjectKeyFromObject(pvc), keep); err != nil {
			return err
		}
	}
	return r.keepOrDelete(ctx, &corev1.Secret{}, client.ObjectKey{Namespace: c.Namespace, Name: naming.BackRestSecret(c.Name)}, keep)
}

// backups starts the first full backup once the repository host and the
// primary run, so that replicas and clones can restore from the start. Its
// task creates the stanza first (as every backup task does when it is
// missing): the reconciler itself never waits on the repository host.
func (r *ClusterReconciler) backups(ctx context.Context, c *pgov1.PGCluster, o *observed) error {
	if c.Spec.Shutdown || o.backupProblem != "" || !podReady(o.repoHost) {
		return nil
	}
	if c.Status.Backups != nil && c.Status.Backups.InitialBackup != "" {
		again, err := r.initialBackupFailed(ctx, c, o)
		if err != nil || !again {
			return err
		}
	}
	if primary := leader(o.lease, o.now); primary == "" || !podReady(o.pods[primary]) {
		return nil
	}
	t := initialBackup(c)
	if err := controllerutil.SetControllerReference(c, t, r.Scheme); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, t); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the task of the first backup: %w", err)
	}
	st := c.Status.Backups.DeepCopy()
	if st == nil {
		st = &pgov1.PGBackupsStatus{}
	}
	st.InitialBackup = t.Name
	o.backups = st
	r.event(c, corev1.EventTypeNormal, "BackupRequested", "Backup", "the first full backup runs as PGTask %s", t.Name)
	return nil
}

// initialBackupRetry is how long after a failed first backup pgo tries
// again.
const initialBackupRetry = 30 * time.Second

// initialBackupFailed tells whether to take the first full backup again:
// its task failed (a failover in the middle of it, the repository host
// restarted) and the repositories still hold no backup, which replicas and
// clones need. It removes the failed task, after initialBackupRetry.
func (r *ClusterReconciler) initialBackupFailed(ctx context.Context, c *pgov1.PGCluster, o *observed) (bool, error) {
	t := &pgov1.PGTask{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Status.Backups.InitialBackup}, t)
	if client.IgnoreNotFound(err) != nil {
		return false, err
	}
	if apierrors.IsNotFound(err) {
		t = nil
	}
	again, wait := retryFirstBackup(t, c.Status.Backups.Repos, o.now)
	if wait > 0 && (o.recheck == 0 || wait < o.recheck) {
		o.recheck = wait
	}
	if !again || t == nil {
		return again, nil
	}
	if err := r.Client.Delete(ctx, t); client.IgnoreNotFound(err) != nil {
		return false, fmt.Errorf("removing the failed task of the first backup: %w", err)
	}
	r.event(c, corev1.EventTypeWarning, "BackupRetried", "Backup", "the first full backup failed (%s); taking it again", t.Status.Message)
	return true, nil
}

// retryFirstBackup decides whether to take the first full backup again:
// its task (nil when gone) failed at least initialBackupRetry ago, and no
// repository holds a backup. wait is when to look again otherwise.
func retryFirstBackup(t *pgov1.PGTask, repos []pgov1.PGRepoStatus, now time.Time) (again bool, wait time.Duration) {
	for _, r := range repos {
		if r.Backups > 0 {
			return false, 0
		}
	}
	switch {
	case t == nil:
		return true, 0
	case t.Status.Phase != pgov1.TaskFailed:
		return false, 0
	case t.Status.CompletionTime != nil:
		if wait := t.Status.CompletionTime.Add(initialBackupRetry).Sub(now); wait > 0 {
			return false, wait
		}
	}
	return true, 0
}

// initialBackup is the task of a cluster's first full backup, to its first
// repository, started at once (--start-fast).
func initialBackup(c *pgov1.PGCluster) *pgov1.PGTask {
	return &pgov1.PGTask{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name + "-backup-initial", Namespace: c.Namespace, Labels: specs.ClusterLabels(c.Name)},
		Spec: pgov1.PGTaskSpec{ClusterName: pgov1.ClusterName(c.Name), Type: pgov1.TaskBackup, Backup: &pgov1.PGBackupParameters{
			Type: pgov1.BackupFull, RepoName: specs.Repos(c)[0].Name, Options: pgov1.PgBackRestOptions{"--start-fast"},
		}},
	}
}
