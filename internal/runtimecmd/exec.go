package runtimecmd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func execCmd(g *globals) *cobra.Command {
	var (
		processPath, consoleSocket, pidFile, cwd, userSpec string
		env, caps, gids                                    []string
		tty, detach, noNewPrivs                            bool
		preserveFDs                                        int
		ignoredS                                           string
		ignoredB                                           bool
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] <container-id> <command> [command options]  ||  -p process.json <container-id>",
		Short: "execute new process inside the container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt := g.runtime()
			id := args[0]
			st, err := rt.Load(id)
			if err != nil {
				return err
			}
			var p *specs.Process
			if processPath != "" {
				data, err := os.ReadFile(processPath)
				if err != nil {
					return err
				}
				p = &specs.Process{}
				if err := json.Unmarshal(data, p); err != nil {
					return fmt.Errorf("parse process %s: %w", processPath, err)
				}
			} else {
				if len(args) < 2 {
					return fmt.Errorf("exec: no command given")
				}
				// As in runc, the container's own process is the template.
				spec, err := rt.Spec(st)
				if err != nil {
					return err
				}
				base := *spec.Process
				p = &base
				p.Args = args[1:]
				p.Terminal = tty
				p.Env = append(append([]string{}, p.Env...), env...)
				if cwd != "" {
					p.Cwd = cwd
				}
				if userSpec != "" {
					if err := parseUser(userSpec, &p.User); err != nil {
						return err
					}
				}
				for _, gs := range gids {
					n, err := strconv.ParseUint(gs, 10, 32)
					if err != nil {
						return fmt.Errorf("invalid additional gid %q", gs)
					}
					p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
				}
				if len(caps) > 0 && p.Capabilities != nil {
					c := *p.Capabilities
					for _, name := range caps {
						c.Bounding = append(c.Bounding, name)
						c.Effective = append(c.Effective, name)
						c.Permitted = append(c.Permitted, name)
					}
					p.Capabilities = &c
				}
				if noNewPrivs {
					p.NoNewPrivileges = true
				}
			}
			opts := runtime.ExecOpts{Process: p, ConsoleSocket: consoleSocket, PidFile: pidFile, PreserveFDs: preserveFDs}
			if detach {
				_, err := rt.Exec(id, opts)
				return err
			}
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				return err
			}
			var term *terminal
			if p.Terminal && consoleSocket == "" {
				term = &terminal{}
				opts.Console = term.attach
			}
			pid, err := rt.Exec(id, opts)
			if err != nil {
				return err
			}
			sigs := forwardSignals(pid)
			code := waitPid(pid, term)
			signal.Stop(sigs)
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&processPath, "process", "p", "", "path to the process.json")
	f.StringVar(&consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	f.StringVar(&pidFile, "pid-file", "", "specify the file to write the process id to")
	f.StringVar(&cwd, "cwd", "", "current working directory in the container")
	f.StringVarP(&userSpec, "user", "u", "", "UID (format: <uid>[:<gid>])")
	f.StringArrayVarP(&env, "env", "e", nil, "set environment variables")
	f.StringArrayVarP(&caps, "cap", "c", nil, "add a capability to the bounding set for the process")
	f.StringArrayVarP(&gids, "additional-gids", "g", nil, "additional gids")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&detach, "detach", "d", false, "detach from the container's process")
	f.BoolVar(&noNewPrivs, "no-new-privs", false, "set the no new privileges value for the process")
	f.IntVar(&preserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container")
	f.StringVar(&ignoredS, "process-label", "", "ignored: SELinux is not supported")
	f.StringVar(&ignoredS, "apparmor", "", "ignored: AppArmor is not supported")
	f.StringVar(&ignoredS, "cgroup", "", "ignored: exec always joins the container's cgroup")
	f.BoolVar(&ignoredB, "ignore-paused", false, "ignored")
	return cmd
}

func parseUser(s string, u *specs.User) error {
	uidS, gidS, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(uidS, 10, 32)
	if err != nil {
		return fmt.Errorf("invalid user %q: want <uid>[:<gid>]", s)
	}
	u.UID = uint32(uid)
	if hasGid {
		gid, err := strconv.ParseUint(gidS, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid user %q: want <uid>[:<gid>]", s)
		}
		u.GID = uint32(gid)
	}
	return nil
}
