package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"pgo.dev/pgo/internal/apiserver"
	"pgo.dev/pgo/internal/kubescheme"
	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/pgoconfig"
	"pgo.dev/pgo/internal/version"
)

// newAPIServerCommand runs the REST apiserver that the pgo client talks to.
func newAPIServerCommand() *cobra.Command {
	var (
		opts                  apiserver.Options
		namespace, namespaces string
		postgresImages        string
		allowedImages         string
		zapOptions            = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "Run the REST apiserver of the pgo client",
		Long: `Run the REST apiserver of the pgo client over HTTPS. It authenticates pgo
users against the Secrets pgouser-<name> of the operator namespace and, when
there is none, creates the user admin with a password it writes into the
Secret ` + pgoapi.InitialAdminSecret + `. Every flag can also be set with the
environment variable named in its help.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
			log := ctrl.Log.WithName("apiserver")
			if namespace == "" {
				return fmt.Errorf("--namespace is required: the operator's namespace, where pgo users and roles live")
			}
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("finding the Kubernetes API (set KUBECONFIG or run in a pod): %w", err)
			}
			cfg.QPS, cfg.Burst = 50, 100
			c, err := client.New(cfg, client.Options{Scheme: kubescheme.Scheme})
			if err != nil {
				return fmt.Errorf("creating a Kubernetes client: %w", err)
			}
			disc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return fmt.Errorf("creating a Kubernetes client: %w", err)
			}
			s := apiserver.New(c, namespace, log)
			s.Discovery = disc
			s.Config, err = pgoconfig.New(namespace, func(env string) string {
				return map[string]string{pgoapi.EnvNamespaces: namespaces, pgoconfig.EnvPostgresImages: postgresImages,
					pgoconfig.EnvAllowedImages: allowedImages}[env]
			})
			if err != nil {
				return err
			}
			log.Info("apiserver", "version", version.Version)
			return s.Run(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	str := func(p *string, name, env, def, usage string) {
		if v := os.Getenv(env); v != "" {
			def = v
		}
		f.StringVar(p, name, def, usage+" ($"+env+")")
	}
	str(&namespace, "namespace", pgoapi.EnvOperatorNamespace, "", "the operator's namespace: pgo users, pgo roles and the apiserver's certificate live there")
	str(&opts.Address, "address", pgoapi.EnvServerAddress, pgoapi.DefaultAddress, "address to listen on, such as :8443 or the pod IP and port")
	str(&opts.CertFile, "tls-cert-file", pgoapi.EnvTLSCertFile, "", "certificate to serve; without it the apiserver makes one, kept in the Secret "+pgoapi.TLSSecret)
	str(&opts.KeyFile, "tls-key-file", pgoapi.EnvTLSKeyFile, "", "key of --tls-cert-file")
	str(&namespaces, "namespaces", pgoapi.EnvNamespaces, "", "namespaces pgo works in, comma-separated; when empty, those labelled "+pgoapi.LabelNamespace+"=true (as the controller's --namespaces)")
	str(&postgresImages, "postgres-images", pgoconfig.EnvPostgresImages, pgoconfig.DefaultPostgresImages, "VERSION=IMAGE pairs: the PostgreSQL major versions clusters may run (as the controller's --postgres-images)")
	str(&allowedImages, "allowed-images", pgoconfig.EnvAllowedImages, "", "more images clusters may name, comma-separated patterns (as the controller's --allowed-images)")
	f.StringSliceVar(&opts.Hosts, "tls-san", nil, "more DNS names or IP addresses for the certificate the apiserver makes")
	logFlags := flag.NewFlagSet("log", flag.ContinueOnError)
	zapOptions.BindFlags(logFlags)
	f.AddGoFlagSet(logFlags)
	return cmd
}
