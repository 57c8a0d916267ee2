package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The runtime and `berth init` talk over a SOCK_SEQPACKET socket pair: every
// write is one message. The C constructor sends the single-letter messages
// "R", "P<pid>" and "E<error>"; after that both sides exchange messages
// "m<type>\n<error>", and the runtime sends init its configuration as
// "c<initConfig as JSON>\n<config.json as read>". Only the configuration
// is JSON: encoding/json prepares an encoder for every type a struct can
// reach before it encodes one, which would cost each init the whole of
// specs.Process for a "ready".
const (
	msgConfig    = "config"     // runtime → init: initConfig
	msgHooks     = "hooks"      // init → runtime: run prestart and createRuntime hooks now
	msgHooksDone = "hooks-done" // runtime → init
	msgPty       = "pty"        // init → runtime, carries the pty master as SCM_RIGHTS
	msgReady     = "ready"      // init → runtime: created, waiting for start
	msgError     = "error"      // either way
	msgLog       = "log"        // init → runtime: a debug line (in Error)
)

type message struct {
	Type   string
	Error  string
	Config *initConfig // msgConfig
}

// initConfig is everything `berth init` needs to build the container or to
// run a process in it.
type initConfig struct {
	Exec   bool   `json:"exec,omitempty"` // run Process in an existing container
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	Rootfs string `json:"rootfs"`
	// RawSpec is config.json as the runtime read it (sent after the
	// JSON); init decodes it into Spec. Process, when set, replaces
	// Spec.Process (exec); it travels as RawProcess.
	RawSpec     []byte          `json:"-"`
	Spec        *specs.Spec     `json:"-"`
	Process     *specs.Process  `json:"-"`
	RawProcess  json.RawMessage `json:"process,omitempty"`
	NoPivot     bool            `json:"noPivot,omitempty"`
	State       []byte          `json:"state,omitempty"` // hook input for createContainer/startContainer
	PreserveFDs int             `json:"preserveFds,omitempty"`
	NewUTS      bool            `json:"newUTS,omitempty"`
	// Path is the program, found in the container at create.
	Path string `json:"-"`
	// caps are the process's capabilities, resolved at create.
	caps *capSets
	// seccomp is the process's filter: the runtime compiles it and sends
	// it as SeccompFilter (compileSeccomp), with a spec without the
	// profile.
	seccomp       *seccomp.Filter
	SeccompFilter []byte `json:"seccompFilter,omitempty"`
	// NewCgroupNS asks init to unshare its cgroup namespace.
	NewCgroupNS bool `json:"newCgroupNS,omitempty"`
	// NoNewKeyring keeps the caller's session keyring (--no-new-keyring).
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`

	// Debug makes init report the time of its steps.
	Debug bool `json:"debug,omitempty"`
	// plan, for an exec, replaces the configuration: nsenter/execstage.c
	// runs the process from it (execPlan).
	plan []byte
}

type syncSocket struct{ f *os.File }

func newSocketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// readRaw reads one message; io.EOF-like empty reads give ("", nil, nil) with ok false.
func (s syncSocket) readRaw() ([]byte, []int, bool, error) {
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		// Peek at the message's length first: a large buffer allocated
		// for every message costs page faults on each container start.
		size, _, err := unix.Recvfrom(int(s.f.Fd()), nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, false, err
		}
		buf := make([]byte, max(size, 1))
		n, oobn, _, _, err := unix.Recvmsg(int(s.f.Fd()), buf, oob, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, false, err
		}
		var fds []int
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil {
				for _, m := range msgs {
					if got, err := unix.ParseUnixRights(&m); err == nil {
						fds = append(fds, got...)
					}
				}
			}
		}
		if n == 0 && len(fds) == 0 {
			return nil, nil, false, nil
		}
		return buf[:n], fds, true, nil
	}
}

// readPid reads the constructor's "P<pid>" (or its error).
func (s syncSocket) readLetter(want byte) (string, error) {
	b, _, ok, err := s.readRaw()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("init exited before it reported")
	}
	switch {
	case b[0] == 'E':
		return "", errors.New(string(b[1:]))
	case b[0] != want:
		return "", fmt.Errorf("unexpected message %q from init", b)
	}
	return string(b[1:]), nil
}

func (s syncSocket) readPid() (int, error) {
	p, err := s.readLetter('P')
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

func (s syncSocket) send(m message, fds ...int) error {
	var data []byte
	if c := m.Config; c != nil {
		if c.Process != nil {
			p, err := json.Marshal(c.Process)
			if err != nil {
				return err
			}
			c.RawProcess = p
		}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		data = append(append(append([]byte("c"), b...), '\n'), c.RawSpec...)
	} else {
		data = []byte("m" + m.Type + "\n" + m.Error)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(int(s.f.Fd()), data, oob, nil, 0)
}

// recv reads one message. ok is false at end of stream.
func (s syncSocket) recv() (m message, fds []int, ok bool, err error) {
	b, fds, ok, err := s.readRaw()
	if err != nil || !ok {
		return m, fds, ok, err
	}
	m, err = parseMessage(b)
	return m, fds, true, err
}

// parseMessage decodes one message as send wrote it.
func parseMessage(b []byte) (message, error) {
	bad := func() (message, error) {
		return message{}, fmt.Errorf("bad message %.20q from peer", b)
	}
	if len(b) == 0 {
		return bad()
	}
	switch b[0] {
	case 'E':
		return message{Type: msgError, Error: string(b[1:])}, nil
	case 'm':
		typ, text, found := strings.Cut(string(b[1:]), "\n")
		if !found {
			return bad()
		}
		return message{Type: typ, Error: text}, nil
	case 'c':
		head, spec, found := bytes.Cut(b[1:], []byte("\n"))
		if !found {
			return bad()
		}
		var c initConfig
		if err := json.Unmarshal(head, &c); err != nil {
			return message{}, fmt.Errorf("bad configuration from runtime: %w", err)
		}
		c.RawSpec = spec
		if len(c.RawProcess) > 0 {
			c.Process = new(specs.Process)
			if err := json.Unmarshal(c.RawProcess, c.Process); err != nil {
				return message{}, fmt.Errorf("bad process from runtime: %w", err)
			}
		}
		return message{Type: msgConfig, Config: &c}, nil
	}
	return bad()
}
