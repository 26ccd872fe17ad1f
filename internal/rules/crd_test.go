package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"sigs.k8s.io/yaml"

	pgov1 "pgo.dev/pgo/api/v1"
)

// marker is what a field's schema in a generated CRD must say: each set
// value is compared, each phrase must be in one of the field's CEL rules.
type marker struct {
	crd, path               string
	pattern                 string
	minLength, maxLength    int64
	minimum, maximum        *float64
	maxItems, maxProperties int64
	enum                    []string
	cel                     []string
}

func num(n int) *float64 { f := float64(n); return &f }

// celString is a pattern as a CEL string literal in a marker writes it:
// each backslash doubled.
func celString(pattern string) string {
	return "'" + strings.ReplaceAll(pattern, `\`, `\\`) + "'"
}

// TestCRDMarkers: the CRD's markers (api/v1, generated into
// config/crd/bases) say what the rules say, for every field that has both a
// marker and a rule: the same patterns, lengths, counts, ranges and
// choices. Change a rule's constant or a marker, and this test names the
// other to change.
func TestCRDMarkers(t *testing.T) {
	clusterName := func(crd, path string) marker {
		return marker{crd: crd, path: path, pattern: DNSLabelPattern, minLength: 1, maxLength: pgov1.MaxClusterNameLength}
	}
	instanceName := func(crd, path string) marker {
		return marker{crd: crd, path: path, pattern: DNSLabelPattern, minLength: 1, maxLength: pgov1.MaxInstanceNameLength}
	}
	roleName := func(path string) marker {
		cel := []string{"!self.startsWith('pg_')"}
		for _, r := range ReservedRoles {
			cel = append(cel, "'"+r+"'")
		}
		return marker{crd: "pgclusters", path: path, pattern: RoleNamePattern, minLength: 1, maxLength: MaxIdentifierLength, cel: cel}
	}
	databaseName := func(path string) marker {
		return marker{crd: "pgclusters", path: path, pattern: DatabaseNamePattern, minLength: 1, maxLength: MaxIdentifierLength}
	}
	recoveryTarget := func(crd, path string) []marker {
		var types []string
		for _, r := range RecoveryTypes {
			if r != "default" { // no target: the field is left out
				types = append(types, r)
			}
		}
		return []marker{
			{crd: crd, path: path, cel: []string{celString(XIDPattern), celString(LSNPattern)}},
			{crd: crd, path: path + ".type", enum: types},
			{crd: crd, path: path + ".value", minLength: 1, maxLength: MaxRecoveryTargetLength},
		}
	}
	markers := []marker{
		// Names.
		{crd: "pgclusters", path: "", cel: []string{fmt.Sprintf("self.metadata.name.size() <= %d", pgov1.MaxClusterNameLength), celString(DNSLabelPattern)}},
		clusterName("pgclusters", "spec.dataSource.clusterName"),
		clusterName("pgreplicas", "spec.clusterName"),
		clusterName("pgtasks", "spec.clusterName"),
		clusterName("pgtasks", "spec.clone.targetClusterName"),
		clusterName("pgschedules", "spec.clusterName"),
		{crd: "pgreplicas", path: "", cel: []string{fmt.Sprintf("self.metadata.name.size() <= %d", pgov1.MaxInstanceNameLength), celString(DNSLabelPattern)}},
		instanceName("pgtasks", "spec.failover.candidate"),
		instanceName("pgtasks", "spec.switchover.candidate"),
		instanceName("pgtasks", "spec.restart.instances[]"),
		{crd: "pgtasks", path: "spec.restart.instances", maxItems: MaxReplicas + 1},
		roleName("spec.user"),
		roleName("spec.users[].name"),
		databaseName("spec.database"),
		databaseName("spec.users[].databases[]"),
		{crd: "pgclusters", path: "spec.tls.tlsSecret", minLength: 1, maxLength: int64(content.DNS1123SubdomainMaxLength)},
		// Users.
		{crd: "pgclusters", path: "spec.users[].databases", maxItems: MaxUserDatabases},
		{crd: "pgclusters", path: "spec.users[].options", maxLength: MaxRoleOptionsLength},
		{crd: "pgclusters", path: "spec.passwordType", enum: PasswordTypes},
		{crd: "pgclusters", path: "spec.users[].passwordType", enum: PasswordTypes},
		// Instances and placement.
		{crd: "pgclusters", path: "spec.replicas", minimum: num(0), maximum: num(MaxReplicas)},
		{crd: "pgclusters", path: "spec.postgresVersion", minimum: num(MinPostgresVersion), maximum: num(MaxPostgresVersion)},
		{crd: "pgclusters", path: "spec.nodeAffinity.type", enum: NodeAffinityTypes},
		{crd: "pgclusters", path: "spec.podAntiAffinity", enum: PodAntiAffinityTypes},
		{crd: "pgclusters", path: "spec.serviceType", enum: ServiceTypes},
		{crd: "pgclusters", path: "spec.metadata.labels", maxProperties: MaxMetadataEntries, cel: []string{"'" + ReservedKeyPrefix + "'"}},
		{crd: "pgclusters", path: "spec.metadata.annotations", maxProperties: MaxMetadataEntries, cel: []string{"'" + ReservedKeyPrefix + "'"}},
		// Backups and restores.
		{crd: "pgclusters", path: "spec.backups.repos", maxItems: MaxRepos},
		{crd: "pgclusters", path: "spec.backups.repos[].name", pattern: RepoNamePattern},
		{crd: "pgclusters", path: "spec.backups.repos[].s3.bucket", minLength: MinS3BucketLength, maxLength: MaxS3BucketLength, cel: []string{celString(S3BucketPattern)}},
		{crd: "pgclusters", path: "spec.backups.repos[].s3.endpoint", maxLength: MaxS3EndpointLength, cel: []string{"'://'", celString(S3EndpointPattern)}},
		{crd: "pgclusters", path: "spec.backups.repos[].s3.region", minLength: 1, maxLength: MaxS3RegionLength},
		{crd: "pgclusters", path: "spec.backups.repos[].s3.uriStyle", enum: S3URIStyles},
		{crd: "pgclusters", path: "spec.dataSource.repoName", pattern: RepoNamePattern},
		{crd: "pgclusters", path: "spec.dataSource.options", maxItems: MaxBackRestOptions},
		{crd: "pgclusters", path: "spec.dataSource.options[]", pattern: BackRestOptionPattern, maxLength: MaxBackRestOptionLength},
		{crd: "pgtasks", path: "spec.restore.repoName", pattern: RepoNamePattern},
		{crd: "pgtasks", path: "spec.backup.repoName", pattern: RepoNamePattern},
		{crd: "pgtasks", path: "spec.backup.type", enum: BackupTypes},
		{crd: "pgtasks", path: "spec.backup.options", maxItems: MaxBackRestOptions, cel: []string{celString(BackupOptionPattern)}},
		{crd: "pgtasks", path: "spec.backup.options[]", pattern: BackRestOptionPattern, maxLength: MaxBackRestOptionLength},
		// Custom configuration.
		{crd: "pgclusters", path: "spec.config.parameters", maxProperties: MaxParameters, cel: []string{celString(ParameterNamePattern)}},
		{crd: "pgclusters", path: "spec.config.parameters{}", maxLength: MaxParameterValueLength},
		{crd: "pgclusters", path: "spec.config.pgHBA", maxItems: MaxHBARules, cel: []string{celString(HBATrustPattern)}},
		{crd: "pgclusters", path: "spec.config.pgHBA[]", maxLength: MaxHBARuleLength},
	}
	markers = append(markers, recoveryTarget("pgclusters", "spec.dataSource.target")...)
	markers = append(markers, recoveryTarget("pgtasks", "spec.restore.target")...)
	markers = append(markers, recoveryTarget("pgtasks", "spec.clone.target")...)

	crds := map[string]*apiextensionsv1.JSONSchemaProps{}
	for _, m := range markers {
		s, ok := crds[m.crd]
		if !ok {
			s = loadSchema(t, m.crd)
			crds[m.crd] = s
		}
		field, err := schemaAt(s, m.path)
		if err != nil {
			t.Errorf("%s %s: %v", m.crd, m.path, err)
			continue
		}
		m.check(t, field)
	}
}

func (m marker) check(t *testing.T, s *apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	where := m.crd + " " + m.path
	if m.pattern != "" && s.Pattern != m.pattern {
		t.Errorf("%s: pattern %q, the rules' %q", where, s.Pattern, m.pattern)
	}
	for _, c := range []struct {
		what string
		got  *int64
		want int64
	}{
		{what: "minLength", got: s.MinLength, want: m.minLength},
		{what: "maxLength", got: s.MaxLength, want: m.maxLength},
		{what: "maxItems", got: s.MaxItems, want: m.maxItems},
		{what: "maxProperties", got: s.MaxProperties, want: m.maxProperties},
	} {
		if c.want != 0 && (c.got == nil || *c.got != c.want) {
			t.Errorf("%s: %s %v, the rules' %d", where, c.what, deref(c.got), c.want)
		}
	}
	if m.minimum != nil && (s.Minimum == nil || *s.Minimum != *m.minimum) {
		t.Errorf("%s: minimum %v, the rules' %v", where, derefFloat(s.Minimum), *m.minimum)
	}
	if m.maximum != nil && (s.Maximum == nil || *s.Maximum != *m.maximum) {
		t.Errorf("%s: maximum %v, the rules' %v", where, derefFloat(s.Maximum), *m.maximum)
	}
	if m.enum != nil {
		var enum []string
		for _, e := range s.Enum {
			enum = append(enum, strings.Trim(string(e.Raw), `"`))
		}
		if !slices.Equal(enum, m.enum) {
			t.Errorf("%s: enum %q, the rules' %q", where, enum, m.enum)
		}
	}
	for _, phrase := range m.cel {
		if !slices.ContainsFunc(s.XValidations, func(v apiextensionsv1.ValidationRule) bool { return strings.Contains(v.Rule, phrase) }) {
			t.Errorf("%s: no CEL rule holds %s, as the rules do", where, phrase)
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}

func derefFloat(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// loadSchema reads the schema of a generated CRD, pgo.dev_<plural>.yaml.
func loadSchema(t *testing.T, plural string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "pgo.dev_"+plural+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		t.Fatalf("%s: %v", plural, err)
	}
	if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Schema == nil {
		t.Fatalf("%s: want one version with a schema", plural)
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema
}

// schemaAt finds a field's schema by its path: properties separated by
// dots, [] for a list's items and {} for a map's values.
func schemaAt(s *apiextensionsv1.JSONSchemaProps, path string) (*apiextensionsv1.JSONSchemaProps, error) {
	if path == "" {
		return s, nil
	}
	for _, part := range strings.Split(path, ".") {
		name, suffix, _ := strings.Cut(part, "[")
		name, mapValues := strings.CutSuffix(name, "{}")
		p, ok := s.Properties[name]
		if !ok {
			return nil, fmt.Errorf("no property %s", name)
		}
		s = &p
		if mapValues {
			if s.AdditionalProperties == nil || s.AdditionalProperties.Schema == nil {
				return nil, fmt.Errorf("%s is not a map", name)
			}
			s = s.AdditionalProperties.Schema
		}
		if suffix != "" {
			if s.Items == nil || s.Items.Schema == nil {
				return nil, fmt.Errorf("%s is not a list", name)
			}
			s = s.Items.Schema
		}
	}
	return s, nil
}

// The CRD's patterns and the rules reach the same verdict on the same
// names, where the rules use apimachinery's checks rather than a pattern
// of their own.
func TestCRDPatternsReachTheRulesVerdicts(t *testing.T) {
	s := loadSchema(t, "pgclusters")
	for _, c := range []struct {
		path  string
		rule  func(string) string
		names []string
	}{
		{"spec.tls.tlsSecret", ObjectName, []string{"tls", "my.tls-secret", "My_Secret", "a..b", "-tls", strings.Repeat("a", 253), strings.Repeat("a", 254)}},
		{"spec.nodeAffinity.key", func(k string) string { _, _, why := NodeLabel(k + "=v"); return why }, []string{"zone", "topology.kubernetes.io/zone", "bad key", "-zone", "example.com/" + strings.Repeat("k", 63), "example.com/" + strings.Repeat("k", 64)}},
		{"spec.nodeAffinity.value", func(v string) string { _, _, why := NodeLabel("k=" + v); return why }, []string{"", "east", "not valid", "-east", strings.Repeat("v", 63), strings.Repeat("v", 64)}},
	} {
		field, err := schemaAt(s, c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		pattern := regexp.MustCompile(field.Pattern)
		for _, name := range c.names {
			crd := pattern.MatchString(name) && (field.MaxLength == nil || int64(len(name)) <= *field.MaxLength) && (field.MinLength == nil || int64(len(name)) >= *field.MinLength)
			if rule := c.rule(name) == ""; rule != crd {
				t.Errorf("%s %q: the CRD accepts it: %v, the rules: %v", c.path, name, crd, rule)
			}
		}
	}
}
