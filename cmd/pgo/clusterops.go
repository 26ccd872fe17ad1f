package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/pgoapi"
	"pgo.dev/pgo/internal/rules"
)

// Operations on a running cluster: test, scale, scaledown, failover, restart.

func newTestCommand(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "test NAME...",
		Short:   "Test connections to a cluster's Services and instances",
		Long:    "Test connections to a cluster's Services and instances; pgo exits with an error when one is DOWN.",
		Example: "  pgo test hacluster\n  pgo test hacluster -o json",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFormat(output); err != nil {
				return err
			}
			if err := validateEach(args, validateClusterName); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var down []string
			for _, name := range args {
				var resp pgoapi.TestClusterResponse
				if err := c.get(cmd.Context(), pgoapi.ClusterTestPath(ns, name), nil, &resp); err != nil {
					return fmt.Errorf("testing cluster %s: %w", name, err)
				}
				if err := render(cmd.OutOrStdout(), output, resp, renderTest); err != nil {
					return err
				}
				if !resp.AllUp {
					down = append(down, name)
				}
			}
			if len(down) > 0 {
				return fmt.Errorf("not every connection is UP in cluster %s", joinAnd(down))
			}
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// renderTest prints a connection test as the Crunchy 4.x client does.
func renderTest(w io.Writer, resp pgoapi.TestClusterResponse) error {
	ew := &errWriter{w: w}
	ew.printf("cluster : %s\n", resp.Name)
	for _, section := range []struct{ title, kind string }{
		{"Services", pgoapi.EndpointService},
		{"Instances", pgoapi.EndpointInstance},
	} {
		ew.printf("\t%s\n", section.title)
		for _, e := range resp.Endpoints {
			if e.Kind != section.kind {
				continue
			}
			where := e.Address
			if section.kind == pgoapi.EndpointInstance {
				where = e.Name
			}
			ew.printf("\t\t%s (%s): %s", orDash(e.Role), where, e.Status)
			if e.Message != "" {
				ew.printf(" (%s)", e.Message)
			}
			ew.printf("\n")
		}
	}
	if a := resp.WALArchiving; a != nil {
		ew.printf("\tWAL archiving : %s (%s)\n", okOrFailing(a.OK), a.Message)
	}
	return ew.err
}

func okOrFailing(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAILING"
}

func newScaleCommand(a *app) *cobra.Command {
	var (
		count int32
		wait  waitFlags
	)
	cmd := &cobra.Command{
		Use:     "scale NAME",
		Short:   "Add replicas to a cluster",
		Example: "  pgo scale hacluster --replica-count=1 --wait",
		Args:    exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			if err := invalidNumber("--replica-count", int(count), rules.AddedReplicas(count)); err != nil {
				return err
			}
			if err := wait.check(); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			var resp pgoapi.ScaleClusterResponse
			if err := c.post(cmd.Context(), pgoapi.ClusterScalePath(ns, name), pgoapi.ScaleClusterRequest{ReplicaCount: count}, &resp); err != nil {
				return fmt.Errorf("scaling cluster %s: %w", name, err)
			}
			if err := renderScale(cmd.OutOrStdout(), resp); err != nil {
				return err
			}
			return a.waitIfAsked(cmd, ns, name, wait, untilReady)
		},
	}
	cmd.Flags().Int32Var(&count, "replica-count", 1, "how many replicas to add")
	wait.add(cmd)
	return cmd
}

func renderScale(w io.Writer, resp pgoapi.ScaleClusterResponse) error {
	ew := &errWriter{w: w}
	ew.printf("scaled cluster %s to %d %s\n", resp.Name, resp.Replicas, plural(int(resp.Replicas), "replica", "replicas"))
	ew.workflowID(resp.WorkflowID)
	return ew.err
}

