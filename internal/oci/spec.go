// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Input is everything Spec needs to know about one container start.
type Input struct {
	// ID is the container's full ID; it names the cgroup.
	ID string
	// Config is the container's configuration as created (required).
	Config *container.Config
	// Host is the container's host configuration; nil means all defaults.
	Host *container.HostConfig
	// Image is the config of the container's image (Env, Entrypoint,
	// Cmd, WorkingDir, User), merged under Config as Docker does. The
	// image store keeps an ocispec.ImageConfig; a daemon holding
	// a dockerspec.DockerOCIImageConfig passes its embedded ImageConfig.
	// Nil means an image without a config (such as one from `import`).
	Image *ocispec.ImageConfig
	// Rootfs is the absolute path of the container's mounted root
	// filesystem. Its /etc/passwd and /etc/group resolve the user.
	Rootfs string
	// Hostname is the container's hostname; empty means Config.Hostname.
	// It is ignored with --uts host.
	Hostname string
	// HostsPath, ResolvConfPath and HostnamePath are the files the daemon
	// prepared; each non-empty one is bind-mounted over /etc/hosts,
	// /etc/resolv.conf and /etc/hostname (read-only with --read-only),
	// unless a mount in Mounts already targets that path.
	HostsPath, ResolvConfPath, HostnamePath string
	// NetNSPath is the network namespace the daemon made for a container
	// with a network of its own (bridge, none, user-defined networks);
	// empty means the runtime creates a new, empty one. It is not used
	// with --network host or container:<id>.
	NetNSPath string
	// Mounts are the container's volume, bind and tmpfs mounts, such as
	// Mounts returns. A mount over a default mount (/dev/shm, say)
	// replaces it; a mount over /dev replaces every default under /dev.
	// With --ipc container:<id> the daemon passes the other container's
	// /dev/shm here.
	Mounts []specs.Mount
	// NamespacePath resolves --network, --ipc, --pid and --uts
	// container:<id> to the namespace file of that container's process,
	// such as /proc/<pid>/ns/<kind>. kind is "net", "ipc", "pid" or "uts".
	// It is only called for those modes.
	NamespacePath func(kind, containerRef string) (string, error)
	// InitPath is the host path of the init binary that --init runs as
	// /sbin/docker-init (bind-mounted read-only). Empty means --init is
	// refused.
	InitPath string
	// CgroupParent is the daemon's cgroup parent, overridden by
	// HostConfig.CgroupParent; empty means DefaultCgroupParent. The
	// cgroupsPath is <parent>/<ID>: absolute parents are relative to the
	// root of each hierarchy, relative ones to the runtime's own cgroup
	// (see internal/runtime/cgroup).
	CgroupParent string
	// HostRlimitNofile, when not zero and the container sets no nofile
	// ulimit, gives the process RLIMIT_NOFILE soft 1024 and hard
	// HostRlimitNofile (the daemon's own hard limit, say): what a Docker
	// 25+ container gets from its systemd unit. The soft limit stays at
	// 1024 because select(2) breaks above it, and a Go daemon has
	// raised its own soft limit to the hard one. Zero leaves the process
	// with the limits it inherits.
	HostRlimitNofile uint64
	// LinkEnv describes the containers linked with --link (their
	// addresses, ports and environment): it comes after PATH, HOSTNAME
	// and TERM, before the container's own variables, which may
	// override it.
	LinkEnv []string
}

// Spec builds the OCI runtime spec for one start of a container, as
// Docker's daemon does for the same configuration (see the package doc
// for what it leaves out). Invalid configuration is reported with
// Docker's texts and matches errdefs.ErrInvalidArgument.
func Spec(in Input) (*specs.Spec, error) {
	cfg, hc := in.Config, in.Host
	if cfg == nil {
		return nil, fmt.Errorf("container %s: no config: %w", in.ID, errdefs.ErrInvalidArgument)
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if !filepath.IsAbs(in.Rootfs) {
		return nil, fmt.Errorf("container %s: rootfs %q is not an absolute path: %w", in.ID, in.Rootfs, errdefs.ErrInvalidArgument)
	}
	if err := ValidateHostConfig(hc); err != nil {
		return nil, err
	}
	so, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return nil, err
	}
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: in.Rootfs, Readonly: hc.ReadonlyRootfs},
		Mounts:  defaultMounts(),
		Process: &specs.Process{Terminal: cfg.Tty, NoNewPrivileges: so.noNewPrivileges},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.MountNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.PIDNamespace},
				{Type: specs.IPCNamespace},
			},
			Resources:   &specs.LinuxResources{},
			CgroupsPath: cgroupsPath(in, hc),
		},
	}
	if len(hc.Annotations) > 0 {
		s.Annotations = make(map[string]string, len(hc.Annotations))
		for k, v := range hc.Annotations {
			s.Annotations[k] = v
		}
	}
	if err := setProcess(s, in, hc); err != nil {
		return nil, err
	}
	if err := setNamespaces(s, in, hc); err != nil {
		return nil, err
	}
	if err := setCapabilities(s, hc); err != nil {
		return nil, err
	}
	if err := setResources(s, hc); err != nil {
		return nil, err
	}
	if err := setDevices(s, hc); err != nil {
		return nil, err
	}
	setSysctls(s, hc)
	if err := setMounts(s, in, hc, so); err != nil {
		return nil, err
	}
	if s.Linux.Seccomp, err = seccompProfile(so, hc.Privileged, s); err != nil {
		return nil, err
	}
	return s, nil
}

