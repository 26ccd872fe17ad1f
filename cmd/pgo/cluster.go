package main

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"pgo.dev/pgo/internal/naming"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// createClusterFlags are the flags of `pgo create cluster`.
type createClusterFlags struct {
	req         pgoapi.CreateClusterRequest
	labels      []string
	annotations []string
	verifyTLS   bool
	wait        waitFlags
	// password and s3KeySecret are read once the other flags are checked;
	// askS3KeySecret is true when a terminal will be asked for a missing
	// S3 secret key.
	password       secretFlag
	s3KeySecret    secretFlag
	askS3KeySecret bool
	// repos are the --pgbackrest-repoN-* flags, by repository.
	repos [2]repoFlags
}

// repoFlags are the options of one repository of a new cluster.
type repoFlags struct {
	retentionFull, retentionDiff int32
	retentionFullType            string
	encrypted                    bool
}

// add registers --pgbackrest-repoN-retention-full, -retention-full-type,
// -retention-diff and -encrypted.
func (r *repoFlags) add(fl *pflag.FlagSet, repo string) {
	fl.Int32Var(&r.retentionFull, "pgbackrest-"+repo+"-retention-full", 0, "full backups "+repo+" keeps (or days, with --pgbackrest-"+repo+"-retention-full-type=time); all when 0")
	fl.StringVar(&r.retentionFullType, "pgbackrest-"+repo+"-retention-full-type", "", "count (default) or time: how --pgbackrest-"+repo+"-retention-full counts")
	fl.Int32Var(&r.retentionDiff, "pgbackrest-"+repo+"-retention-diff", 0, "differential backups "+repo+" keeps; all when 0")
	fl.BoolVar(&r.encrypted, "pgbackrest-"+repo+"-encrypted", false, "encrypt "+repo+" (aes-256-cbc, with a passphrase pgo generates and keeps in a Secret)")
}

// options are the repository's options for the request, if any was given.
func (r *repoFlags) options(cmd *cobra.Command, repo string) (pgoapi.RepoOptions, bool, error) {
	o := pgoapi.RepoOptions{Name: repo, RetentionFullType: r.retentionFullType, Encrypted: r.encrypted}
	given := false
	for _, n := range []struct {
		flag  string
		value int32
		into  **int32
	}{{"retention-full", r.retentionFull, &o.RetentionFull}, {"retention-diff", r.retentionDiff, &o.RetentionDiff}} {
		flag := "pgbackrest-" + repo + "-" + n.flag
		if !cmd.Flags().Changed(flag) {
			continue
		}
		if err := invalidNumber("--"+flag, int(n.value), rules.Retention(int(n.value))); err != nil {
			return o, false, err
		}
		v := n.value
		*n.into, given = &v, true
	}
	if r.retentionFullType != "" {
		if err := checkEnum("--pgbackrest-"+repo+"-retention-full-type", r.retentionFullType, rules.RetentionTypes...); err != nil {
			return o, false, err
		}
		if o.RetentionFull == nil {
			return o, false, fmt.Errorf("--pgbackrest-%s-retention-full-type needs --pgbackrest-%s-retention-full", repo, repo)
		}
	}
	return o, given || r.encrypted || r.retentionFullType != "", nil
}

func addClusterCommands(a *app, root, create, show, update, del *cobra.Command) {
	create.AddCommand(newCreateClusterCommand(a))
	show.AddCommand(newShowClusterCommand(a))
	update.AddCommand(newUpdateClusterCommand(a))
	del.AddCommand(newDeleteClusterCommand(a))
	root.AddCommand(
		newTestCommand(a),
		newScaleCommand(a),
		newScaledownCommand(a),
		newFailoverCommand(a),
		newRestartCommand(a),
	)
}

