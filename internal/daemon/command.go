// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/daemon/config"
)

// Main is `berth daemon`: it parses dockerd-like flags, starts the daemon
// and serves until SIGINT or SIGTERM. Containers keep running after it
// exits; the next daemon re-adopts them.
func Main(args []string) int {
	// /proc/self must describe a thread whose namespaces nobody changed:
	// keep the main goroutine on the start-up thread.
	goruntime.LockOSThread()
	cfg := config.Default()
	var (
		configFile string
		logLevel   string
		insecure   []string
	)
	cmd := &cobra.Command{
		Use:           "berth daemon [OPTIONS]",
		Short:         "Run the berth daemon (the Docker Engine API server)",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			explicit := cmd.Flags().Changed("config-file")
			file := *cfg
			if err := file.Load(configFile, explicit); err != nil {
				return err
			}
			// as dockerd: a setting may come from the file or a flag, not both
			set, err := config.FileKeys(configFile)
			if err != nil && explicit {
				return err
			}
			var both []string
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if key := fileKey(f.Name); set[key] {
					both = append(both, key)
				}
				applyFlag(&file, cfg, f.Name)
			})
			if len(both) > 0 {
				return fmt.Errorf("the following directives are specified both as a flag and in the configuration file: %s", strings.Join(both, ", "))
			}
			if len(insecure) > 0 {
				file.InsecureRegistries = append(file.InsecureRegistries, insecure...)
			}
			return run(cmd.Context(), &file, logLevel)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&cfg.Hosts, "host", "H", nil, "Daemon socket(s) to connect to")
	f.StringVar(&cfg.DataRoot, "data-root", cfg.DataRoot, "Root directory of persistent berth state")
	f.StringVar(&cfg.ExecRoot, "exec-root", cfg.ExecRoot, "Root directory for execution state files")
	f.StringVarP(&cfg.Pidfile, "pidfile", "p", "", "Path to use for daemon PID file (default <exec-root>/berth.pid)")
	f.StringVar(&configFile, "config-file", config.DefaultFile, "Daemon configuration file")
	f.BoolVarP(&cfg.Debug, "debug", "D", false, "Enable debug mode")
	f.StringVarP(&logLevel, "log-level", "l", "info", `Set the logging level ("debug"|"info"|"warn"|"error")`)
	f.StringVar(&cfg.LogFormat, "log-format", "text", `Set the logging format ("text"|"json")`)
	f.StringVar(&cfg.CgroupParent, "cgroup-parent", cfg.CgroupParent, "Set parent cgroup for all containers")
	f.StringSliceVar(&insecure, "insecure-registry", nil, "Enable insecure registry communication")
	f.StringVarP(&cfg.Bridge, "bridge", "b", cfg.Bridge, "Attach containers to a network bridge")
	f.StringVar(&cfg.BIP, "bip", "", "Specify network bridge IP")
	f.BoolVar(&cfg.IPForward, "ip-forward", true, "Enable net.ipv4.ip_forward")
	f.BoolVar(&cfg.IPTables, "iptables", true, "Enable addition of nftables rules")
	f.BoolVar(&cfg.TLS, "tls", false, "Use TLS; implied by --tlsverify")
	f.BoolVar(&cfg.TLSVerify, "tlsverify", false, "Use TLS and verify the remote")
	f.StringVar(&cfg.TLSCACert, "tlscacert", "", "Trust certs signed only by this CA")
	f.StringVar(&cfg.TLSCert, "tlscert", "", "Path to TLS certificate file")
	f.StringVar(&cfg.TLSKey, "tlskey", "", "Path to TLS key file")
	cmd.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "berth daemon:", err)
		return 1
	}
	return 0
}

// fileKey is the config file's name for a flag.
func fileKey(flag string) string {
	if flag == "host" {
		return "hosts"
	}
	if flag == "insecure-registry" {
		return "insecure-registries"
	}
	return flag
}

func applyFlag(dst, src *config.Config, name string) {
	switch name {
	case "host":
		dst.Hosts = src.Hosts
	case "data-root":
		dst.DataRoot = src.DataRoot
	case "exec-root":
		dst.ExecRoot = src.ExecRoot
	case "pidfile":
		dst.Pidfile = src.Pidfile
	case "debug":
		dst.Debug = src.Debug
	case "log-format":
		dst.LogFormat = src.LogFormat
	case "cgroup-parent":
		dst.CgroupParent = src.CgroupParent
	case "bridge":
		dst.Bridge = src.Bridge
	case "bip":
		dst.BIP = src.BIP
	case "ip-forward":
		dst.IPForward = src.IPForward
	case "iptables":
		dst.IPTables = src.IPTables
	case "tls":
		dst.TLS = src.TLS
	case "tlsverify":
		dst.TLSVerify = src.TLSVerify
	case "tlscacert":
		dst.TLSCACert = src.TLSCACert
	case "tlscert":
		dst.TLSCert = src.TLSCert
	case "tlskey":
		dst.TLSKey = src.TLSKey
	}
}

// gcPercent is the daemon's GOGC when the environment sets none. Its live
// heap is small (about 2 MB with no containers), so at Go's default of 100
// it collected about every second `run --rm` (every 2 MB allocated), and
// each collection's mark workers took 1 to 3 ms of CPU that the CLI, the
// monitor and the container's init wait for on a small host. At 200 it
// collects half as often: `run --rm --network none` took 2.5 ms less
// (interleaved, 150 runs each against a daemon at 100, 200 and 400:
// 26.8, 24.3 and 24.8 ms), for 2.4 MB more resident memory (RssAnon
// 10.1 against 12.5 MB after the same runs; 21.6 MB at 400).
const gcPercent = 200

func run(ctx context.Context, cfg *config.Config, logLevel string) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("invalid log level %q", logLevel)
	}
	if cfg.Debug {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, hopts)
	}
	log := slog.New(h)
	d, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.Serve(ctx)
	log.Info("daemon stopped; containers keep running")
	return err
}
