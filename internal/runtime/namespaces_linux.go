package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// The names /proc/<pid>/ns uses, which nsenter.c also understands.
var nsProcNames = map[specs.LinuxNamespaceType]string{
	specs.UserNamespace:    "user",
	specs.MountNamespace:   "mnt",
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// nsEnv turns the spec's namespaces into the environment nsenter.c reads:
// the namespaces to join by path and the clone flags of the ones to create.
func nsEnv(nss []specs.LinuxNamespace) (join string, newFlags int, err error) {
	var parts []string
	for _, ns := range nss {
		if ns.Path == "" {
			newFlags |= nsFlags[ns.Type]
			continue
		}
		if strings.ContainsAny(ns.Path, ";=") {
			return "", 0, fmt.Errorf("namespace path %q contains ';' or '='", ns.Path)
		}
		if _, err := os.Stat(ns.Path); err != nil {
			return "", 0, fmt.Errorf("%s namespace path: %w", ns.Type, err)
		}
		parts = append(parts, nsProcNames[ns.Type]+"="+ns.Path)
	}
	return strings.Join(parts, ";"), newFlags, nil
}

// execJoin opens the namespaces of a running container's init that differ
// from the caller's (joining one's own user namespace is refused), for an
// exec to join. The descriptors are opened here and checked to belong to
// that init still (its start time), so a PID reused since by another
// process cannot lead the exec into that process's namespaces; the
// intermediate process gets them as files and nsenter.c joins them as
// "fd:<n>" (and closes them). The files go to initCommand after the sync
// socket, in this order, first at descriptor firstFD; the caller closes
// its copies.
func execJoin(pid int, start uint64, firstFD int) (join string, files []*os.File, err error) {
	var parts []string
	for _, name := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"} {
		theirs := "/proc/" + strconv.Itoa(pid) + "/ns/" + name
		f, err := os.Open(theirs)
		if errors.Is(err, os.ErrNotExist) {
			continue // a namespace type this kernel lacks
		}
		if err != nil {
			closeFiles(files)
			return "", nil, err
		}
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) != nil || isOwnNS(&st, name) {
			f.Close()
			continue
		}
		parts = append(parts, name+"=fd:"+strconv.Itoa(firstFD+len(files)))
		files = append(files, f)
	}
	if !processAlive(pid, start) {
		closeFiles(files)
		return "", nil, errorf(errdefs.ErrFailedPrecondition, "the container's init (pid %d) exited", pid)
	}
	return strings.Join(parts, ";"), files, nil
}

// isOwnNS reports whether st (a namespace file's) is the caller's
// namespace of that kind (name as under /proc/<pid>/ns).
func isOwnNS(st *unix.Stat_t, name string) bool {
	var own unix.Stat_t
	return unix.Stat("/proc/self/ns/"+name, &own) == nil && st.Ino == own.Ino && st.Dev == own.Dev
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// writeIDMaps writes a new user namespace's uid and gid maps from the
// parent, which is privileged in the parent namespace; see user_namespaces(7).
func writeIDMaps(pid int, s *specs.Spec) error {
	write := func(file string, maps []specs.LinuxIDMapping) error {
		var b strings.Builder
		for _, m := range maps {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		path := "/proc/" + strconv.Itoa(pid) + "/" + file
		if err := os.WriteFile(path, []byte(b.String()), 0); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		return nil
	}
	if err := write("uid_map", s.Linux.UIDMappings); err != nil {
		return err
	}
	return write("gid_map", s.Linux.GIDMappings)
}
