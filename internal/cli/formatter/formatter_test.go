// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package formatter

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

var testNow = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func pinClock(t *testing.T) {
	old, oldLocal := now, time.Local
	now = func() time.Time { return testNow }
	time.Local = time.UTC // CreatedAt is rendered in local time
	t.Cleanup(func() { now, time.Local = old, oldLocal })
}

func testContainers() []container.Summary {
	return []container.Summary{
		{
			ID: "aac29bc71cf1aac29bc71cf1aac29bc71cf1aac29bc71cf1aac29bc71cf1aaaa", Names: []string{"/web", "/other/link"},
			Image: "busybox", ImageID: "sha256:22bb6a91c7f97af56acb6833824cd799eae501663578ef2cb2191e31e45740a7",
			Command: "sh -c 'while true; do sleep 1; done'", Created: testNow.Add(-90 * time.Minute).Unix(),
			State: "running", Status: "Up 1 hour", SizeRw: 12, SizeRootFs: 1984319,
			Labels: map[string]string{"b": "2", "a": "1"},
			Ports: []container.PortSummary{
				{PrivatePort: 80, Type: "tcp"}, {PrivatePort: 81, Type: "tcp"},
				{IP: netip.MustParseAddr("0.0.0.0"), PrivatePort: 443, PublicPort: 443, Type: "tcp"},
				{IP: netip.MustParseAddr("127.0.0.1"), PrivatePort: 53, PublicPort: 5353, Type: "udp"},
			},
		},
		{
			ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Names: []string{"/db"},
			Image:   "sha256:22bb6a91c7f97af56acb6833824cd799eae501663578ef2cb2191e31e45740a7",
			ImageID: "sha256:22bb6a91c7f97af56acb6833824cd799eae501663578ef2cb2191e31e45740a7",
			Command: "true", Created: testNow.Add(-3 * 24 * time.Hour).Unix(), State: "exited", Status: "Exited (0) 2 days ago",
		},
	}
}

func testImages() []image.Summary {
	return []image.Summary{
		{ID: "sha256:22bb6a91c7f97af56acb6833824cd799eae501663578ef2cb2191e31e45740a7", RepoTags: []string{"busybox:latest", "localhost:5000/bb:1"},
			RepoDigests: []string{"localhost:5000/bb@sha256:1111111111111111111111111111111111111111111111111111111111111111"},
			Created:     testNow.Add(-2 * time.Hour).Unix(), Size: 1984319, Containers: -1, SharedSize: -1},
		{ID: "sha256:3333333333333333333333333333333333333333333333333333333333333333", Created: testNow.Add(-400 * 24 * time.Hour).Unix(),
			Size: 123456789, Containers: 2, SharedSize: 1000},
	}
}

// TestContainerWrite renders "ps" output in each format; go test -update
// rewrites the golden files.
func TestContainerWrite(t *testing.T) {
	pinClock(t)
	for _, tc := range []struct {
		name    string
		format  Format
		noTrunc bool
	}{
		{"table", ContainerFormat("", false, false), false},
		{"table-size", ContainerFormat("table", false, true), false},
		{"table-no-trunc", ContainerFormat("", false, false), true},
		{"quiet", ContainerFormat("", true, false), false},
		{"json", ContainerFormat("json", false, false), false},
		{"template", `{{.Names}} {{.Label "a"}} {{.Labels}} {{upper .State}} {{json .ID}}`, false},
		{"custom-table", `table {{.ID}}\t{{.Ports}}\t{{.CreatedAt}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			assert.NilError(t, ContainerWrite(Context{Output: &b, Format: tc.format, Trunc: !tc.noTrunc}, testContainers()))
			golden.Assert(t, b.String(), "TestContainerWrite/"+tc.name+".golden")
		})
	}
}

func TestImageWrite(t *testing.T) {
	pinClock(t)
	for _, tc := range []struct {
		name             string
		format           Format
		digests, noTrunc bool
	}{
		{"table", ImageFormat("", false, false), false, false},
		{"digests", ImageFormat("", false, true), true, false},
		{"no-trunc", ImageFormat("", false, false), false, true},
		{"quiet", ImageFormat("", true, false), false, false},
		{"json", ImageFormat("json", false, false), false, false},
		{"template", "{{.Repository}}:{{.Tag}} {{.Containers}} {{.SharedSize}} {{.UniqueSize}}", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			assert.NilError(t, ImageWrite(Context{Output: &b, Format: tc.format, Trunc: !tc.noTrunc}, testImages(), tc.digests))
			golden.Assert(t, b.String(), "TestImageWrite/"+tc.name+".golden")
		})
	}
}

func TestTemplateError(t *testing.T) {
	var b bytes.Buffer
	err := ContainerWrite(Context{Output: &b, Format: "{{.Nope}}"}, testContainers())
	assert.ErrorContains(t, err, "template parsing error")
	err = ContainerWrite(Context{Output: &b, Format: "{{.ID"}, testContainers())
	assert.ErrorContains(t, err, "template parsing error")
}

func TestHumanize(t *testing.T) {
	pinClock(t)
	for _, tc := range []struct{ got, want string }{
		{HumanSize(0), "0B"},
		{HumanSize(1984319), "1.98MB"},
		{HumanSize(123456789), "123MB"},
		{BytesSize(1536), "1.5KiB"},
		{HumanDuration(500 * time.Millisecond), "Less than a second"},
		{HumanDuration(90 * time.Second), "About a minute"},
		{HumanDuration(3 * time.Hour), "3 hours"},
		{HumanSince(testNow.Add(-48 * time.Hour).Unix()), "2 days ago"},
		{TruncateID("sha256:22bb6a91c7f97af56acb"), "22bb6a91c7f9"},
		{Ellipsis("abcdefgh", 5), "abcd…"},
		{Ellipsis("abc", 5), "abc"},
		{DisplayablePorts(testContainers()[0].Ports), "80-81/tcp, 0.0.0.0:443->443/tcp, 127.0.0.1:5353->53/udp"},
	} {
		assert.Equal(t, tc.got, tc.want)
	}
}

// TestDefaultRow: ps's default rows, rendered without text/template, are
// exactly what the template renders.
func TestDefaultRow(t *testing.T) {
	pinClock(t)
	for _, size := range []bool{false, true} {
		ctx := Context{Format: ContainerFormat("", false, size)}
		ctx.preFormat()
		tmpl, err := ctx.parse()
		assert.NilError(t, err)
		for _, trunc := range []bool{true, false} {
			for _, c := range testContainers() {
				row := NewContainerContext(c, trunc)
				fast, ok := row.DefaultRow(ctx.finalFormat)
				assert.Assert(t, ok, "size %v: the default format is not recognized", size)
				var b bytes.Buffer
				assert.NilError(t, tmpl.Execute(&b, NewContainerContext(c, trunc)))
				assert.Equal(t, fast, b.String())
			}
		}
	}
	_, ok := NewContainerContext(testContainers()[0], true).DefaultRow("{{.ID}}")
	assert.Assert(t, !ok)
}
