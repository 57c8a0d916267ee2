// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package builder

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func (bld *Builder) parseString(s string) error { return bld.parseData([]byte(s)) }

func TestResolveInContext(t *testing.T) {
	dir := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "a/b/f"), nil, 0o644))
	for name, target := range map[string]string{
		"in": "a/b", "up": "../a", "abs": "/etc", "out": "../../x", "a/b/back": "../../a/b/f", "loop": "loop",
	} {
		assert.NilError(t, os.Symlink(target, filepath.Join(dir, name)))
	}
	tests := []struct {
		rel, want, err string
	}{
		{rel: "a/b/f", want: "a/b/f"},
		{rel: "in/f", want: "a/b/f"},
		{rel: "a/b/back", want: "a/b/f"},
		{rel: "a/../a/b", want: "a/b"},
		{rel: "missing/x", want: "missing/x"},
		{rel: "..", err: "forbidden path outside the build context"},
		{rel: "a/../../x", err: "forbidden path outside the build context"},
		{rel: "up", err: "up -> ../a (the symlink points outside the context)"},
		{rel: "abs/passwd", err: "abs -> /etc"},
		{rel: "out", err: "out -> ../../x"},
		{rel: "loop", err: "too many symlinks"},
	}
	for _, tc := range tests {
		got, err := resolveInContext(dir, tc.rel)
		if tc.err != "" {
			assert.Check(t, is.ErrorContains(err, tc.err), tc.rel)
			continue
		}
		assert.Check(t, err, tc.rel)
		assert.Check(t, is.Equal(got, filepath.Join(dir, tc.want)), tc.rel)
	}
}

func TestExposedPorts(t *testing.T) {
	st := &stage{args: envList{"P=8080"}}
	b := &Builder{buildArgs: map[string]*string{}, usedArgs: map[string]bool{}}
	assert.NilError(t, b.parseString("FROM scratch\n"))
	got, err := b.exposedPorts(st, []string{"80", "53/UDP", "9000-9002/tcp", "$P"})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []string{"80/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp", "8080/tcp"}))
	for _, bad := range []string{"x", "80/icmp", "9-1", "70000"} {
		_, err := b.exposedPorts(st, []string{bad})
		assert.Check(t, is.ErrorContains(err, "invalid containerPort"), bad)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		dockerfile, err string
	}{
		{"FROM busybox\nRUN true\nBOGUS x\n", "dockerfile parse error line 3 (Dockerfile): unknown instruction: BOGUS"},
		{"RUN true\n", "dockerfile parse error line 1 (Dockerfile): no build stage in current context"},
		{"FROM busybox\nEXPOSE\n", "dockerfile parse error line 2 (Dockerfile): EXPOSE requires at least one argument"},
		{"# only a comment\n", "file with no instructions"},
		{"FROM busybox\nHEALTHCHECK --interval=x CMD true\n", "line 2"},
	}
	for _, tc := range tests {
		b := &Builder{buildArgs: map[string]*string{}, usedArgs: map[string]bool{}}
		err := b.parseString(tc.dockerfile)
		assert.Check(t, is.ErrorContains(err, tc.err), tc.dockerfile)
	}
}

func TestNeededStages(t *testing.T) {
	b := &Builder{buildArgs: map[string]*string{}, usedArgs: map[string]bool{}}
	assert.NilError(t, b.parseString(`ARG BASE=a
FROM busybox AS a
FROM busybox AS unused
FROM ${BASE} AS b
FROM busybox AS c
COPY --from=0 /x /x
FROM b
COPY --from=c /y /y
`))
	got, err := b.neededStages(len(b.stages) - 1)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []int{0, 2, 3, 4}))
	got, err = b.neededStages(2)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []int{0, 2}))
}

func TestEnvList(t *testing.T) {
	e := envList{"A=1", "B=2"}.set("A", "3").set("C", "4")
	assert.Check(t, is.DeepEqual([]string(e), []string{"A=3", "B=2", "C=4"}))
	v, ok := e.Get("C")
	assert.Check(t, ok && v == "4")
	_, ok = e.Get("D")
	assert.Check(t, !ok)
	assert.Check(t, is.DeepEqual(e.Keys(), []string{"A", "B", "C"}))
}

func TestExtractContextDockerignore(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := map[string]string{
		"Dockerfile":      "FROM scratch\n",
		".dockerignore":   "# comment\n*.log\nsecret/\n!secret/keep.txt\nDockerfile\n",
		"app.go":          "package main\n",
		"debug.log":       "x",
		"sub/trace.log":   "x",
		"secret/key":      "x",
		"secret/keep.txt": "x",
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		assert.NilError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(files[name]))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	dir := t.TempDir()
	data, err := ExtractContext(t.Context(), &buf, dir, "")
	assert.NilError(t, err)
	assert.Check(t, data == nil)
	var left []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, rel)
		}
		return nil
	})
	slices.Sort(left)
	// sub/trace.log stays: "*.log" matches at the top only, as in Docker
	assert.Check(t, is.DeepEqual(left, []string{".dockerignore", "Dockerfile", "app.go", "secret/keep.txt", "sub/trace.log"}))

	// a body that is no archive is the Dockerfile
	data, err = ExtractContext(t.Context(), strings.NewReader("FROM busybox\n"), t.TempDir(), "")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(data), "FROM busybox\n"))
}

