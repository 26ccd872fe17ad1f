// Command postgres-operator is pgo's server binary. Each component of the
// operator is a subcommand, so one image and one version serve them all.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"pgo.dev/pgo/internal/version"
)

func main() {
	root := &cobra.Command{
		Use:           "postgres-operator",
		Short:         "pgo runs highly available PostgreSQL clusters on Kubernetes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newControllerCommand(), newAPIServerCommand(), newInstanceCommand(), newRepoHostCommand(), newBackRestServerCommand(),
		newCopyToCommand(), newVersionCommand())

	if err := root.ExecuteContext(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, "postgres-operator:", err)
		os.Exit(1)
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.Version)
		},
	}
}
