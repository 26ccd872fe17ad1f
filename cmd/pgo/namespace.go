package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/pgoapi"
)

func addNamespaceCommands(a *app, create, show, del *cobra.Command) {
	create.AddCommand(&cobra.Command{
		Use:     "namespace NAME...",
		Aliases: []string{"namespaces", "ns"},
		Short:   "Create namespaces that pgo serves",
		Example: "  pgo create namespace app1",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateEach(args, validateNamespace); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			for _, ns := range args {
				var resp pgoapi.CreateNamespaceResponse
				if err := c.post(cmd.Context(), pgoapi.PathNamespaces, pgoapi.CreateNamespaceRequest{Name: ns}, &resp); err != nil {
					return fmt.Errorf("creating namespace %s: %w", ns, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created namespace %s\n", resp.Namespace.Name)
			}
			return nil
		},
	})

	del.AddCommand(newDeleteByNameCommand(a, &cobra.Command{
		Use:     "namespace NAME...",
		Aliases: []string{"namespaces", "ns"},
		Short:   "Delete namespaces created with pgo create namespace, with everything in them",
		Example: "  pgo delete namespace app1",
	}, "namespace", validateNamespace, pgoapi.NamespacePath))

	var output string
	var all bool
	showNS := &cobra.Command{
		Use:     "namespace [NAME...]",
		Aliases: []string{"namespaces", "ns"},
		Short:   "Show the namespaces the pgo user may access",
		Example: "  pgo show namespace --all\n  pgo show namespace app1 -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			if err := validateEach(args, validateNamespace); err != nil {
				return err
			}
			if all && len(args) > 0 {
				return fmt.Errorf("give namespace names or --all, not both")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var resp pgoapi.ShowNamespaceResponse
			if err := c.get(cmd.Context(), pgoapi.PathNamespaces, nil, &resp); err != nil {
				return fmt.Errorf("listing namespaces: %w", err)
			}
			if len(args) > 0 {
				resp.Namespaces = slices.DeleteFunc(resp.Namespaces, func(n pgoapi.Namespace) bool {
					return !slices.Contains(args, n.Name)
				})
				for _, ns := range args {
					if !slices.ContainsFunc(resp.Namespaces, func(n pgoapi.Namespace) bool { return n.Name == ns }) {
						return fmt.Errorf("namespace %s does not exist or pgo user %s may not access it", ns, c.creds.username)
					}
				}
			}
			return render(cmd.OutOrStdout(), output, resp, renderNamespaces)
		},
	}
	showNS.Flags().BoolVar(&all, "all", false, "show every namespace the pgo user may access (the default)")
	addOutputFlag(showNS, &output)
	show.AddCommand(showNS)
}

// renderNamespaces prints namespaces as a table.
func renderNamespaces(w io.Writer, resp pgoapi.ShowNamespaceResponse) error {
	t := newTable(w, "NAMESPACE", "WATCHED", "CREATED BY PGO", "CLUSTERS")
	for _, n := range resp.Namespaces {
		t.row(n.Name, yesNo(n.Watched), yesNo(n.CreatedByPgo), strconv.Itoa(n.Clusters))
	}
	return t.flush()
}
