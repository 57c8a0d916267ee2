package runtime_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestTimeNamespaceOffsets gives the container a time namespace whose
// boot-time clock is a day ahead: /proc/uptime inside shows it.
func TestTimeNamespaceOffsets(t *testing.T) {
	r := newRT(t)
	b := sh(t, `cut -d. -f1 /proc/uptime; cat /proc/self/timens_offsets`, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"boottime":  {Secs: 86400},
			"monotonic": {Secs: 3600, Nanosecs: 5},
		}
	})
	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	lines := strings.Split(res.stdout, "\n")
	inside, err := strconv.ParseFloat(lines[0], 64)
	assert.NilError(t, err, res)
	data, err := os.ReadFile("/proc/uptime")
	assert.NilError(t, err)
	host, err := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	assert.NilError(t, err)
	assert.Assert(t, inside-host > 86000 && inside-host < 86500, "uptime inside %v, on the host %v", inside, host)
	assert.Assert(t, is.Regexp(`monotonic\s+3600\s+5`, res.stdout))
}

// TestTimeOffsetsNeedTimeNamespace: offsets without a new time namespace
// would have nothing to apply to.
func TestTimeOffsetsNeedTimeNamespace(t *testing.T) {
	r := newRT(t)
	b := sh(t, `true`, func(s *specs.Spec) {
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}
	})
	res := r.cmd("", "create", "--bundle", b, containerID(t))
	assertOneLineError(t, res, "timeOffsets require a new time namespace")
}
