// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package httpstatus

import (
	"errors"
	"fmt"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
)

func TestFromError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("no such container: x: %w", errdefs.ErrNotFound), 404},
		{fmt.Errorf("bad: %w", errdefs.ErrInvalidArgument), 400},
		{fmt.Errorf("name in use: %w", errdefs.ErrConflict), 409},
		{errdefs.ErrAlreadyExists, 409},
		{errdefs.ErrNotModified, 304},
		{errors.New("boom"), 500},
	} {
		assert.Equal(t, FromError(tc.err), tc.want, tc.err.Error())
	}
}
