package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// initPlan encodes for nsenter/initstage.c what the Go init does at create
// (buildContainer) and then at start (execProcess), so that a container's
// first process never starts the Go runtime: about three milliseconds of
// every container start, and as much CPU. It returns nil when the
// container needs something only the Go init does: hooks, a user
// namespace, --no-pivot, a scheduler, I/O priority, CPU affinity or memory
// policy, a mount or device it cannot classify (the Go init then reports
// the error); or when BERTH_INIT_STAGE=go asks for the Go init (the
// tests run the runtime's suite through both). cfg.Spec must have passed
// its checks.
func initPlan(cfg *initConfig) ([]byte, error) {
	s, p := cfg.Spec, cfg.Process
	if os.Getenv("BERTH_INIT_STAGE") == "go" || cfg.NoPivot ||
		p.IOPriority != nil || p.Scheduler != nil || p.ExecCPUAffinity != nil ||
		s.Linux.MemoryPolicy != nil || hasNS(s, specs.UserNamespace) || !hasNewNS(s, specs.MountNamespace) {
		return nil, nil
	}
	if h := s.Hooks; h != nil && len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) > 0 {
		return nil, nil
	}
	if hasNUL(cfg) {
		return nil, nil
	}
	w := &planWriter{b: []byte{'K'}}
	if cfg.NewCgroupNS {
		w.record('G', nil)
	}
	w.record('o', append(binary.LittleEndian.AppendUint32(nil, uint32(firstPropagation(s))), s.Linux.RootfsPropagation...))
	w.record('r', []byte(cfg.Rootfs))
	bindDev := false
	for _, m := range s.Mounts {
		ok, err := w.mount(cfg, m)
		if err != nil || !ok {
			return nil, nil
		}
		bindDev = bindDev || isDevBind(m)
	}
	if !bindDev {
		for _, d := range append(append([]specs.LinuxDevice{}, defaultDevices...), s.Linux.Devices...) {
			if !w.device(d) {
				return nil, nil
			}
		}
		for _, l := range devSymlinks {
			w.symlink(l[0], l[1], false)
		}
		if _, err := os.Stat("/proc/kcore"); err == nil {
			w.symlink("/proc/kcore", "/dev/core", true)
		}
	}
	if cfg.NewUTS {
		if s.Hostname != "" {
			w.record('H', []byte(s.Hostname))
		}
		if s.Domainname != "" {
			w.record('h', []byte(s.Domainname))
		}
	}
	for k, v := range s.Linux.Sysctl {
		w.record('Y', appendString(appendString(nil, k), v))
	}
	for _, path := range s.Linux.MaskedPaths {
		w.record('Q', []byte(path))
	}
	for _, path := range s.Linux.ReadonlyPaths {
		w.record('W', []byte(path))
	}
	if s.Root.Readonly {
		w.record('L', nil)
	}
	if f, ok := propagationFlags[s.Linux.RootfsPropagation]; ok {
		w.record('z', append(binary.LittleEndian.AppendUint32(nil, uint32(f)), s.Linux.RootfsPropagation...))
	}
	if p.OOMScoreAdj != nil {
		w.record('J', []byte(strconv.Itoa(*p.OOMScoreAdj)))
	}
	if !cfg.NoNewKeyring {
		w.record('k', []byte(cfg.ID))
	}
	if _, err := compileSeccomp(cfg, s); err != nil {
		return nil, err
	}
	if err := w.process(cfg, p, s, false); err != nil {
		return nil, err
	}
	return w.b, nil
}