func newCreateClusterCommand(a *app) *cobra.Command {
	f := createClusterFlags{
		password:    secretFlag{name: "password"},
		s3KeySecret: secretFlag{name: "pgbackrest-s3-key-secret"},
	}
	cmd := &cobra.Command{
		Use:   "cluster NAME",
		Short: "Create a PostgreSQL cluster",
		Example: `  pgo create cluster hacluster --replica-count=1 --metrics
  pgo create cluster app --memory=1Gi --pvc-size=20Gi --pgbackrest-storage-type=posix,s3 \
      --pgbackrest-s3-bucket=backups --pgbackrest-s3-endpoint=s3.example.com \
      --pgbackrest-s3-region=us-east-1 --pgbackrest-s3-key=KEY   # asks for the S3 secret key
  pgo create cluster app-copy --restore-from=app --restore-opts="--type=time --target='2026-11-27 11:59:59+00'"`,
		Args: exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.req.Name = args[0]
			if cmd.Flags().Changed("pgbackrest-s3-verify-tls") {
				f.req.PgBackRestS3VerifyTLS = &f.verifyTLS
			}
			if err := f.checkSecrets(cmd, a.terminal); err != nil {
				return err
			}
			for i, repo := range []string{"repo1", "repo2"} {
				o, given, err := f.repos[i].options(cmd, repo)
				if err != nil {
					return err
				}
				if given {
					f.req.PgBackRestRepos = append(f.req.PgBackRestRepos, o)
				}
			}
			req, err := f.request()
			if err != nil {
				return err
			}
			if err := f.wait.check(); err != nil {
				return err
			}
			if err := f.readSecrets(cmd, a.terminal, &req); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var resp pgoapi.CreateClusterResponse
			if err := c.post(cmd.Context(), pgoapi.ClustersPath(ns), req, &resp); err != nil {
				return fmt.Errorf("creating cluster %s: %w", req.Name, err)
			}
			if req.Password != "" {
				// The apiserver answers with the password; print it only
				// when it generated it.
				resp.Password = ""
			}
			if err := renderCreateCluster(cmd.OutOrStdout(), resp); err != nil {
				return err
			}
			return a.waitIfAsked(cmd, ns, resp.Name, f.wait, untilReady)
		},
	}
	fl := cmd.Flags()
	r := &f.req
	fl.Int32Var(&r.ReplicaCount, "replica-count", 0, "number of replicas besides the primary (0 to 32)")
	fl.Int32Var(&r.PostgresVersion, "postgres-version", 0, "major PostgreSQL version (default 15); the operator's configuration says which it has images for")
	fl.StringVar(&r.Image, "image", "", "database image holding PostgreSQL and pgBackRest (default: the operator's)")
	fl.BoolVar(&r.Metrics, "metrics", false, "export Prometheus metrics from every instance")
	fl.StringVar(&r.CPU, "cpu", "", "CPU request of each instance, such as 500m")
	fl.StringVar(&r.Memory, "memory", "", "memory request of each instance, such as 256Mi")
	fl.StringVar(&r.CPULimit, "cpu-limit", "", "CPU limit of each instance")
	fl.StringVar(&r.MemoryLimit, "memory-limit", "", "memory limit of each instance")
	fl.StringVar(&r.PVCSize, "pvc-size", "", "size of each instance's data volume, such as 10Gi (default 1Gi)")
	fl.StringVar(&r.StorageConfig, "storage-config", "", "StorageClass of the data volumes (default: the Kubernetes default class)")
	fl.StringVar(&r.ReplicaStorageConfig, "replica-storage-config", "", "StorageClass of the replicas' data volumes (default: --storage-config)")
	fl.StringVar(&r.WALStorageConfig, "wal-storage-config", "", "StorageClass of a separate WAL volume per instance")
	fl.StringVar(&r.WALStorageSize, "wal-storage-size", "", "size of a separate WAL volume per instance (default: --pvc-size)")
	fl.StringVarP(&r.Username, "username", "u", "", "the application user (default testuser)")
	f.password.add(cmd, "the application user's password", " (default: generated)")
	fl.StringVarP(&r.Database, "database", "d", "", "the application database (default: the cluster's name)")
	fl.StringVar(&r.PasswordType, "password-type", "", "how passwords are stored: scram-sha-256 (default) or md5")
	fl.BoolVar(&r.SyncReplication, "sync-replication", false, "commit only once a synchronous replica has the WAL")
	fl.StringVar(&r.NodeLabel, "node-label", "", "place instances on nodes with this label, key=value")
	fl.StringVar(&r.NodeAffinityType, "node-affinity-type", "", "preferred (default) or required, with --node-label")
	fl.StringVar(&r.PodAntiAffinity, "pod-anti-affinity", "", "keep instances on different nodes: preferred (default), required or disabled")
	fl.StringArrayVar(&r.Tolerations, "toleration", nil, "tolerate a taint: key=value:Effect or key:Effect, with Effect NoSchedule, PreferNoSchedule or NoExecute (repeatable)")
	fl.BoolVar(&r.TLSOnly, "tls-only", false, "refuse connections that do not use TLS")
	fl.StringVar(&r.ServerCASecret, "server-ca-secret", "", "Secret with the CA certificate (ca.crt) of your own server certificate")
	fl.StringVar(&r.ServerTLSSecret, "server-tls-secret", "", "kubernetes.io/tls Secret with your own server certificate")
	fl.BoolVar(&r.PgBouncer, "pgbouncer", false, "run PgBouncer in front of the primary")
	fl.StringVar(&r.CustomConfig, "custom-config", "", "ConfigMap with PostgreSQL settings (and pg_hba.conf rules) for the cluster")
	fl.StringSliceVar(&f.labels, "label", nil, "labels for the cluster and its objects, key=value (repeatable or comma-separated)")
	fl.StringArrayVar(&f.annotations, "annotation", nil, "annotations for the cluster and its objects, key=value (repeatable)")
	fl.StringVar(&r.ServiceType, "service-type", "", "type of the cluster's Services: ClusterIP (default), NodePort or LoadBalancer")
	fl.StringVar(&r.PgBackRestStorageType, "pgbackrest-storage-type", "", "where backups go: posix (default), s3, or posix,s3")
	fl.StringVar(&r.PgBackRestS3Bucket, "pgbackrest-s3-bucket", "", "S3 bucket of the backup repository")
	fl.StringVar(&r.PgBackRestS3Endpoint, "pgbackrest-s3-endpoint", "", "S3 endpoint, a host name with an optional port")
	fl.StringVar(&r.PgBackRestS3Region, "pgbackrest-s3-region", "", "S3 region, such as us-east-1")
	fl.StringVar(&r.PgBackRestS3Key, "pgbackrest-s3-key", "", "S3 access key")
	f.s3KeySecret.add(cmd, "the S3 secret key", "")
	fl.StringVar(&r.PgBackRestS3URIStyle, "pgbackrest-s3-uri-style", "", "host (default) or path")
	fl.BoolVar(&f.verifyTLS, "pgbackrest-s3-verify-tls", true, "verify the S3 endpoint's certificate")
	fl.StringVar(&r.PgBackRestS3CASecret, "pgbackrest-s3-ca-secret", "", "Secret with the S3 endpoint's CA certificate (key aws-s3-ca.crt)")
	fl.StringVar(&r.PgBackRestPVCSize, "pgbackrest-pvc-size", "", "size of the volume repository (default: --pvc-size)")
	fl.StringVar(&r.PgBackRestStorageConfig, "pgbackrest-storage-config", "", "StorageClass of the volume repository")
	f.repos[0].add(fl, "repo1")
	f.repos[1].add(fl, "repo2")
	fl.StringVar(&r.RestoreFrom, "restore-from", "", "create the cluster from the backups of this cluster")
	fl.StringVar(&r.RestoreOpts, "restore-opts", "", "pgBackRest restore options for --restore-from, such as \"--type=time --target='2026-11-27 11:59:59+00'\"")
	f.wait.add(cmd)
	return cmd
}

