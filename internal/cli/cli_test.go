// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cli

import (
	"os"
	"slices"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/cli/command"
)

// TestTopLevel checks that every top-level command of the whole tree can
// be made on its own by the name it is called (topLevel), and that the
// command made alone is the one of the tree: same name, aliases, flags and
// subcommands.
func TestTopLevel(t *testing.T) {
	cli := command.NewCli(os.Stdin, os.Stdout, os.Stderr)
	root := NewRootCommand(cli)
	for _, want := range root.Commands() {
		if want.Name() == "help" {
			continue
		}
		mk, ok := topLevel[want.Name()]
		if !assert.Check(t, ok, "topLevel has no %q", want.Name()) {
			continue
		}
		got := mk(cli)
		assert.Check(t, is.Equal(got.Name(), want.Name()))
		assert.Check(t, is.DeepEqual(got.Aliases, want.Aliases))
		assert.Check(t, is.DeepEqual(describe("", got), describe("", want)), "command %q", want.Name())
	}
	assert.Check(t, is.Equal(len(topLevel), len(root.Commands())-countHelp(root)))
}

// describe lists a command's flags and, recursively, its subcommands'.
func describe(prefix string, c *cobra.Command) []string {
	path := prefix + c.Name()
	out := []string{path + " " + c.Use}
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			out = append(out, path+" --"+f.Name+"="+f.DefValue)
		}
	})
	for _, sub := range c.Commands() {
		out = append(out, describe(path+" ", sub)...)
	}
	slices.Sort(out)
	return out
}

func countHelp(root *cobra.Command) int {
	n := 0
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			n++
		}
	}
	return n
}

func TestCommandName(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ps", "-a"}, "ps"},
		{[]string{"-H", "unix:///x.sock", "run", "--rm", "busybox"}, "run"},
		{[]string{"--host=unix:///x.sock", "-D", "images"}, "images"},
		{[]string{"--context", "run", "exec"}, "exec"},
		{[]string{"-l", "debug", "--config", "/tmp/c", "container", "ls"}, "container"},
		{[]string{"--version"}, ""},
		{nil, ""},
	} {
		assert.Check(t, is.Equal(commandName(tc.args), tc.want), "%q", tc.args)
	}
}
