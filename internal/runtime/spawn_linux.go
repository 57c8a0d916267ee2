package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// This file is the runtime's side of starting `berth init`: the command,
// the handshake with nsenter.c and the conversation with init's Go side.

// initCommand prepares `berth init`, executed from the sealed binary. Its
// extra files are the caller's preserved fds (3 .. 3+preserve-1), then the
// sync socket, then (for create) the start listener.
func initCommand(stdio IO, preserve int, child, listener *os.File, extra ...*os.File) (*exec.Cmd, error) {
	exe, err := sealedExe()
	if err != nil {
		return nil, fmt.Errorf("seal berth binary: %w", err)
	}
	cmd := &exec.Cmd{
		Args:   []string{"berth", "init"},
		Env:    []string{"_BERTH_SYNCFD=" + strconv.Itoa(3+preserve)},
		Stdin:  orStd(stdio.Stdin, os.Stdin),
		Stdout: orStd(stdio.Stdout, os.Stdout),
		Stderr: orStd(stdio.Stderr, os.Stderr),
	}
	for i := 0; i < preserve; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved"))
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, child)
	if listener != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, listener)
		// a container's init: its first message says whether it is built
		// by nsenter/initstage.c (a plan) or by the Go init ("g")
		cmd.Env = append(cmd.Env, "_BERTH_LISTENFD="+strconv.Itoa(4+preserve), "_BERTH_INIT=stage")
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, extra...)
	// The sealed binary is executed by its number in the child. It goes
	// last among the child's files: in the parent it may have any number,
	// including one that the child's dup2 of the files above overwrites.
	exeFD := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, exe)
	cmd.Path = "/proc/self/fd/" + strconv.Itoa(exeFD)
	cmd.Env = append(cmd.Env, "_BERTH_EXEFD="+strconv.Itoa(exeFD))
	return cmd, nil
}

// Child is the intermediate process of a create or exec: the one that
// runs nsenter.c, forks the container's process and exits. A Launcher
// starts it from the prepared command; the default starts it as the
// caller's child. A container monitor starts it as its own child instead,
// so that the container's process is re-parented to the monitor (a child
// subreaper) when the intermediate process exits.
type Child interface {
	Pid() int
	// Kill kills the intermediate process, on failure.
	Kill() error
	// Wait reaps it, if the launcher's caller is its parent.
	Wait() error
}

// A Launcher starts cmd (Path, Args, Env, stdio and ExtraFiles, which it
// must give the child at the same numbers) and returns the started child.
type Launcher func(cmd *exec.Cmd) (Child, error)

type cmdChild struct{ cmd *exec.Cmd }

func (c cmdChild) Pid() int    { return c.cmd.Process.Pid }
func (c cmdChild) Kill() error { return c.cmd.Process.Kill() }
func (c cmdChild) Wait() error {
	if c.cmd.ProcessState != nil {
		return nil
	}
	return c.cmd.Wait()
}

