package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/pgoapi"
)

// A kubectl user who goes around the apiserver cannot run a cluster where
// pgo does not work, nor a PostgreSQL version or an image the operator
// does not allow: the controller creates nothing and says why in the
// condition Refused, and goes on once the cluster is allowed.
func TestRefusedClusters(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	storageClasses(t, e.c)
	e.namespace("allowed")
	e.namespaceLabelled("unmanaged", nil)
	e.namespaceLabelled("pgo", map[string]string{pgoapi.LabelNamespace: "true"})
	e.namespaceLabelled("kube-things", map[string]string{pgoapi.LabelNamespace: "true"})

	for _, tc := range []struct {
		ns, name string
		change   func(*pgov1.PGCluster)
		reason   string
		says     string
	}{
		{"unmanaged", "hippo", nil, "NamespaceNotManaged", "pgo create namespace"},
		{"pgo", "hippo", nil, "NamespaceNotManaged", "operator's own namespace"},
		{"kube-things", "hippo", nil, "NamespaceNotManaged", "belongs to Kubernetes"},
		{"allowed", "old", func(c *pgov1.PGCluster) { c.Spec.PostgresVersion = 13 }, "VersionNotAvailable", "PostgreSQL 13 is not available"},
		{"allowed", "foreign", func(c *pgov1.PGCluster) { c.Spec.Image = "evil.example.com/miner:latest" }, "ImageNotAllowed", "evil.example.com/miner:latest"},
	} {
		c := newCluster(tc.ns, tc.name)
		c.Spec.PostgresVersion = 15
		if tc.change != nil {
			tc.change(c)
		}
		if err := e.c.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		e.eventually(tc.ns+"/"+tc.name+" refused", func() error {
			if err := e.get(tc.ns, tc.name, c); err != nil {
				return err
			}
			cond := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterRefused)
			if cond == nil || cond.Reason != tc.reason || !strings.Contains(cond.Message, tc.says) {
				return fmt.Errorf("condition %+v, want reason %s saying %q", cond, tc.reason, tc.says)
			}
			if c.Status.Phase != pgov1.PhaseFailed {
				return fmt.Errorf("phase %s", c.Status.Phase)
			}
			return nil
		})
	}
	// Nothing was created for them: no workload, no Secret, no
	// ServiceAccount, and no finalizer that would hold their deletion.
	for _, ns := range []string{"unmanaged", "pgo", "kube-things", "allowed"} {
		var sts appsv1.StatefulSetList
		var sas corev1.ServiceAccountList
		var secrets corev1.SecretList
		for _, list := range []client.ObjectList{&sts, &sas, &secrets} {
			if err := e.c.List(ctx, list, client.InNamespace(ns), client.HasLabels{"pgo.dev/cluster"}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(sts.Items) + len(sas.Items) + len(secrets.Items); n > 0 {
			t.Errorf("namespace %s: %d StatefulSets, %d ServiceAccounts, %d Secrets of refused clusters", ns, len(sts.Items), len(sas.Items), len(secrets.Items))
		}
	}
	c := &pgov1.PGCluster{}
	if err := e.get("unmanaged", "hippo", c); err != nil || len(c.Finalizers) > 0 {
		t.Errorf("a refused cluster has finalizers %v (%v)", c.Finalizers, err)
	}

	// An allowed image, and the cluster goes on.
	e.patchCluster("allowed", "foreign", `{"spec":{"image":"registry.example.com/postgres:15-2"}}`)
	e.eventually("the cluster with an allowed image runs", func() error {
		if err := e.get("allowed", "foreign", c); err != nil {
			return err
		}
		if cond := meta.FindStatusCondition(c.Status.Conditions, pgov1.ClusterRefused); cond != nil {
			return fmt.Errorf("still refused: %s", cond.Message)
		}
		var sts appsv1.StatefulSetList
		if err := e.c.List(ctx, &sts, client.InNamespace("allowed"), client.MatchingLabels{"pgo.dev/cluster": "foreign"}); err != nil {
			return err
		}
		if len(sts.Items) == 0 {
			return fmt.Errorf("no StatefulSet")
		}
		if img := sts.Items[0].Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/postgres:15-2" {
			return fmt.Errorf("image %s", img)
		}
		return nil
	})
}
