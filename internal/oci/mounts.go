// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A VolumeResolver returns the host directory that backs a volume mount:
// the named volume m.Source, or a new anonymous volume when m.Source is
// empty. It may create the volume (with m.VolumeOptions' driver and
// labels), and is called once per volume mount, in mount order.
type VolumeResolver func(m mount.Mount) (hostPath string, err error)

// Mounts turns a container's -v (HostConfig.Binds), --mount
// (HostConfig.Mounts) and --tmpfs (HostConfig.Tmpfs) into spec mounts,
// with the parsing and error texts of moby's volume/mounts Linux parser,
// sorted so that a parent directory is mounted before what is under it.
// Pass the result to Spec as Input.Mounts.
//
// Volumes are resolved through resolve (which may be nil when no volume
// is used). A -v bind whose host directory is missing is created, as
// Docker does; a --mount bind whose source is missing is an error unless
// bind-create-mountpoint is set. Bind mounts get "rbind" ("bind" with
// bind-nonrecursive), "ro" when read-only, and their propagation
// (default rprivate); tmpfs mounts get "noexec,nosuid,nodev" unless their
// options say otherwise. Errors match errdefs.ErrInvalidArgument, except
// those of resolve, which are returned as they are.
func Mounts(hc *container.HostConfig, resolve VolumeResolver) ([]specs.Mount, error) {
	if hc == nil {
		return nil, nil
	}
	var out []specs.Mount
	seen := map[string]bool{}
	add := func(m specs.Mount) error {
		if seen[m.Destination] {
			return invalidf("Duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
		out = append(out, m)
		return nil
	}
	for _, raw := range hc.Binds {
		spec, err := parseBind(raw, hc.VolumeDriver)
		if err != nil {
			return nil, err
		}
		m, err := specMount(spec, resolve, true)
		if err != nil {
			return nil, err
		}
		if err := add(m); err != nil {
			return nil, err
		}
	}
	for _, spec := range hc.Mounts {
		if err := validateMountSpec(spec); err != nil {
			return nil, err
		}
		m, err := specMount(spec, resolve, false)
		if err != nil {
			return nil, err
		}
		if err := add(m); err != nil {
			return nil, err
		}
	}
	dests := make([]string, 0, len(hc.Tmpfs))
	for d := range hc.Tmpfs {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		if err := validateMountTarget(d); err != nil {
			return nil, invalid(err)
		}
		m, err := tmpfsMount(path.Clean(d), hc.Tmpfs[d])
		if err != nil {
			return nil, err
		}
		if err := add(m); err != nil {
			return nil, err
		}
	}
	sortMounts(out)
	return out, nil
}

// sortMounts orders mounts by the depth of their destination, keeping the
// given order among equals, as moby's mount sort.
func sortMounts(ms []specs.Mount) {
	depth := func(p string) int { return len(strings.Split(path.Clean(p), "/")) }
	sort.SliceStable(ms, func(i, j int) bool { return depth(ms[i].Destination) < depth(ms[j].Destination) })
}

// parseBind parses "-v [source:]target[:mode]" (moby's ParseMountRaw).
func parseBind(raw, volumeDriver string) (mount.Mount, error) {
	badSpec := invalidf("invalid volume specification: '%s'", raw)
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return mount.Mount{}, badSpec
	}
	var spec mount.Mount
	var mode string
	switch len(arr) {
	case 1:
		spec.Target = arr[0]
	case 2:
		if validMountMode(arr[1]) {
			// "/foo:rw" is a target with a mode, and no source.
			return mount.Mount{}, badSpec
		}
		spec.Source, spec.Target = arr[0], arr[1]
	case 3:
		spec.Source, spec.Target, mode = arr[0], arr[1], arr[2]
	default:
		return mount.Mount{}, badSpec
	}
	if !validMountMode(mode) {
		return mount.Mount{}, invalidf("invalid mode: %v", mode)
	}
	spec.Type = mount.TypeVolume
	if path.IsAbs(spec.Source) {
		spec.Type = mount.TypeBind
	}
	for _, o := range strings.Split(mode, ",") {
		switch {
		case o == "ro":
			spec.ReadOnly = true
		case o == "nocopy":
			spec.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
		case slices.Contains(mount.Propagations, mount.Propagation(o)):
			spec.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(o)}
		}
	}
	if volumeDriver != "" && spec.Type == mount.TypeVolume {
		if spec.VolumeOptions == nil {
			spec.VolumeOptions = &mount.VolumeOptions{}
		}
		spec.VolumeOptions.DriverConfig = &mount.Driver{Name: volumeDriver}
	}
	if spec.Type == mount.TypeBind && spec.VolumeOptions != nil {
		return mount.Mount{}, invalidf("invalid volume specification: '%s': invalid mount config for type \"bind\": field VolumeOptions must not be specified", raw)
	}
	if err := validateMountTarget(spec.Target); err != nil {
		return mount.Mount{}, invalidf("invalid volume specification: '%s': invalid mount config for type %q: %v", raw, spec.Type, err)
	}
	return spec, nil
}

