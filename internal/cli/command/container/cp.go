// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/command"
)

// cpOptions are cp's flags.
type cpOptions struct {
	followLink, archive bool
}

// NewCpCommand returns "cp".
func NewCpCommand(cli *command.Cli) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  command.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			srcCtr, srcPath := splitCpArg(args[0])
			dstCtr, dstPath := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported")
			case srcCtr != "":
				return copyFromContainer(cmd.Context(), cli, srcCtr, srcPath, dstPath, o)
			case dstCtr != "":
				return copyToContainer(cmd.Context(), cli, srcPath, dstCtr, dstPath, o)
			}
			return errors.New("must specify at least one container source")
		},
	}
	cmd.Flags().BoolVarP(&o.followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	cmd.Flags().BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	cmd.Flags().BoolP("quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg splits "container:path"; a path that is absolute or starts
// with "." is local even with a colon in it, as docker says.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	if c, p, ok := strings.Cut(arg, ":"); ok {
		return c, p
	}
	return "", arg
}

// splitDirEntry splits p into its directory and last element, keeping
// "." for "dir/." (docker's SplitPathDirEntry).
func splitDirEntry(p string) (dir, base string) {
	clean := filepath.Clean(p)
	if strings.HasSuffix(p, string(filepath.Separator)+".") || p == "." {
		return clean, "."
	}
	return filepath.Dir(clean), filepath.Base(clean)
}

func assertsDirectory(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")
}

// copyFromContainer fetches the archive of srcPath and unpacks it at dst
// with docker's rules: into dst when it is a directory, else as dst.
func copyFromContainer(ctx context.Context, cli *command.Cli, ctr, srcPath, dst string, o cpOptions) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	if !path.IsAbs(srcPath) {
		srcPath = "/" + srcPath
	}
	rebase := ""
	if o.followLink {
		st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: srcPath})
		if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
			target := st.Stat.LinkTarget
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(srcPath), target)
			}
			if _, b := splitDirEntry(srcPath); b != path.Base(target) {
				rebase = b
			}
			srcPath = target
		}
	}
	res, err := cl.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: srcPath})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dst == "-" {
		_, err = io.Copy(cli.Out(), res.Content)
		return err
	}
	srcIsDir := res.Stat.Mode.IsDir()
	_, srcBase := splitDirEntry(srcPath)
	if rebase != "" {
		srcBase = rebase
	}
	dstDir, dstBase := splitDirEntry(dst)
	fi, statErr := os.Stat(dst)
	var into, from, to string
	switch {
	case statErr == nil && fi.IsDir():
		into = dst
		if rebase != "" {
			from, to = path.Base(srcPath), rebase
		}
	case statErr == nil && srcIsDir:
		return errors.New("cannot copy directory")
	case statErr != nil && !os.IsNotExist(statErr):
		return statErr
	case statErr != nil && !srcIsDir && assertsDirectory(dst):
		return fmt.Errorf("no such directory")
	default:
		into, from, to = dstDir, path.Base(srcPath), dstBase
		if srcBase == "." {
			from = "."
		}
	}
	if from == "" && srcBase == "." {
		from, to = ".", "."
	}
	if _, err := os.Stat(into); err != nil {
		return err
	}
	return untarLocal(res.Content, into, from, to, o.archive)
}

// untarLocal unpacks r into dir, renaming the top entry from to to.
// Entries are confined to dir: names that climb out are refused, and an
// existing symlink is replaced, never followed.
func untarLocal(r io.Reader, dir, from, to string, keepOwner bool) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		p string
		t time.Time
	}
	var dirs []dirTime
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := h.Name
		if from != "" && from != to {
			if name == from || strings.HasPrefix(name, from+"/") {
				name = to + name[len(from):]
			}
		}
		rel := path.Clean(strings.TrimLeft(name, "/"))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("invalid archive entry %q: it points outside the destination", h.Name)
		}
		if rel == "." {
			continue // the destination itself
		}
		target := filepath.Join(root, filepath.FromSlash(rel))
		// parents must be real directories inside root
		if parent, err := filepath.EvalSymlinks(filepath.Dir(target)); err != nil {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
		} else if parent != root && !strings.HasPrefix(parent, root+string(filepath.Separator)) {
			return fmt.Errorf("invalid archive entry %q: it leads outside %s", h.Name, dir)
		}
		mode := os.FileMode(h.Mode) & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
		if fi, err := os.Lstat(target); err == nil && !(fi.IsDir() && h.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(target, 0o755); err != nil && !os.IsExist(err) {
				return err
			}
			os.Chmod(target, mode|os.ModeDir)
			dirs = append(dirs, dirTime{target, h.ModTime})
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Chmod(mode)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			lrel := path.Clean("/" + h.Linkname)
			if from != "" && from != to && (h.Linkname == from || strings.HasPrefix(h.Linkname, from+"/")) {
				lrel = path.Clean("/" + to + h.Linkname[len(from):])
			}
			if err := os.Link(filepath.Join(root, filepath.FromSlash(lrel)), target); err != nil {
				return err
			}
		default:
			continue
		}
		if keepOwner {
			os.Lchown(target, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			os.Chtimes(target, h.ModTime, h.ModTime)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Chtimes(dirs[i].p, dirs[i].t, dirs[i].t)
	}
	return nil
}

// copyToContainer sends src as a tar to the container with docker's
// rules: into dst when it is a directory there, else as dst.
func copyToContainer(ctx context.Context, cli *command.Cli, src, ctr, dst string, o cpOptions) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	if !path.IsAbs(dst) {
		dst = "/" + dst
	}
	// a symlink at the destination is followed, as docker does
	dstExists, dstIsDir := false, false
	st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
	if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
		target := st.Stat.LinkTarget
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(dst), target)
		}
		dst = target
		st, err = cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
	}
	if err == nil {
		dstExists, dstIsDir = true, st.Stat.Mode.IsDir()
	}
	opts := client.CopyToContainerOptions{CopyUIDGID: o.archive}
	if src == "-" {
		if !dstIsDir {
			return fmt.Errorf("destination \"%s:%s\" must be a directory", ctr, dst)
		}
		opts.DestinationPath, opts.Content = dst, cli.In()
		_, err = cl.CopyToContainer(ctx, ctr, opts)
		return err
	}
	stat := os.Lstat
	if o.followLink {
		stat = os.Stat
	}
	fi, err := stat(src)
	if err != nil {
		return err
	}
	_, srcBase := splitDirEntry(src)
	dstDir, dstBase := splitDirEntry(dst)
	name := srcBase
	switch {
	case dstExists && dstIsDir:
		opts.DestinationPath = dst
	case dstExists && fi.IsDir():
		return errors.New("cannot copy directory")
	case !fi.IsDir() && assertsDirectory(dst):
		return fmt.Errorf("no such directory")
	default:
		opts.DestinationPath, name = dstDir, dstBase
	}
	root := src
	if o.followLink && fi.Mode()&os.ModeSymlink == 0 {
		if r, err := filepath.EvalSymlinks(src); err == nil {
			root = r
		}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, root, name)) }()
	opts.Content = pr
	_, err = cl.CopyToContainer(ctx, ctr, opts)
	pr.CloseWithError(err)
	return err
}

// writeTar writes the tree at src as a tar whose top entry is name ("."
// puts its contents at the top).
func writeTar(w io.Writer, src, name string) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Uname, h.Gname = "", ""
		h.Name = path.Join(name, filepath.ToSlash(rel))
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
