package runtime

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// setScheduler applies process.scheduler to the calling thread with
// sched_setattr(2); the program executed from it inherits the policy.
func setScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	policy, ok := schedPolicies[s.Policy]
	if !ok {
		return fmt.Errorf("unsupported scheduling policy %q", s.Policy)
	}
	attr := &unix.SchedAttr{Policy: policy, Nice: s.Nice, Priority: uint32(s.Priority),
		Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
	for _, f := range s.Flags {
		v, ok := schedFlags[f]
		if !ok {
			return fmt.Errorf("unknown scheduling flag %q", f)
		}
		attr.Flags |= v
	}
	if err := unix.SchedSetAttr(0, attr, 0); err != nil {
		return fmt.Errorf("sched_setattr %s: %w", s.Policy, err)
	}
	return nil
}

// setAffinity pins the calling thread to a CPU list such as "0-2,5".
func setAffinity(list string) error {
	if list == "" {
		return nil
	}
	set, err := parseCPUList(list)
	if err != nil {
		return err
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("set CPU affinity %s: %w", list, err)
	}
	return nil
}

func parseCPUList(list string) (unix.CPUSet, error) {
	var set unix.CPUSet
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 1024 {
			return set, fmt.Errorf("invalid CPU list %q", list)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return set, nil
}

// validateSched checks process.scheduler and execCPUAffinity at create.
func validateSched(p *specs.Process) error {
	if s := p.Scheduler; s != nil {
		if _, ok := schedPolicies[s.Policy]; !ok {
			return fmt.Errorf("unsupported scheduling policy %q", s.Policy)
		}
		for _, f := range s.Flags {
			if _, ok := schedFlags[f]; !ok {
				return fmt.Errorf("unknown scheduling flag %q", f)
			}
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		for _, l := range []string{a.Initial, a.Final} {
			if l == "" {
				continue
			}
			if _, err := parseCPUList(l); err != nil {
				return err
			}
		}
	}
	return nil
}
