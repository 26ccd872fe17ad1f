package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"pgo.dev/pgo/internal/controller"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pgoconfig"
	"pgo.dev/pgo/internal/specs"
	"pgo.dev/pgo/internal/version"
)

// newControllerCommand runs the controller-runtime manager that hosts pgo's
// reconcilers.
func newControllerCommand() *cobra.Command {
	var (
		metricsAddr, probeAddr, namespace string
		operatorNamespace, postgresImages string
		allowedImages                     string
		leaderElect, metricsSecure        bool
		archiveThreshold                  time.Duration
		namespaces                        []string
		qps                               float32
		burst, keepTasks                  int
		specOptions                       = specs.DefaultOptions()
		zapOptions                        = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the controller manager",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
			log := ctrl.Log.WithName("controller")

			metrics, err := controller.MetricsServerOptions(metricsAddr, metricsSecure)
			if err != nil {
				return err
			}
			config, err := pgoconfig.New(operatorNamespace, func(env string) string {
				switch env {
				case pgoconfig.EnvPostgresImages:
					return postgresImages
				case pgoconfig.EnvAllowedImages:
					return allowedImages
				case pgoapi.EnvNamespaces:
					return strings.Join(namespaces, ",")
				}
				return ""
			})
			if err != nil {
				return err
			}
			specOptions.PostgresImages = config.PostgresImages
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("finding the Kubernetes API (set KUBECONFIG or run in a pod): %w", err)
			}
			cfg.QPS, cfg.Burst = qps, burst
			mgr, err := ctrl.NewManager(cfg, ctrl.Options{
				Scheme:                  kubescheme.Scheme,
				Metrics:                 metrics,
				HealthProbeBindAddress:  probeAddr,
				LeaderElection:          leaderElect,
				LeaderElectionID:        "pgo-controller",
				LeaderElectionNamespace: namespace,
				Cache:                   controller.CacheOptions(namespaces),
			})
			if err != nil {
				return fmt.Errorf("creating the controller manager: %w", err)
			}
			if specOptions.CertificateLifetime < time.Minute {
				return fmt.Errorf("--certificate-lifetime %s is too short: give a minute or more", specOptions.CertificateLifetime)
			}
			reconciler := &controller.ClusterReconciler{
				Client:   mgr.GetClient(),
				Reader:   mgr.GetAPIReader(),
				Scheme:   mgr.GetScheme(),
				Recorder: mgr.GetEventRecorder("pgo"),
				Options:  specOptions,
				Config:   config,

				ArchiveFailureThreshold: archiveThreshold,
			}
			if err := reconciler.SetupWithManager(mgr); err != nil {
				return fmt.Errorf("setting up the PGCluster controller: %w", err)
			}
			tasks := &controller.TaskReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorder("pgo"), KeepCompleted: keepTasks}
			if err := tasks.SetupWithManager(mgr); err != nil {
				return fmt.Errorf("setting up the PGTask controller: %w", err)
			}
			if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
				return fmt.Errorf("adding the health check: %w", err)
			}
			if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
				return fmt.Errorf("adding the readiness check: %w", err)
			}

			log.Info("starting", "version", version.Version, "leaderElection", leaderElect)
			return mgr.Start(cmd.Context())
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&metricsAddr, "metrics-bind-address", "127.0.0.1:8080", "address of the manager's metrics endpoint; 0 turns it off; any but a loopback address needs --metrics-secure")
	flags.BoolVar(&metricsSecure, "metrics-secure", false, "serve metrics over HTTPS to callers the Kubernetes API authenticates and allows to get /metrics")
	flags.StringVar(&probeAddr, "health-probe-bind-address", "127.0.0.1:8081", "address of the /healthz and /readyz endpoints")
	flags.BoolVar(&leaderElect, "leader-elect", false, "elect one active controller among replicas with a Lease")
	flags.StringVar(&namespace, "leader-election-namespace", "pgo", "namespace of the leader election Lease")
	flags.StringSliceVar(&namespaces, "namespaces", pgoconfig.List(os.Getenv(pgoapi.EnvNamespaces)), "namespaces to serve, comma-separated; when empty, those labelled "+pgoapi.LabelNamespace+"=true ($"+pgoapi.EnvNamespaces+")")
	flags.Float32Var(&qps, "kube-api-qps", controller.DefaultQPS, "requests per second to the Kubernetes API, on average")
	flags.IntVar(&burst, "kube-api-burst", controller.DefaultBurst, "requests to the Kubernetes API in a burst")
	flags.IntVar(&keepTasks, "keep-completed-tasks", controller.DefaultKeepCompletedTasks, "how many ended PGTasks of one cluster and type to keep; older ones are deleted")
	flags.StringVar(&specOptions.OperatorImage, "operator-image", specOptions.OperatorImage, "image with this binary, which database pods run as their instance manager")
	envDefault := func(env, def string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		return def
	}
	envDuration := func(env string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(os.Getenv(env)); err == nil && d > 0 {
			return d
		}
		return def
	}
	flags.StringVar(&operatorNamespace, "operator-namespace", envDefault(pgoapi.EnvOperatorNamespace, "pgo"), "the operator's own namespace, where no cluster may run ($"+pgoapi.EnvOperatorNamespace+")")
	flags.StringVar(&postgresImages, "postgres-images", envDefault(pgoconfig.EnvPostgresImages, pgoconfig.DefaultPostgresImages), "VERSION=IMAGE pairs: the PostgreSQL major versions clusters may run and the image of each ($"+pgoconfig.EnvPostgresImages+")")
	flags.StringVar(&allowedImages, "allowed-images", os.Getenv(pgoconfig.EnvAllowedImages), "more images clusters may name in spec.image, comma-separated patterns ($"+pgoconfig.EnvAllowedImages+")")
	flags.Int64Var(&specOptions.PostgresUID, "postgres-uid", specOptions.PostgresUID, "user ID PostgreSQL runs as in database pods")
	flags.Int64Var(&specOptions.PostgresGID, "postgres-gid", specOptions.PostgresGID, "group ID of database pods and their volumes")
	flags.DurationVar(&archiveThreshold, "archive-failure-threshold", envDuration(pgoconfig.EnvArchiveFailureThreshold, controller.DefaultArchiveFailureThreshold), "how long WAL archiving may fail before a cluster says so: condition WALArchiving=False and a Warning Event ($"+pgoconfig.EnvArchiveFailureThreshold+")")
	flags.DurationVar(&specOptions.CertificateLifetime, "certificate-lifetime", specOptions.CertificateLifetime, "life of the certificates issued to clusters; each is renewed at two thirds of it")
	logFlags := flag.NewFlagSet("log", flag.ContinueOnError)
	zapOptions.BindFlags(logFlags)
	flags.AddGoFlagSet(logFlags)
	return cmd
}
