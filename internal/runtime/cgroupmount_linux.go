package runtime

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountCgroup gives the container its view of the cgroup filesystem at
// dest. With a cgroup namespace, mounting the cgroup filesystem afresh
// shows the container's own cgroup as the root. Without one, the
// container's cgroup directories are bind-mounted from the host.
//
// On cgroup v1 (including the hybrid layout) dest becomes a tmpfs holding
// one mount per hierarchy, named like the host's; on v2 dest is the single
// unified hierarchy.
func mountCgroup(cfg *initConfig, dest string, flags uintptr) error {
	cgroupns := hasNS(cfg.Spec, specs.CgroupNamespace)
	flags &^= unix.MS_BIND | unix.MS_REC
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return m.FSType != "cgroup" && m.FSType != "cgroup2", false
	})
	if err != nil {
		return err
	}
	own, err := ownCgroups()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	// ownPath is this cgroup in m's hierarchy; a hierarchy missing from
	// /proc/self/cgroup fails rather than binding its root, which would
	// show the container the host's other cgroups
	ownPath := func(m *mountinfo.Info) (string, error) {
		key := ""
		if m.FSType == "cgroup" {
			key = v1Key(m.VFSOptions)
		}
		p, ok := own[key]
		if !ok && !cgroupns {
			return "", fmt.Errorf("no cgroup of hierarchy %q in /proc/self/cgroup", key)
		}
		return p, nil
	}
	if len(mounts) == 1 && mounts[0].FSType == "cgroup2" && mounts[0].Mountpoint == "/sys/fs/cgroup" {
		p, err := ownPath(mounts[0])
		if err != nil {
			return err
		}
		return mountHierarchy(mounts[0], p, dest, cgroupns, flags)
	}
	if err := unix.Mount("tmpfs", dest, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	for _, m := range mounts {
		if !strings.HasPrefix(m.Mountpoint, "/sys/fs/cgroup/") {
			continue
		}
		name := filepath.Base(m.Mountpoint)
		sub := filepath.Join(dest, name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		p, err := ownPath(m)
		if err != nil {
			return err
		}
		if err := mountHierarchy(m, p, sub, cgroupns, flags); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return remount(dest, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
	}
	return nil
}

func mountHierarchy(m *mountinfo.Info, ownPath, dest string, cgroupns bool, flags uintptr) error {
	var err error
	if cgroupns {
		data := ""
		if m.FSType == "cgroup" {
			data = v1Key(m.VFSOptions)
		}
		err = unix.Mount("cgroup", dest, m.FSType, flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, data)
	} else {
		// m.Root is the part of the hierarchy this mount shows.
		src := filepath.Join(m.Mountpoint, strings.TrimPrefix(ownPath, m.Root))
		err = unix.Mount(src, dest, "", unix.MS_BIND|unix.MS_REC, "")
		if err == nil {
			// nosuid, nodev and noexec as on a fresh mount, as runc has them
			err = remount(dest, unix.MS_BIND|flags&unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
		}
	}
	return err
}

// v1Key picks the controller list (or name=) from a v1 mount's options,
// which is also how /proc/self/cgroup names the hierarchy.
func v1Key(vfsOptions string) string {
	var keep []string
	for _, o := range strings.Split(vfsOptions, ",") {
		switch o {
		case "rw", "ro", "relatime", "noexec", "nosuid", "nodev", "xattr", "clone_children":
			continue
		}
		if strings.HasPrefix(o, "release_agent=") {
			continue
		}
		keep = append(keep, o)
	}
	return strings.Join(keep, ",")
}

// ownCgroups reads /proc/thread-self/cgroup (this thread's cgroup namespace): hierarchy key → path. The v2 entry
// has the empty key.
func ownCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out, sc.Err()
}
