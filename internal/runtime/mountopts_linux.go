package runtime

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlags maps mount(8) option names to mount(2) flags; the rest of the
// options are passed to the filesystem as data.
var mountFlags = map[string]mountFlag{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits OCI mount options into mount flags,
// propagation flags and filesystem data.
func parseMountOptions(options []string) (flags uintptr, propagation []uintptr, data string) {
	var rest []string
	for _, o := range options {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			propagation = append(propagation, p)
			continue
		}
		switch o {
		case "rro":
			// Recursive read-only needs mount_setattr(2); a read-only
			// remount of the top mount is the closest plain equivalent.
			flags |= unix.MS_RDONLY
			continue
		case "tmpcopyup", "idmap", "ridmap", "recursive":
			// crun's tmpcopyup is not supported, idmapped mounts are
			// refused by recursiveMountAttr: neither goes to the
			// filesystem as data
			continue
		}
		if _, ok := recursiveAttrs[o]; ok {
			continue // applied after the mount (recursiveMountAttr)
		}
		rest = append(rest, o)
	}
	return flags, propagation, strings.Join(rest, ",")
}

// recursiveAttrs are the options that change a mount and every mount
// under it (mount_setattr(2) with AT_RECURSIVE), as runc has them: the
// attribute, and whether the option clears it.
var recursiveAttrs = map[string]struct {
	attr  uint64
	clear bool
}{
	"rro": {unix.MOUNT_ATTR_RDONLY, false}, "rrw": {unix.MOUNT_ATTR_RDONLY, true},
	"rnosuid": {unix.MOUNT_ATTR_NOSUID, false}, "rsuid": {unix.MOUNT_ATTR_NOSUID, true},
	"rnodev": {unix.MOUNT_ATTR_NODEV, false}, "rdev": {unix.MOUNT_ATTR_NODEV, true},
	"rnoexec": {unix.MOUNT_ATTR_NOEXEC, false}, "rexec": {unix.MOUNT_ATTR_NOEXEC, true},
	"rnodiratime": {unix.MOUNT_ATTR_NODIRATIME, false}, "rdiratime": {unix.MOUNT_ATTR_NODIRATIME, true},
	"rnoatime": {unix.MOUNT_ATTR_NOATIME, false}, "ratime": {unix.MOUNT_ATTR_NOATIME, true},
	"rrelatime": {unix.MOUNT_ATTR_RELATIME, false}, "rnorelatime": {unix.MOUNT_ATTR_RELATIME, true},
	"rstrictatime": {unix.MOUNT_ATTR_STRICTATIME, false}, "rnostrictatime": {unix.MOUNT_ATTR_STRICTATIME, true},
	"rnosymfollow": {unix.MOUNT_ATTR_NOSYMFOLLOW, false}, "rsymfollow": {unix.MOUNT_ATTR_NOSYMFOLLOW, true},
}

// recursiveMountAttr collects the recursive options into one
// mount_setattr(2) request; ok is false when there are none. Idmapped
// mounts are refused: the runtime cannot make them, and silently
// dropping the option would change the files' owners.
func recursiveMountAttr(options []string) (attr unix.MountAttr, ok bool, err error) {
	for _, o := range options {
		if o == "idmap" || o == "ridmap" {
			return attr, false, fmt.Errorf("mount option %q: idmapped mounts are not supported", o)
		}
		r, found := recursiveAttrs[o]
		if !found {
			continue
		}
		ok = true
		switch {
		case r.attr == unix.MOUNT_ATTR_NOATIME || r.attr == unix.MOUNT_ATTR_RELATIME || r.attr == unix.MOUNT_ATTR_STRICTATIME:
			// the access-time attributes are one field: clear it whole,
			// then set the one asked for (relatime is 0)
			attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
			attr.Attr_set &^= unix.MOUNT_ATTR__ATIME
			if !r.clear {
				attr.Attr_set |= r.attr
			}
		case r.clear:
			attr.Attr_clr |= r.attr
			attr.Attr_set &^= r.attr
		default:
			attr.Attr_set |= r.attr
			attr.Attr_clr &^= r.attr
		}
	}
	return attr, ok, nil
}

// MountOptions lists the mount options the runtime understands.
func MountOptions() []string {
	var out []string
	for o := range mountFlags {
		out = append(out, o)
	}
	for o := range propagationFlags {
		out = append(out, o)
	}
	for o := range recursiveAttrs {
		out = append(out, o)
	}
	return out
}
