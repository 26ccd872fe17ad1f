package pgoconfig

import (
	"strings"
	"testing"

	"pgo.dev/pgo/internal/pgoapi"
)

func config(t *testing.T, env map[string]string) Config {
	t.Helper()
	c, err := New("pgo", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNamespaceProblem(t *testing.T) {
	labelled := map[string]string{pgoapi.LabelNamespace: "true"}
	byLabel := config(t, nil)
	listed := config(t, map[string]string{pgoapi.EnvNamespaces: "app1, app2"})
	for _, tc := range []struct {
		c      Config
		ns     string
		labels map[string]string
		says   string // "" when allowed
	}{
		{byLabel, "app", labelled, ""},
		{byLabel, "app", nil, "pgo create namespace"},
		{byLabel, "app", map[string]string{pgoapi.LabelNamespace: "yes"}, "pgo.dev/namespace=true"},
		{byLabel, "kube-system", labelled, "belongs to Kubernetes"},
		{byLabel, "kube-public", labelled, "belongs to Kubernetes"},
		{byLabel, "pgo", labelled, "operator's own namespace"},
		{listed, "app1", nil, ""},
		{listed, "app2", labelled, ""},
		{listed, "app3", labelled, "the operator's namespaces are app1, app2"},
		{listed, "pgo", nil, "operator's own namespace"},
	} {
		got := tc.c.NamespaceProblem(tc.ns, tc.labels)
		if (tc.says == "") != (got == "") || !strings.Contains(got, tc.says) {
			t.Errorf("%s %v (namespaces %v): %q, want %q", tc.ns, tc.labels, tc.c.Namespaces, got, tc.says)
		}
	}
}

func TestImagesAndVersions(t *testing.T) {
	c := config(t, map[string]string{EnvPostgresImages: "15=registry.example.com/postgres:15.8, 16=registry.example.com/postgres:16.4",
		EnvAllowedImages: "registry.example.com/postgres:15-*,mirror.example.com/pg/*"})
	for v, want := range map[int32]string{15: "", 16: "", 13: "images for 15, 16", 17: "images for 15, 16"} {
		if got := c.VersionProblem(v); (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("version %d: %q, want %q", v, got, want)
		}
	}
	for image, allowed := range map[string]bool{
		"":                                       true,
		"registry.example.com/postgres:16.4":     true,
		"registry.example.com/postgres:15-debug": true,
		"mirror.example.com/pg/postgres":         true,
		"mirror.example.com/pg/sub/postgres":     false, // * stops at /
		"registry.example.com/postgres:17":       false,
		"evil.example.com/miner":                 false,
		"postgres:15":                            false, // not what this operator was installed with
	} {
		if got := c.ImageProblem(image); (got == "") != allowed {
			t.Errorf("image %q: %q, want allowed %v", image, got, allowed)
		}
	}
	if got := config(t, nil).Versions(); len(got) != 1 || got[0] != 15 {
		t.Errorf("default versions %v, want [15]", got)
	}
}

func TestBadConfigurationIsRefused(t *testing.T) {
	for _, env := range []map[string]string{
		{EnvPostgresImages: "fifteen=postgres"},
		{EnvPostgresImages: "15="},
		{EnvPostgresImages: ","},
		{EnvAllowedImages: "registry.example.com/[postgres"},
		{pgoapi.EnvNamespaces: "app,kube-system"},
		{pgoapi.EnvNamespaces: "pgo"},
	} {
		if _, err := New("pgo", func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}