// cgroupsPath is <parent>/<id>, as Docker's cgroupfs driver.
func cgroupsPath(in Input, hc *container.HostConfig) string {
	parent := DefaultCgroupParent
	if hc.CgroupParent != "" {
		parent = hc.CgroupParent
	} else if in.CgroupParent != "" {
		parent = in.CgroupParent
	}
	return path.Join(parent, in.ID)
}

// setProcess fills the command line, environment, working directory,
// user, rlimits and OOM score.
func setProcess(s *specs.Spec, in Input, hc *container.HostConfig) error {
	cfg, img, p := in.Config, in.Image, s.Process
	args, err := command(cfg, img)
	if err != nil {
		return err
	}
	// --init only makes sense where the container has its own PID 1.
	if hc.Init != nil && *hc.Init && hc.PidMode.IsPrivate() {
		if in.InitPath == "" {
			return fmt.Errorf("--init: no init binary is configured: %w", errdefs.ErrFailedPrecondition)
		}
		args = append([]string{initPath, "--"}, args...)
		s.Mounts = append(s.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: in.InitPath, Options: []string{"bind", "ro"}})
	}
	p.Args = args

	hostname := in.Hostname
	if hostname == "" {
		hostname = cfg.Hostname
	}
	if !hc.UTSMode.IsHost() {
		s.Hostname = hostname
		s.Domainname = cfg.Domainname
	}
	p.Env = environment(cfg, img, hostname, in.LinkEnv)

	cwd := cfg.WorkingDir
	if cwd == "" && img != nil {
		cwd = img.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return invalidf("the working directory '%s' is invalid, it needs to be an absolute path", cwd)
	}
	p.Cwd = path.Clean(cwd)

	userSpec := cfg.User
	if userSpec == "" && img != nil {
		userSpec = img.User
	}
	if p.User, err = resolveUser(in.Rootfs, userSpec, hc.GroupAdd); err != nil {
		return err
	}
	if hc.Umask != nil {
		p.User.Umask = hc.Umask
	}

	rls, err := rlimits(hc.Ulimits)
	if err != nil {
		return err
	}
	hasNofile := false
	for _, r := range rls {
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: r.name, Soft: uint64(r.soft), Hard: uint64(r.hard)})
		hasNofile = hasNofile || r.name == "RLIMIT_NOFILE"
	}
	if !hasNofile && in.HostRlimitNofile > 0 {
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: min(1024, in.HostRlimitNofile), Hard: in.HostRlimitNofile})
	}

	// Docker always sets the score, 0 included, so a container does not
	// inherit the daemon's. A negative score needs CAP_SYS_RESOURCE on
	// the host; where the runtime lacks it, create fails with an error
	// naming oom_score_adj.
	score := hc.OomScoreAdj
	p.OOMScoreAdj = &score
	return nil
}

// setCapabilities gives Docker's capability set, tweaked by --cap-add and
// --cap-drop, or every capability with --privileged. As in moby's
// SetCapabilities, a non-root user gets only the bounding set, which is
// what execve(2) would leave it.
func setCapabilities(s *specs.Spec, hc *container.HostConfig) error {
	caps := allCaps()
	if !hc.Privileged {
		var err error
		if caps, err = tweakCaps(hc.CapAdd, hc.CapDrop); err != nil {
			return err
		}
	}
	if s.Process.User.UID == 0 {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	} else {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps}
	}
	return nil
}