func newScaledownCommand(a *app) *cobra.Command {
	var (
		query, keepData bool
		target, output  string
		prompt          promptFlag
		wait            waitFlags
	)
	cmd := &cobra.Command{
		Use:   "scaledown NAME --query | --target=REPLICA",
		Short: "List a cluster's replicas, or remove one",
		Example: `  pgo scaledown hacluster --query
  pgo scaledown hacluster --target=hacluster-p9zt --keep-data`,
		Args: exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			if err := queryOrTarget(query, target); err != nil {
				return err
			}
			if query {
				if err := checkOutputFormat(output); err != nil {
					return err
				}
				if keepData || wait.enabled {
					return fmt.Errorf("--keep-data and --wait go with --target, not --query")
				}
			} else if err := validateInstanceName("--target", target); err != nil {
				return err
			}
			if err := wait.check(); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			if query {
				return showInstances(cmd, c, pgoapi.ClusterReplicasPath(ns, name), "the replicas of cluster "+name, output, renderReplicas)
			}
			if err := prompt.confirm(cmd); err != nil {
				return err
			}
			var q url.Values
			if keepData {
				q = url.Values{pgoapi.QueryKeepData: {"true"}}
			}
			var resp pgoapi.ScaledownResponse
			if err := c.delete(cmd.Context(), pgoapi.ClusterReplicaPath(ns, name, target), q, &resp); err != nil {
				return fmt.Errorf("removing replica %s of cluster %s: %w", target, name, err)
			}
			if err := renderScaledown(cmd.OutOrStdout(), resp); err != nil {
				return err
			}
			return a.waitIfAsked(cmd, ns, name, wait, untilReady)
		},
	}
	cmd.Flags().BoolVar(&query, "query", false, "list the replicas with their status, node and replication lag")
	cmd.Flags().StringVar(&target, "target", "", "the replica to remove")
	cmd.Flags().BoolVar(&keepData, "keep-data", false, "keep the removed replica's volumes")
	prompt.add(cmd)
	addOutputFlag(cmd, &output)
	wait.add(cmd)
	return cmd
}

func renderScaledown(w io.Writer, resp pgoapi.ScaledownResponse) error {
	ew := &errWriter{w: w}
	ew.printf("deleted replica %s of cluster %s", resp.Replica, resp.Name)
	if resp.KeepData {
		ew.printf(" (keeping its volumes)")
	}
	ew.printf("\n")
	ew.workflowID(resp.WorkflowID)
	return ew.err
}

// showInstances answers --query of scaledown, failover and restart: it gets
// the instances at path and prints them with table or as JSON. what names
// them in errors.
func showInstances(cmd *cobra.Command, c *apiClient, path, what, output string, table func(io.Writer, pgoapi.ReplicasResponse) error) error {
	var resp pgoapi.ReplicasResponse
	if err := c.get(cmd.Context(), path, nil, &resp); err != nil {
		return fmt.Errorf("listing %s: %w", what, err)
	}
	return render(cmd.OutOrStdout(), output, resp, table)
}

// renderReplicas prints replicas as `pgo scaledown --query` and `pgo
// failover --query` of the Crunchy 4.x client do.
func renderReplicas(w io.Writer, resp pgoapi.ReplicasResponse) error {
	ew := &errWriter{w: w}
	ew.printf("Cluster: %s\n", resp.Name)
	if resp.Primary != "" {
		ew.printf("Primary: %s\n", resp.Primary)
	}
	if ew.err != nil {
		return ew.err
	}
	if len(resp.Replicas) == 0 {
		_, err := fmt.Fprintln(w, "no replicas found")
		return err
	}
	t := newTable(w, "REPLICA", "STATUS", "NODE", "REPLICATION LAG", "PENDING RESTART")
	for _, r := range resp.Replicas {
		t.row(r.Name, readyStatus(r.Ready), orDash(r.Node), formatLag(r.LagBytes), strconv.FormatBool(r.PendingRestart))
	}
	return t.flush()
}

func readyStatus(ready bool) string {
	if ready {
		return "running"
	}
	return "not ready"
}