func TestArgs(t *testing.T) {
	b := &Builder{buildArgs: map[string]*string{"GIVEN": ptr("cli")}, usedArgs: map[string]bool{}}
	assert.NilError(t, b.parseString("ARG META=meta\nARG GIVEN=default\nFROM busybox\n"))
	st := &stage{}
	for _, a := range []string{"ARG META", "ARG GIVEN", "ARG LOCAL=local", "ARG EMPTY"} {
		b2 := &Builder{buildArgs: b.buildArgs, usedArgs: b.usedArgs}
		assert.NilError(t, b2.parseString("FROM busybox\n"+a+"\n"))
		b.log = io.Discard
		assert.NilError(t, b.dispatch(t.Context(), st, b2.stages[0].Commands[0]))
	}
	assert.Check(t, is.DeepEqual([]string(st.args), []string{"META=meta", "GIVEN=cli", "LOCAL=local"}))
	assert.Check(t, b.usedArgs["GIVEN"])
	env, prefix := st.runEnv()
	assert.Check(t, is.Contains(env, "LOCAL=local"))
	assert.Check(t, is.Equal(prefix, "|3 META=meta GIVEN=cli LOCAL=local "))
}

func ptr(s string) *string { return &s }

func TestAddArchives(t *testing.T) {
	assert.Check(t, isArchive("testdata/sample.tar.bz2"))
	assert.Check(t, !isArchive("builder_test.go"))
	c := &copier{ctx: t.Context(), root: t.TempDir()}
	assert.NilError(t, mkdirAll(c.root, "/dest", 0, 0))
	assert.NilError(t, c.extract("testdata/sample.tar.bz2", "/dest"))
	b, err := os.ReadFile(filepath.Join(c.root, "dest/file.txt"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(b), "in bzip2\n"))
}

func TestDirectives(t *testing.T) {
	b := &Builder{buildArgs: map[string]*string{}, usedArgs: map[string]bool{}}
	assert.NilError(t, b.parseString("# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN echo a `\n  b\nCOPY C:\\x\\ /y/\n"))
	assert.Check(t, is.Equal(b.escape, '`'))
	cmds := b.stages[0].Commands
	assert.Assert(t, is.Len(cmds, 2))
	assert.Check(t, is.Equal(cmdCode(cmds[0]), "RUN echo a   b"))
	assert.Check(t, is.Contains(cmdCode(cmds[1]), `C:\x\`))
}

func TestCopyThroughSymlinkedDir(t *testing.T) {
	root := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	assert.NilError(t, os.Symlink("usr/bin", filepath.Join(root, "bin")))
	// a link in the image that points outside must not lead a write out
	outside := t.TempDir()
	assert.NilError(t, os.Symlink(outside, filepath.Join(root, "escape")))
	src := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "bin/tool"), []byte("x"), 0o755))
	assert.NilError(t, os.MkdirAll(filepath.Join(src, "escape"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "escape/f"), []byte("x"), 0o644))
	fi, err := os.Stat(src)
	assert.NilError(t, err)
	c := &copier{ctx: t.Context(), root: root, uid: os.Getuid(), gid: os.Getgid()}
	assert.NilError(t, c.copySource(source{abs: src, mode: fi.Mode()}, "/", true))
	_, err = os.Stat(filepath.Join(root, "usr/bin/tool"))
	assert.Check(t, err, "copied through the /bin symlink")
	l, err := os.Readlink(filepath.Join(root, "bin"))
	assert.Check(t, err == nil && l == "usr/bin", "the /bin symlink stays")
	entries, _ := os.ReadDir(outside)
	assert.Check(t, is.Len(entries, 0), "nothing written outside root")
}

func TestResolveSourcesGlob(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.txt", "b.txt", "c.md", "sub/d.txt"} {
		assert.NilError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644))
	}
	names := func(srcs []source) []string {
		var out []string
		for _, s := range srcs {
			rel, _ := filepath.Rel(dir, s.abs)
			out = append(out, rel)
		}
		return out
	}
	got, err := resolveSources(dir, "*.txt", true)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(names(got), []string{"a.txt", "b.txt"}))
	got, err = resolveSources(dir, "sub/*", true)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(names(got), []string{"sub/d.txt"}))
	got, err = resolveSources(dir, "/c.md", true)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(names(got), []string{"c.md"}))
	got, err = resolveSources(dir, "*.none", true)
	assert.NilError(t, err)
	assert.Check(t, is.Len(got, 0))
	_, err = resolveSources(dir, "missing", true)
	assert.Check(t, is.ErrorContains(err, "file not found in build context or excluded by .dockerignore: stat missing: file does not exist"))
}
