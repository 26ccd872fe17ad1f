package v1_test

// These tests run against a real kube-apiserver and etcd (built by `make
// kube`) with pgo's generated CRDs installed: every rule below is enforced by
// the Kubernetes API itself, as it will be for kubectl users.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	pgov1 "pgo.dev/pgo/api/v1"
	"pgo.dev/pgo/internal/testenv"
)

// loadSample reads one object from config/samples.
func loadSample(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &obj.Object); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return obj
}

// patched returns a copy of obj with a JSON merge patch, written in YAML,
// applied.
func patched(t *testing.T, obj *unstructured.Unstructured, patchYAML string) *unstructured.Unstructured {
	t.Helper()
	original, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	patch, err := yaml.YAMLToJSON([]byte(patchYAML))
	if err != nil {
		t.Fatalf("patch %q: %v", patchYAML, err)
	}
	merged, err := jsonpatch.MergePatch(original, patch)
	if err != nil {
		t.Fatal(err)
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(merged); err != nil {
		t.Fatal(err)
	}
	return out
}

var unique atomic.Int32

// uniqueName gives each object of a test its own short name, which keeps
// within every name limit.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, unique.Add(1))
}

// assertRefused checks that err is the API server refusing an invalid object
// for exactly one reason, at field, with a message that contains message.
func assertRefused(t *testing.T, err error, field, message string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted the object; want it refused at %s with %q", field, message)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error at %s, got: %v", field, err)
	}
	// Every cause must be about the field (the API server sometimes reports
	// one rule twice, from the schema and from the scale subresource), and
	// one must carry the message.
	found := false
	for _, cause := range status.Status().Details.Causes {
		if strings.Contains(cause.Message, "some validation rules were not checked") {
			continue // a note that CEL rules were skipped, not a cause
		}
		if strings.Contains(cause.Message, unavailableTask) && !strings.Contains(message, unavailableTask) {
			// The rules of task types that have no workflow yet are
			// tested too; that such a type is refused is its own case.
			continue
		}
		if strings.TrimPrefix(cause.Field, ".") != field {
			t.Errorf("refused (also) at field %q, want only %q: %v", cause.Field, field, err)
		}
		found = found || strings.Contains(cause.Message, message)
	}
	if !found {
		t.Errorf("no message at %s contains %q: %v", field, message, err)
	}
	if !strings.Contains(err.Error(), strings.TrimPrefix(field, "<nil>")) {
		t.Errorf("the error does not name the field %s: %v", field, err)
	}
}

// unavailableTask ends the message that refuses a task type the controller
// has no workflow for yet.
const unavailableTask = "are not available yet"

