package runtimecmd

import (
	"encoding/hex"
	"errors"
	"os"
	"os/signal"
	"time"

	"github.com/berth-project/berth/internal/runtime"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

type createFlags struct {
	bundle, consoleSocket, pidFile string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (f *createFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", "", "path to the root of the bundle directory, defaults to the current directory")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	fl.StringVar(&f.pidFile, "pid-file", "", "specify the file to write the process id to")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "do not use pivot root to jail process inside rootfs")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "do not create a new session keyring for the container")
	fl.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)")
}

func (f *createFlags) opts(id string) runtime.CreateOpts {
	b := f.bundle
	if b == "" {
		b, _ = os.Getwd()
	}
	return runtime.CreateOpts{ID: id, Bundle: b, ConsoleSocket: f.consoleSocket, PidFile: f.pidFile, NoPivot: f.noPivot, NoNewKeyring: f.noNewKeyring, PreserveFDs: f.preserveFDs}
}

func createCmd(g *globals) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "create a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := g.runtime().Create(f.opts(args[0]))
			return err
		},
	}
	f.add(cmd)
	return cmd
}

func startCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "executes the user defined process in a created container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// berth's C constructor started the container and init
			// reported an error (see internal/runtime/nsenter/faststart.c).
			if v, ok := os.LookupEnv("_BERTH_START_FAILED"); ok {
				os.Unsetenv("_BERTH_START_FAILED")
				msg, err := hex.DecodeString(v)
				if err != nil {
					msg = []byte(v)
				}
				return runtime.StartFailure(msg)
			}
			return g.runtime().Start(args[0])
		},
	}
}

func runCmd(g *globals) *cobra.Command {
	f := &createFlags{}
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "create and run a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			rt := g.runtime()
			if !detach {
				// init is re-parented to us when its intermediate parent exits.
				if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
					return err
				}
			}
			opts := f.opts(id)
			var term *terminal
			if !detach && opts.ConsoleSocket == "" {
				term = &terminal{}
				opts.Console = term.attach
			}
			st, err := rt.Create(opts)
			if err != nil {
				return err
			}
			if err := rt.Start(id); err != nil {
				rt.Delete(id, true)
				return err
			}
			if detach {
				return nil
			}
			sigs := forwardSignals(st.Pid)
			t0 := time.Now()
			code := waitPid(st.Pid, term)
			g.log.Debug("run: container exited", "id", id, "waited", time.Since(t0))
			signal.Stop(sigs)
			if !keep {
				if err := rt.Delete(id, true); err != nil {
					return err
				}
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "detach from the container's process")
	cmd.Flags().BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	return cmd
}

// forwardSignals relays the signals a foreground runtime receives to the
// container's process, as runc run does.
func forwardSignals(pid int) chan os.Signal {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		for s := range ch {
			unix.Kill(pid, s.(unix.Signal))
		}
	}()
	return ch
}

// waitPid waits for a re-parented child and returns its exit code in the
// shell's convention (128+signal when killed). Other orphans that reach us
// meanwhile are reaped too.
func waitPid(pid int, term *terminal) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 255
		}
		if got != pid {
			continue
		}
		if term != nil {
			term.drain()
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}
