package runtime

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ipcSysctls are the IPC namespace's sysctls, besides fs.mqueue.*.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// validateSysctl refuses a sysctl that the container's namespaces do not
// isolate: writing it would change the host. See sysctl(8) and the list of
// namespaced sysctls in namespaces(7).
func validateSysctl(s *specs.Spec, key string) error {
	switch {
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		if ownsNS(s, specs.IPCNamespace, "ipc") {
			return nil
		}
		return fmt.Errorf("sysctl %q is not allowed: the container shares the host's IPC namespace", key)
	case strings.HasPrefix(key, "net."):
		if ownsNS(s, specs.NetworkNamespace, "net") {
			return nil
		}
		return fmt.Errorf("sysctl %q is not allowed: the container shares the host's network namespace", key)
	case key == "kernel.hostname" || key == "kernel.domainname":
		if ownsNS(s, specs.UTSNamespace, "uts") {
			return nil
		}
		return fmt.Errorf("sysctl %q is not allowed: the container shares the host's UTS namespace", key)
	}
	return fmt.Errorf("sysctl %q is not in a separate kernel namespace", key)
}

// ownsNS reports whether the container has a namespace of type t that is
// not the host's: a new one, or one joined by path that is not the one
// the runtime itself is in (a path to the host's own, /proc/1/ns/net say,
// isolates nothing). proc is the namespace's name under /proc/<pid>/ns.
func ownsNS(s *specs.Spec, t specs.LinuxNamespaceType, proc string) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			continue
		}
		if ns.Path == "" {
			return true
		}
		var st unix.Stat_t
		if unix.Stat(ns.Path, &st) != nil {
			return true // joining it fails, and says why
		}
		return !isOwnNS(&st, proc)
	}
	return false
}
