// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package builder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/berth-project/berth/internal/archive"
)

// ExtractContext unpacks a build context sent as a tar stream (plain,
// gzip or zstd) into dir, confined to it, then removes what .dockerignore
// excludes (the Dockerfile and .dockerignore stay, as Docker sends them
// whatever the patterns say). A body that is not an archive is the
// Dockerfile itself (`docker build - < Dockerfile`): data returns it.
func ExtractContext(ctx context.Context, r io.Reader, dir, dockerfile string) (data []byte, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	if !archive.IsCompressed(head) && !(len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))) {
		data, err := io.ReadAll(io.LimitReader(br, 10<<20))
		if err != nil {
			return nil, err
		}
		if len(head) >= 262 && head[156] != 0 && bytes.IndexByte(head[:100], 0) > 0 {
			// an old tar without the ustar magic: let Apply read it
			return nil, extractTar(ctx, io.MultiReader(bytes.NewReader(data), br), dir, dockerfile)
		}
		return data, nil
	}
	return nil, extractTar(ctx, br, dir, dockerfile)
}

func extractTar(ctx context.Context, r io.Reader, dir, dockerfile string) error {
	dr, err := archive.Decompress(r)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("the build context is not a tar archive: " + err.Error())
	}
	defer dr.Close()
	// A context is a plain directory tree: no overlay whiteouts in it.
	if _, err := archive.Apply(ctx, dir, dr, archive.ApplyOptions{Whiteouts: archive.RemoveWhiteouts}); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("unpack the build context: " + err.Error())
	}
	return applyDockerignore(dir, dockerfile)
}

// applyDockerignore removes what the context's .dockerignore excludes.
func applyDockerignore(dir, dockerfile string) error {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pats, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("read .dockerignore: " + err.Error())
	}
	if len(pats) == 0 {
		return nil
	}
	pm, err := patternmatcher.New(pats)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid .dockerignore: " + err.Error())
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	keep := map[string]bool{".dockerignore": true, filepath.Clean(dockerfile): true}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || keep[rel] {
			return nil
		}
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if !excluded {
			return nil
		}
		if d.IsDir() && pm.Exclusions() {
			return nil // an exception may keep something below
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
}

// confined returns the path of rel in the context dir, refusing one that
// leaves it (also through symlinks).
func confined(dir, rel string) (string, error) {
	p, err := resolveInContext(dir, strings.TrimPrefix(filepath.Clean("/"+rel), "/"))
	if err != nil {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("the Dockerfile %s: %v", rel, err))
	}
	if c := filepath.Clean(rel); c == ".." || strings.HasPrefix(c, "../") {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("the Dockerfile (%s) must be within the build context", rel))
	}
	return p, nil
}
