package runtime

import specs "github.com/opencontainers/runtime-spec/specs-go"

func devRule(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
	if major >= 0 {
		r.Major = &major
	}
	if minor >= 0 {
		r.Minor = &minor
	}
	return r
}

// allowedDevices are appended to every container's device cgroup rules, as
// runc does: the default devices of the runtime spec, ptys, tun, and mknod
// of anything (creating a node is harmless when it cannot be opened). A
// spec that starts with "deny all" would otherwise lose /dev/null.
var allowedDevices = []specs.LinuxDeviceCgroup{
	devRule("c", -1, -1, "m"),
	devRule("b", -1, -1, "m"),
	devRule("c", 1, 3, "rwm"),    // /dev/null
	devRule("c", 1, 5, "rwm"),    // /dev/zero
	devRule("c", 1, 7, "rwm"),    // /dev/full
	devRule("c", 1, 8, "rwm"),    // /dev/random
	devRule("c", 1, 9, "rwm"),    // /dev/urandom
	devRule("c", 5, 0, "rwm"),    // /dev/tty
	devRule("c", 5, 1, "rwm"),    // /dev/console
	devRule("c", 5, 2, "rwm"),    // /dev/ptmx
	devRule("c", 136, -1, "rwm"), // /dev/pts/*
	devRule("c", 10, 200, "rwm"), // /dev/net/tun
}

// withDefaultDevices returns a copy of res with allowedDevices appended.
func withDefaultDevices(res *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if res != nil {
		c := *res
		out = &c
	}
	out.Devices = append(append([]specs.LinuxDeviceCgroup{}, out.Devices...), allowedDevices...)
	return out
}

// withoutPids returns a copy of res without the pids limit, which is set
// once init is ready.
func withoutPids(res *specs.LinuxResources) *specs.LinuxResources {
	c := *res
	c.Pids = nil
	return &c
}
