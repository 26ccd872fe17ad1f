package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Secrets: passwords and keys come from standard input or, on a terminal,
// from a prompt that does not echo, so that none needs to be on a command
// line, where other users of the machine see it in the process list and the
// shell keeps it in its history.

// maxSecretBytes bounds what --X-stdin reads: a secret, not a file.
const maxSecretBytes = 4096

// repeatPrompt asks for a new password a second time.
const repeatPrompt = "Repeat: "

// prompter asks for one line on the terminal without echoing it.
type prompter func(prompt string) (string, error)

// terminalFunc returns a prompter when in is a terminal; prompts go to out.
type terminalFunc func(in io.Reader, out io.Writer) (prompter, bool)

// osTerminal prompts on standard input when it is a terminal.
func osTerminal(in io.Reader, out io.Writer) (prompter, bool) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return func(prompt string) (string, error) {
		if _, err := io.WriteString(out, prompt); err != nil {
			return "", err
		}
		line, err := term.ReadPassword(int(f.Fd()))
		// The Enter that ended the line was not echoed either.
		fmt.Fprintln(out)
		return string(line), err
	}, true
}

// readSecret reads a secret. On a terminal it asks with prompt, and asks
// again when repeat, so that a typing error does not set a password no one
// knows. Otherwise it reads the whole of in, less one trailing line break.
// An empty secret is refused.
func readSecret(in io.Reader, terminal bool, ask prompter, prompt string, repeat bool) (string, error) {
	if terminal {
		s, err := ask(prompt)
		if err != nil {
			return "", fmt.Errorf("reading the answer: %w", err)
		}
		if s == "" {
			return "", errors.New("nothing was typed; nothing was changed")
		}
		if repeat {
			again, err := ask(repeatPrompt)
			if err != nil {
				return "", fmt.Errorf("reading the answer: %w", err)
			}
			if again != s {
				return "", errors.New("the two entries differ; nothing was changed")
			}
		}
		return s, nil
	}
	data, err := io.ReadAll(io.LimitReader(in, maxSecretBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading standard input: %w", err)
	}
	if len(data) > maxSecretBytes {
		return "", fmt.Errorf("standard input is longer than %d bytes; give the secret alone on it", maxSecretBytes)
	}
	s, ok := strings.CutSuffix(string(data), "\r\n")
	if !ok {
		s = strings.TrimSuffix(s, "\n")
	}
	if s == "" {
		return "", errors.New("standard input is empty: pipe the secret into pgo, such as printf '%s' \"$SECRET\" | pgo")
	}
	return s, nil
}

// secretFlag is a secret a command takes: --NAME=VALUE, kept for the scripts
// that use it, or --NAME-stdin.
type secretFlag struct {
	name  string
	what  string
	value string
	stdin bool
}

func (s *secretFlag) stdinFlag() string { return s.name + "-stdin" }

// add adds --NAME and --NAME-stdin; what is the secret, such as "the
// user's password", and note what the value flag's help adds to it.
func (s *secretFlag) add(cmd *cobra.Command, what, note string) {
	s.what = what
	fl := cmd.Flags()
	fl.StringVar(&s.value, s.name, "", fmt.Sprintf("%s%s; other users of this machine can see it: prefer --%s", what, note, s.stdinFlag()))
	fl.BoolVar(&s.stdin, s.stdinFlag(), false, fmt.Sprintf("read %s from standard input (asks for it, without echo, on a terminal)", what))
}

// given is true when either flag is given.
func (s *secretFlag) given(cmd *cobra.Command) bool {
	return cmd.Flags().Changed(s.name) || s.stdin
}

// givenAs is the flag the secret is given with, for messages.
func (s *secretFlag) givenAs(cmd *cobra.Command) string {
	if s.stdin {
		return "--" + s.stdinFlag()
	}
	return "--" + s.name
}

// check refuses both flags at once.
func (s *secretFlag) check(cmd *cobra.Command) error {
	if cmd.Flags().Changed(s.name) && s.stdin {
		return fmt.Errorf("give --%s or --%s, not both", s.name, s.stdinFlag())
	}
	return nil
}

// secretPrompt is how a command asks for a secret on a terminal.
type secretPrompt struct {
	// text asks for it, such as "Password for pgo user alice: ".
	text string
	// repeat asks twice: the secret is a new password.
	repeat bool
	// whenMissing asks even without --NAME-stdin: the command needs it.
	whenMissing bool
}

// read returns the secret and the flag it came from, for messages: the
// value flag's, with a warning on stderr; or standard input's, with
// --NAME-stdin; or, when neither is given, the answer to a prompt (from "")
// if p.whenMissing and standard input is a terminal; or "".
func (s *secretFlag) read(cmd *cobra.Command, terminal terminalFunc, p secretPrompt) (secret, from string, err error) {
	if err := s.check(cmd); err != nil {
		return "", "", err
	}
	if cmd.Flags().Changed(s.name) {
		fmt.Fprintf(cmd.ErrOrStderr(), "pgo: warning: --%s shows %s to other users of this machine, in the process list, and leaves it in your shell history; use --%s instead (on a terminal, pgo asks for it)\n", s.name, s.what, s.stdinFlag())
		return s.value, "--" + s.name, nil
	}
	in := cmd.InOrStdin()
	ask, isTerminal := terminal(in, cmd.ErrOrStderr())
	if !s.stdin && (!p.whenMissing || !isTerminal) {
		return "", "", nil
	}
	if s.stdin {
		from = "--" + s.stdinFlag()
	}
	secret, err = readSecret(in, isTerminal, ask, p.text, p.repeat)
	return secret, from, secretError(from, err)
}

// secretError puts the flag a secret came from, if any, before what is
// wrong with it.
func secretError(from string, err error) error {
	if err == nil || from == "" {
		return err
	}
	return fmt.Errorf("%s: %w", from, err)
}
