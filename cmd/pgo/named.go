package main

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"

	"pgo.dev/pgo/internal/pgoapi"
)

// Commands that take object names: `pgo show KIND NAME...|--all` and
// `pgo delete KIND NAME...`.

// namedObjects says where the apiserver lists a kind of object and where it
// shows one by name, and how its answers add up.
type namedObjects[R any] struct {
	kind string                   // for messages, such as "pgo user"
	list string                   // path of every object
	one  func(name string) string // path of one object
	add  func(all *R, one R)      // appends one answer to all
}

// get lists every object (those query selects) when names is empty, and
// gets each named object otherwise.
func (o namedObjects[R]) get(ctx context.Context, c *apiClient, names []string, query url.Values) (R, error) {
	var all R
	if len(names) == 0 {
		if err := c.get(ctx, o.list, query, &all); err != nil {
			return all, fmt.Errorf("listing %ss: %w", o.kind, err)
		}
		return all, nil
	}
	for _, name := range names {
		var one R
		if err := c.get(ctx, o.one(name), nil, &one); err != nil {
			return all, fmt.Errorf("showing %s %s: %w", o.kind, name, err)
		}
		o.add(&all, one)
	}
	return all, nil
}

// newShowByNameCommand completes cmd (its Use, Short, Example) as `pgo show
// KIND NAME...|--all` of objects outside namespaces: it checks the names,
// gets the objects, and prints them with table or as JSON.
func newShowByNameCommand[R any](a *app, cmd *cobra.Command, objs namedObjects[R], validate func(name string) error, table func(io.Writer, R) error) *cobra.Command {
	var (
		all    bool
		output string
	)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutputFormat(output); err != nil {
			return err
		}
		if err := namesOrAll(objs.kind, args, all); err != nil {
			return err
		}
		if err := validateEach(args, validate); err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		resp, err := objs.get(cmd.Context(), c, args, nil)
		if err != nil {
			return err
		}
		return render(cmd.OutOrStdout(), output, resp, table)
	}
	cmd.Flags().BoolVar(&all, "all", false, "show every "+objs.kind)
	addOutputFlag(cmd, &output)
	return cmd
}

// newDeleteByNameCommand completes cmd (its Use, Short, Example) as `pgo
// delete KIND NAME...` of objects the apiserver deletes by name alone: it
// checks every name, asks once, then deletes them in turn.
func newDeleteByNameCommand(a *app, cmd *cobra.Command, kind string, validate func(name string) error, path func(name string) string) *cobra.Command {
	var prompt promptFlag
	cmd.Args = cobra.MinimumNArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := validateEach(args, validate); err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := prompt.confirm(cmd); err != nil {
			return err
		}
		for _, name := range args {
			var resp pgoapi.DeletedResponse
			if err := c.delete(cmd.Context(), path(name), nil, &resp); err != nil {
				return fmt.Errorf("deleting %s %s: %w", kind, name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s %s\n", kind, resp.Name)
		}
		return nil
	}
	prompt.add(cmd)
	return cmd
}
