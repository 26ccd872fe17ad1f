// Command pgo is the command-line client of pgo: it talks to the pgo
// apiserver over HTTPS.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/version"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "pgo:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "pgo",
		Short:         "Manage highly available PostgreSQL clusters on Kubernetes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the client version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "pgo client version", version.Version)
		},
	})
	return root
}
