// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package formatter

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// Default container list formats.
const (
	DefaultContainerTableFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	QuietContainerFormat        = "{{.ID}}"
)

// ContainerFormat picks the format of "ps": quiet, the size column, or
// what the user gave.
func ContainerFormat(format string, quiet, size bool) Format {
	switch {
	case quiet:
		return QuietContainerFormat
	case format == TableFormatKey || format == "":
		if size {
			return DefaultContainerTableFormat + "\t{{.Size}}"
		}
		return DefaultContainerTableFormat
	}
	return Format(format)
}

// defaultContainerColumns is DefaultContainerTableFormat's row, as Write
// executes it (without "table ", tabs unescaped).
var defaultContainerColumns = strings.TrimPrefix(DefaultContainerTableFormat, TableFormatKey+" ")

// DefaultRow renders the row of "ps"'s default table, with or without the
// size column, as its template does.
func (c *ContainerContext) DefaultRow(format string) (string, bool) {
	cols := []string{c.ID(), c.Image(), c.Command(), c.RunningFor(), c.Status(), c.Ports(), c.Names()}
	switch format {
	case defaultContainerColumns:
	case defaultContainerColumns + "\t{{.Size}}":
		cols = append(cols, c.Size())
	default:
		return "", false
	}
	return strings.Join(cols, "\t"), true
}

