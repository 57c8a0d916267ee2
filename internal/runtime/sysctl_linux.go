package runtime

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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
		if hasNS(s, specs.IPCNamespace) {
			return nil
		}
		return fmt.Errorf("sysctl %q is not allowed: the container shares the host's IPC namespace", key)
	case strings.HasPrefix(key, "net."):
		if hasNS(s, specs.NetworkNamespace) {
			return nil
		}
		return fmt.Errorf("sysctl %q is not allowed: the container shares the host's network namespace", key)
	case key == "kernel.hostname" || key == "kernel.domainname":
		if hasNS(s, specs.UTSNamespace) {
			return nil
		}
		return fmt.Errorf("sysctl %q is not allowed: the container shares the host's UTS namespace", key)
	}
	return fmt.Errorf("sysctl %q is not in a separate kernel namespace", key)
}
