// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// classify gives err an errdefs class and prefixes what: the registry's
// own message is kept ("manifest unknown", "authentication required").
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		msg := fmt.Sprintf("%s: %s", what, registryMessage(terr))
		switch {
		case terr.StatusCode == http.StatusUnauthorized || hasCode(terr, transport.UnauthorizedErrorCode):
			return errdefs.ErrUnauthenticated.WithMessage(msg)
		case terr.StatusCode == http.StatusForbidden || hasCode(terr, transport.DeniedErrorCode):
			return errdefs.ErrPermissionDenied.WithMessage(msg)
		case terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode):
			// Docker's words: "manifest for x:1 not found: manifest unknown".
			return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("%s not found: %s", what, registryMessage(terr)))
		case terr.StatusCode == http.StatusTooManyRequests:
			return errdefs.ErrResourceExhausted.WithMessage(msg)
		case terr.StatusCode == http.StatusServiceUnavailable || terr.StatusCode == http.StatusBadGateway || terr.StatusCode == http.StatusGatewayTimeout:
			return errdefs.ErrUnavailable.WithMessage(msg)
		case terr.StatusCode >= 400 && terr.StatusCode < 500:
			return errdefs.ErrInvalidArgument.WithMessage(msg)
		}
		return errdefs.ErrUnknown.WithMessage(msg)
	}
	if isClassified(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("%s: %v", what, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// registryMessage is the registry's error text without the request line
// go-containerregistry puts in front: "manifest unknown: manifest unknown".
func registryMessage(terr *transport.Error) string {
	if len(terr.Errors) == 0 {
		// HEAD answers have no body.
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			return "unauthorized: authentication required"
		case http.StatusForbidden:
			return "denied: requested access to the resource is denied"
		case http.StatusNotFound:
			return "not found"
		}
		return fmt.Sprintf("%d %s", terr.StatusCode, strings.ToLower(http.StatusText(terr.StatusCode)))
	}
	msgs := make([]string, 0, len(terr.Errors))
	for _, d := range terr.Errors {
		code := strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
		if d.Message == "" {
			msgs = append(msgs, code)
		} else {
			msgs = append(msgs, code+": "+d.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

func hasCode(terr *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

func isClassified(err error) bool {
	for _, is := range []func(error) bool{
		errdefs.IsInvalidArgument, errdefs.IsNotFound, errdefs.IsUnauthorized,
		errdefs.IsPermissionDenied, errdefs.IsUnavailable, errdefs.IsNotImplemented,
		errdefs.IsFailedPrecondition, errdefs.IsAlreadyExists,
	} {
		if is(err) {
			return true
		}
	}
	return false
}