// setNamespaces applies --network, --ipc, --pid, --uts and --cgroupns.
func setNamespaces(s *specs.Spec, in Input, hc *container.HostConfig) error {
	set := func(typ specs.LinuxNamespaceType, p string) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == typ {
				s.Linux.Namespaces[i].Path = p
				return
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: p})
	}
	remove := func(typ specs.LinuxNamespaceType) {
		ns := s.Linux.Namespaces[:0]
		for _, n := range s.Linux.Namespaces {
			if n.Type != typ {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	}
	join := func(typ specs.LinuxNamespaceType, kind, ref string) error {
		if in.NamespacePath == nil {
			return fmt.Errorf("%s namespace of container %s: no namespace resolver: %w", kind, ref, errdefs.ErrFailedPrecondition)
		}
		p, err := in.NamespacePath(kind, ref)
		if err != nil {
			return err
		}
		set(typ, p)
		return nil
	}

	switch nm := hc.NetworkMode; {
	case nm.IsHost():
		remove(specs.NetworkNamespace)
	case nm.IsContainer():
		if err := join(specs.NetworkNamespace, "net", nm.ConnectedContainer()); err != nil {
			return err
		}
	default:
		set(specs.NetworkNamespace, in.NetNSPath)
	}

	switch im := hc.IpcMode; {
	case im.IsHost():
		remove(specs.IPCNamespace)
	case im.IsContainer():
		if err := join(specs.IPCNamespace, "ipc", im.Container()); err != nil {
			return err
		}
	}

	switch pm := hc.PidMode; {
	case pm.IsHost():
		remove(specs.PIDNamespace)
	case pm.IsContainer():
		if err := join(specs.PIDNamespace, "pid", pm.Container()); err != nil {
			return err
		}
	}

	if hc.UTSMode.IsHost() {
		remove(specs.UTSNamespace)
	}

	// Docker's default is a private cgroup namespace on cgroup v2 and the
	// host's on v1.
	if hc.CgroupnsMode.IsPrivate() || hc.CgroupnsMode.IsEmpty() && cgroup2() {
		set(specs.CgroupNamespace, "")
	}
	return nil
}

// setResources applies the cgroup limits, as moby's WithResources.
func setResources(s *specs.Spec, hc *container.HostConfig) error {
	r, res := hc.Resources, s.Linux.Resources

	var mem specs.LinuxMemory
	if r.Memory > 0 {
		mem.Limit = &r.Memory
		// Docker's default swap is as much again as the memory limit.
		swap := r.MemorySwap
		if swap == 0 {
			swap = 2 * r.Memory
		}
		mem.Swap = &swap
	}
	if r.MemoryReservation > 0 {
		mem.Reservation = &r.MemoryReservation
	}
	if r.MemorySwappiness != nil && *r.MemorySwappiness != -1 {
		sw := uint64(*r.MemorySwappiness)
		mem.Swappiness = &sw
	}
	if r.OomKillDisable != nil && *r.OomKillDisable {
		mem.DisableOOMKiller = r.OomKillDisable
	}
	if mem != (specs.LinuxMemory{}) {
		res.Memory = &mem
	}

	var cpu specs.LinuxCPU
	if r.CPUShares > 0 {
		shares := uint64(r.CPUShares)
		cpu.Shares = &shares
	}
	cpu.Cpus, cpu.Mems = r.CpusetCpus, r.CpusetMems
	if r.NanoCPUs > 0 {
		// https://www.kernel.org/doc/Documentation/scheduler/sched-bwc.txt
		period := uint64(100000)
		quota := r.NanoCPUs * int64(period) / 1e9
		cpu.Period, cpu.Quota = &period, &quota
	}
	if r.CPUPeriod != 0 {
		period := uint64(r.CPUPeriod)
		cpu.Period = &period
	}
	if r.CPUQuota != 0 {
		quota := r.CPUQuota
		cpu.Quota = &quota
	}
	if r.CPURealtimePeriod != 0 {
		p := uint64(r.CPURealtimePeriod)
		cpu.RealtimePeriod = &p
	}
	if r.CPURealtimeRuntime != 0 {
		rt := r.CPURealtimeRuntime
		cpu.RealtimeRuntime = &rt
	}
	if cpu != (specs.LinuxCPU{}) {
		res.CPU = &cpu
	}

	if r.PidsLimit != nil {
		limit := *r.PidsLimit
		if limit <= 0 {
			// The API takes 0 and negative values for "unlimited".
			limit = -1
		}
		res.Pids = &specs.LinuxPids{Limit: &limit}
	}

	blkio, err := blockIO(r)
	if err != nil {
		return err
	}
	res.BlockIO = blkio
	return nil
}

// setDevices adds --device mappings and --device-cgroup-rule, or every
// host device with --privileged.
func setDevices(s *specs.Spec, hc *container.HostConfig) error {
	if hc.Privileged {
		devs, err := hostDevices()
		if err != nil {
			return fmt.Errorf("list host devices: %w", err)
		}
		for _, m := range hc.Devices {
			// /dev is the host's already; only a new name adds a node.
			if m.PathInContainer == "" || m.PathInContainer == m.PathOnHost {
				continue
			}
			d, _, err := devicesFromMapping(container.DeviceMapping{PathOnHost: m.PathOnHost, PathInContainer: m.PathInContainer, CgroupPermissions: "rwm"})
			if err != nil {
				return err
			}
			devs = append(devs, d...)
		}
		s.Linux.Devices = devs
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	rules := defaultDeviceRules()
	for _, m := range hc.Devices {
		d, r, err := devicesFromMapping(m)
		if err != nil {
			return err
		}
		s.Linux.Devices = append(s.Linux.Devices, d...)
		rules = append(rules, r...)
	}
	extra, err := deviceCgroupRules(hc.DeviceCgroupRules)
	if err != nil {
		return err
	}
	s.Linux.Resources.Devices = append(rules, extra...)
	return nil
}

// setSysctls adds Docker's default sysctls for a container with a network
// namespace of its own (unprivileged ping and low ports; the default
// capabilities grant the equivalent anyway), then --sysctl, which wins.
func setSysctls(s *specs.Spec, hc *container.HostConfig) {
	s.Linux.Sysctl = map[string]string{}
	if hc.NetworkMode.IsPrivate() {
		s.Linux.Sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
		s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
	}
	for k, v := range hc.Sysctls {
		s.Linux.Sysctl[k] = v
	}
	if len(s.Linux.Sysctl) == 0 {
		s.Linux.Sysctl = nil
	}
}

// ReplacesDefault reports whether the container's mounts replace the
// default mount at dest: one of them is at dest, or binds a /dev of its
// own over a default under /dev.
func ReplacesDefault(mounts []specs.Mount, dest string) bool {
	for _, m := range mounts {
		if d := path.Clean(m.Destination); d == dest || d == "/dev" && strings.HasPrefix(dest, "/dev/") {
			return true
		}
	}
	return false
}

// setMounts merges the default mounts with the container's, as moby's
// WithMounts, and sets the masked and read-only paths.
func setMounts(s *specs.Spec, in Input, hc *container.HostConfig, so securityOpts) error {
	var user []specs.Mount
	user = append(user, in.Mounts...)
	if hc.IpcMode.IsHost() {
		user = append(user, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}})
	}
	for _, f := range []struct{ src, dst string }{
		{in.ResolvConfPath, "/etc/resolv.conf"},
		{in.HostnamePath, "/etc/hostname"},
		{in.HostsPath, "/etc/hosts"},
	} {
		if f.src == "" || ReplacesDefault(user, f.dst) {
			continue
		}
		opts := []string{"rbind", "rprivate"}
		if hc.ReadonlyRootfs {
			opts = []string{"rbind", "ro", "rprivate"}
		}
		user = append(user, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: opts})
	}
	sortMounts(user)

	shmSize := hc.ShmSize
	if shmSize == 0 {
		shmSize = DefaultShmSize
	}
	var mounts []specs.Mount
	for _, m := range s.Mounts {
		if ReplacesDefault(user, m.Destination) {
			continue
		}
		switch m.Destination {
		case "/dev/shm":
			if hc.IpcMode.IsNone() {
				continue
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(shmSize, 10))
		case "/sys":
			if hc.Privileged {
				m.Options = withoutRO(m.Options)
			}
		case "/sys/fs/cgroup":
			if hc.Privileged || so.writableCgroups {
				m.Options = withoutRO(m.Options)
			}
		}
		if hc.ReadonlyRootfs && !isWritableDefault(m.Destination) && !hasOption(m.Options, "ro") {
			m.Options = append(m.Options, "ro")
		}
		mounts = append(mounts, m)
	}
	s.Mounts = append(mounts, user...)

	switch {
	case hc.Privileged || so.unconfinedPaths:
	case hc.MaskedPaths != nil:
		s.Linux.MaskedPaths = append([]string{}, hc.MaskedPaths...)
	default:
		s.Linux.MaskedPaths = defaultMaskedPaths()
	}
	switch {
	case hc.Privileged || so.unconfinedPaths:
	case hc.ReadonlyPaths != nil:
		s.Linux.ReadonlyPaths = append([]string{}, hc.ReadonlyPaths...)
	default:
		s.Linux.ReadonlyPaths = defaultReadonlyPaths()
	}
	return nil
}

// isWritableDefault lists the default mounts that stay writable with
// --read-only.
func isWritableDefault(dest string) bool {
	switch dest {
	case "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue":
		return true
	}
	return false
}

func hasOption(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

func withoutRO(opts []string) []string {
	var out []string
	for _, o := range opts {
		if o != "ro" {
			out = append(out, o)
		}
	}
	return out
}
