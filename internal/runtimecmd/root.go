// Package runtimecmd is berth's runc-compatible command line: the same
// verbs, flags and output as runc, so that engines such as containerd and
// Docker can use berth as their OCI runtime (`berth runtime ...`, or the
// binary invoked as `berth-runc`).
package runtimecmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-project/berth/internal/version"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/berth-project/berth/internal/runtime"
	"github.com/spf13/cobra"
)

// Version is reported by --version.
var Version = version.Version

type globals struct {
	root      string
	logPath   string
	logFormat string
	debug     bool
	systemd   bool
	log       *slog.Logger
	logFile   io.Closer
}

func (g *globals) runtime() *runtime.Runtime { return runtime.New(g.root, g.log) }

// exitError carries a process exit status through cobra without printing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the runtime command line with args (without the program name)
// and returns the process exit status.
func Main(args []string) int {
	g := &globals{}
	root := &cobra.Command{
		Use:           "berth-runc",
		Short:         "berth's OCI runtime, runc-compatible",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setupLog()
		},
	}
	root.SetVersionTemplate("berth-runc version {{.Version}}\nspec: " + specVersion() + "\n")
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", "/run/berth/runtime", "root directory for storage of container state (this should be located in tmpfs)")
	pf.StringVar(&g.logPath, "log", "", "set the log file to write runtime logs to (default is stderr)")
	pf.StringVar(&g.logFormat, "log-format", "text", "set the log format ('text' (default), or 'json')")
	pf.BoolVar(&g.debug, "debug", false, "enable debug logging")
	pf.BoolVar(&g.systemd, "systemd-cgroup", false, "enable systemd cgroup support (not supported by berth)")
	var ignoredS string
	var ignoredB bool
	pf.StringVar(&ignoredS, "criu", "", "ignored: checkpoint/restore is not supported")
	pf.StringVar(&ignoredS, "rootless", "auto", "ignored: berth's runtime runs as root")
	pf.BoolVar(&ignoredB, "no-pivot-root-fallback", false, "ignored")
	root.AddCommand(
		createCmd(g), startCmd(g), runCmd(g), stateCmd(g), killCmd(g), deleteCmd(g),
		execCmd(g), psCmd(g), pauseCmd(g), resumeCmd(g), updateCmd(g), listCmd(g),
		specCmd(g), featuresCmd(g),
	)
	root.SetArgs(args)
	err := root.Execute()
	if g.logFile != nil {
		defer g.logFile.Close()
	}
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	g.logError(err)
	return 1
}

func (g *globals) setupLog() error {
	var w io.Writer = os.Stderr
	if g.logPath != "" {
		f, err := os.OpenFile(g.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return err
		}
		w, g.logFile = f, f
	}
	level := slog.LevelInfo
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" {
		g.log = slog.New(slog.NewJSONHandler(w, opts))
	} else {
		g.log = slog.New(slog.NewTextHandler(w, opts))
	}
	return nil
}

// logError reports a failure the way runc does: one line on stderr, and a
// JSON record with level "error" and "msg" in the log file, which is where
// containerd's shim looks for the reason.
func (g *globals) logError(err error) {
	if g.logPath != "" && g.logFormat == "json" && g.logFile != nil {
		rec, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().Format(time.RFC3339Nano)})
		g.logFile.(io.Writer).Write(append(rec, '\n'))
	}
	fmt.Fprintln(os.Stderr, "berth-runc: "+err.Error())
}

func exactArgs(n int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: %q requires exactly %d argument(s): %s", cmd.CommandPath(), cmd.Name(), n, usage)
		}
		return nil
	}
}
