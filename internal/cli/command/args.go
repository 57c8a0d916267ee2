// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package command

import (
	"fmt"
	"github.com/berth-project/berth/internal/cli/client"
	"strings"

	"github.com/spf13/cobra"
)

// NoArgs fails like docker when a command that takes no argument gets one.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return StatusError{StatusCode: 1, Status: fmt.Sprintf("%s: unknown command: %s %s\n\nRun '%s --help' for more information",
			cmd.Root().Name(), cmd.CommandPath(), args[0], cmd.CommandPath())}
	}
	return usageError(cmd, fmt.Sprintf("'%s' accepts no arguments", cmd.CommandPath()), "Run")
}

// RequiresMinArgs fails unless at least min arguments are given.
func RequiresMinArgs(min int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min {
			return nil
		}
		return usageError(cmd, fmt.Sprintf("'%s' requires at least %d %s", cmd.CommandPath(), min, plural("argument", min)), "See")
	}
}

// RequiresMaxArgs fails when more than max arguments are given.
func RequiresMaxArgs(max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= max {
			return nil
		}
		return usageError(cmd, fmt.Sprintf("'%s' requires at most %d %s", cmd.CommandPath(), max, plural("argument", max)), "See")
	}
}

// ExactArgs fails unless exactly n arguments are given.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return usageError(cmd, fmt.Sprintf("'%s' requires %d %s", cmd.CommandPath(), n, plural("argument", n)), "See")
	}
}

// RequiresRangeArgs fails unless between min and max arguments are given.
func RequiresRangeArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && len(args) <= max {
			return nil
		}
		return usageError(cmd, fmt.Sprintf("'%s' requires at least %d and at most %d %s", cmd.CommandPath(), min, max, plural("argument", max)), "See")
	}
}

func plural(s string, n int) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

func usageError(cmd *cobra.Command, msg, verb string) error {
	return StatusError{StatusCode: 1, Status: fmt.Sprintf("%s: %s\n\nUsage:  %s\n\n%s '%s --help' for more information",
		cmd.Root().Name(), msg, cmd.UseLine(), verb, cmd.CommandPath())}
}

// FlagErrorFunc turns a flag parsing error into docker's message and exit
// status 125.
func FlagErrorFunc(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return StatusError{StatusCode: 125, Status: fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information",
		err, cmd.UseLine(), cmd.CommandPath())}
}

// RunError wraps an error of "run"/"create" as docker does: prefixed with
// the program name, with a pointer to --help, exit status 125 (126 or
// 127 when the command could not be invoked or found).
func RunError(cmd *cobra.Command, err error) error {
	if se, ok := err.(StatusError); ok {
		return se
	}
	msg := err.Error()
	code := 125
	switch {
	case client.IsErrConnectionFailed(err):
		msg = ConnectionFailed(err)
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"),
		strings.Contains(msg, "system cannot find the file specified"):
		code = 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		code = 126
	}
	return StatusError{StatusCode: code, Cause: err, Status: fmt.Sprintf("%s: %s\n\nRun '%s --help' for more information",
		cmd.Root().Name(), msg, cmd.CommandPath())}
}

// Confirm asks the user a yes/no question on the terminal; anything but
// "y" or "yes" is no.
func Confirm(cli *Cli, message string) bool {
	fmt.Fprintf(cli.Out(), "%s\nAre you sure you want to continue? [y/N] ", message)
	var answer string
	fmt.Fscanln(cli.In(), &answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

// ConnectionFailed words a failure to reach the daemon as docker does,
// naming the daemon's address.
func ConnectionFailed(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "failed to connect to the docker API at "); ok {
		host, _, _ := strings.Cut(rest, ";")
		host, _, _ = strings.Cut(host, ":"+" ")
		return fmt.Sprintf("Cannot connect to the berth daemon at %s. Is the berth daemon running?", host)
	}
	return msg
}