// checkSecrets refuses a secret given twice, or two secrets on one standard
// input, and notes whether a terminal will be asked for the S3 secret key.
func (f *createClusterFlags) checkSecrets(cmd *cobra.Command, terminal terminalFunc) error {
	for _, s := range []*secretFlag{&f.password, &f.s3KeySecret} {
		if err := s.check(cmd); err != nil {
			return err
		}
	}
	_, isTerminal := terminal(cmd.InOrStdin(), cmd.ErrOrStderr())
	if f.password.stdin && f.s3KeySecret.stdin && !isTerminal {
		return fmt.Errorf("give --%s or --%s, not both: standard input holds one secret (on a terminal, pgo asks for each)", f.password.stdinFlag(), f.s3KeySecret.stdinFlag())
	}
	f.req.PgBackRestS3KeySecret = f.s3KeySecret.value
	f.askS3KeySecret = isTerminal && !f.s3KeySecret.given(cmd)
	return nil
}

// readSecrets reads the application user's password and the S3 secret key
// into req, once every other flag is known to be right.
func (f *createClusterFlags) readSecrets(cmd *cobra.Command, terminal terminalFunc, req *pgoapi.CreateClusterRequest) error {
	user := "the application user"
	if req.Username != "" {
		user = "user " + req.Username
	}
	pw, from, err := f.password.read(cmd, terminal, secretPrompt{text: fmt.Sprintf("Password for %s of cluster %s: ", user, req.Name), repeat: true})
	if err != nil {
		return err
	}
	if err := checkPassword(pw); err != nil {
		return secretError(from, err)
	}
	req.Password = pw
	if _, s3, _ := rules.BackRestStorage(req.PgBackRestStorageType); !s3 {
		return nil
	}
	key, _, err := f.s3KeySecret.read(cmd, terminal, secretPrompt{text: fmt.Sprintf("S3 secret key for bucket %s: ", req.PgBackRestS3Bucket), whenMissing: true})
	if err != nil {
		return err
	}
	req.PgBackRestS3KeySecret = key
	return nil
}