// ContainerWrite writes the containers in ctx's format.
func ContainerWrite(ctx Context, containers []container.Summary) error {
	return ctx.Write(NewContainerContext(container.Summary{}, ctx.Trunc), func(emit func(SubContext) error) error {
		for _, c := range containers {
			if err := emit(NewContainerContext(c, ctx.Trunc)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ContainerContext is one row of "ps".
type ContainerContext struct {
	c        container.Summary
	trunc    bool
	sizeUsed bool
}

// ContainerFormatUsesSize reports whether rendering format reads the
// Size field (also through {{json .}}), so "ps" asks the daemon for sizes.
func ContainerFormatUsesSize(format Format) bool {
	// Like docker, the raw --format text is executed: the "json" keyword
	// is plain text there and asks for no size.
	tmpl, err := ParseTemplate(string(format))
	if err != nil {
		return false
	}
	row := &ContainerContext{}
	tmpl.Execute(io.Discard, row)
	return row.sizeUsed
}

// NewContainerContext returns the row for c.
func NewContainerContext(c container.Summary, trunc bool) *ContainerContext {
	return &ContainerContext{c: c, trunc: trunc}
}

// FullHeader is the column header of every field.
func (c *ContainerContext) FullHeader() any {
	return HeaderContext{
		"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
		"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
		"Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
		"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
	}
}

// MarshalJSON renders the row for {{json .}}.
func (c *ContainerContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// ID is the container ID, shortened unless --no-trunc.
func (c *ContainerContext) ID() string {
	if c.trunc {
		return TruncateID(c.c.ID)
	}
	return c.c.ID
}

// Names lists the container's names without the leading slash; link
// names are left out unless --no-trunc.
func (c *ContainerContext) Names() string {
	var names []string
	for _, n := range c.c.Names {
		n = strings.TrimPrefix(n, "/")
		if c.trunc && strings.Contains(n, "/") {
			continue
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// Image is the image the container was created from.
func (c *ContainerContext) Image() string {
	if c.c.Image == "" {
		return "<no image>"
	}
	if c.trunc {
		if t := TruncateID(c.c.ImageID); t == TruncateID(c.c.Image) {
			return t
		}
	}
	return c.c.Image
}

// Command is the quoted command line, shortened unless --no-trunc.
func (c *ContainerContext) Command() string {
	cmd := c.c.Command
	if c.trunc {
		cmd = Ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

// CreatedAt is the creation time.
func (c *ContainerContext) CreatedAt() string {
	return time.Unix(c.c.Created, 0).String()
}

// RunningFor is how long ago the container was created.
func (c *ContainerContext) RunningFor() string {
	return HumanSince(c.c.Created)
}

// Ports lists the exposed and published ports.
func (c *ContainerContext) Ports() string { return DisplayablePorts(c.c.Ports) }

// State is the state (running, exited…).
func (c *ContainerContext) State() string { return string(c.c.State) }

// Status is the human-readable status.
func (c *ContainerContext) Status() string { return c.c.Status }

// Size is the size of the writable layer (and of the whole rootfs).
func (c *ContainerContext) Size() string {
	c.sizeUsed = true
	srw := units.HumanSizeWithPrecision(float64(c.c.SizeRw), 3)
	if c.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, units.HumanSizeWithPrecision(float64(c.c.SizeRootFs), 3))
	}
	return srw
}

// Labels is every label as k=v, comma separated.
func (c *ContainerContext) Labels() string { return joinLabels(c.c.Labels) }

// Label returns the value of one label.
func (c *ContainerContext) Label(name string) string { return c.c.Labels[name] }

// Mounts lists the names (or sources) of the mounts.
func (c *ContainerContext) Mounts() string {
	var ms []string
	for _, m := range c.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if c.trunc {
			name = Ellipsis(name, 15)
		}
		ms = append(ms, name)
	}
	return strings.Join(ms, ",")
}

// LocalVolumes counts the volumes of the local driver.
func (c *ContainerContext) LocalVolumes() string {
	n := 0
	for _, m := range c.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

// Networks lists the networks the container is connected to.
func (c *ContainerContext) Networks() string {
	if c.c.NetworkSettings == nil {
		return ""
	}
	var ns []string
	for k := range c.c.NetworkSettings.Networks {
		ns = append(ns, k)
	}
	slices.Sort(ns)
	return strings.Join(ns, ",")
}

// Platform is the platform of the container's image, when known.
func (c *ContainerContext) Platform() any {
	if d := c.c.ImageManifestDescriptor; d != nil && d.Platform != nil {
		return d.Platform
	}
	return nil
}

func joinLabels(l map[string]string) string {
	var s []string
	for k, v := range l {
		s = append(s, k+"="+v)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

// DisplayablePorts renders ports as docker ps does: consecutive ports are
// grouped into ranges, published ones shown as ip:public->private/proto.
func DisplayablePorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	groups := map[string]*group{}
	var keys, result, mappings []string
	ports = slices.Clone(ports)
	slices.SortFunc(ports, func(a, b container.PortSummary) int {
		if a.PrivatePort != b.PrivatePort {
			return int(a.PrivatePort) - int(b.PrivatePort)
		}
		if a.IP != b.IP {
			return a.IP.Compare(b.IP)
		}
		if a.PublicPort != b.PublicPort {
			return int(a.PublicPort) - int(b.PublicPort)
		}
		return strings.Compare(a.Type, b.Type)
	})
	for _, p := range ports {
		cur := p.PrivatePort
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != cur {
				hp := net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort)))
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", hp, p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{cur, cur}
			keys = append(keys, key)
			continue
		}
		if cur == g.last+1 {
			g.last = cur
			continue
		}
		result = append(result, formGroup(key, g.first, g.last))
		groups[key] = &group{cur, cur}
	}
	for _, k := range keys {
		g := groups[k]
		result = append(result, formGroup(k, g.first, g.last))
	}
	return strings.Join(append(result, mappings...), ", ")
}

func formGroup(key string, first, last uint16) string {
	typ, ip := key, ""
	if i := strings.LastIndex(key, "/"); i >= 0 {
		ip, typ = key[:i], key[i+1:]
	}
	g := strconv.Itoa(int(first))
	if first != last {
		g = fmt.Sprintf("%s-%d", g, last)
	}
	if ip != "" {
		g = fmt.Sprintf("%s:%s->%s", ip, g, g)
	}
	return g + "/" + typ
}
