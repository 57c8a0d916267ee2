package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadSpec reads and validates <bundle>/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	s, _, err := loadSpec(bundle)
	return s, err
}

// loadSpec also returns the file's bytes, which the runtime keeps and
// passes on as they are instead of encoding the spec again.
func loadSpec(bundle string) (*specs.Spec, []byte, error) {
	data, err := readSpec(bundle)
	if err != nil {
		return nil, nil, err
	}
	s, err := parseSpec(bundle, data)
	if err != nil {
		return nil, nil, err
	}
	return s, data, nil
}

// readSpec reads <bundle>/config.json.
func readSpec(bundle string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(bundle); serr != nil {
			return nil, errorf(errdefs.ErrNotFound, "bundle %s does not exist", bundle)
		}
		return nil, errorf(errdefs.ErrNotFound, "bundle %s has no config.json", bundle)
	}
	return data, err
}

// parseSpec decodes and validates config.json's bytes.
func parseSpec(bundle string, data []byte) (*specs.Spec, error) {
	var s specs.Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		return nil, errorf(errdefs.ErrInvalidArgument, "parse %s: %v", filepath.Join(bundle, "config.json"), err)
	}
	if err := ValidateSpec(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// earlySpec is what init's fork waits for: the namespaces to make or
// join, the time offsets and the cgroup.
type earlySpec struct {
	Namespaces  []specs.LinuxNamespace
	TimeOffsets map[string]specs.LinuxTimeOffset
	CgroupsPath string
	Resources   *specs.LinuxResources
}

// specEarly decodes only the fields of earlySpec, which costs a fresh
// process a fraction of decoding the whole spec. Whatever it cannot read,
// the whole decode reports.
func specEarly(data []byte) (earlySpec, bool) {
	var s struct {
		Linux *struct {
			Namespaces  []specs.LinuxNamespace           `json:"namespaces"`
			TimeOffsets map[string]specs.LinuxTimeOffset `json:"timeOffsets"`
			CgroupsPath string                           `json:"cgroupsPath"`
			Resources   *specs.LinuxResources            `json:"resources"`
		} `json:"linux"`
	}
	if json.Unmarshal(data, &s) != nil || s.Linux == nil {
		return earlySpec{}, false
	}
	l := s.Linux
	return earlySpec{l.Namespaces, l.TimeOffsets, l.CgroupsPath, l.Resources}, true
}

// hasUserNS reports whether nss makes or joins a user namespace.
func hasUserNS(nss []specs.LinuxNamespace) bool {
	for _, ns := range nss {
		if ns.Type == specs.UserNamespace {
			return true
		}
	}
	return false
}

// namespacesValid reports whether nss has only known types, each once.
func namespacesValid(nss []specs.LinuxNamespace) bool {
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range nss {
		if _, ok := nsFlags[ns.Type]; !ok || seen[ns.Type] {
			return false
		}
		seen[ns.Type] = true
	}
	return true
}

// ValidateSpec checks the parts of a spec the runtime depends on.
func ValidateSpec(s *specs.Spec) error {
	bad := func(format string, a ...any) error {
		return errorf(errdefs.ErrInvalidArgument, "invalid config.json: "+format, a...)
	}
	if s.Root == nil || s.Root.Path == "" {
		return bad("root.path is required")
	}
	if s.Process == nil {
		return bad("process is required")
	}
	if err := validateProcess(s.Process); err != nil {
		return bad("%v", err)
	}
	if s.Linux == nil {
		return bad("linux section is required")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if _, ok := nsFlags[ns.Type]; !ok {
			return bad("unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return bad("namespace %q listed twice", ns.Type)
		}
		seen[ns.Type] = true
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return bad("mount destination %q is not absolute", m.Destination)
		}
		if err := checkProcMount(m); err != nil {
			return errorf(errdefs.ErrInvalidArgument, "%v", err)
		}
	}
	if (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return bad("uid/gid mappings require a user namespace")
	}
	if seen[specs.UserNamespace] && hasNewNS(s, specs.UserNamespace) && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) {
		return bad("a new user namespace needs uidMappings and gidMappings")
	}
	if s.Hostname != "" && !hasNewNS(s, specs.UTSNamespace) {
		return bad("hostname requires a new uts namespace")
	}
	if len(s.Linux.NetDevices) > 0 && !hasNewNS(s, specs.NetworkNamespace) {
		return bad("netDevices require a new network namespace")
	}
	if err := validateMemoryPolicy(s.Linux.MemoryPolicy); err != nil {
		return bad("%v", err)
	}
	for clock := range s.Linux.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return bad("time offset for unknown clock %q", clock)
		}
		if !hasNewNS(s, specs.TimeNamespace) {
			return bad("timeOffsets require a new time namespace")
		}
	}
	for k := range s.Linux.Sysctl {
		if err := validateSysctl(s, k); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return errors.New("process.args must not be empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd %q must be an absolute path", p.Cwd)
	}
	for _, r := range p.Rlimits {
		if _, ok := rlimitNames[r.Type]; !ok {
			return fmt.Errorf("unknown rlimit %q", r.Type)
		}
	}
	return validateSched(p)
}

func hasNewNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// procMounts are the files under /proc that a mount may cover: the ones
// LXCFS emulates, and what runc allows besides (as runc, berth refuses
// any other mount inside the container's /proc, where a file bound over
// one of the kernel's could mislead the container's programs or weaken
// a security setting).
var procMounts = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true,
	"/proc/stat": true, "/proc/swaps": true, "/proc/uptime": true,
	"/proc/loadavg": true, "/proc/slabinfo": true, "/proc/net/dev": true,
	"/proc/pressure/cpu": true, "/proc/pressure/io": true, "/proc/pressure/memory": true,
	"/proc/sys/kernel/ns_last_pid": true,
}

// checkProcMount refuses a mount inside /proc other than procMounts, and
// a mount on /proc itself that is not a proc file system. The
// destination is taken as written; init checks again where it leads
// (procMountAllowed), for a symlink in the image that points into /proc.
func checkProcMount(m specs.Mount) error {
	dest := filepath.Clean(m.Destination)
	switch {
	case dest == "/proc":
		if m.Type == "proc" || isBindMount(m) && isProcfs(m.Source) {
			return nil
		}
		return fmt.Errorf("%q cannot be mounted because it is not of type proc", m.Destination)
	case strings.HasPrefix(dest, "/proc/") && !procMounts[dest]:
		return fmt.Errorf("%q cannot be mounted because it is inside /proc", m.Destination)
	}
	return nil
}

// procMountAllowed reports whether a mount may go on dest, which init
// found on a proc file system.
func procMountAllowed(dest string) bool {
	return procMounts[filepath.Clean(dest)]
}

func isBindMount(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}
