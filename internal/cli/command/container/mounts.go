// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// parseVolumes splits -v specs into anonymous volumes (a bare container
// path) and binds (source:target[:options]); relative bind sources are
// made absolute.
func parseVolumes(specs []string) (map[string]struct{}, []string, error) {
	var vols map[string]struct{}
	var binds []string
	for _, s := range specs {
		if s == "" {
			return nil, nil, fmt.Errorf("invalid empty volume spec")
		}
		src, rest, ok := strings.Cut(s, ":")
		if !ok {
			if vols == nil {
				vols = map[string]struct{}{}
			}
			vols[s] = struct{}{}
			continue
		}
		if src == "" || rest == "" {
			return nil, nil, fmt.Errorf("invalid volume specification: '%s'", s)
		}
		binds = append(binds, absPath(src)+":"+rest)
	}
	return vols, binds, nil
}

// parseMount parses a --mount value: comma-separated key=value fields, as
// a CSV record.
func parseMount(spec string) (mount.Mount, error) {
	var m mount.Mount
	fields, err := csv.NewReader(strings.NewReader(spec)).Read()
	if err != nil {
		return m, err
	}
	m.Type = mount.TypeVolume
	for _, f := range fields {
		if t, ok := strings.CutPrefix(f, "type="); ok {
			m.Type = mount.Type(strings.ToLower(t))
		}
	}
	bind := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	vol := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	tmpfs := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(key)
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			return b, nil
		}
		switch key {
		case "type":
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = boolVal(); err != nil {
				return m, err
			}
		case "consistency":
			m.Consistency = mount.Consistency(val)
		case "bind-propagation":
			bind().Propagation = mount.Propagation(val)
		case "bind-nonrecursive":
			return m, fmt.Errorf("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				bind().NonRecursive = true
			case "writable":
				bind().ReadOnlyNonRecursive = true
			case "readonly":
				bind().ReadOnlyForceRecursive = true
			default:
				return m, fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
			}
		case "bind-create-src":
			b, err := boolVal()
			if err != nil {
				return m, err
			}
			bind().CreateMountpoint = b
		case "volume-nocopy":
			b, err := boolVal()
			if err != nil {
				return m, err
			}
			vol().NoCopy = b
		case "volume-subpath":
			vol().Subpath = val
		case "volume-label":
			k, v, _ := strings.Cut(val, "=")
			if vol().Labels == nil {
				vol().Labels = map[string]string{}
			}
			vol().Labels[k] = v
		case "volume-driver":
			if vol().DriverConfig == nil {
				vol().DriverConfig = &mount.Driver{}
			}
			vol().DriverConfig.Name = val
		case "volume-opt":
			if vol().DriverConfig == nil {
				vol().DriverConfig = &mount.Driver{}
			}
			k, v, _ := strings.Cut(val, "=")
			if vol().DriverConfig.Options == nil {
				vol().DriverConfig.Options = map[string]string{}
			}
			vol().DriverConfig.Options[k] = v
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfs().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfs().Mode = os.FileMode(n)
		default:
			return m, fmt.Errorf("unexpected key '%s' in '%s'", key, f)
		}
	}
	if m.Target == "" {
		return m, fmt.Errorf("target is required")
	}
	if m.Type == mount.TypeBind {
		m.Source = absPath(m.Source)
	}
	return m, nil
}