// request checks the flags and builds the request.
func (f *createClusterFlags) request() (pgoapi.CreateClusterRequest, error) {
	r := f.req
	if err := validateClusterName(r.Name); err != nil {
		return r, err
	}
	if err := invalidNumber("--replica-count", int(r.ReplicaCount), rules.Replicas(r.ReplicaCount)); err != nil {
		return r, err
	}
	if err := invalidNumber("--postgres-version", int(r.PostgresVersion), rules.PostgresVersion(r.PostgresVersion)); err != nil {
		return r, err
	}
	for _, q := range []struct{ flag, value, example string }{
		{"--cpu", r.CPU, rules.ExampleCPU},
		{"--memory", r.Memory, rules.ExampleMemory},
		{"--cpu-limit", r.CPULimit, rules.ExampleCPU},
		{"--memory-limit", r.MemoryLimit, rules.ExampleMemory},
		{"--pvc-size", r.PVCSize, rules.ExampleSize},
		{"--pgbackrest-pvc-size", r.PgBackRestPVCSize, rules.ExampleSize},
		{"--wal-storage-size", r.WALStorageSize, rules.ExampleSize},
	} {
		if err := checkQuantity(q.flag, q.value, q.example); err != nil {
			return r, err
		}
	}
	if err := checkLimit("--cpu-limit", r.CPULimit, r.CPU); err != nil {
		return r, err
	}
	if err := checkLimit("--memory-limit", r.MemoryLimit, r.Memory); err != nil {
		return r, err
	}
	for _, o := range []struct{ flag, value string }{
		{"--storage-config", r.StorageConfig},
		{"--pgbackrest-storage-config", r.PgBackRestStorageConfig},
		{"--replica-storage-config", r.ReplicaStorageConfig},
		{"--wal-storage-config", r.WALStorageConfig},
		{"--server-ca-secret", r.ServerCASecret},
		{"--server-tls-secret", r.ServerTLSSecret},
		{"--custom-config", r.CustomConfig},
		{"--pgbackrest-s3-ca-secret", r.PgBackRestS3CASecret},
	} {
		if o.value == "" {
			continue
		}
		if err := validateObjectName(o.flag, o.value); err != nil {
			return r, err
		}
	}
	if r.Username != "" {
		if err := validateRoleName("--username", r.Username); err != nil {
			return r, err
		}
	}
	if r.Database != "" {
		if err := validateDatabaseName("--database", r.Database); err != nil {
			return r, err
		}
	}
	for _, e := range []struct {
		flag, value string
		allowed     []string
	}{
		{"--password-type", r.PasswordType, rules.PasswordTypes},
		{"--node-affinity-type", r.NodeAffinityType, rules.NodeAffinityTypes},
		{"--pod-anti-affinity", r.PodAntiAffinity, rules.PodAntiAffinityTypes},
		{"--service-type", r.ServiceType, rules.ServiceTypes},
		{"--pgbackrest-s3-uri-style", r.PgBackRestS3URIStyle, rules.S3URIStyles},
	} {
		if err := checkEnum(e.flag, e.value, e.allowed...); err != nil {
			return r, err
		}
	}
	if r.NodeLabel != "" {
		if _, _, why := rules.NodeLabel(r.NodeLabel); why != "" {
			return r, invalid("--node-label", r.NodeLabel, why)
		}
	} else if r.NodeAffinityType != "" {
		return r, fmt.Errorf("--node-affinity-type needs --node-label")
	}
	for _, t := range r.Tolerations {
		if err := checkToleration(t); err != nil {
			return r, err
		}
	}
	if (r.ServerCASecret == "") != (r.ServerTLSSecret == "") {
		return r, fmt.Errorf("--server-ca-secret and --server-tls-secret go together: give both to use your own certificate, or neither to have pgo issue one")
	}
	var err error
	if r.Labels, err = parseKeyValues("--label", f.labels, true); err != nil {
		return r, err
	}
	if r.Annotations, err = parseKeyValues("--annotation", f.annotations, false); err != nil {
		return r, err
	}
	if err := checkS3Flags(r, f.s3KeySecret.stdin, f.askS3KeySecret); err != nil {
		return r, err
	}
	if r.RestoreFrom != "" {
		if err := validateClusterName(r.RestoreFrom); err != nil {
			return r, fmt.Errorf("--restore-from: %w", err)
		}
		if r.RestoreFrom == r.Name {
			return r, fmt.Errorf("--restore-from must name another cluster; to restore %s in place, use pgo restore", r.Name)
		}
	}
	if r.RestoreOpts != "" {
		if r.RestoreFrom == "" {
			return r, fmt.Errorf("--restore-opts needs --restore-from")
		}
		if _, why := rules.RestoreOptions(r.RestoreOpts); why != "" {
			return r, fmt.Errorf("--restore-opts: %s", why)
		}
	}
	return r, nil
}

