package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Output formats of read commands (-o).
const (
	outputTable = "table"
	outputJSON  = "json"
)

// addOutputFlag adds -o to a read command.
func addOutputFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "output", "o", outputTable, "output format: table or json")
}

func checkOutputFormat(format string) error {
	return checkEnum("--output", format, outputTable, outputJSON)
}

// render writes v as indented JSON, or with table.
func render[T any](w io.Writer, format string, v T, table func(io.Writer, T) error) error {
	if format == outputJSON {
		return writeJSON(w, v)
	}
	return table(w, v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns, with a line of dashes under the header as the
// Crunchy 4.x client does.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)}
	t.row(header...)
	dashes := make([]string, len(header))
	for i, h := range header {
		dashes[i] = strings.Repeat("-", len(h))
	}
	t.row(dashes...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// errWriter remembers the first write error, so that renderers can print
// line by line and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// workflowID prints the workflow id of an operation, when it has one.
func (e *errWriter) workflowID(id string) {
	if id != "" {
		e.printf("workflow id: %s\n", id)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