// launch starts cmd with l, or as the caller's child when l is nil.
func launch(l Launcher, cmd *exec.Cmd) (Child, error) {
	if l != nil {
		return l(cmd)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmdChild{cmd}, nil
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// handshake drives nsenter.c: it answers "C" with the cgroup to join
// (cgroupPaths waits until the cgroup exists); for a new user namespace it
// answers "R" with "G" once writeMaps has written the id maps. It then reads
// the PID of the process that becomes the container and reaps the
// intermediate process.
func (r *Runtime) handshake(sock syncSocket, cmd Child, cgroupPaths func() (map[string]string, error), writeMaps func(pid int) error) (int, error) {
	fail := func(err error) (int, error) {
		cmd.Kill()
		cmd.Wait()
		return 0, err
	}
	if _, err := sock.readLetter('C'); err != nil {
		return fail(err)
	}
	paths, err := cgroupPaths()
	if err != nil {
		return fail(err)
	}
	if err := unix.Sendmsg(int(sock.f.Fd()), cgroupMessage(paths), nil, nil, 0); err != nil {
		return fail(err)
	}
	if writeMaps != nil {
		if _, err := sock.readLetter('R'); err != nil {
			return fail(err)
		}
		if err := writeMaps(cmd.Pid()); err != nil {
			return fail(err)
		}
		if err := unix.Sendmsg(int(sock.f.Fd()), []byte("G"), nil, nil, 0); err != nil {
			return fail(err)
		}
	}
	pid, err := sock.readPid()
	if err != nil {
		return fail(err)
	}
	cmd.Wait()
	return pid, nil
}

// cgroupMessage tells nsenter.c which cgroup to join: the tasks file of
// each v1 hierarchy ("t:"), and the directory on the v2 hierarchy ("u:"),
// which the cgroup paths map under the empty key.
func cgroupMessage(paths map[string]string) []byte {
	var b strings.Builder
	b.WriteString("G")
	seen := map[string]bool{}
	for key, p := range paths {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		if key == "" {
			b.WriteString("u:" + p + "\n")
		} else {
			b.WriteString("t:" + filepath.Join(p, "tasks") + "\n")
		}
	}
	return []byte(b.String())
}

// sendConfig sends init (or the C stage of an exec) what to do: the plan,
// if there is one, else the Go init's configuration.
func sendConfig(sock syncSocket, cfg *initConfig) error {
	if cfg.plan != nil {
		if err := unix.Sendmsg(int(sock.f.Fd()), cfg.plan, nil, nil, 0); err != nil {
			return fmt.Errorf("send plan to init: %w", err)
		}
	} else if err := sock.send(message{Type: msgConfig, Config: cfg}); err != nil {
		return fmt.Errorf("send config to init: %w", err)
	}
	return nil
}

// converse serves init's requests, once it has its configuration
// (sendConfig), until it reports ready.
func (r *Runtime) converse(sock syncSocket, cfg *initConfig, st *State, consoleSocket string, console func(*os.File) error) error {
	hooks := hooksOf(cfg.Spec)
	for {
		m, fds, ok, err := sock.recv()
		if err != nil {
			return err
		}
		if !ok {
			if cfg.Exec {
				return nil // the process was executed
			}
			return errors.New("init exited before the container was created")
		}
		switch m.Type {
		case msgHooks:
			state := cfg.State
			if err := runHooks("prestart", hooks.Prestart, state); err != nil {
				sock.send(message{Type: msgError, Error: err.Error()})
				return err
			}
			if err := runHooks("createRuntime", hooks.CreateRuntime, state); err != nil {
				sock.send(message{Type: msgError, Error: err.Error()})
				return err
			}
			if err := sock.send(message{Type: msgHooksDone}); err != nil {
				return err
			}
		case msgPty:
			if len(fds) != 1 {
				return errors.New("init sent no pty")
			}
			master := os.NewFile(uintptr(fds[0]), "pty-master")
			if err := passConsole(master, consoleSocket, console); err != nil {
				return err
			}
		case msgReady:
			if cfg.plan != nil && !cfg.Exec {
				// initstage.c waits for this before it waits for
				// `start`: the state is saved (without it, because this
				// create died first, init exits). It is sent only now,
				// so that an init that fails has nothing unread: its
				// socket's close would reset the connection before its
				// error could be read.
				if err := unix.Sendmsg(int(sock.f.Fd()), []byte("mstate\n"), nil, nil, 0); err != nil {
					return fmt.Errorf("tell init the state is saved: %w", err)
				}
			}
			return nil
		case msgLog:
			r.Log.Debug("init: "+m.Error, "id", cfg.ID)
		case msgError:
			return errors.New(m.Error)
		default:
			return fmt.Errorf("unexpected message %q from init", m.Type)
		}
	}
}

// sendNamespaces tells nsenter.c which namespaces to create (clone flags)
// and join ("type=path;..."), and the time namespace's offsets, as
// "N<flags>\n<join>\n<offsets>".
func sendNamespaces(sock syncSocket, newFlags int, join string, offsets map[string]specs.LinuxTimeOffset) error {
	msg := "N" + strconv.Itoa(newFlags) + "\n" + join + "\n" + timensOffsets(offsets)
	if err := unix.Sendmsg(int(sock.f.Fd()), []byte(msg), nil, nil, 0); err != nil {
		return fmt.Errorf("send namespaces to init: %w", err)
	}
	return nil
}

// timensOffsets formats the spec's time offsets for /proc/self/timens_offsets.
func timensOffsets(offsets map[string]specs.LinuxTimeOffset) string {
	var b strings.Builder
	for clock, o := range offsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, o.Secs, o.Nanosecs)
	}
	return b.String()
}
