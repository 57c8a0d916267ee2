package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"

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

// execJoin lists the namespaces of a running container's init that differ
// from ours, for exec to join. Joining a namespace the caller is already in
// is refused for user namespaces (EINVAL), so equal ones are skipped.
func execJoin(pid int) string {
	var parts []string
	for _, name := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"} {
		theirs := "/proc/" + strconv.Itoa(pid) + "/ns/" + name
		var a, b unix.Stat_t
		if unix.Stat(theirs, &a) != nil {
			continue
		}
		if unix.Stat("/proc/self/ns/"+name, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			continue
		}
		parts = append(parts, name+"="+theirs)
	}
	return strings.Join(parts, ";")
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