// validMountMode is moby's linuxValidMountMode: at most one of each kind
// of mode (rw/ro, z/Z, propagation, nocopy, consistency).
func validMountMode(mode string) bool {
	if mode == "" {
		return true
	}
	counts := map[string]int{}
	for _, o := range strings.Split(mode, ",") {
		var kind string
		switch {
		case o == "rw" || o == "ro":
			kind = "rw"
		case o == "z" || o == "Z":
			kind = "label"
		case slices.Contains(mount.Propagations, mount.Propagation(o)):
			kind = "propagation"
		case o == "nocopy":
			kind = "copy"
		case o == "consistent" || o == "cached" || o == "delegated":
			kind = "consistency"
		default:
			return false
		}
		counts[kind]++
		if counts[kind] > 1 {
			return false
		}
	}
	return true
}

// validateMountTarget is moby's ValidateTmpfsMountDestination: an absolute
// path other than "/".
func validateMountTarget(p string) error {
	if path.Clean(p) == "/" {
		return errors.New("invalid specification: destination can't be '/'")
	}
	if !path.IsAbs(p) {
		return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", p)
	}
	return nil
}

// validateMountSpec is moby's validateMountConfig for one --mount.
func validateMountSpec(m mount.Mount) error {
	bad := func(err error) error {
		return invalidf("invalid mount config for type %q: %v", m.Type, err)
	}
	extra := func(field string) error { return bad(fmt.Errorf("field %s must not be specified", field)) }
	if m.Target == "" {
		return bad(errors.New("field Target must not be empty"))
	}
	if err := validateMountTarget(m.Target); err != nil {
		return bad(err)
	}
	switch m.Type {
	case mount.TypeBind:
		if m.Source == "" {
			return bad(errors.New("field Source must not be empty"))
		}
		if m.BindOptions != nil && m.BindOptions.Propagation != "" && !slices.Contains(mount.Propagations, m.BindOptions.Propagation) {
			return bad(fmt.Errorf("invalid propagation mode: %s", m.BindOptions.Propagation))
		}
		if m.VolumeOptions != nil {
			return extra("VolumeOptions")
		}
		if m.TmpfsOptions != nil {
			return extra("TmpfsOptions")
		}
		if o := m.BindOptions; o != nil && o.ReadOnlyForceRecursive {
			// would need mount_setattr(2) in the runtime: refused rather
			// than silently leaving submounts writable
			return bad(errors.New("recursive read-only bind mounts (bind-recursive=readonly) are not supported by berth"))
		}
		if !path.IsAbs(m.Source) {
			return bad(fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		if _, err := os.Stat(m.Source); err != nil && (m.BindOptions == nil || !m.BindOptions.CreateMountpoint) {
			return bad(fmt.Errorf("bind source path does not exist: %s", m.Source))
		}
	case mount.TypeVolume:
		if m.BindOptions != nil {
			return extra("BindOptions")
		}
		if m.TmpfsOptions != nil {
			return extra("TmpfsOptions")
		}
		if o := m.VolumeOptions; o != nil && o.Subpath != "" {
			if m.Source == "" {
				return bad(errors.New("must not set Subpath when using anonymous volumes"))
			}
			if !localPath(o.Subpath) {
				return bad(errors.New("subpath must be a relative path within the volume"))
			}
		}
	case mount.TypeTmpfs:
		if m.BindOptions != nil {
			return extra("BindOptions")
		}
		if m.VolumeOptions != nil {
			return extra("VolumeOptions")
		}
		if m.Source != "" {
			return extra("Source")
		}
		if _, err := tmpfsData(m); err != nil {
			return bad(err)
		}
	case mount.TypeImage:
		return bad(errors.New("image mounts are not supported by berth"))
	default:
		return bad(errors.New("mount type unknown"))
	}
	return nil
}

func localPath(p string) bool {
	c := path.Clean(p)
	return !path.IsAbs(c) && c != ".." && !strings.HasPrefix(c, "../")
}

// specMount makes the spec mount for a validated bind, volume or tmpfs
// mount. fromBinds says the mount came from -v, whose missing bind source
// is created.
func specMount(m mount.Mount, resolve VolumeResolver, fromBinds bool) (specs.Mount, error) {
	dest := path.Clean(m.Target)
	switch m.Type {
	case mount.TypeTmpfs:
		data, err := tmpfsData(m)
		if err != nil {
			return specs.Mount{}, invalid(err)
		}
		return tmpfsMount(dest, data)
	case mount.TypeVolume:
		if resolve == nil {
			return specs.Mount{}, invalidf("volume mounts are not available")
		}
		src, err := resolve(m)
		if err != nil {
			return specs.Mount{}, err
		}
		if o := m.VolumeOptions; o != nil && o.Subpath != "" {
			if src, err = securejoin.SecureJoin(src, o.Subpath); err != nil {
				return specs.Mount{}, err
			}
		}
		opts := []string{"rbind"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: opts}, nil
	default: // bind
		src := path.Clean(m.Source)
		if fromBinds || m.BindOptions != nil && m.BindOptions.CreateMountpoint {
			if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return specs.Mount{}, fmt.Errorf("create bind source %s: %w", src, err)
				}
			}
		}
		opts := []string{"rbind"}
		prop := mount.PropagationRPrivate
		if o := m.BindOptions; o != nil {
			if o.NonRecursive {
				opts[0] = "bind"
			}
			if o.Propagation != "" {
				prop = o.Propagation
			}
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		opts = append(opts, string(prop))
		return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: opts}, nil
	}
}

