package runtimecmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/sys/signal"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func killCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "kill sends the specified signal (default: SIGTERM) to the container's init process",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				s, err := parseSignal(args[1])
				if err != nil {
					return err
				}
				sig = s
			}
			return g.runtime().Kill(args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the specified signal to all processes inside the container")
	return cmd
}

func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	sig, ok := signal.SignalMap[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	if !ok {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	return unix.Signal(sig), nil
}

func deleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [flags] <container-id>",
		Short: "delete any resources held by the container often used with detached container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.runtime().Delete(args[0], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "forcibly deletes the container if it is still running (uses SIGKILL)")
	return cmd
}

func pauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause <container-id>",
		Short: "pause suspends all processes inside the container",
		Args:  exactArgs(1, "<container-id>"),
		RunE:  func(cmd *cobra.Command, args []string) error { return g.runtime().Pause(args[0]) },
	}
}

func resumeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume <container-id>",
		Short: "resumes all processes that have been previously paused",
		Args:  exactArgs(1, "<container-id>"),
		RunE:  func(cmd *cobra.Command, args []string) error { return g.runtime().Resume(args[0]) },
	}
}