func TestSchema(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "schema"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}

	create := func(obj *unstructured.Unstructured) error {
		obj.SetNamespace(ns.Name)
		return env.Client.Create(ctx, obj)
	}

	t.Run("samples are accepted", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, path := range files {
			if filepath.Base(path) == "kustomization.yaml" {
				continue
			}
			obj := loadSample(t, filepath.Base(path))
			kinds[obj.GetKind()] = true
			err := create(obj)
			typ, _, _ := unstructured.NestedString(obj.Object, "spec", "type")
			switch {
			case obj.GetKind() == "PGTask" && err != nil && strings.Contains(err.Error(), "tasks of type "+typ+" "+unavailableTask):
				// A sample of a type that has no workflow yet is
				// refused, and says so.
				assertRefused(t, err, "spec.type", "tasks of type "+typ+" "+unavailableTask)
			case err != nil:
				t.Errorf("%s: %v", filepath.Base(path), err)
			}
		}
		for _, kind := range []string{"PGCluster", "PGReplica", "PGTask", "PGPolicy", "PGSchedule"} {
			if !kinds[kind] {
				t.Errorf("config/samples has no %s", kind)
			}
		}
	})

	t.Run("defaults are filled in", func(t *testing.T) {
		obj := loadSample(t, "pgcluster_minimal.yaml")
		obj.SetName(uniqueName("defaults"))
		if err := create(obj); err != nil {
			t.Fatal(err)
		}
		var cluster pgov1.PGCluster
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &cluster); err != nil {
			t.Fatal(err)
		}
		spec := cluster.Spec
		got := fmt.Sprintf("version=%d port=%d user=%s password=%s anti-affinity=%s service=%s ha.enabled=%v ttl=%d loopWait=%d retryTimeout=%d maxLag=%v accessMode=%s",
			spec.PostgresVersion, spec.Port, spec.User, spec.PasswordType, spec.PodAntiAffinity, spec.ServiceType,
			deref(spec.HA.Enabled), spec.HA.TTL, spec.HA.LoopWait, spec.HA.RetryTimeout, deref(spec.HA.MaximumLagOnFailover),
			spec.PrimaryStorage.AccessMode)
		want := "version=15 port=5432 user=testuser password=scram-sha-256 anti-affinity=preferred service=ClusterIP ha.enabled=true ttl=30 loopWait=10 retryTimeout=10 maxLag=1048576 accessMode=ReadWriteOnce"
		if got != want {
			t.Errorf("defaults:\n got %s\nwant %s", got, want)
		}

		task := loadSample(t, "pgtask_backup.yaml")
		task.SetName(uniqueName("defaults"))
		if err := unstructured.SetNestedMap(task.Object, map[string]any{}, "spec", "backup"); err != nil {
			t.Fatal(err)
		}
		if err := create(task); err != nil && strings.Contains(err.Error(), unavailableTask) {
			t.Log("backup tasks are refused until their workflow is registered; their defaults are checked from then on")
			return
		} else if err != nil {
			t.Fatal(err)
		}
		var backup pgov1.PGTask
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(task), &backup); err != nil {
			t.Fatal(err)
		}
		if b := backup.Spec.Backup; b == nil || b.Type != pgov1.BackupFull || b.RepoName != "repo1" {
			t.Errorf("backup task defaults: got %+v, want a full backup to repo1", b)
		}
	})

	// Each case breaks one rule of a valid sample; the API server must refuse
	// it for that reason alone, at that field.
	refusedOnCreate := []struct {
		rule    string
		sample  string
		patch   string
		field   string
		message string
	}{
		{"cluster name length", "pgcluster_minimal.yaml",
			`metadata: {name: a-cluster-name-that-is-much-too-long-for-pgo}`,
			"<nil>", "metadata.name must be at most 40 characters"},
		{"cluster name starts with a letter", "pgcluster_minimal.yaml",
			`metadata: {name: 1hippo}`,
			"<nil>", "metadata.name must start with a lowercase letter"},
		{"postgresVersion minimum", "pgcluster_minimal.yaml",
			`spec: {postgresVersion: 12}`,
			"spec.postgresVersion", "should be greater than or equal to 13"},
		{"port minimum", "pgcluster_minimal.yaml",
			`spec: {port: 80}`,
			"spec.port", "should be greater than or equal to 1024"},
		{"port is not the instance manager's", "pgcluster_minimal.yaml",
			`spec: {port: 8008}`,
			"spec.port", "port must not be 8008 or 9187"},
		{"replicas minimum", "pgcluster_minimal.yaml",
			`spec: {replicas: -1}`,
			"spec.replicas", "should be greater than or equal to 0"},
		{"passwordType enum", "pgcluster_minimal.yaml",
			`spec: {passwordType: plain}`,
			"spec.passwordType", `supported values: "scram-sha-256", "md5"`},
		{"database name", "pgcluster_minimal.yaml",
			`spec: {database: "app; DROP TABLE x"}`,
			"spec.database", "should match"},
		{"user is not a system user", "pgcluster_minimal.yaml",
			`spec: {user: postgres}`,
			"spec.user", "must not be one of the users pgo manages itself"},
		{"user names are unique", "pgcluster_minimal.yaml",
			`spec: {users: [{name: app}, {name: app}]}`,
			"spec.users[1]", "Duplicate value"},
		{"user names map to distinct Secrets", "pgcluster_minimal.yaml",
			`spec: {users: [{name: app_admin}, {name: app-admin}]}`,
			"spec.users", "user names must differ in more than '_' and '-'"},
		{"user names are not PostgreSQL's", "pgcluster_minimal.yaml",
			`spec: {users: [{name: pg_monitor}]}`,
			"spec.users[0].name", "must not start with pg_"},
		{"the cluster's user is not in users", "pgcluster_minimal.yaml",
			`spec: {users: [{name: testuser}]}`,
			"spec.users", "the cluster's user is created with it"},
		{"user options are role attributes", "pgcluster_minimal.yaml",
			`spec: {users: [{name: app, options: "SUPERUSER; DROP ROLE postgres"}]}`,
			"spec.users[0].options", "options are role attributes"},
		{"resource limits cover requests", "pgcluster_minimal.yaml",
			`spec: {resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}}`,
			"spec.resources", "limits must be at least the requests"},
		{"no resource claims", "pgcluster_minimal.yaml",
			`spec: {resources: {claims: [{name: gpu}]}}`,
			"spec.resources", "claims (dynamic resource allocation) are not supported"},
		{"storage size above zero", "pgcluster_minimal.yaml",
			`spec: {primaryStorage: {size: "0"}}`,
			"spec.primaryStorage.size", "size must be greater than zero"},
		{"storage size is a quantity", "pgcluster_minimal.yaml",
			`spec: {primaryStorage: {size: "lots"}}`,
			"spec.primaryStorage.size", "should match"},
		{"storage accessMode enum", "pgcluster_minimal.yaml",
			`spec: {primaryStorage: {accessMode: ReadOnlyMany}}`,
			"spec.primaryStorage.accessMode", "supported values"},
		{"ha timing: loopWait + 2*retryTimeout <= ttl", "pgcluster_minimal.yaml",
			`spec: {ha: {ttl: 30, loopWait: 15, retryTimeout: 10}}`,
			"spec.ha", "loopWait + 2*retryTimeout must not exceed ttl"},
		{"ha ttl minimum", "pgcluster_minimal.yaml",
			`spec: {ha: {ttl: 10, loopWait: 1, retryTimeout: 3}}`,
			"spec.ha.ttl", "should be greater than or equal to 20"},
		{"ha strict needs synchronous mode", "pgcluster_minimal.yaml",
			`spec: {replicas: 1, ha: {synchronousModeStrict: true}}`,
			"spec.ha.synchronousModeStrict", "synchronousModeStrict needs synchronousMode"},
		{"ha strict needs a replica", "pgcluster_minimal.yaml",
			`spec: {ha: {synchronousMode: true, synchronousModeStrict: true}}`,
			"spec.ha.synchronousModeStrict", "needs replicas of at least 1"},
		{"tls secrets go together", "pgcluster_minimal.yaml",
			`spec: {tls: {tlsSecret: hippo-tls}}`,
			"spec.tls", "caSecret and tlsSecret go together"},
		{"replication tls needs server tls", "pgcluster_minimal.yaml",
			`spec: {tls: {replicationTLSSecret: hippo-repl}}`,
			"spec.tls.replicationTLSSecret", "replicationTLSSecret needs caSecret and tlsSecret"},
		{"parameters managed by pgo", "pgcluster_minimal.yaml",
			`spec: {config: {parameters: {work_mem: 64MB, archive_command: /bin/true}}}`,
			"spec.config.parameters", "parameter archive_command is set by pgo"},
		{"password encryption follows passwordType", "pgcluster_minimal.yaml",
			`spec: {config: {parameters: {password_encryption: md5}}}`,
			"spec.config.parameters", "parameter password_encryption is set by pgo"},
		{"parameter values are strings", "pgcluster_minimal.yaml",
			`spec: {config: {parameters: {max_connections: 200}}}`,
			"spec.config.parameters.max_connections", "must be of type string"},
		{"parameter names", "pgcluster_minimal.yaml",
			`spec: {config: {parameters: {"Work Mem": 64MB}}}`,
			"spec.config.parameters", "parameter names are lowercase"},
		{"wal_level keeps replication", "pgcluster_minimal.yaml",
			`spec: {config: {parameters: {wal_level: minimal}}}`,
			"spec.config.parameters", "wal_level must be replica or logical"},
		{"pg_hba rule type", "pgcluster_minimal.yaml",
			`spec: {config: {pgHBA: ["all all 0.0.0.0/0 trust"]}}`,
			"spec.config.pgHBA", "each rule is a pg_hba.conf line"},
		{"pg_hba rule has a method", "pgcluster_minimal.yaml",
			`spec: {config: {pgHBA: ["hostssl all all 10.0.0.0/8"]}}`,
			"spec.config.pgHBA", "each rule is a pg_hba.conf line"},
		{"custom queries need metrics", "pgcluster_minimal.yaml",
			`spec: {monitoring: {customQueries: my-queries}}`,
			"spec.monitoring.customQueries", "customQueries needs enabled: true"},
		{"repo is a volume or s3", "pgcluster_minimal.yaml",
			`spec: {backups: {repos: [{name: repo1, volume: {size: 1Gi}, s3: {bucket: b12, endpoint: s3.example.com, region: r, credentialsSecret: c}}]}}`,
			"spec.backups.repos[0]", "a repo is either a volume or s3"},
		{"repo names", "pgcluster_minimal.yaml",
			`spec: {backups: {repos: [{name: repo5, volume: {size: 1Gi}}]}}`,
			"spec.backups.repos[0].name", "should match '^repo[1-4]$'"},
		{"s3 endpoint has no scheme", "pgcluster_s3.yaml",
			`spec: {backups: {repos: [{name: repo2, s3: {bucket: pgo-backups, endpoint: "https://s3.example.com", region: eu-west-1, credentialsSecret: creds}}]}}`,
			"spec.backups.repos[0].s3.endpoint", "without a scheme"},
		{"s3 bucket name", "pgcluster_s3.yaml",
			`spec: {backups: {repos: [{name: repo2, s3: {bucket: Pgo_Backups, endpoint: s3.example.com, region: eu-west-1, credentialsSecret: creds}}]}}`,
			"spec.backups.repos[0].s3.bucket", "bucket names have 3 to 63 lowercase letters"},
		{"s3 uriStyle enum", "pgcluster_s3.yaml",
			`spec: {backups: {repos: [{name: repo2, s3: {bucket: pgo-backups, endpoint: s3.example.com, region: eu-west-1, uriStyle: virtual, credentialsSecret: creds}}]}}`,
			"spec.backups.repos[0].s3.uriStyle", `supported values: "host", "path"`},
		{"s3 credentials", "pgcluster_s3.yaml",
			`spec: {backups: {repos: [{name: repo2, s3: {bucket: pgo-backups, endpoint: s3.example.com, region: eu-west-1}}]}}`,
			"spec.backups.repos[0].s3.credentialsSecret", "Required value"},
		{"retention minimum", "pgcluster_minimal.yaml",
			`spec: {backups: {repos: [{name: repo1, volume: {size: 1Gi}, retention: {full: 0}}]}}`,
			"spec.backups.repos[0].retention.full", "should be greater than or equal to 1"},
		{"clone from another cluster", "pgcluster_clone.yaml",
			`{metadata: {name: selfclone}, spec: {dataSource: {clusterName: selfclone}}}`,
			"<nil>", "spec.dataSource.clusterName must name another cluster"},
		{"pitr target value", "pgcluster_clone.yaml",
			`spec: {dataSource: {target: {type: time, value: null}}}`,
			"spec.dataSource.target.value", "value is required for targets of type time"},
		{"pitr lsn format", "pgcluster_clone.yaml",
			`spec: {dataSource: {target: {type: lsn, value: "3000060"}}}`,
			"spec.dataSource.target.value", "an lsn target looks like 0/3000060"},
		{"pgbackrest options", "pgcluster_clone.yaml",
			`spec: {dataSource: {options: ["--delta; rm -rf /"]}}`,
			"spec.dataSource.options[0]", "should match"},
		{"standby needs a source", "pgcluster_standby.yaml",
			`spec: {standby: {repoName: null}}`,
			"spec.standby", "a standby needs a source"},
		{"standby repo exists", "pgcluster_standby.yaml",
			`spec: {standby: {repoName: repo2}}`,
			"spec.standby.repoName", "standby.repoName must name a repo in backups.repos"},
		{"serviceType enum", "pgcluster_minimal.yaml",
			`spec: {serviceType: ExternalName}`,
			"spec.serviceType", "supported values"},
		{"podAntiAffinity enum", "pgcluster_minimal.yaml",
			`spec: {podAntiAffinity: always}`,
			"spec.podAntiAffinity", `supported values: "preferred", "required", "disabled"`},
		{"node affinity type enum", "pgcluster_minimal.yaml",
			`spec: {nodeAffinity: {key: zone, value: a, type: sometimes}}`,
			"spec.nodeAffinity.type", `supported values: "preferred", "required"`},
		{"labels under pgo.dev are reserved", "pgcluster_minimal.yaml",
			`spec: {metadata: {labels: {pgo.dev/role: primary}}}`,
			"spec.metadata.labels", "label keys under pgo.dev/ belong to pgo"},
		{"pgBouncer replicas minimum", "pgcluster_minimal.yaml",
			`spec: {pgBouncer: {replicas: 0}}`,
			"spec.pgBouncer.replicas", "should be greater than or equal to 1"},
		{"primary storage is required", "pgcluster_minimal.yaml",
			`spec: {primaryStorage: null}`,
			"spec.primaryStorage", "Required value"},

		{"replica name starts with its cluster", "pgreplica.yaml",
			`metadata: {name: other-wxyz}`,
			"<nil>", "metadata.name must be spec.clusterName, '-' and a suffix"},
		{"replica name length", "pgreplica.yaml",
			`metadata: {name: hacluster-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq}`,
			"<nil>", "metadata.name must be at most 52 characters"},
		{"replica name is not a cluster object's", "pgreplica.yaml",
			`{metadata: {name: hacluster-pgbouncer}}`,
			"<nil>", "metadata.name must not end in a suffix that names the cluster's own objects"},
		{"replica failover priority", "pgreplica.yaml",
			`spec: {failoverPriority: -1}`,
			"spec.failoverPriority", "should be greater than or equal to 0"},

		{"task type enum", "pgtask_backup.yaml",
			`spec: {type: vacuum, backup: null}`,
			"spec.type", "supported values"},
		{"task parameters match the type", "pgtask_backup.yaml",
			`spec: {type: restart}`,
			"spec.backup", "backup is only for tasks of type backup"},
		{"backup type enum", "pgtask_backup.yaml",
			`spec: {backup: {type: weekly}}`,
			"spec.backup.type", `supported values: "full", "diff", "incr"`},
		{"backup options are an allow-list", "pgtask_backup.yaml",
			`spec: {backup: {options: ["--start-fast", "--stanza=other"]}}`,
			"spec.backup.options", "--stanza is not an option pgo passes to pgbackrest backup; give --start-fast"},
		{"backup options take no type", "pgtask_backup.yaml",
			`spec: {backup: {options: ["--type=full"]}}`,
			"spec.backup.options", "--type is not an option pgo passes to pgbackrest backup"},
		{"failover needs a candidate", "pgtask_failover.yaml",
			`spec: {failover: null}`,
			"spec.failover", "a failover task needs failover.candidate"},
		{"failover is not scheduled", "pgtask_failover.yaml",
			`spec: {failover: {scheduledAt: "2026-12-01T03:00:00Z"}}`,
			"spec.failover.scheduledAt", "a failover happens at once"},
		{"clone into another cluster", "pgtask_backup.yaml",
			`spec: {type: clone, backup: null, clone: {targetClusterName: hacluster}}`,
			"spec.clone.targetClusterName", "must name a new cluster"},
		{"upgrade needs a version", "pgtask_upgrade.yaml",
			`spec: {upgrade: null}`,
			"spec.upgrade", "an upgrade task needs upgrade.postgresVersion"},
		{"switchover is not scheduled yet", "pgtask_switchover.yaml",
			`spec: {switchover: {scheduledAt: "2026-12-01T03:00:00Z"}}`,
			"spec.switchover.scheduledAt", "scheduled switchovers are not available yet"},
		{"a type with no workflow", "pgtask_upgrade.yaml",
			`spec: {}`,
			"spec.type", "tasks of type upgrade are not available yet"},
		{"scale needs replicas", "pgtask_switchover.yaml",
			`spec: {type: scale}`,
			"spec.scale", "a scale task needs scale.replicas"},
		{"scale parameters match the type", "pgtask_switchover.yaml",
			`spec: {scale: {replicas: 2}}`,
			"spec.scale", "scale is only for tasks of type scale"},
		{"scaledown needs the replica", "pgtask_switchover.yaml",
			`spec: {type: scaledown}`,
			"spec.scaledown", "a scaledown task needs scaledown.replica"},
		{"updateCluster needs the generation", "pgtask_switchover.yaml",
			`spec: {type: updateCluster}`,
			"spec.updateCluster", "an updateCluster task needs updateCluster.generation"},
		{"task name length", "pgtask_switchover.yaml",
			`metadata: {name: a-task-name-that-is-far-too-long-to-be-the-name-of-a-kubernetes-job}`,
			"<nil>", "metadata.name must be at most 63 characters"},

		{"policy sql is not blank", "pgpolicy.yaml",
			`spec: {sql: "  \n "}`,
			"spec.sql", "sql must hold at least one statement"},

		{"cron syntax: five fields", "pgschedule_backup.yaml",
			`spec: {schedule: "0 1 * *"}`,
			"spec.schedule", "schedule is five cron fields"},
		{"cron syntax: field values", "pgschedule_backup.yaml",
			`spec: {schedule: "a b c d e"}`,
			"spec.schedule", "schedule is five cron fields"},
		{"policy schedule needs a policy", "pgschedule_policy.yaml",
			`spec: {policy: null}`,
			"spec.policy", "a policy schedule needs policy.policyName"},
		{"schedule cluster is required", "pgschedule_backup.yaml",
			`spec: {clusterName: null}`,
			"spec.clusterName", "Required value"},
	}
	for _, tc := range refusedOnCreate {
		t.Run("create refused: "+tc.rule, func(t *testing.T) {
			obj := loadSample(t, tc.sample)
			if !strings.Contains(tc.patch, "metadata:") {
				obj.SetName(uniqueName(obj.GetName() + "-"))
			}
			assertRefused(t, create(patched(t, obj, tc.patch)), tc.field, tc.message)
		})
	}

	// Each case changes a valid sample in a way that must be accepted.
	acceptedOnCreate := []struct {
		rule, sample, patch string
	}{
		{"storage with no class", "pgcluster_minimal.yaml", `spec: {primaryStorage: {storageClassName: ""}}`},
		{"cron ranges, steps and names", "pgschedule_backup.yaml", `spec: {schedule: "*/15 0-6,22 * JAN-MAR MON-FRI"}`},
		{"cron descriptors", "pgschedule_backup.yaml", `spec: {schedule: "@every 1h30m"}`},
		{"role names with '_' and '-'", "pgcluster_minimal.yaml", `spec: {users: [{name: app_admin}, {name: app-reader}]}`},
		{"pg_hba rules", "pgcluster_minimal.yaml", `spec: {config: {pgHBA: ["local all all peer", "hostssl all all 10.0.0.0 255.0.0.0 scram-sha-256", "host all all samehost scram-sha-256"]}}`},
		{"every pgBackRest repo", "pgcluster_s3.yaml", `spec: {backups: {repos: [{name: repo4, volume: {size: 1Gi}}]}}`},
		{"a createCluster task", "pgtask_switchover.yaml", `spec: {type: createCluster}`},
		{"a scale task", "pgtask_switchover.yaml", `spec: {type: scale, scale: {replicas: 2}}`},
		{"a scaledown task", "pgtask_switchover.yaml", `spec: {type: scaledown, scaledown: {replica: hacluster-wxyz}}`},
		{"an updateCluster task", "pgtask_switchover.yaml", `spec: {type: updateCluster, updateCluster: {generation: 3}}`},
		{"a restart of some instances", "pgtask_switchover.yaml", `spec: {type: restart, restart: {instances: [hacluster-wxyz]}}`},
	}
	for _, tc := range acceptedOnCreate {
		t.Run("create accepted: "+tc.rule, func(t *testing.T) {
			obj := loadSample(t, tc.sample)
			obj.SetName(uniqueName(obj.GetName() + "-"))
			if err := create(patched(t, obj, tc.patch)); err != nil {
				t.Error(err)
			}
		})
	}

	// Each case creates a valid object, then changes it in a way that is
	// refused after creation.
	refusedOnUpdate := []struct {
		rule    string
		sample  string
		patch   string
		field   string
		message string
	}{
		{"postgresVersion does not go down", "pgcluster_minimal.yaml",
			`{"spec": {"postgresVersion": 14}}`,
			"spec.postgresVersion", "postgresVersion cannot go down"},
		{"storage does not shrink", "pgcluster_minimal.yaml",
			`{"spec": {"primaryStorage": {"size": "512Mi"}}}`,
			"spec.primaryStorage.size", "size may grow but not shrink"},
		{"storage class is fixed", "pgcluster_s3.yaml",
			`{"spec": {"primaryStorage": {"storageClassName": "fast"}}}`,
			"spec.primaryStorage.storageClassName", "storageClassName cannot change after creation"},
		{"storage access mode is fixed", "pgcluster_minimal.yaml",
			`{"spec": {"primaryStorage": {"accessMode": "ReadWriteMany"}}}`,
			"spec.primaryStorage.accessMode", "accessMode cannot change after creation"},
		{"wal volume is fixed", "pgcluster_minimal.yaml",
			`{"spec": {"walStorage": {"size": "1Gi"}}}`,
			"spec.walStorage", "walStorage cannot be added or removed"},
		{"data source is fixed", "pgcluster_clone.yaml",
			`{"spec": {"dataSource": {"repoName": "repo2"}}}`,
			"spec.dataSource", "dataSource cannot change after the cluster is created"},
		{"data source cannot be added", "pgcluster_minimal.yaml",
			`{"spec": {"dataSource": {"clusterName": "hacluster"}}}`,
			"spec.dataSource", "dataSource cannot be added or removed"},
		{"database is fixed", "pgcluster_hacluster.yaml",
			`{"spec": {"database": "other"}}`,
			"spec.database", "database cannot change after the cluster is created"},
		{"user is fixed", "pgcluster_minimal.yaml",
			`{"spec": {"user": "someoneelse"}}`,
			"spec.user", "user cannot change after the cluster is created"},
		{"replica's cluster is fixed", "pgreplica.yaml",
			`{"spec": {"clusterName": "hacluster-x"}}`,
			"spec.clusterName", "clusterName cannot change"},
		{"repository encryption is fixed", "pgcluster_hacluster.yaml",
			`{"spec": {"backups": {"repos": [{"name": "repo1", "volume": {"size": "10Gi"}, "encrypted": true}]}}}`,
			"spec.backups.repos[0].encrypted", "encrypted cannot change"},
		{"task is fixed", "pgtask_switchover.yaml",
			`{"spec": {"switchover": {"candidate": "hacluster-wxyz"}}}`,
			"spec", "a task cannot change once created"},
	}
	for _, tc := range refusedOnUpdate {
		t.Run("update refused: "+tc.rule, func(t *testing.T) {
			obj := loadSample(t, tc.sample)
			if obj.GetKind() == "PGReplica" {
				// The patch moves it to cluster "hacluster-x"; the name
				// fits both clusters, so only the immutability rule applies.
				obj.SetName(uniqueName("hacluster-x-"))
			} else {
				obj.SetName(uniqueName(obj.GetName() + "-"))
			}
			if err := create(obj); err != nil {
				t.Fatalf("creating the valid object: %v", err)
			}
			err := env.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(tc.patch)))
			assertRefused(t, err, tc.field, tc.message)
		})
	}

	t.Run("allowed updates", func(t *testing.T) {
		obj := loadSample(t, "pgcluster_hacluster.yaml")
		obj.SetName(uniqueName("grow"))
		if err := create(obj); err != nil {
			t.Fatal(err)
		}
		for _, patch := range []string{
			`{"spec": {"primaryStorage": {"size": "50Gi"}}}`,
			`{"spec": {"postgresVersion": 16}}`,
			`{"spec": {"replicas": 3, "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}}`,
			`{"spec": {"ha": {"synchronousModeStrict": true}}}`,
			`{"spec": {"shutdown": true}}`,
		} {
			if err := env.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
				t.Errorf("%s: %v", patch, err)
			}
		}
	})
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