// tmpfsData is moby's ConvertTmpfsOptions: --mount type=tmpfs options as
// a tmpfs option string.
func tmpfsData(m mount.Mount) (string, error) {
	var raw []string
	if m.ReadOnly {
		raw = append(raw, "ro")
	}
	o := m.TmpfsOptions
	if o == nil {
		return strings.Join(raw, ","), nil
	}
	if o.Mode != 0 {
		raw = append(raw, fmt.Sprintf("mode=%o", o.Mode))
	}
	if size := o.SizeBytes; size != 0 {
		suffix := ""
		for _, r := range []struct {
			s string
			d int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%r.d == 0 {
				size, suffix = size/r.d, r.s
				break
			}
		}
		raw = append(raw, fmt.Sprintf("size=%d%s", size, suffix))
	}
	for _, opt := range o.Options {
		if len(opt) < 1 || len(opt) > 2 {
			return "", errors.New("invalid option array length")
		}
		if opt[0] != "exec" && opt[0] != "noexec" {
			return "", errors.New("invalid option: " + opt[0])
		}
		raw = append(raw, strings.Join(opt, "="))
	}
	return strings.Join(raw, ","), nil
}

// tmpfsMount is a tmpfs at dest with Docker's default options
// (noexec, nosuid, nodev, rprivate) merged with data.
func tmpfsMount(dest, data string) (specs.Mount, error) {
	opts := []string{"noexec", "nosuid", "nodev", "rprivate"}
	if data != "" {
		opts = append(opts, strings.Split(data, ",")...)
	}
	merged, err := mergeTmpfsOptions(opts)
	if err != nil {
		return specs.Mount{}, err
	}
	return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: merged}, nil
}

// tmpfsFlags maps each tmpfs flag option to the setting it controls, so
// that a later "exec" overrides an earlier "noexec".
var tmpfsFlags = map[string]string{
	"ro": "rw", "rw": "rw", "exec": "exec", "noexec": "exec", "suid": "suid", "nosuid": "suid",
	"dev": "dev", "nodev": "dev", "atime": "atime", "noatime": "atime", "diratime": "diratime",
	"nodiratime": "diratime", "relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime", "sync": "sync", "async": "sync",
	"dirsync": "dirsync", "mand": "mand", "nomand": "mand",
	"private": "prop", "rprivate": "prop", "shared": "prop", "rshared": "prop",
	"slave": "prop", "rslave": "prop", "unbindable": "prop", "runbindable": "prop",
}

// tmpfsKeys are the key=value options tmpfs accepts.
var tmpfsKeys = []string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"}

// mergeTmpfsOptions is moby's MergeTmpfsOptions: the last option of each
// kind wins, in its original position relative to the others.
func mergeTmpfsOptions(options []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i := len(options) - 1; i >= 0; i-- {
		o := options[i]
		if o == "defaults" {
			continue
		}
		key, ok := tmpfsFlags[o]
		if !ok {
			k, _, hasValue := strings.Cut(o, "=")
			if !hasValue || !slices.Contains(tmpfsKeys, k) {
				return nil, invalidf("invalid tmpfs option [%q]", o)
			}
			key = "=" + k
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append([]string{o}, out...)
	}
	return out, nil
}