// checkS3Flags checks that the S3 flags come with an S3 repository, and that
// an S3 repository has what it needs: its secret key may come later, from
// standard input (keySecretStdin) or a prompt (askKeySecret).
func checkS3Flags(r pgoapi.CreateClusterRequest, keySecretStdin, askKeySecret bool) error {
	_, s3, why := rules.BackRestStorage(r.PgBackRestStorageType)
	if why != "" {
		return invalid("--pgbackrest-storage-type", r.PgBackRestStorageType, why)
	}
	given := map[string]string{
		"--pgbackrest-s3-bucket":     r.PgBackRestS3Bucket,
		"--pgbackrest-s3-endpoint":   r.PgBackRestS3Endpoint,
		"--pgbackrest-s3-region":     r.PgBackRestS3Region,
		"--pgbackrest-s3-key":        r.PgBackRestS3Key,
		"--pgbackrest-s3-key-secret": r.PgBackRestS3KeySecret,
		"--pgbackrest-s3-uri-style":  r.PgBackRestS3URIStyle,
		"--pgbackrest-s3-ca-secret":  r.PgBackRestS3CASecret,
	}
	flags := make([]string, 0, len(given))
	for flag := range given {
		flags = append(flags, flag)
	}
	sort.Strings(flags)
	if !s3 {
		for _, flag := range flags {
			if given[flag] != "" {
				return fmt.Errorf("%s needs --pgbackrest-storage-type=s3 or posix,s3", flag)
			}
		}
		if r.PgBackRestS3VerifyTLS != nil {
			return fmt.Errorf("--pgbackrest-s3-verify-tls needs --pgbackrest-storage-type=s3 or posix,s3")
		}
		if keySecretStdin {
			return fmt.Errorf("--pgbackrest-s3-key-secret-stdin needs --pgbackrest-storage-type=s3 or posix,s3")
		}
		return nil
	}
	required := []string{"--pgbackrest-s3-bucket", "--pgbackrest-s3-endpoint", "--pgbackrest-s3-region", "--pgbackrest-s3-key"}
	if !keySecretStdin && !askKeySecret {
		required = append(required, "--pgbackrest-s3-key-secret")
	}
	var missing []string
	for _, flag := range required {
		if given[flag] == "" {
			missing = append(missing, flag)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("an S3 backup repository needs %s", strings.Join(missing, ", "))
	}
	for _, c := range []struct{ flag, value, why string }{
		{"--pgbackrest-s3-bucket", r.PgBackRestS3Bucket, rules.S3Bucket(r.PgBackRestS3Bucket)},
		{"--pgbackrest-s3-endpoint", r.PgBackRestS3Endpoint, rules.S3Endpoint(r.PgBackRestS3Endpoint)},
		{"--pgbackrest-s3-region", r.PgBackRestS3Region, rules.S3Region(r.PgBackRestS3Region)},
	} {
		if err := invalid(c.flag, c.value, c.why); err != nil {
			return err
		}
	}
	return nil
}

// renderCreateCluster prints a created cluster as the Crunchy 4.x client does.
func renderCreateCluster(w io.Writer, resp pgoapi.CreateClusterResponse) error {
	ew := &errWriter{w: w}
	ew.printf("created cluster: %s\n", resp.Name)
	ew.printf("workflow id: %s\n", resp.WorkflowID)
	ew.printf("database name: %s\n", resp.Database)
	ew.printf("users:\n")
	password := resp.Password
	if password == "" {
		password = "(as given)"
	}
	ew.printf("\tusername: %s password: %s\n", resp.Username, password)
	return ew.err
}

func newShowClusterCommand(a *app) *cobra.Command {
	var (
		output   string
		all      bool
		selector string
	)
	cmd := &cobra.Command{
		Use:     "cluster NAME...|--all",
		Aliases: []string{"clusters"},
		Short:   "Show clusters: pods with their nodes and roles, volumes, resources, storage, workloads, Services and replicas",
		Example: "  pgo show cluster hacluster\n  pgo show cluster --all -o json\n  pgo show cluster --selector=env=prod",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			if err := namesOrAll("cluster", args, all || selector != ""); err != nil {
				return err
			}
			if err := validateEach(args, validateClusterName); err != nil {
				return err
			}
			if selector != "" {
				if err := validateSelector(selector); err != nil {
					return err
				}
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var q url.Values
			if selector != "" {
				q = url.Values{pgoapi.QuerySelector: {selector}}
			}
			resp, err := clustersIn(ns).get(cmd.Context(), c, args, q)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), output, resp, renderClusters)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "show every cluster in the namespace")
	cmd.Flags().StringVarP(&selector, "selector", "s", "", "show the clusters with these labels, such as env=prod")
	addOutputFlag(cmd, &output)
	return cmd
}

