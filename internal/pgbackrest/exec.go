package pgbackrest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pgBackRest's error codes that callers tell apart (its exit status is the
// code of the error it stopped with; the list is its
// src/build/error/error.yaml).
const (
	// ErrFileInvalid: stanza-create found info files that do not match
	// the database (another cluster's stanza), among others.
	ErrFileInvalid = 28
	// ErrLockAcquire: another command holds the stanza's lock.
	ErrLockAcquire = 50
)

// Exec runs pgbackrest. Its output goes, line by line and prefixed with
// what ran, to Lines: the container's output. pgBackRest writes no secret
// there (it prints its options at "command begin" with secure ones, such as
// S3 keys and cipher passphrases, as <redacted>), and Exec puts none on a
// command line: secrets live in the configuration's include path.
type Exec struct {
	// Path is the pgbackrest program; "pgbackrest" (found in PATH) when
	// empty.
	Path string
	// Env is added to the process's environment.
	Env []string
	// Credential runs pgbackrest as another user (tests run as root,
	// pgBackRest as the postgres user); nil: as this process.
	Credential *syscall.Credential
	// Lines receives the output; os.Stdout when nil.
	Lines *Lines
	// Grace is how long a command has to stop after SIGTERM (a timeout, a
	// cancelled context) before it is killed; 10 s when 0.
	Grace time.Duration
}

// Lines is an output that many processes share: each line is written
// whole, after a prefix that names the process.
type Lines struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLines writes lines to w.
func NewLines(w io.Writer) *Lines { return &Lines{w: w} }

var stdoutLines = NewLines(os.Stdout)

// Line writes one line.
func (o *Lines) Line(prefix, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = io.WriteString(o.w, prefix+line+"\n")
}

func (e *Exec) lines() *Lines {
	if e.Lines == nil {
		return stdoutLines
	}
	return e.Lines
}

// command is pgbackrest with args, in a process group of its own (so that
// a stop reaches the processes it starts: locals, remotes).
func (e *Exec) command(args []string) *exec.Cmd {
	path := e.Path
	if path == "" {
		path = "pgbackrest"
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), e.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: e.Credential}
	return cmd
}

func (e *Exec) grace() time.Duration {
	if e.Grace <= 0 {
		return 10 * time.Second
	}
	return e.Grace
}

// Error is a pgbackrest command that failed.
type Error struct {
	// Command is what ran, such as "stanza-create".
	Command string
	// Code is pgBackRest's error code: its exit status; -1 when it was
	// killed.
	Code int
	// Messages are pgBackRest's ERROR lines, each with the lines that
	// continue it (HINTs, an S3 answer).
	Messages []string
	// TimedOut: it ran out of time and was stopped.
	TimedOut bool
	// Timeout is the time it had.
	Timeout time.Duration
}

func (e *Error) Error() string {
	var what string
	switch {
	case e.TimedOut:
		what = fmt.Sprintf("did not finish within %s and was stopped", e.Timeout)
	case len(e.Messages) > 0:
		what = "failed: " + strings.Join(e.Messages, "\n")
	default:
		what = fmt.Sprintf("failed with exit status %d", e.Code)
	}
	return "pgbackrest " + e.Command + " " + what
}

// Message is what pgBackRest said, without the command.
func (e *Error) Message() string {
	if len(e.Messages) == 0 {
		return e.Error()
	}
	return strings.Join(e.Messages, "\n")
}

// ErrorCode is the pgBackRest error code of err, 0 when it is none.
func ErrorCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// Run runs pgbackrest with args (the first is the command) for at most
// timeout. Its output (stdout and stderr) goes to Lines, each line after
// prefix, and to see when not nil. A failure is an *Error with
// pgBackRest's ERROR lines.
func (e *Exec) Run(ctx context.Context, timeout time.Duration, prefix string, args []string, see func(line string)) error {
	errs := &errorLines{}
	out := e.lines()
	w := lineWriter(func(line string) {
		out.Line(prefix, line)
		errs.see(line)
		if see != nil {
			see(line)
		}
	})
	return e.run(ctx, timeout, args, w, w, errs)
}

// Output runs pgbackrest with args for at most timeout and returns what it
// writes to stdout (such as `info --output=json`); its stderr goes to
// Lines after prefix, or nowhere when prefix is empty (the error has its
// ERROR lines). Console logging is off, errors go to stderr.
func (e *Exec) Output(ctx context.Context, timeout time.Duration, prefix string, args []string) ([]byte, error) {
	errs := &errorLines{}
	out := e.lines()
	var buf bytes.Buffer
	stderr := lineWriter(func(line string) {
		if prefix != "" {
			out.Line(prefix, line)
		}
		errs.see(line)
	})
	args = append(slices.Clone(args), "--log-level-console=off", "--log-level-stderr=warn")
	err := e.run(ctx, timeout, args, &buf, stderr, errs)
	return buf.Bytes(), err
}

func (e *Exec) run(ctx context.Context, timeout time.Duration, args []string, stdout, stderr io.Writer, errs *errorLines) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := e.command(args)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Processes pgbackrest left behind must not hold the output open.
	cmd.WaitDelay = e.grace()
	name := ""
	if len(args) > 0 {
		name = args[0]
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting pgbackrest %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stopGroup(cmd.Process.Pid, e.grace(), done)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	for _, w := range []io.Writer{stdout, stderr} {
		if l, ok := w.(*lineBuffer); ok {
			l.Flush()
		}
	}
	if err == nil {
		return nil
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("running pgbackrest %s: %w", name, err)
	}
	return &Error{Command: name, Code: exit.ExitCode(), Messages: errs.messages(),
		TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded), Timeout: timeout}
}

// stopGroup sends SIGTERM to a process group, and SIGKILL after grace
// unless done closes first.
func stopGroup(pid int, grace time.Duration, done <-chan struct{}) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// lineBuffer calls a function with each whole line written to it.
type lineBuffer struct {
	mu   sync.Mutex
	buf  []byte
	line func(string)
}

func lineWriter(f func(string)) *lineBuffer { return &lineBuffer{line: f} }

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.line(string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// Flush hands over a last line that has no newline.
func (l *lineBuffer) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.line(string(l.buf))
		l.buf = nil
	}
}

// errorLines keeps pgBackRest's ERROR lines and their continuations:
// pgBackRest indents the lines of a message after the first (HINTs, an S3
// answer) to the column where it starts.
type errorLines struct {
	mu     sync.Mutex
	msgs   []string
	indent int // of the open message's continuations; 0: none is open
}

// errorLine matches "... P00  ERROR: [056]: message" (console, with a
// timestamp) and "P00  ERROR: [056]: message" (stderr).
var errorLine = regexp.MustCompile(`\b(?:ERROR|ASSERT): (\[\d+\]: .*)$`)

func (e *errorLines) see(line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := errorLine.FindStringSubmatchIndex(line); m != nil {
		e.msgs = append(e.msgs, line[m[2]:m[3]])
		e.indent = m[2]
		return
	}
	if e.indent > 0 && len(line) > e.indent && strings.TrimSpace(line[:e.indent]) == "" {
		if more := strings.TrimSpace(line); more != "" {
			e.msgs[len(e.msgs)-1] += "\n" + more
		}
		return
	}
	e.indent = 0
}

func (e *errorLines) messages() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.msgs...)
}

// Console lines pgBackRest writes, read by the callers of Run.
var backupLabel = regexp.MustCompile(`\bnew backup label = (\S+)`)

// BackupLabel is the label a backup's output line announces, if it does.
func BackupLabel(line string) (string, bool) {
	m := backupLabel.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}
