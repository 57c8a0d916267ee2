// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// ParseRef parses an image reference and normalizes it as Docker does:
// "busybox" becomes docker.io/library/busybox:latest, "localhost:5000/x"
// keeps its registry, and a reference with a digest keeps the digest (and
// gets no default tag). Malformed references are errdefs.ErrInvalidArgument.
func ParseRef(s string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format %q: %v", s, err))
	}
	return reference.TagNameOnly(named), nil
}

// toName converts a normalized reference to go-containerregistry's form.
// A reference with both a tag and a digest is resolved by its digest, as
// Docker does. A bare name gets the tag "latest".
func toName(ref reference.Named) (name.Reference, error) {
	repo, err := name.NewRepository(reference.Domain(ref)+"/"+reference.Path(ref), name.StrictValidation)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("reference %s: %v", ref, err))
	}
	if d, ok := ref.(reference.Digested); ok {
		return repo.Digest(d.Digest().String()), nil
	}
	if t, ok := ref.(reference.Tagged); ok {
		return repo.Tag(t.Tag()), nil
	}
	return repo.Tag("latest"), nil
}
