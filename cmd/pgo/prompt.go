package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// promptText is what pgo asks before destructive work.
const promptText = "WARNING: Are you sure? (yes/no): "

// errAborted is returned when the user does not answer yes; the command does
// nothing and pgo exits with an error status.
var errAborted = errors.New("aborted: nothing was changed")

// confirm asks before destructive work unless noPrompt; only "yes" goes on.
func confirm(in io.Reader, out io.Writer, noPrompt bool) error {
	if noPrompt {
		return nil
	}
	if _, err := io.WriteString(out, promptText); err != nil {
		return err
	}
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if strings.TrimSpace(answer) != "yes" {
		if errors.Is(err, io.EOF) && answer == "" {
			fmt.Fprintln(out)
		}
		return errAborted
	}
	return nil
}

// promptFlag is --no-prompt, of commands that ask before destructive work.
type promptFlag struct{ noPrompt bool }

func (f *promptFlag) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.noPrompt, "no-prompt", false, "do not ask for confirmation")
}

// confirm asks on the command's input and output, unless --no-prompt.
func (f promptFlag) confirm(cmd *cobra.Command) error {
	return confirm(cmd.InOrStdin(), cmd.OutOrStdout(), f.noPrompt)
}
