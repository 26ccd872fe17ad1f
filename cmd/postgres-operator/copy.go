package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// newCopyToCommand copies this binary into a directory: the init container
// of every database pod puts the instance manager where the database image
// can run it.
func newCopyToCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "copy-to DIRECTORY",
		Short: "Copy this binary into a directory (for the database pods' init container)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			src, err := os.Open(self)
			if err != nil {
				return err
			}
			defer src.Close()
			target := filepath.Join(args[0], "postgres-operator")
			tmp := target + ".tmp"
			dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
			if err != nil {
				return fmt.Errorf("copying to %s: %w", args[0], err)
			}
			if _, err := io.Copy(dst, src); err != nil {
				dst.Close()
				return fmt.Errorf("copying to %s: %w", args[0], err)
			}
			if err := dst.Close(); err != nil {
				return err
			}
			return os.Rename(tmp, target)
		},
	}
}
