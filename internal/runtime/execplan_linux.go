package runtime

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execPlan encodes for nsenter/execstage.c what execProcess does for an
// exec of p, so that the process runs without the Go runtime ever starting
// in it (see execstage.c for the format). It returns nil when p needs
// something only the Go init does (a scheduler, an I/O priority, CPU
// affinity), or when BERTH_EXEC_STAGE=go asks for the Go init (the tests
// run the same execs through both). Errors are the ones the Go init would
// report for the same process.
func execPlan(cfg *initConfig, p *specs.Process, spec *specs.Spec) ([]byte, error) {
	if p.IOPriority != nil || p.Scheduler != nil || p.ExecCPUAffinity != nil ||
		os.Getenv("BERTH_EXEC_STAGE") == "go" {
		return nil, nil
	}
	w := &planWriter{b: []byte{'X'}}
	if err := w.process(cfg, p, spec, true); err != nil {
		return nil, err
	}
	return w.b, nil
}

// planWriter writes the records of a plan for the C stages: a tag byte, a
// little-endian u32 length, the payload.
type planWriter struct{ b []byte }

func (w *planWriter) record(tag byte, payload []byte) {
	w.b = append(w.b, tag)
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(len(payload)))
	w.b = append(w.b, payload...)
}

// process writes p's records (see execstage.c); the rlimits only when
// the stage sets them (an exec: a container's init gets them from the
// runtime at create).
func (w *planWriter) process(cfg *initConfig, p *specs.Process, spec *specs.Spec, rlimits bool) error {
	record := w.record
	if p.Terminal {
		var size []byte
		if cs := p.ConsoleSize; cs != nil {
			size = binary.LittleEndian.AppendUint32(nil, uint32(cs.Height))
			size = binary.LittleEndian.AppendUint32(size, uint32(cs.Width))
		}
		record('T', size)
	}
	for _, a := range p.Args {
		record('A', []byte(a))
	}
	for _, e := range p.Env {
		record('V', []byte(e))
	}
	record('D', []byte(p.Cwd))

	user := binary.LittleEndian.AppendUint32(nil, p.User.UID)
	user = binary.LittleEndian.AppendUint32(user, p.User.GID)
	for _, g := range p.User.AdditionalGids {
		user = binary.LittleEndian.AppendUint32(user, g)
	}
	record('U', user)
	if p.User.Umask != nil {
		record('M', binary.LittleEndian.AppendUint32(nil, *p.User.Umask))
	}

	caps, err := newCapabilities(p.Capabilities)
	if err != nil {
		return err
	}
	last, err := capability.LastCap()
	if err != nil {
		return err
	}
	c := binary.LittleEndian.AppendUint32(nil, uint32(last))
	for _, which := range []capability.CapType{capability.BOUNDING, capability.EFFECTIVE,
		capability.PERMITTED, capability.INHERITABLE, capability.AMBIENT} {
		var mask uint64
		for cp := capability.Cap(0); cp <= last && cp < 64; cp++ {
			if caps.c.Get(which, cp) {
				mask |= 1 << uint(cp)
			}
		}
		c = binary.LittleEndian.AppendUint64(c, mask)
	}
	record('C', c)
	if p.NoNewPrivileges {
		record('N', nil)
	}

	if spec.Linux != nil && spec.Linux.Personality != nil {
		var persona uint32
		switch d := spec.Linux.Personality.Domain; d {
		case specs.PerLinux:
			persona = 0x0000
		case specs.PerLinux32:
			persona = 0x0008
		default:
			return fmt.Errorf("unknown personality domain %q", d)
		}
		record('P', append(binary.LittleEndian.AppendUint32(nil, persona), spec.Linux.Personality.Domain...))
	}
	for _, r := range p.Rlimits {
		if !rlimits {
			break
		}
		l := binary.LittleEndian.AppendUint32(nil, uint32(rlimitNames[r.Type]))
		l = binary.LittleEndian.AppendUint64(l, r.Soft)
		l = binary.LittleEndian.AppendUint64(l, r.Hard)
		record('R', append(l, r.Type...))
	}
	record('F', binary.LittleEndian.AppendUint32(nil, uint32(3+cfg.PreserveFDs)))
	if len(cfg.SeccompFilter) > 0 {
		record('S', cfg.SeccompFilter)
	}
	return nil
}
