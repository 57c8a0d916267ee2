// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// errNotDevice is runc's devices.ErrNotADevice, whose text Docker shows.
var errNotDevice = errors.New("not a device node")

// statDevice describes the device node at path (following symlinks) as a
// spec device named containerPath. It is a variable for tests.
var statDevice = func(path, containerPath string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return specs.LinuxDevice{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, errNotDevice
	}
	mode := fs.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Type: typ, Path: containerPath,
		Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, nil
}

// hostDevices lists every device node under /dev for --privileged, as
// containerd's HostDevices: /dev/pts, /dev/shm, /dev/mqueue and the
// container's own /dev/console are skipped, and nodes that vanish while
// walking are ignored. It is a variable for tests.
var hostDevices = func() ([]specs.LinuxDevice, error) {
	var devs []specs.LinuxDevice
	err := filepath.WalkDir("/dev", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			switch path {
			case "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd":
				return filepath.SkipDir
			}
			return nil
		}
		if path == "/dev/console" || d.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
			return nil
		}
		dev, err := statDevice(path, path)
		if err != nil {
			return nil
		}
		devs = append(devs, dev)
		return nil
	})
	return devs, err
}

// devicesFromMapping is moby's DevicesFromPath: the device nodes for one
// --device mapping, and the cgroup rules that allow them. A directory
// maps every device below it, keeping the relative paths.
func devicesFromMapping(m container.DeviceMapping) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	perms := m.CgroupPermissions
	if perms == "" {
		perms = "rwm"
	}
	dst := m.PathInContainer
	if dst == "" {
		dst = m.PathOnHost
	}
	gatherErr := func(err error) error {
		return invalidf("error gathering device information while adding custom device %q: %s", m.PathOnHost, err)
	}
	resolved := m.PathOnHost
	if r, err := filepath.EvalSymlinks(m.PathOnHost); err == nil {
		resolved = r
	}
	dev, err := statDevice(resolved, dst)
	if err == nil {
		return []specs.LinuxDevice{dev}, []specs.LinuxDeviceCgroup{deviceRule(dev, perms)}, nil
	}
	fi, serr := os.Stat(resolved)
	if serr != nil || !fi.IsDir() {
		return nil, nil, gatherErr(err)
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	werr := filepath.WalkDir(resolved, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
			return nil
		}
		dev, err := statDevice(p, filepath.Join(dst, strings.TrimPrefix(p, resolved)))
		if err != nil {
			return nil
		}
		devs = append(devs, dev)
		rules = append(rules, deviceRule(dev, perms))
		return nil
	})
	if werr != nil {
		return nil, nil, gatherErr(werr)
	}
	return devs, rules, nil
}

func deviceRule(d specs.LinuxDevice, access string) specs.LinuxDeviceCgroup {
	major, minor := d.Major, d.Minor
	return specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: access}
}

// deviceCgroupRules parses --device-cgroup-rule values ("c 1:3 rwm",
// "b 8:* r", "a *:* m") as moby's AppendDevicePermissionsFromCgroupRules.
func deviceCgroupRules(rules []string) ([]specs.LinuxDeviceCgroup, error) {
	var out []specs.LinuxDeviceCgroup
	for _, r := range rules {
		bad := invalidf("invalid device cgroup rule format: '%s'", r)
		f := strings.Fields(r)
		if len(f) != 3 || len(f[0]) != 1 || !strings.Contains("acb", f[0]) || !validDeviceMode(f[2]) {
			return nil, bad
		}
		maj, min, ok := strings.Cut(f[1], ":")
		if !ok {
			return nil, bad
		}
		rule := specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Access: f[2]}
		var err error
		if rule.Major, err = deviceNumber(maj); err != nil {
			return nil, bad
		}
		if rule.Minor, err = deviceNumber(min); err != nil {
			return nil, bad
		}
		out = append(out, rule)
	}
	return out, nil
}

// deviceNumber parses a major or minor number; "*" is nil (any).
func deviceNumber(s string) (*int64, error) {
	if s == "*" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, errNotDevice
	}
	return &n, nil
}
