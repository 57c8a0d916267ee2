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

	"github.com/berth-project/berth/internal/cli/command"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// NewCpCommand returns "cp".
func NewCpCommand(cli *command.Cli) *cobra.Command {
	var followLink, archive bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  command.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcCtr, srcPath := splitCpArg(args[0])
			dstCtr, dstPath := splitCpArg(args[1])
			switch {
			case srcCtr != "" && dstCtr != "":
				return errors.New("copying between containers is not supported")
			case srcCtr != "":
				return copyFromContainer(cmd.Context(), cli, srcCtr, srcPath, dstPath)
			case dstCtr != "":
				return copyToContainer(cmd.Context(), cli, srcPath, dstCtr, dstPath, archive)
			}
			return errors.New("must specify at least one container source")
		},
	}
	cmd.Flags().BoolVarP(&followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	cmd.Flags().BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	cmd.Flags().BoolP("quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	if c, p, ok := strings.Cut(arg, ":"); ok {
		return c, p
	}
	return "", arg
}

// copyFromContainer extracts the archive of srcPath into dst: into it when
// dst is an existing directory, else as dst itself.
func copyFromContainer(ctx context.Context, cli *command.Cli, ctr, srcPath, dst string) error {
	cl, err := cli.Client()
	if err != nil {
		return err
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
	base := path.Base(res.Stat.Name)
	rename := ""
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		dst = filepath.Join(dst, base)
	} else {
		rename = filepath.Base(dst)
	}
	root := filepath.Dir(dst)
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := h.Name
		if rename != "" {
			if name == base || strings.HasPrefix(name, base+"/") {
				name = rename + name[len(base):]
			}
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		if !strings.HasPrefix(target, filepath.Clean(root)+string(filepath.Separator)) && target != filepath.Clean(root) {
			return fmt.Errorf("invalid archive entry %q", h.Name)
		}
		mode := os.FileMode(h.Mode) & os.ModePerm
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}

// copyToContainer sends src as a tar archive whose top entry is named
// after dst's last element unless dst is an existing directory.
func copyToContainer(ctx context.Context, cli *command.Cli, src, ctr, dst string, archive bool) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	var content io.Reader
	destDir := dst
	if src == "-" {
		content = cli.In()
	} else {
		name := filepath.Base(src)
		st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dst})
		if err != nil || !st.Stat.Mode.IsDir() {
			destDir, name = path.Dir(dst), path.Base(dst)
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, src, name)) }()
		content = pr
	}
	_, err = cl.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{
		DestinationPath: destDir, Content: content, CopyUIDGID: archive,
	})
	return err
}

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