// formatLag prints replication lag in bytes, KiB, MiB …: whole megabytes, as
// Crunchy 4.x printed, would hide lag below maximum_lag_on_failover (1 MiB).
func formatLag(lag *int64) string {
	if lag == nil {
		return "unknown"
	}
	return formatBytes(*lag)
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}

func newFailoverCommand(a *app) *cobra.Command {
	var (
		query, force   bool
		target, output string
		prompt         promptFlag
		wait           waitFlags
	)
	cmd := &cobra.Command{
		Use:   "failover NAME --query | --target=REPLICA",
		Short: "List failover candidates, or make a replica the primary",
		Long: `List failover candidates, or make a replica the primary.

Without --force the primary hands over in an orderly way (a switchover);
--target picks the replica, the healthiest one otherwise. With --force the
target is promoted whatever the primary's state (a failover).`,
		Example: `  pgo failover hacluster --query
  pgo failover hacluster --target=hacluster-p9zt --wait`,
		Args: exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			if query && target != "" {
				return fmt.Errorf("give --query or --target, not both")
			}
			if query {
				if err := checkOutputFormat(output); err != nil {
					return err
				}
				if force || wait.enabled {
					return fmt.Errorf("--force and --wait go with a failover, not --query")
				}
			} else {
				if target != "" {
					if err := validateInstanceName("--target", target); err != nil {
						return err
					}
				} else if force {
					return fmt.Errorf("--force needs --target: name the replica to promote (see pgo failover %s --query)", name)
				}
			}
			if err := wait.check(); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			if query {
				return showInstances(cmd, c, pgoapi.ClusterFailoverPath(ns, name), "the failover candidates of cluster "+name, output, renderReplicas)
			}
			var old string
			if wait.enabled && target == "" {
				var before pgoapi.ShowClusterResponse
				if err := c.get(cmd.Context(), pgoapi.ClusterPath(ns, name), nil, &before); err != nil {
					return fmt.Errorf("reading cluster %s: %w", name, err)
				}
				if len(before.Clusters) == 1 {
					old = before.Clusters[0].Primary
				}
			}
			if err := prompt.confirm(cmd); err != nil {
				return err
			}
			var resp pgoapi.FailoverResponse
			if err := c.post(cmd.Context(), pgoapi.ClusterFailoverPath(ns, name), pgoapi.FailoverRequest{Target: target, Force: force}, &resp); err != nil {
				return fmt.Errorf("failing over cluster %s: %w", name, err)
			}
			if err := renderFailover(cmd.OutOrStdout(), resp); err != nil {
				return err
			}
			return a.waitIfAsked(cmd, ns, name, wait, untilPrimary(firstNonEmpty(resp.Target, target), old))
		},
	}
	cmd.Flags().BoolVar(&query, "query", false, "list the replicas that can become primary")
	cmd.Flags().StringVar(&target, "target", "", "the replica to make primary (default: the healthiest)")
	cmd.Flags().BoolVar(&force, "force", false, "promote --target even when the primary is not healthy")
	prompt.add(cmd)
	addOutputFlag(cmd, &output)
	wait.add(cmd)
	return cmd
}

func renderFailover(w io.Writer, resp pgoapi.FailoverResponse) error {
	ew := &errWriter{w: w}
	ew.printf("%s\n", resp.Message)
	ew.workflowID(resp.WorkflowID)
	return ew.err
}

