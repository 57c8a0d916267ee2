// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// invalidError is an error whose text is exactly Docker's (no prefix, no
// ": invalid argument" suffix) and which still matches
// errdefs.ErrInvalidArgument, so the API answers 400 with Docker's message.
type invalidError struct {
	msg   string
	cause error
}

func (e *invalidError) Error() string { return e.msg }

func (e *invalidError) Unwrap() []error {
	if e.cause != nil {
		return []error{errdefs.ErrInvalidArgument, e.cause}
	}
	return []error{errdefs.ErrInvalidArgument}
}

// invalidf returns an invalid-argument error with Docker's text.
func invalidf(format string, a ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, a...)}
}

// invalid marks err as an invalid argument, keeping its text and cause.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	return &invalidError{msg: err.Error(), cause: err}
}
