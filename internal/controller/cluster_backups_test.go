package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/specs"
)

// A cluster gets its pgBackRest objects: the configuration, the
// repository host with its volume, the pgBackRest certificate and the
// repository host's API credentials. An S3 repository waits for its
// credentials Secret, and says so in BackupsReady; an encrypted one gets a
// passphrase that never changes. Deleting the cluster removes them, or
// keeps the volume and the Secret of passphrases (without owners) when
// asked.
func TestBackupObjects(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ns := "backups"
	e.namespace(ns)
	c := newCluster(ns, "bk")
	c.Spec.Backups = &pgov1.PGBackupsSpec{Repos: []pgov1.PGBackupRepo{
		{Name: "repo1", Volume: &pgov1.PGStorage{Size: resource.MustParse("2Gi")}},
		{Name: "repo2", Encrypted: true, S3: &pgov1.PGS3Repo{Bucket: "backups", Endpoint: "s3.example.com", Region: "us-east-1", CredentialsSecret: "bk-s3"}},
	}}
	c.Spec.Deletion = &pgov1.PGDeletionSpec{KeepBackups: true}
	if err := e.c.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.get(ns, "bk", c); err != nil {
		t.Fatal(err)
	}

	e.eventually("BackupsReady names the missing S3 credentials", func() error {
		if err := e.get(ns, "bk", c); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterBackupsReady)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "RepoHostNotConfigured" || !strings.Contains(cond.Message, "bk-s3") {
			return fmt.Errorf("BackupsReady: %+v", cond)
		}
		return nil
	})
	if err := e.get(ns, naming.RepoHost("bk"), &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
		t.Errorf("the repository host runs without its S3 keys: %v", err)
	}
	// The instances run anyway.
	if err := e.get(ns, specs.FirstInstance(c), &appsv1.StatefulSet{}); err != nil {
		t.Errorf("the first instance waits for the backups: %v", err)
	}

	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bk-s3", Namespace: ns},
		Data: map[string][]byte{specs.KeyS3Key: []byte("AKIAEXAMPLE"), specs.KeyS3KeySecret: []byte("secret/key+1")}}
	if err := e.c.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	e.patchCluster(ns, "bk", `{"metadata":{"annotations":{"touch":"1"}}}`) // the user's Secret is not watched
	var passphrase string
	e.eventually("the repository host and its objects", func() error {
		sts := &appsv1.StatefulSet{}
		if err := e.get(ns, naming.RepoHost("bk"), sts); err != nil {
			return err
		}
		if err := ownedBy(sts, c); err != nil {
			return err
		}
		for _, name := range []string{naming.BackRestCertSecret("bk"), naming.RepoHostAPISecret("bk")} {
			if err := e.get(ns, name, &corev1.Secret{}); err != nil {
				return err
			}
		}
		if err := e.get(ns, naming.RepoVolume("bk", "repo1"), &corev1.PersistentVolumeClaim{}); err != nil {
			return err
		}
		cm := &corev1.ConfigMap{}
		if err := e.get(ns, naming.BackRestConfigMap("bk"), cm); err != nil {
			return err
		}
		if !strings.Contains(cm.Data[naming.KeyBackRestRepoHost], "repo2-cipher-type=aes-256-cbc") {
			return fmt.Errorf("repo2 is not encrypted:\n%s", cm.Data[naming.KeyBackRestRepoHost])
		}
		s := &corev1.Secret{}
		if err := e.get(ns, naming.BackRestSecret("bk"), s); err != nil {
			return err
		}
		conf := string(s.Data[naming.KeyBackRestSecret])
		passphrase = string(s.Data[specs.CipherPassKey("repo2")])
		if len(passphrase) != 64 || !strings.Contains(conf, "repo2-cipher-pass="+passphrase+"\n") || !strings.Contains(conf, "repo2-s3-key-secret=secret/key+1\n") {
			return fmt.Errorf("the secret options:\n%s", conf)
		}
		return nil
	})
	// The passphrase stays across reconciles.
	e.patchCluster(ns, "bk", `{"metadata":{"annotations":{"touch":"2"}}}`)
	e.steady(ns, "bk")
	s := &corev1.Secret{}
	if err := e.get(ns, naming.BackRestSecret("bk"), s); err != nil || string(s.Data[specs.CipherPassKey("repo2")]) != passphrase {
		t.Fatalf("the passphrase changed (%v)", err)
	}

	// Deleted with keepBackups: the repository's volume and the
	// passphrases stay, without owners; the repository host goes.
	if err := e.c.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	e.eventually("the backups kept", func() error {
		if err := e.get(ns, "bk", &pgov1.PGCluster{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the cluster is still there (%w)", err)
		}
		if err := e.get(ns, naming.RepoHost("bk"), &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the repository host is still there (%w)", err)
		}
		for _, obj := range []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.Secret{}} {
			name := naming.RepoVolume("bk", "repo1")
			if _, ok := obj.(*corev1.Secret); ok {
				name = naming.BackRestSecret("bk")
			}
			if err := e.get(ns, name, obj); err != nil {
				return fmt.Errorf("%s is not kept: %w", name, err)
			}
			if len(obj.GetOwnerReferences()) > 0 {
				return fmt.Errorf("%s still has owners", name)
			}
		}
		return nil
	})
}
