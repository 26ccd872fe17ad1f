// Package pgoconfig is the operator's configuration that the controller and
// the apiserver both enforce: the namespaces pgo works in, and the
// PostgreSQL versions and images its clusters may run. Both read it from the
// same environment (the ConfigMap pgo-config of config/manager), and both
// answer a refusal with the same reason.
package pgoconfig

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"pgo.dev/pgo/internal/pgoapi"
)

// The environment that configures pgo, set from the ConfigMap pgo-config,
// with pgoapi.EnvNamespaces: the namespaces pgo works in, comma-separated
// (when none, those labelled pgoapi.LabelNamespace=true).
const (
	// EnvPostgresImages maps PostgreSQL major versions to the database
	// image of clusters that name none: "15=postgres:15,16=postgres:16".
	// The versions listed are the ones clusters may use.
	EnvPostgresImages = "PGO_POSTGRES_IMAGES"
	// EnvAllowedImages lists more images clusters may name in spec.image,
	// comma-separated; each may hold the wildcards of path.Match, such as
	// registry.example.com/postgres:15-*.
	EnvAllowedImages = "PGO_ALLOWED_IMAGES"
	// EnvArchiveFailureThreshold is how long WAL archiving may fail before
	// a cluster says so (a Go duration, such as 1m).
	EnvArchiveFailureThreshold = "PGO_ARCHIVE_FAILURE_THRESHOLD"
)

// DefaultPostgresImages are the images pgo is installed with.
const DefaultPostgresImages = "15=postgres:15"

// Config is what pgo may do where.
type Config struct {
	// OperatorNamespace is pgo's own: never a cluster's.
	OperatorNamespace string
	// Namespaces pgo works in; when empty, the labelled ones.
	Namespaces []string
	// PostgresImages: the default image of each PostgreSQL major version
	// clusters may run.
	PostgresImages map[int32]string
	// AllowedImages: patterns of more images clusters may name.
	AllowedImages []string
}

// New reads the configuration from the values of the environment
// variables above (getenv is os.Getenv, or a map's lookup in tests).
func New(operatorNamespace string, getenv func(string) string) (Config, error) {
	c := Config{OperatorNamespace: operatorNamespace, Namespaces: List(getenv(pgoapi.EnvNamespaces)), AllowedImages: List(getenv(EnvAllowedImages))}
	images := getenv(EnvPostgresImages)
	if images == "" {
		images = DefaultPostgresImages
	}
	var err error
	if c.PostgresImages, err = ParseImages(images); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvPostgresImages, err)
	}
	for _, p := range c.AllowedImages {
		if _, err := path.Match(p, ""); err != nil {
			return Config{}, fmt.Errorf("%s: %q is not a pattern: %w", EnvAllowedImages, p, err)
		}
	}
	for _, ns := range c.Namespaces {
		if why := reserved(ns, operatorNamespace); why != "" {
			return Config{}, fmt.Errorf("%s names %s, which %s", pgoapi.EnvNamespaces, ns, why)
		}
	}
	return c, nil
}

// List splits a comma-separated list, dropping blanks.
func List(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ParseImages reads "VERSION=IMAGE,…".
func ParseImages(s string) (map[int32]string, error) {
	out := map[int32]string{}
	for _, pair := range List(s) {
		v, image, ok := strings.Cut(pair, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if !ok || err != nil || n < 10 || strings.TrimSpace(image) == "" {
			return nil, fmt.Errorf("%q is not VERSION=IMAGE, such as 15=postgres:15", pair)
		}
		out[int32(n)] = strings.TrimSpace(image)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image: give VERSION=IMAGE pairs, such as %s", DefaultPostgresImages)
	}
	return out, nil
}

// reserved says why a namespace is never pgo's to work in.
func reserved(ns, operatorNamespace string) string {
	switch {
	case strings.HasPrefix(ns, "kube-"):
		return "belongs to Kubernetes itself"
	case ns == operatorNamespace:
		return "is the operator's own namespace, where pgo users, roles and the operator's rights live"
	}
	return ""
}

// NamespaceProblem says why pgo may not work in a namespace with these
// labels, or "" when it may.
func (c Config) NamespaceProblem(ns string, labels map[string]string) string {
	if why := reserved(ns, c.OperatorNamespace); why != "" {
		return fmt.Sprintf("namespace %s %s; pgo never runs clusters there", ns, why)
	}
	if len(c.Namespaces) > 0 {
		if !slices.Contains(c.Namespaces, ns) {
			return fmt.Sprintf("pgo does not work in namespace %s: the operator's namespaces are %s", ns, strings.Join(c.Namespaces, ", "))
		}
		return ""
	}
	if labels[pgoapi.LabelNamespace] != "true" {
		return fmt.Sprintf("pgo does not work in namespace %s: create namespaces with `pgo create namespace`, or label this one %s=true (kubectl label namespace %s %s=true)", ns, pgoapi.LabelNamespace, ns, pgoapi.LabelNamespace)
	}
	return ""
}

// Versions are the PostgreSQL major versions clusters may run, in order.
func (c Config) Versions() []int32 { return slices.Sorted(maps.Keys(c.PostgresImages)) }

// VersionProblem says why a cluster may not run a PostgreSQL major
// version, or "" when it may.
func (c Config) VersionProblem(v int32) string {
	if _, ok := c.PostgresImages[v]; ok {
		return ""
	}
	vs := make([]string, 0, len(c.PostgresImages))
	for _, v := range c.Versions() {
		vs = append(vs, strconv.Itoa(int(v)))
	}
	return fmt.Sprintf("PostgreSQL %d is not available: this operator has images for %s", v, strings.Join(vs, ", "))
}

// ImageProblem says why a cluster may not name an image, or "" when it
// may: the images of PostgresImages and those AllowedImages matches.
func (c Config) ImageProblem(image string) string {
	if image == "" || slices.Contains(slices.Collect(maps.Values(c.PostgresImages)), image) {
		return ""
	}
	for _, p := range c.AllowedImages {
		if ok, _ := path.Match(p, image); ok {
			return ""
		}
	}
	return fmt.Sprintf("image %s is not one this operator allows; use the default image (leave image empty), or ask an administrator to add it to %s", image, EnvAllowedImages)
}