// clustersIn are the clusters the apiserver shows in namespace ns.
func clustersIn(ns string) namedObjects[pgoapi.ShowClusterResponse] {
	return namedObjects[pgoapi.ShowClusterResponse]{
		kind: "cluster",
		list: pgoapi.ClustersPath(ns),
		one:  func(name string) string { return pgoapi.ClusterPath(ns, name) },
		add: func(all *pgoapi.ShowClusterResponse, one pgoapi.ShowClusterResponse) {
			all.Clusters = append(all.Clusters, one.Clusters...)
		},
	}
}

// renderClusters prints clusters as the Crunchy 4.x client does, one block
// per cluster.
func renderClusters(w io.Writer, resp pgoapi.ShowClusterResponse) error {
	ew := &errWriter{w: w}
	if len(resp.Clusters) == 0 {
		ew.printf("no clusters found\n")
	}
	for i, c := range resp.Clusters {
		if i > 0 {
			ew.printf("\n")
		}
		renderCluster(ew, c)
	}
	return ew.err
}

func renderCluster(ew *errWriter, c pgoapi.Cluster) {
	image := ""
	if c.Image != "" {
		image = ", " + c.Image
	}
	ew.printf("cluster : %s (PostgreSQL %d%s)\n", c.Name, c.PostgresVersion, image)
	ew.printf("\tphase : %s (%d of %d instances ready)\n", orDash(c.Phase), c.ReadyInstances, len(c.Instances))
	ew.printf("\tprimary : %s\n", orDash(c.Primary))
	ew.printf("\tautofail : %s\n", onOff(c.Autofail))
	if a := c.WALArchiving; a != nil {
		ew.printf("\twal archiving : %s (%s)\n", okOrFailing(a.OK), a.Message)
	}
	for _, r := range c.Backups {
		ew.printf("\tbackups : %s %s, %d backups, last full %s, last diff %s, last incr %s\n", r.Name, orDash(r.Status), r.Backups,
			formatTime(r.LastFull), formatTime(r.LastDiff), formatTime(r.LastIncr))
	}

	shown := map[string]bool{}
	for _, p := range c.Pods {
		ready := "not ready"
		if p.Ready {
			ready = "ready"
		}
		role := ""
		if p.Role != "" {
			role = " (" + p.Role + ")"
		}
		ew.printf("\tpod : %s (%s) on %s (%s)%s\n", p.Name, orDash(p.Phase), orDash(p.Node), ready, role)
		if p.Instance == "" {
			continue
		}
		for _, pvc := range c.PVCs {
			if pvc.Name == naming.DataVolume(p.Instance) || pvc.Name == naming.WALVolume(p.Instance) {
				ew.printf("\t\tpvc : %s (%s)\n", pvc.Name, pvcSize(pvc))
				shown[pvc.Name] = true
			}
		}
	}
	for _, pvc := range c.PVCs {
		if !shown[pvc.Name] {
			ew.printf("\tpvc : %s (%s)\n", pvc.Name, pvcSize(pvc))
		}
	}
	ew.printf("\tresources : %s\n", formatResources(c.Resources))
	ew.printf("\tstorage : %s\n", formatStorage(c))
	for _, s := range c.StatefulSets {
		ew.printf("\tstatefulset : %s (%d/%d ready)\n", s.Name, s.Ready, s.Desired)
	}
	for _, d := range c.Deployments {
		ew.printf("\tdeployment : %s (%d/%d ready)\n", d.Name, d.Ready, d.Desired)
	}
	for _, s := range c.Services {
		ip := orDash(s.ClusterIP)
		if s.ExternalIP != "" {
			ip += ", external " + s.ExternalIP
		}
		ew.printf("\tservice : %s - %s (%s) - Ports (%s)\n", s.Name, s.Type, ip, strings.Join(s.Ports, ", "))
	}
	for _, r := range c.ReplicaNames {
		ew.printf("\tpgreplica : %s\n", r)
	}
	var features []string
	for _, f := range []struct {
		on   bool
		name string
	}{{c.Metrics, "metrics"}, {c.PgBouncer, "pgbouncer"}, {c.SyncReplication, "sync-replication"}, {c.Shutdown, "shutdown"}} {
		if f.on {
			features = append(features, f.name)
		}
	}
	if len(features) > 0 {
		ew.printf("\tfeatures : %s\n", strings.Join(features, " "))
	}
	if c.Database != "" || c.User != "" {
		ew.printf("\tdatabase : %s (user %s)\n", orDash(c.Database), orDash(c.User))
	}
	if len(c.Labels) > 0 {
		ew.printf("\tlabels : %s\n", formatLabels(c.Labels))
	}
	if c.WorkflowID != "" {
		ew.printf("\tworkflow : %s\n", c.WorkflowID)
	}
}

