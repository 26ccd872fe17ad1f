package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"pgo.dev/pgo/internal/instance"
	"pgo.dev/pgo/internal/instanceapi"
	"pgo.dev/pgo/internal/version"
)

// newInstanceCommand is the instance manager, PID 1 of every database pod.
func newInstanceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "instance",
		Short: "The instance manager that runs PostgreSQL in a database pod",
	}
	cmd.AddCommand(newInstanceRunCommand())
	return cmd
}

func newInstanceRunCommand() *cobra.Command {
	var (
		opts       instance.Options
		zapOptions = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run PostgreSQL with leader election and automatic failover",
		Long: `Run PostgreSQL with leader election and automatic failover, using the
Kubernetes API as the DCS. Every flag can also be set with the environment
variable named in its help.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
			log := ctrl.Log.WithName("instance")
			if err := opts.Validate(); err != nil {
				return err
			}

			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("finding the Kubernetes API (set KUBECONFIG or run in a pod): %w", err)
			}
			// The loop makes a handful of requests per run, faster during a
			// failover; client-side throttling must not slow that down.
			cfg.QPS, cfg.Burst = 50, 100
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("creating a Kubernetes client: %w", err)
			}
			m, err := instance.New(opts, client, log, os.Stderr)
			if err != nil {
				return err
			}
			log.Info("instance manager", "version", version.Version)
			return m.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	env := envFlags{cmd}
	str, integer := env.String, env.Int
	str(&opts.Cluster, "cluster", instanceapi.EnvCluster, "", "name of the cluster")
	str(&opts.Namespace, "namespace", instanceapi.EnvPodNamespace, "", "namespace of the cluster")
	str(&opts.Name, "name", instanceapi.EnvPodName, "", "name of this member: its pod's name")
	str(&opts.PodIP, "pod-ip", instanceapi.EnvPodIP, "", "address PostgreSQL and the REST API listen on")
	str(&opts.DataDir, "data-dir", instanceapi.EnvDataDir, "", "PostgreSQL's data directory")
	str(&opts.BinDir, "bin-dir", instanceapi.EnvBinDir, "", "directory of PostgreSQL's programs (found from pg_config when empty)")
	str(&opts.SocketDir, "socket-dir", instanceapi.EnvSocketDir, "/tmp", "PostgreSQL's Unix socket directory")
	integer(&opts.Port, "port", instanceapi.EnvPort, 5432, "PostgreSQL's port")
	str(&opts.APIAddress, "api-address", instanceapi.EnvAPIAddress, "", "address of the REST API (pod-ip:8008 when empty)")
	str(&opts.SuperuserPasswordFile, "superuser-password-file", instanceapi.EnvSuperuserPasswordFile, "", "file with the postgres superuser's password")
	str(&opts.APIUser, "api-user", instanceapi.EnvAPIUser, "pgo", "user of the REST API's POST requests")
	str(&opts.APIPasswordFile, "api-password-file", instanceapi.EnvAPIPasswordFile, "", "file with the REST API user's password; POST requests are refused without it")
	str(&opts.CertFile, "tls-cert-file", instanceapi.EnvTLSCertFile, "", "PostgreSQL's TLS certificate")
	str(&opts.KeyFile, "tls-key-file", instanceapi.EnvTLSKeyFile, "", "PostgreSQL's TLS key")
	str(&opts.CAFile, "tls-ca-file", instanceapi.EnvTLSCAFile, "", "CA that issued PostgreSQL's certificate (the cluster's CA when empty)")
	str(&opts.ClusterCAFile, "cluster-ca-file", instanceapi.EnvClusterCAFile, "", "the cluster's own CA, which issued the replication certificate")
	str(&opts.ReplicationCertFile, "replication-cert-file", instanceapi.EnvReplicationCertFile, "", "the replication user's client certificate")
	str(&opts.ReplicationKeyFile, "replication-key-file", instanceapi.EnvReplicationKeyFile, "", "the replication user's client key")
	str(&opts.APICertFile, "api-cert-file", instanceapi.EnvAPICertFile, "", "the REST API's certificate, the cluster's (tls-cert-file when empty)")
	str(&opts.APIKeyFile, "api-key-file", instanceapi.EnvAPIKeyFile, "", "the REST API's key (tls-key-file when empty)")
	str(&opts.WALDir, "wal-dir", instanceapi.EnvWALDir, "", "put pg_wal here (a volume of its own)")
	str(&opts.AppUser, "app-user", instanceapi.EnvAppUser, "", "application user the bootstrap creates")
	str(&opts.AppDatabase, "app-database", instanceapi.EnvAppDatabase, "", "application database the bootstrap creates, owned by the application user")
	str(&opts.AppPasswordFile, "app-password-file", instanceapi.EnvAppPasswordFile, "", "file with the application user's password")
	integer(&opts.FailoverPriority, "failover-priority", instanceapi.EnvFailoverPriority, 1, "rank among members with the same WAL position; 0 never promotes this member")
	f.StringVar(&opts.Archive, "archive", os.Getenv(instanceapi.EnvArchive), "how WAL is archived: "+instanceapi.ArchivePgBackRest+" (archive-push and archive-get, configured by pgBackRest's own environment), or not at all when empty ($"+instanceapi.EnvArchive+")")
	f.BoolVar(&opts.NoSync, "nosync", os.Getenv(instanceapi.EnvNoSync) == "true", "never choose this member as synchronous standby ($"+instanceapi.EnvNoSync+")")
	f.StringToStringVar(&opts.Tags, "tag", instance.ParseTags(os.Getenv(instanceapi.EnvTags)), "a tag KEY=VALUE that health checks with ?tag_KEY=VALUE compare, as Patroni's tags ($"+instanceapi.EnvTags+": KEY=VALUE,...); noloadbalance=true keeps the member out of /replica")
	logFlags(cmd, &zapOptions)
	return cmd
}