// hasNUL reports whether a string that initstage.c reads as a C string
// holds a NUL byte: C would cut it short where the Go init fails with
// EINVAL. (The process's strings go through execstage.c, which fails as
// the Go init does.)
func hasNUL(cfg *initConfig) bool {
	s := cfg.Spec
	strs := []string{cfg.Rootfs, cfg.ID, s.Hostname, s.Domainname, s.Linux.RootfsPropagation}
	for _, m := range s.Mounts {
		strs = append(append(strs, m.Source, m.Destination, m.Type), m.Options...)
	}
	strs = append(append(strs, s.Linux.MaskedPaths...), s.Linux.ReadonlyPaths...)
	for k, v := range s.Linux.Sysctl {
		strs = append(strs, k, v)
	}
	for _, d := range s.Linux.Devices {
		strs = append(strs, d.Path)
	}
	for _, x := range strs {
		if strings.IndexByte(x, 0) >= 0 {
			return true
		}
	}
	return false
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// mount writes mountEntry's work for m ('m', or 'c' for the cgroup file
// system). ok is false for what only the Go init can report.
func (w *planWriter) mount(cfg *initConfig, m specs.Mount) (ok bool, err error) {
	flags, propagation, data := parseMountOptions(m.Options)
	if m.Type == "bind" {
		flags |= unix.MS_BIND
	}
	attr, recursive, err := recursiveMountAttr(m.Options)
	if err != nil || len(propagation) > 16 {
		return false, err
	}
	what := fmt.Sprintf("mount %s (%s) on %s", m.Source, m.Type, m.Destination)
	dest := filepath.Join("/", m.Destination)
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return w.cgroup(cfg, flags, dest, what)
	}
	var kind, remountFlags uint32
	src := m.Source
	sysfsFallback := uint32(0)
	if flags&unix.MS_BIND != 0 {
		kind = 1
		if !filepath.IsAbs(src) {
			src = filepath.Join(cfg.Bundle, src)
		}
		remountFlags = uint32(bindRemount(flags))
	} else if m.Type == "sysfs" && !hasNewNS(cfg.Spec, specs.NetworkNamespace) {
		sysfsFallback = 1
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(flags))
	b = binary.LittleEndian.AppendUint32(b, kind)
	b = binary.LittleEndian.AppendUint32(b, remountFlags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(propagation)))
	for _, p := range propagation {
		b = binary.LittleEndian.AppendUint32(b, uint32(p))
	}
	b = binary.LittleEndian.AppendUint32(b, boolU32(recursive))
	b = binary.LittleEndian.AppendUint64(b, attr.Attr_set)
	b = binary.LittleEndian.AppendUint64(b, attr.Attr_clr)
	b = binary.LittleEndian.AppendUint32(b, sysfsFallback)
	for _, s := range []string{src, dest, m.Type, data, what} {
		b = appendString(b, s)
	}
	w.record('m', b)
	return true, nil
}

// cgroup writes mountCgroup's work: the host's cgroup hierarchies, which
// init mounts afresh in a cgroup namespace or binds its own part of.
//
// ok is false (the Go init does it) for more hierarchies than initstage.c
// takes.
func (w *planWriter) cgroup(cfg *initConfig, flags uintptr, dest, what string) (ok bool, err error) {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return m.FSType != "cgroup" && m.FSType != "cgroup2", false
	})
	if err != nil {
		return false, err
	}
	if len(mounts) > maxPlanCgroupMounts {
		return false, nil
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(flags))
	b = binary.LittleEndian.AppendUint32(b, boolU32(hasNS(cfg.Spec, specs.CgroupNamespace)))
	b = appendString(appendString(b, dest), what)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(mounts)))
	for _, m := range mounts {
		key := ""
		if m.FSType == "cgroup" {
			key = v1Key(m.VFSOptions)
		}
		for _, s := range []string{m.FSType, m.Mountpoint, m.Root, key} {
			b = appendString(b, s)
		}
	}
	w.record('c', b)
	return true, nil
}

// maxPlanCgroupMounts is how many cgroup mounts initstage.c takes.
const maxPlanCgroupMounts = 64

// device writes makeDevice's work for d outside a user namespace; false
// for a type the Go init reports.
func (w *planWriter) device(d specs.LinuxDevice) bool {
	mode, perm, err := deviceNode(d)
	if err != nil {
		return false
	}
	var uid, gid uint32
	if d.UID != nil {
		uid = *d.UID
	}
	if d.GID != nil {
		gid = *d.GID
	}
	b := binary.LittleEndian.AppendUint32(nil, mode|perm)
	for _, v := range []uint32{uint32(d.Major), uint32(d.Minor), uid, gid} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	w.record('n', appendString(b, filepath.Join("/", d.Path)))
	return true
}

func (w *planWriter) symlink(target, path string, quiet bool) {
	w.record('l', binary.LittleEndian.AppendUint32(appendString(appendString(nil, target), path), boolU32(quiet)))
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
