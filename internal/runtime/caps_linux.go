package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capSets holds the five capability sets of a process, resolved from the
// spec's names.
type capSets struct {
	c capability.Capabilities
}

// capByName maps "CAP_SYS_ADMIN" to its number, for the capabilities this
// kernel knows.
func capByName() (map[string]capability.Cap, error) {
	supported, err := capability.ListSupported()
	if err != nil {
		return nil, err
	}
	m := make(map[string]capability.Cap, len(supported))
	for _, c := range supported {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m, nil
}

// newCapabilities resolves the spec's capability sets. A name the kernel
// does not know is an error, and so is a capability outside the host's
// bounding set: the runtime cannot grant what it does not hold.
func newCapabilities(pc *specs.LinuxCapabilities) (*capSets, error) {
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, err
	}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	if pc == nil {
		return &capSets{c}, nil
	}
	known, err := capByName()
	if err != nil {
		return nil, err
	}
	sets := []struct {
		which capability.CapType
		names []string
	}{
		{capability.BOUNDING, pc.Bounding},
		{capability.EFFECTIVE, pc.Effective},
		{capability.PERMITTED, pc.Permitted},
		{capability.INHERITABLE, pc.Inheritable},
		{capability.AMBIENT, pc.Ambient},
	}
	for _, s := range sets {
		for _, name := range s.names {
			cp, ok := known[strings.ToUpper(name)]
			if !ok {
				return nil, fmt.Errorf("unknown capability %q", name)
			}
			if bound, err := capability.GetBound(cp); err == nil && !bound {
				return nil, fmt.Errorf("capability %s cannot be granted: it is not in the host's bounding set", name)
			}
			c.Set(s.which, cp)
		}
	}
	// The kernel raises an ambient capability only if it is both
	// permitted and inheritable; runc skips the others with a warning
	// (its default `runc spec` lists ambient capabilities that are not
	// inheritable), and so does berth, without one.
	for _, name := range pc.Ambient {
		cp := known[strings.ToUpper(name)]
		if !c.Get(capability.PERMITTED, cp) || !c.Get(capability.INHERITABLE, cp) {
			c.Unset(capability.AMBIENT, cp)
		}
	}
	return &capSets{c}, nil
}

// dropBounding removes everything else from the bounding set; it needs
// CAP_SETPCAP, so it happens before the identity change.
func (s *capSets) dropBounding() error {
	if err := s.c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("drop bounding capabilities: %w", err)
	}
	return nil
}

// apply sets the effective, permitted and inheritable sets of this thread,
// then raises the ambient ones.
func (s *capSets) apply() error {
	if err := s.c.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("apply capabilities: %w", err)
	}
	if err := s.c.Apply(capability.AMBS); err != nil {
		return fmt.Errorf("raise ambient capabilities: %w", err)
	}
	return nil
}

// KnownCapabilities lists the capability names this kernel supports.
func KnownCapabilities() []string {
	m, err := capByName()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for name := range m {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
