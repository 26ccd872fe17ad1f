package main

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
	"pgo.dev/pgo/internal/version"
)

// Commands about pgo itself: show workflow, status, version.

func addWorkflowCommands(a *app, show *cobra.Command) {
	var output string
	cmd := &cobra.Command{
		Use:     "workflow ID",
		Short:   "Show the steps of an operation by its workflow id",
		Example: "  pgo show workflow 3f6c0b1e-…",
		Args:    exactlyOneName("workflow"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			if err := invalid("workflow id", id, rules.WorkflowID(id)); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var resp pgoapi.Workflow
			if err := c.get(cmd.Context(), pgoapi.WorkflowPath(ns, id), nil, &resp); err != nil {
				return fmt.Errorf("showing workflow %s: %w", id, err)
			}
			return render(cmd.OutOrStdout(), output, resp, renderWorkflow)
		},
	}
	addOutputFlag(cmd, &output)
	show.AddCommand(cmd)
}

// renderWorkflow prints a workflow as the Crunchy 4.x client does
// (parameter and value), followed by its steps.
func renderWorkflow(w io.Writer, wf pgoapi.Workflow) error {
	t := newTable(w, "parameter", "value")
	t.row("workflowid", wf.ID)
	t.row("pg-cluster", wf.Cluster)
	t.row("operation", wf.Operation)
	t.row("phase", wf.Phase)
	t.row("task submitted", formatTime(&wf.StartTime))
	t.row("task completed", formatTime(wf.CompletionTime))
	if wf.Message != "" {
		t.row("message", wf.Message)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(wf.Steps) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	t = newTable(w, "STEP", "PHASE", "STARTED", "COMPLETED", "MESSAGE")
	for _, s := range wf.Steps {
		t.row(s.Name, s.Phase, formatTime(s.StartTime), formatTime(s.CompletionTime), orDash(s.Message))
	}
	return t.flush()
}

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func addStatusCommands(a *app, root *cobra.Command) {
	var output string
	var allNamespaces bool
	status := &cobra.Command{
		Use:     "status",
		Short:   "Show a summary of the clusters in the namespaces the pgo user may access",
		Example: "  pgo status\n  pgo status -n app1 -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			// One namespace when -n or PGO_NAMESPACE names one, else every
			// namespace the pgo user may access.
			q := url.Values{}
			if !allNamespaces && firstNonEmpty(a.flags.namespace, a.env.getenv(pgoapi.EnvNamespace)) != "" {
				ns, err := a.namespace()
				if err != nil {
					return err
				}
				q.Set(pgoapi.QueryNamespace, ns)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var resp pgoapi.StatusResponse
			if err := c.get(cmd.Context(), pgoapi.PathStatus, q, &resp); err != nil {
				return fmt.Errorf("reading the status: %w", err)
			}
			return render(cmd.OutOrStdout(), output, resp, renderStatus)
		},
	}
	status.Flags().BoolVar(&allNamespaces, "all-namespaces", false, "count every namespace the pgo user may access, even when PGO_NAMESPACE names one")
	addOutputFlag(status, &output)
	root.AddCommand(status)

	var clientOnly bool
	var versionOutput string
	versionCmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of pgo and of the apiserver",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutputFormat(versionOutput); err != nil {
				return err
			}
			v := versions{Client: version.Version}
			if !clientOnly {
				c, err := a.client()
				if err != nil {
					return err
				}
				var resp pgoapi.VersionResponse
				if err := c.get(cmd.Context(), pgoapi.PathVersion, nil, &resp); err != nil {
					if versionOutput == outputTable {
						fmt.Fprintf(cmd.OutOrStdout(), "pgo client version %s\n", v.Client)
					}
					return fmt.Errorf("asking the apiserver for its version: %w", err)
				}
				v.Server = &resp
			}
			return render(cmd.OutOrStdout(), versionOutput, v, renderVersions)
		},
	}
	versionCmd.Flags().BoolVar(&clientOnly, "client", false, "print only the client's version, without asking the apiserver")
	addOutputFlag(versionCmd, &versionOutput)
	root.AddCommand(versionCmd)
}

// renderStatus prints a summary as the Crunchy 4.x client does.
func renderStatus(w io.Writer, s pgoapi.StatusResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	line := func(label, value string) { fmt.Fprintf(tw, "%s:\t%s\n", label, value) }
	line("Namespaces", orDash(strings.Join(s.Namespaces, ", ")))
	line("Databases", fmt.Sprint(s.Clusters))
	line("Instances", fmt.Sprintf("%d (%d ready)", s.Instances, s.ReadyInstances))
	line("Claims", fmt.Sprint(s.Volumes))
	line("Total Volume Size", orDash(s.VolumeCapacity))
	line("Nodes", orDash(strings.Join(s.Nodes, ", ")))
	if err := tw.Flush(); err != nil {
		return err
	}
	ew := &errWriter{w: w}
	if len(s.Phases) > 0 {
		ew.printf("\nPhases:\n")
		for _, k := range sortedKeys(s.Phases) {
			ew.printf("\t%-13s %d\n", k, s.Phases[k])
		}
	}
	ew.printf("\nDatabases Not Ready:\n")
	for _, c := range s.NotReady {
		ew.printf("\t%s\n", c)
	}
	if len(s.Labels) > 0 {
		ew.printf("\nLabels (count > 1): [count] [label]\n")
		for _, k := range sortedKeys(s.Labels) {
			if s.Labels[k] > 1 {
				ew.printf("\t[%d]\t[%s]\n", s.Labels[k], k)
			}
		}
	}
	return ew.err
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// versions is what `pgo version` prints.
type versions struct {
	Client string                  `json:"clientVersion"`
	Server *pgoapi.VersionResponse `json:"server,omitempty"`
}

func renderVersions(w io.Writer, v versions) error {
	ew := &errWriter{w: w}
	ew.printf("pgo client version %s\n", v.Client)
	if v.Server != nil {
		ew.printf("pgo-apiserver version %s\n", v.Server.Version)
		if v.Server.KubernetesVersion != "" {
			ew.printf("kubernetes version %s\n", v.Server.KubernetesVersion)
		}
	}
	return ew.err
}
