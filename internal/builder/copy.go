// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package builder

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
)

// copySpec is a COPY or ADD.
type copySpec struct {
	name    string // "COPY" or "ADD"
	code    string
	sd      instructions.SourcesAndDest
	from    string
	chown   string
	chmod   string
	exclude []string
	parents bool
	add     bool // ADD: URLs and archives
	unpack  bool
}

// source is one thing to copy: a file or directory at abs on the host
// (inside the context, a mounted image or a download), named base in a
// destination directory.
type source struct {
	abs     string
	base    string
	archive bool // ADD of a local tar archive: extracted
	mode    os.FileMode
	mtime   time.Time
	inline  []byte // a heredoc's content
	hasMode bool
}

func (bld *Builder) copy(ctx context.Context, st *stage, spec copySpec) error {
	fail := func(format string, a ...any) error {
		return errdefs.ErrInvalidArgument.WithMessage(spec.name + " failed: " + fmt.Sprintf(format, a...))
	}
	if spec.parents {
		return errdefs.ErrNotImplemented.WithMessage("COPY --parents requires BuildKit")
	}
	var chmod os.FileMode
	if spec.chmod != "" {
		m, err := strconv.ParseUint(spec.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid chmod parameter: %s", spec.chmod))
		}
		chmod = os.FileMode(m)
	}
	dest := spec.sd.DestPath
	if !path.IsAbs(dest) {
		wd := st.cfg.WorkingDir
		if wd == "" {
			wd = "/"
		}
		trailing := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
		dest = path.Join(wd, dest)
		if trailing {
			dest += "/"
		}
	}
	// The root the sources are read from: the context, or the image or
	// stage --from names (mounted for the step).
	withSourceRoot := func(fn func(root string, inContext bool) error) error {
		return fn(bld.opts.ContextDir, true)
	}
	if spec.from != "" {
		var img string
		if j, ok := bld.stageIndex(spec.from, st.index); ok {
			img = bld.results[j].ID
		} else if _, ok := instructions.HasStage(bld.stages, spec.from); ok {
			return fail("invalid from flag value %s: the stage is defined later", spec.from)
		} else {
			im, err := bld.b.Image(ctx, spec.from)
			if err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid from flag value %s: %v", spec.from, err))
			}
			img = im.ID
		}
		withSourceRoot = func(fn func(root string, inContext bool) error) error {
			return bld.b.Mount(ctx, img, func(root string) error { return fn(root, false) })
		}
	}
	var tmp string
	defer func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}()
	return withSourceRoot(func(root string, inContext bool) error {
		var srcs []source
		for _, sc := range spec.sd.SourceContents {
			srcs = append(srcs, source{base: path.Base(sc.Path), inline: []byte(sc.Data), mode: 0o644, hasMode: true})
		}
		for _, p := range spec.sd.SourcePaths {
			if spec.add && isURL(p) {
				if tmp == "" {
					var err error
					if tmp, err = os.MkdirTemp("", "berth-add-"); err != nil {
						return err
					}
				}
				s, err := download(ctx, p, tmp)
				if err != nil {
					return fail("%v", err)
				}
				srcs = append(srcs, s)
				continue
			}
			found, err := resolveSources(root, p, inContext)
			if err != nil {
				return fail("%v", err)
			}
			srcs = append(srcs, found...)
		}
		if len(spec.exclude) > 0 {
			pm, err := patternmatcher.New(spec.exclude)
			if err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
			srcs = excludeSources(srcs, root, pm)
		}
		if len(srcs) == 0 {
			return fail("no source files were specified")
		}
		if spec.add && spec.unpack {
			for i := range srcs {
				srcs[i].archive = srcs[i].inline == nil && srcs[i].mode.IsRegular() && !srcs[i].hasMode && isArchive(srcs[i].abs)
			}
		}
		sum, err := hashSources(srcs)
		if err != nil {
			return fail("%v", err)
		}
		destIsDir := strings.HasSuffix(dest, "/") || len(srcs) > 1
		createdBy := fmt.Sprintf("/bin/sh -c #(nop) %s %s in %s ", spec.name, sum, dest)
		key := cacheKey("copy", st.img.ID, spec.code, spec.chown, spec.chmod, dest, sum.String(), configString(st.cfg))
		if bld.useCache(ctx, st, key) {
			return nil
		}
		id, err := bld.b.Prepare(ctx, st.img.ID, createdBy, func(ctrRoot string) error {
			uid, gid := 0, 0
			if spec.chown != "" {
				var err error
				if uid, gid, err = lookupUser(ctrRoot, spec.chown); err != nil {
					return fail("%v", err)
				}
			}
			c := &copier{ctx: ctx, root: ctrRoot, uid: uid, gid: gid, chmod: chmod}
			for _, s := range srcs {
				if err := c.copySource(s, dest, destIsDir); err != nil {
					return fail("%v", err)
				}
			}
			return nil
		})
		if err != nil {
			bld.discardQuiet(ctx, id)
			return err
		}
		img, err := bld.b.Commit(ctx, id, st.img.ID, st.cfg, History{CreatedBy: createdBy, Author: st.author, Discard: true}, key)
		bld.discardQuiet(ctx, id)
		if err != nil {
			return err
		}
		bld.advance(st, img)
		return nil
	})
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// resolveSources finds the files a source path names (a glob may name
// several). In the context, a path that leaves it, or a symlink on the
// way that points outside it, is refused; in an image the path resolves
// inside the image's root.
func resolveSources(root, p string, inContext bool) ([]source, error) {
	rel := filepath.Clean(filepath.FromSlash(p))
	if filepath.IsAbs(rel) {
		rel = strings.TrimPrefix(rel, string(filepath.Separator))
		if rel == "" {
			rel = "."
		}
	}
	if inContext && (rel == ".." || strings.HasPrefix(rel, "../")) {
		return nil, fmt.Errorf("forbidden path outside the build context: %s ()", p)
	}
	var rels []string
	if strings.ContainsAny(rel, "*?[") {
		err := filepath.WalkDir(root, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(root, fp)
			if ok, _ := filepath.Match(rel, r); ok && r != "." {
				rels = append(rels, r)
				if d.IsDir() {
					return filepath.SkipDir
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(rels) == 0 {
			return nil, nil
		}
	} else {
		rels = []string{rel}
	}
	var out []source
	for _, r := range rels {
		var abs string
		var err error
		if inContext {
			abs, err = resolveInContext(root, r)
		} else {
			abs, err = securejoin.SecureJoin(root, r)
		}
		if err != nil {
			return nil, err
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				if inContext {
					return nil, fmt.Errorf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", p)
				}
				return nil, fmt.Errorf("stat %s: file does not exist", p)
			}
			return nil, err
		}
		base := filepath.Base(r)
		if fi.IsDir() {
			base = ""
		}
		out = append(out, source{abs: abs, base: base, mode: fi.Mode(), mtime: fi.ModTime()})
	}
	return out, nil
}

// resolveInContext resolves rel inside the context root, following
// symlinks (as Docker does for sources) only while they stay inside it.
func resolveInContext(root, rel string) (string, error) {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	cur := ""
	for links := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		if part == "" || part == "." {
			continue
		}
		if part == ".." {
			if cur == "" {
				return "", fmt.Errorf("forbidden path outside the build context: %s ()", rel)
			}
			cur = path.Dir(cur)
			if cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 255 {
			return "", fmt.Errorf("too many symlinks in %s", rel)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		resolved := path.Clean(path.Join(cur, target))
		if path.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
			return "", fmt.Errorf("forbidden path outside the build context: %s -> %s (the symlink points outside the context)", next, target)
		}
		parts = append(strings.Split(resolved, "/"), parts...)
		cur = ""
	}
	return filepath.Join(root, cur), nil
}

func excludeSources(srcs []source, root string, pm *patternmatcher.PatternMatcher) []source {
	var out []source
	for _, s := range srcs {
		if s.abs != "" {
			if r, err := filepath.Rel(root, s.abs); err == nil {
				if ok, _ := pm.MatchesOrParentMatches(r); ok {
					continue
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// hashSources digests what will be copied: names, types, modes, link
// targets and contents, for the cache key and the history.
func hashSources(srcs []source) (cacheSum, error) {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "src %q %v\n", s.base, s.archive)
		if s.inline != nil {
			fmt.Fprintf(h, "inline %d\n", len(s.inline))
			h.Write(s.inline)
			continue
		}
		err := filepath.WalkDir(s.abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(s.abs, p)
			// The modification time is left out, as Docker leaves it
			// out: a touched but unchanged file keeps the cache.
			fmt.Fprintf(h, "%q %o", rel, fi.Mode())
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				t, _ := os.Readlink(p)
				fmt.Fprintf(h, " -> %q", t)
			case fi.Mode().IsRegular():
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				fh := sha256.New()
				_, err = io.Copy(fh, f)
				f.Close()
				if err != nil {
					return err
				}
				fmt.Fprintf(h, " %x", fh.Sum(nil))
			}
			h.Write([]byte{'\n'})
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	kind := "file"
	if len(srcs) > 1 || (len(srcs) == 1 && srcs[0].mode.IsDir()) {
		kind = "dir"
	}
	return cacheSum(kind + ":" + hex.EncodeToString(h.Sum(nil))), nil
}

type cacheSum string

func (c cacheSum) String() string { return string(c) }

// isArchive says whether the file is a tar archive, plain or compressed
// with gzip, zstd or bzip2.
func isArchive(p string) bool {
	r, err := openArchive(p)
	if err != nil {
		return false
	}
	defer r.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(r, head)
	return n >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// openArchive opens a local archive for ADD and decompresses it.
func openArchive(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(3); bytes.Equal(magic, []byte("BZh")) {
		return readCloser{bzip2.NewReader(br), f}, nil
	}
	r, err := archive.Decompress(br)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{r, closers{r, f}}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, x := range c {
		errs = append(errs, x.Close())
	}
	return errors.Join(errs...)
}

// download fetches an ADD URL into dir.
func download(ctx context.Context, rawURL, dir string) (source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return source{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return source{}, err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return source{}, fmt.Errorf("failed to GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return source{}, fmt.Errorf("failed to GET %s with status %s", rawURL, resp.Status)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "__unnamed__"
	}
	p := filepath.Join(dir, strconv.Itoa(int(time.Now().UnixNano())))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return source{}, err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return source{}, fmt.Errorf("failed to GET %s: %v", rawURL, err)
	}
	mtime := time.Unix(0, 0)
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm
	}
	os.Chtimes(p, mtime, mtime)
	return source{abs: p, base: name, mode: 0o600, mtime: mtime, hasMode: true}, nil
}

// copier writes sources into a step's root filesystem. Every path is
// resolved inside root with securejoin, so a symlink in the image never
// leads a write out of it.
type copier struct {
	ctx      context.Context
	root     string
	uid, gid int
	chmod    os.FileMode
}

func (c *copier) copySource(s source, dest string, destIsDir bool) error {
	target := dest
	if s.inline != nil || !s.mode.IsDir() {
		isDir := destIsDir
		if !isDir && !s.archive {
			if p, err := securejoin.SecureJoin(c.root, dest); err == nil {
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					isDir = true
				}
			}
		}
		if s.archive {
			if err := mkdirAll(c.root, dest, 0, 0); err != nil {
				return err
			}
			return c.extract(s.abs, dest)
		}
		if isDir {
			target = path.Join(dest, s.base)
		}
		if err := mkdirAll(c.root, path.Dir(target), 0, 0); err != nil {
			return err
		}
		if s.inline != nil {
			return c.writeFile(target, bytes.NewReader(s.inline), s.mode, time.Now())
		}
		return c.copyFile(s.abs, target, s.mode, s.mtime)
	}
	// A directory: its contents go into dest.
	if err := mkdirAll(c.root, dest, c.uid, c.gid); err != nil {
		return err
	}
	return filepath.WalkDir(s.abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.abs, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		t := path.Join(dest, filepath.ToSlash(rel))
		switch {
		case fi.IsDir():
			return c.mkdir(t, fi.Mode(), fi.ModTime())
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return c.symlink(t, link)
		case fi.Mode().IsRegular():
			return c.copyFile(p, t, fi.Mode(), fi.ModTime())
		}
		return nil // devices, sockets, fifos are left out
	})
}

// resolve resolves a container path for writing: the parent inside root,
// the last component as it is (a symlink there is replaced, not
// followed).
func (c *copier) resolve(p string) (string, error) {
	dir, err := securejoin.SecureJoin(c.root, path.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(p)), nil
}

func (c *copier) mode(m os.FileMode) os.FileMode {
	if c.chmod != 0 {
		return c.chmod
	}
	return m.Perm() | m&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
}

func (c *copier) own(p string) error {
	return os.Lchown(p, c.uid, c.gid)
}

func (c *copier) mkdir(p string, m os.FileMode, mtime time.Time) error {
	t, err := c.resolve(p)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(t); err == nil && fi.IsDir() {
		return nil
	} else if err == nil {
		if fi.Mode()&os.ModeSymlink != 0 {
			// A symlink to a directory stays (merged /usr: /bin -> usr/bin);
			// what goes below it is resolved through it, inside root.
			if in, err := securejoin.SecureJoin(c.root, p); err == nil {
				if st, err := os.Stat(in); err == nil && st.IsDir() {
					return nil
				}
			}
		}
		os.Remove(t)
	}
	if err := os.Mkdir(t, 0o700); err != nil {
		return err
	}
	if err := c.own(t); err != nil {
		return err
	}
	if err := os.Chmod(t, c.mode(m)); err != nil {
		return err
	}
	return os.Chtimes(t, mtime, mtime)
}

func (c *copier) symlink(p, link string) error {
	t, err := c.resolve(p)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(t); err == nil && !fi.IsDir() {
		os.Remove(t)
	}
	if err := os.Symlink(link, t); err != nil {
		return err
	}
	return c.own(t)
}

func (c *copier) copyFile(src, p string, m os.FileMode, mtime time.Time) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.writeFile(p, f, m, mtime)
}

func (c *copier) writeFile(p string, r io.Reader, m os.FileMode, mtime time.Time) error {
	t, err := c.resolve(p)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(t); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		os.Remove(t)
	}
	fd, err := unix.Open(t, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), t)
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := c.own(t); err != nil {
		return err
	}
	if err := os.Chmod(t, c.mode(m)); err != nil {
		return err
	}
	return os.Chtimes(t, mtime, mtime)
}

// extract unpacks a local archive (ADD) into the directory dest.
func (c *copier) extract(src, dest string) error {
	dir, err := securejoin.SecureJoin(c.root, dest)
	if err != nil {
		return err
	}
	r, err := openArchive(src)
	if err != nil {
		return err
	}
	defer r.Close()
	// Through the overlay mount: deletions are made by removing, which
	// overlayfs records itself. Owners are the archive's (--chown does not
	// apply to what ADD extracts, as in Docker).
	_, err = archive.Apply(c.ctx, dir, r, archive.ApplyOptions{Whiteouts: archive.RemoveWhiteouts})
	return err
}

// mkdirAll creates dir and its missing parents inside root, owned by
// uid:gid (what exists is left as it is).
func mkdirAll(root, dir string, uid, gid int) error {
	cur := "/"
	for _, part := range strings.Split(path.Clean(dir), "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		p, err := securejoin.SecureJoin(root, cur)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: not a directory", cur)
			}
			continue
		}
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// lookupUser resolves "user[:group]" with the root's /etc/passwd and
// /etc/group, as Docker does for --chown and USER.
func lookupUser(root, spec string) (int, int, error) {
	passwd, _ := securejoin.SecureJoin(root, "/etc/passwd")
	group, _ := securejoin.SecureJoin(root, "/etc/group")
	eu, err := user.GetExecUserPath(spec, &user.ExecUser{}, passwd, group)
	if err != nil {
		return 0, 0, fmt.Errorf("unable to convert uid/gid chown string to host mapping: %v", err)
	}
	return eu.Uid, eu.Gid, nil
}
