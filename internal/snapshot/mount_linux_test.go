// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package snapshot

import (
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestCompactLowerdir(t *testing.T) {
	for _, tc := range []struct {
		name      string
		data      []string
		chdir     string
		wantLower string
	}{
		{"siblings", []string{"index=off", "lowerdir=/r/snapshots/12/fs:/r/snapshots/9/fs", "upperdir=/r/snapshots/13/fs"},
			"/r/snapshots", "lowerdir=12/fs:9/fs"},
		{"one layer", []string{"lowerdir=/r/snapshots/12/fs"}, "", "lowerdir=/r/snapshots/12/fs"},
		{"nothing shared", []string{"lowerdir=/a/fs:/b/fs"}, "", "lowerdir=/a/fs:/b/fs"},
		{"prefix is not a directory", []string{"lowerdir=/r/snap1/fs:/r/snap2/fs"}, "/r", "lowerdir=snap1/fs:snap2/fs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chdir, data, err := compactLowerdir(tc.data)
			assert.NilError(t, err)
			assert.Check(t, is.Equal(chdir, tc.chdir))
			assert.Check(t, is.Contains(data, tc.wantLower))
		})
	}
}

func TestMountDataLimit(t *testing.T) {
	lower := func(n int) string {
		dirs := make([]string, n)
		for i := range dirs {
			dirs[i] = "/var/lib/berth/snapshots/overlay/snapshots/" + strconv.Itoa(10000+i) + "/fs"
		}
		return "lowerdir=" + strings.Join(dirs, ":")
	}
	m := Mount{Type: "overlay", Source: "overlay", Options: []string{"index=off", lower(300), "upperdir=/x/fs", "workdir=/x/work"}}
	a, err := m.args()
	assert.NilError(t, err)
	assert.Check(t, is.Equal(a.chdir, "/var/lib/berth/snapshots/overlay/snapshots"))
	assert.Check(t, len(a.data) <= maxMountData)

	m.Options[1] = lower(500)
	err = m.Validate()
	assert.Check(t, errdefs.IsInvalidArgument(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "too many layers"))
}

func TestMountFlags(t *testing.T) {
	a, err := Mount{Type: "bind", Source: "/s", Options: []string{"ro", "rbind", "nosuid", "foo=bar"}}.args()
	assert.NilError(t, err)
	assert.Check(t, is.Equal(a.fstype, ""))
	assert.Check(t, is.Equal(a.data, "foo=bar"))
	assert.Check(t, a.flags&0x1000 != 0 && a.flags&0x4000 != 0, "MS_BIND|MS_REC: %#x", a.flags)
}

func TestDiffDirs(t *testing.T) {
	upper, lower, err := DiffDirs([]Mount{{Type: "overlay", Options: []string{"upperdir=/u", "workdir=/w", "lowerdir=/a:/b"}}})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(upper, "/u"))
	assert.Check(t, is.DeepEqual(lower, []string{"/a", "/b"}))

	upper, lower, err = DiffDirs([]Mount{{Type: "bind", Source: "/s", Options: []string{"rw", "rbind"}}})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(upper, "/s"))
	assert.Check(t, is.Len(lower, 0))

	for _, m := range []Mount{
		{Type: "bind", Source: "/s", Options: []string{"ro", "rbind"}},
		{Type: "overlay", Options: []string{"lowerdir=/a:/b"}},
		{Type: "tmpfs"},
	} {
		_, _, err := DiffDirs([]Mount{m})
		assert.Check(t, errdefs.IsInvalidArgument(err), "%+v: %v", m, err)
	}
}