func newRestartCommand(a *app) *cobra.Command {
	var (
		query, rolling bool
		targets        []string
		output         string
		prompt         promptFlag
		wait           waitFlags
	)
	cmd := &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart PostgreSQL in a cluster's instances",
		Long: `Restart PostgreSQL in a cluster's instances: all of them (replicas first), or
those given with --target. --rolling restarts every pod instead, replicas first,
then a switchover, then the old primary. --query lists the instances.`,
		Example: `  pgo restart hacluster --query
  pgo restart hacluster --target=hacluster-p9zt
  pgo restart hacluster --rolling --wait`,
		Args: exactlyOneName("cluster"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateClusterName(name); err != nil {
				return err
			}
			if query {
				if rolling || len(targets) > 0 || wait.enabled {
					return fmt.Errorf("--query lists the instances; give it without --rolling, --target and --wait")
				}
				if err := checkOutputFormat(output); err != nil {
					return err
				}
			}
			if rolling && len(targets) > 0 {
				return fmt.Errorf("--rolling restarts every instance; give --rolling or --target, not both")
			}
			for _, t := range targets {
				if err := validateInstanceName("--target", t); err != nil {
					return err
				}
			}
			if err := wait.check(); err != nil {
				return err
			}
			ns, c, err := a.namespacedClient()
			if err != nil {
				return err
			}
			if query {
				return showInstances(cmd, c, pgoapi.ClusterRestartPath(ns, name), "the instances of cluster "+name, output, renderInstances)
			}
			if err := prompt.confirm(cmd); err != nil {
				return err
			}
			var resp pgoapi.RestartResponse
			if err := c.post(cmd.Context(), pgoapi.ClusterRestartPath(ns, name), pgoapi.RestartRequest{Rolling: rolling, Targets: targets}, &resp); err != nil {
				return fmt.Errorf("restarting cluster %s: %w", name, err)
			}
			if err := renderRestart(cmd.OutOrStdout(), resp); err != nil {
				return err
			}
			for _, r := range resp.Results {
				if !r.Success {
					return fmt.Errorf("restarting instance %s of cluster %s failed", r.Instance, name)
				}
			}
			return a.waitIfAsked(cmd, ns, name, wait, untilReady)
		},
	}
	cmd.Flags().BoolVar(&query, "query", false, "list the instances with their role, status and pending restart")
	cmd.Flags().BoolVar(&rolling, "rolling", false, "restart every pod, one at a time, replicas first")
	cmd.Flags().StringSliceVar(&targets, "target", nil, "the instances to restart (repeatable)")
	prompt.add(cmd)
	addOutputFlag(cmd, &output)
	wait.add(cmd)
	return cmd
}

// renderInstances prints a cluster's instances for `pgo restart --query`.
func renderInstances(w io.Writer, resp pgoapi.ReplicasResponse) error {
	ew := &errWriter{w: w}
	ew.printf("Cluster: %s\n", resp.Name)
	if ew.err != nil {
		return ew.err
	}
	t := newTable(w, "INSTANCE", "ROLE", "STATUS", "NODE", "REPLICATION LAG", "TIMELINE", "PENDING RESTART")
	for _, r := range resp.Replicas {
		lag := "-"
		if r.Role != "primary" {
			lag = formatLag(r.LagBytes)
		}
		t.row(r.Name, orDash(r.Role), readyStatus(r.Ready), orDash(r.Node), lag, strconv.FormatInt(r.Timeline, 10), strconv.FormatBool(r.PendingRestart))
	}
	return t.flush()
}

func renderRestart(w io.Writer, resp pgoapi.RestartResponse) error {
	ew := &errWriter{w: w}
	if resp.Rolling {
		ew.printf("rolling restart of cluster %s started\n", resp.Name)
	}
	for _, r := range resp.Results {
		if r.Success {
			ew.printf("restarted instance %s\n", r.Instance)
		} else {
			ew.printf("failed to restart instance %s: %s\n", r.Instance, orDash(r.Message))
		}
	}
	ew.workflowID(resp.WorkflowID)
	return ew.err
}

// queryOrTarget checks that exactly one of --query and --target is given.
func queryOrTarget(query bool, target string) error {
	switch {
	case query && target != "":
		return fmt.Errorf("give --query or --target, not both")
	case !query && target == "":
		return fmt.Errorf("give --query to list the replicas, or --target=REPLICA to remove one")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	out := ""
	for i, s := range items[:len(items)-1] {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out + " and " + items[len(items)-1]
}
