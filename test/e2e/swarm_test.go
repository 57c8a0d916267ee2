// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"testing"

	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/testutil"
)

// TestNoSwarmNoPlugins runs the docker CLI's swarm and plugin commands:
// berth has neither, and answers as Docker does on a node in no swarm
// with no plugins (never "page not found").
func TestNoSwarmNoPlugins(t *testing.T) {
	testutil.RequiresRoot(t)
	const notManager = `Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`
	for _, args := range [][]string{
		{"node", "ls"}, {"node", "inspect", "self"}, {"service", "ls"}, {"service", "create", "busybox"},
		{"stack", "ls"}, {"secret", "ls"}, {"config", "ls"}, {"swarm", "unlock-key"},
	} {
		fails(t, 1, notManager, args...)
	}
	fails(t, 1, "Error response from daemon: This node is not part of a swarm", "swarm", "leave")
	fails(t, 1, "swarm mode is not supported by berth", "swarm", "init")
	assert.Equal(t, ok(t, "plugin", "ls"), "ID        NAME      DESCRIPTION   ENABLED")
	fails(t, 1, `plugin "foo" not found`, "plugin", "inspect", "foo")
	fails(t, 1, `plugin "foo" not found`, "plugin", "rm", "foo")
	fails(t, 1, `plugin "foo" not found`, "plugin", "enable", "foo")
}