func pvcSize(p pgoapi.PVC) string {
	s := orDash(p.Size)
	if p.Phase != "" && p.Phase != "Bound" {
		s += ", " + p.Phase
	}
	return s
}

// formatResources prints requests and limits as "CPU: 1 Memory: 256Mi".
func formatResources(r pgoapi.Resources) string {
	var parts []string
	for _, p := range []struct{ name, value string }{
		{"CPU", r.CPU}, {"Memory", r.Memory}, {"CPU Limit", r.CPULimit}, {"Memory Limit", r.MemoryLimit},
	} {
		if p.value != "" {
			parts = append(parts, p.name+": "+p.value)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// formatStorage prints the volume sizes per role, "Primary=1Gi Replica=1Gi".
func formatStorage(c pgoapi.Cluster) string {
	storage := func(s pgoapi.Storage) string {
		if s.StorageClass != "" {
			return s.Size + " (" + s.StorageClass + ")"
		}
		return s.Size
	}
	parts := []string{"Primary=" + storage(c.PrimaryStorage)}
	replica := c.PrimaryStorage
	if c.ReplicaStorage != nil {
		replica = *c.ReplicaStorage
	}
	parts = append(parts, "Replica="+storage(replica))
	if c.WALStorage != nil {
		parts = append(parts, "WAL="+storage(*c.WALStorage))
	}
	return strings.Join(parts, " ")
}

func formatLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, " ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// updateClusterFlags are the flags of `pgo update cluster`.
type updateClusterFlags struct {
	cpu, memory, cpuLimit, memoryLimit string
	enableAutofail, disableAutofail    bool
	shutdown, startup                  bool
	prompt                             promptFlag
	wait                               waitFlags
}

func (f *updateClusterFlags) request(cmd *cobra.Command) (pgoapi.UpdateClusterRequest, error) {
	var req pgoapi.UpdateClusterRequest
	changed := cmd.Flags().Changed
	for _, q := range []struct {
		flag, value, example string
		field                **string
	}{
		{"cpu", f.cpu, rules.ExampleCPU, &req.CPU},
		{"memory", f.memory, rules.ExampleMemory, &req.Memory},
		{"cpu-limit", f.cpuLimit, rules.ExampleCPU, &req.CPULimit},
		{"memory-limit", f.memoryLimit, rules.ExampleMemory, &req.MemoryLimit},
	} {
		if !changed(q.flag) {
			continue
		}
		// An empty value removes the request or limit.
		if err := checkQuantity("--"+q.flag, q.value, q.example); err != nil {
			return req, err
		}
		v := q.value
		*q.field = &v
	}
	if err := checkLimit("--cpu-limit", f.cpuLimit, f.cpu); err != nil {
		return req, err
	}
	if err := checkLimit("--memory-limit", f.memoryLimit, f.memory); err != nil {
		return req, err
	}
	switch {
	case f.enableAutofail && f.disableAutofail:
		return req, fmt.Errorf("give --enable-autofail or --disable-autofail, not both")
	case f.enableAutofail || f.disableAutofail:
		req.Autofail = &f.enableAutofail
	}
	switch {
	case f.shutdown && f.startup:
		return req, fmt.Errorf("give --shutdown or --startup, not both")
	case f.shutdown || f.startup:
		req.Shutdown = &f.shutdown
	}
	if req == (pgoapi.UpdateClusterRequest{}) {
		return req, fmt.Errorf("nothing to change: give --cpu, --memory, --cpu-limit, --memory-limit, --enable-autofail, --disable-autofail, --shutdown or --startup")
	}
	return req, nil
}

func newUpdateClusterCommand(a *app) *cobra.Command {
	var f updateClusterFlags
	cmd := &cobra.Command{
		Use:   "cluster NAME",
		Short: "Change a cluster's resources, automatic failover, or shut it down and start it up",
		Long: `Change a cluster's resources, automatic failover, or shut it down and start it up.

Changing CPU or memory restarts every instance: the replicas first, then a
switchover, then the old primary. An empty value (--cpu="") removes a request
or limit.`,
		Example: "  pgo update cluster hacluster --memory=256Mi --cpu=1 --wait\n  pgo update cluster hacluster --disable-autofail",
		Args:    exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			req, err := f.request(cmd)
			if err != nil {
				return err
			}
			if err := f.wait.check(); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			if err := f.prompt.confirm(cmd); err != nil {
				return err
			}
			var resp pgoapi.UpdateClusterResponse
			if err := c.patch(cmd.Context(), pgoapi.ClusterPath(ns, name), req, &resp); err != nil {
				return fmt.Errorf("updating cluster %s: %w", name, err)
			}
			if err := renderUpdateCluster(cmd.OutOrStdout(), resp); err != nil {
				return err
			}
			until := untilReady
			if req.Shutdown != nil && *req.Shutdown {
				until = untilShutdown
			}
			return a.waitIfAsked(cmd, ns, name, f.wait, until)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cpu, "cpu", "", "CPU request of each instance, such as 500m")
	fl.StringVar(&f.memory, "memory", "", "memory request of each instance, such as 256Mi")
	fl.StringVar(&f.cpuLimit, "cpu-limit", "", "CPU limit of each instance")
	fl.StringVar(&f.memoryLimit, "memory-limit", "", "memory limit of each instance")
	fl.BoolVar(&f.enableAutofail, "enable-autofail", false, "turn automatic failover on")
	fl.BoolVar(&f.disableAutofail, "disable-autofail", false, "turn automatic failover off")
	fl.BoolVar(&f.shutdown, "shutdown", false, "stop every instance, keeping the volumes")
	fl.BoolVar(&f.startup, "startup", false, "start a shut down cluster")
	f.prompt.add(cmd)
	f.wait.add(cmd)
	return cmd
}

func renderUpdateCluster(w io.Writer, resp pgoapi.UpdateClusterResponse) error {
	ew := &errWriter{w: w}
	if len(resp.Changed) == 0 {
		ew.printf("cluster %s is unchanged\n", resp.Name)
		return ew.err
	}
	ew.printf("updated cluster %s: %s\n", resp.Name, strings.Join(resp.Changed, ", "))
	ew.workflowID(resp.WorkflowID)
	return ew.err
}

func newDeleteClusterCommand(a *app) *cobra.Command {
	var (
		keepData, keepBackups bool
		prompt                promptFlag
	)
	cmd := &cobra.Command{
		Use:     "cluster NAME...",
		Aliases: []string{"clusters"},
		Short:   "Delete clusters, with their volumes and backups unless told to keep them",
		Example: "  pgo delete cluster hacluster\n  pgo delete cluster hacluster --keep-data --keep-backups --no-prompt",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateEach(args, validateClusterName); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			if err := prompt.confirm(cmd); err != nil {
				return err
			}
			q := url.Values{}
			if keepData {
				q.Set(pgoapi.QueryKeepData, "true")
			}
			if keepBackups {
				q.Set(pgoapi.QueryKeepBackups, "true")
			}
			for _, name := range args {
				var resp pgoapi.DeleteClusterResponse
				if err := c.delete(cmd.Context(), pgoapi.ClusterPath(ns, name), q, &resp); err != nil {
					return fmt.Errorf("deleting cluster %s: %w", name, err)
				}
				if err := renderDeleteCluster(cmd.OutOrStdout(), resp); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&keepData, "keep-data", false, "keep the instances' volumes")
	cmd.Flags().BoolVar(&keepBackups, "keep-backups", false, "keep the backup repositories")
	prompt.add(cmd)
	return cmd
}

func renderDeleteCluster(w io.Writer, resp pgoapi.DeleteClusterResponse) error {
	var kept []string
	if resp.KeepData {
		kept = append(kept, "data volumes")
	}
	if resp.KeepBackups {
		kept = append(kept, "backups")
	}
	msg := "deleted cluster " + resp.Name
	if len(kept) > 0 {
		msg += " (keeping its " + strings.Join(kept, " and ") + ")"
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}

// exactlyOneName accepts one argument, the name of a kind of object.
func exactlyOneName(kind string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch len(args) {
		case 0:
			return fmt.Errorf("give the %s's name: %s", kind, cmd.UseLine())
		case 1:
			return nil
		}
		return fmt.Errorf("give one %s name, not %d (%s)", kind, len(args), strings.Join(args, " "))
	}
}

// namesOrAll checks that a show command has names or --all, not both.
func namesOrAll(kind string, names []string, all bool) error {
	switch {
	case len(names) == 0 && !all:
		return fmt.Errorf("give %s names or --all", kind)
	case len(names) > 0 && all:
		return fmt.Errorf("give %s names or --all (or --selector), not both", kind)
	}
	return nil
}
