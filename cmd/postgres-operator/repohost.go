package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"pgo.dev/pgo/internal/pgbackrest"
	"pgo.dev/pgo/internal/repohost"
	"pgo.dev/pgo/internal/repohostapi"
	"pgo.dev/pgo/internal/version"
)

// newRepoHostCommand is the repository host manager, the main process of
// a cluster's repository host pod.
func newRepoHostCommand() *cobra.Command {
	var (
		opts       repohost.Options
		zapOptions = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "repohost",
		Short: "Run a cluster's pgBackRest repository host: pgbackrest server and the backup API",
		Long: fmt.Sprintf(`Run a cluster's pgBackRest repository host: keep pgbackrest server running
(reloaded when its configuration or certificate changes) and serve the API
that creates the stanza, takes backups, reads pgbackrest info and expires
backups, over HTTPS on port %d with basic authentication. pgbackrest output
goes to stdout, each line prefixed with the command it is from. Every flag
can also be set with the environment variable named in its help.`, repohostapi.Port),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
			log := ctrl.Log.WithName("repohost")
			m, err := repohost.New(opts, log)
			if err != nil {
				return err
			}
			log.Info("repository host manager", "version", version.Version)
			return m.Run(cmd.Context())
		},
	}
	env := envFlags{cmd}
	env.String(&opts.PodIP, "pod-ip", repohostapi.EnvPodIP, "", "address pgbackrest server and the API listen on")
	env.String(&opts.APIAddress, "api-address", repohostapi.EnvAPIAddress, "", fmt.Sprintf("address of the API (pod-ip:%d when empty)", repohostapi.Port))
	env.String(&opts.CertFile, "tls-cert-file", repohostapi.EnvCertFile, "", "the API's certificate (the cluster's pgBackRest certificate), read again when it changes")
	env.String(&opts.KeyFile, "tls-key-file", repohostapi.EnvKeyFile, "", "the API's key")
	env.String(&opts.CAFile, "tls-ca-file", repohostapi.EnvCAFile, "", "the CA of the certificate; pgbackrest server is reloaded when it changes")
	env.String(&opts.APIUser, "api-user", repohostapi.EnvAPIUser, "pgo", "user of the API")
	env.String(&opts.APIPasswordFile, "api-password-file", repohostapi.EnvAPIPassword, "", "file with the API user's password (read at each request)")
	env.String(&opts.Config, "config", repohostapi.EnvBackRestConfig, "", "pgBackRest's configuration file")
	env.String(&opts.IncludePath, "config-include-path", repohostapi.EnvBackRestInclude, "", "pgBackRest's include path (the secret options)")
	env.Duration(&opts.BackupTimeout, "backup-timeout", repohostapi.EnvBackupTimeout, 24*time.Hour, "longest a backup may run before it is stopped")
	env.Duration(&opts.CommandTimeout, "command-timeout", repohostapi.EnvCommandTimeout, 5*time.Minute, "longest any other pgbackrest command may run")
	env.Duration(&opts.ServerPoll, "poll-interval", repohostapi.EnvServerPoll, 5*time.Second, "how often pgbackrest server's files are compared")
	logFlags(cmd, &zapOptions)
	return cmd
}

// newBackRestServerCommand is the pgbackrest server of a database pod (a
// sidecar), through which the repository host reaches PostgreSQL.
func newBackRestServerCommand() *cobra.Command {
	var (
		server     pgbackrest.Server
		zapOptions = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "pgbackrest-server",
		Short: "Run pgbackrest server, restarted when it exits and reloaded when its files change",
		Long: `Run pgbackrest server on the pod's IP: start it again, with back-off, when it
exits, and reload it (SIGHUP) when its configuration, the files of its
include path, the certificate, key and CA its configuration names, or a
--watch file change. Its output goes to stdout. Every flag but --watch can
also be set with the environment variable named in its help.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
			server.Log = ctrl.Log.WithName("pgbackrest-server")
			if server.Address == "" {
				return fmt.Errorf("--address is required ($%s)", repohostapi.EnvPodIP)
			}
			server.Exec = &pgbackrest.Exec{}
			server.Log.Info("pgbackrest server supervisor", "version", version.Version)
			return server.Run(cmd.Context())
		},
	}
	env := envFlags{cmd}
	env.String(&server.Address, "address", repohostapi.EnvPodIP, "", "address pgbackrest server listens on (--tls-server-address)")
	env.String(&server.Config, "config", repohostapi.EnvBackRestConfig, "", "pgBackRest's configuration file")
	env.String(&server.IncludePath, "config-include-path", repohostapi.EnvBackRestInclude, "", "pgBackRest's include path")
	env.Duration(&server.Poll, "poll-interval", repohostapi.EnvServerPoll, 5*time.Second, "how often the files are compared")
	cmd.Flags().StringSliceVar(&server.Watch, "watch", nil, "more files whose change reloads the server")
	logFlags(cmd, &zapOptions)
	return cmd
}
