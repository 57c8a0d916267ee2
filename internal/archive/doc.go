// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package archive reads and writes the tar streams that carry filesystem
// layers: it unpacks image layers into snapshot directories (Apply), turns a
// container's overlay upper directory into a layer (WriteDiff) and tars plain
// directory trees for `export` and `cp` (Tar). Decompress undoes the gzip or
// zstd compression of a layer blob.
//
// # Vocabulary
//
// A layer tar is an ordinary tar whose entry names are paths relative to the
// root of the filesystem it changes. Deletions are carried by whiteouts, as
// in the OCI image spec and Docker: an empty file ".wh.<name>" deletes <name>
// from the layers below, and ".wh..wh..opq" in a directory hides everything
// the layers below have in that directory. On disk, overlayfs represents the
// same two things with a character device 0:0 (a whiteout) and the
// trusted.overlay.opaque=y xattr (an opaque directory). Apply converts the
// first form to the second (or deletes, see RemoveWhiteouts) and WriteDiff
// converts back.
//
// # Safety contract for Apply
//
// Archives come from outside (registries, `load`, `import`, `cp`, build
// contexts) and Apply never writes outside dir, whatever they contain:
//
//   - Entry names are confined, for every kind of entry: a name is cleaned as
//     if it were absolute, so "/etc/x", "../../etc/x" and "a/../../etc/x" all
//     name dir/etc/x (containerd does the same; a layer's names are always
//     relative to its root, and ".." above the root is the root).
//   - The parent directories of an entry are resolved with securejoin against
//     dir, so a symlink met on the way (one already in dir, or one the same
//     archive made earlier) is followed as if dir were "/": "evil -> /" then
//     "evil/etc/x" writes dir/etc/x. The last component is never followed:
//     whatever is there (a symlink included) is removed and replaced, files
//     are created with O_CREAT|O_EXCL|O_NOFOLLOW and metadata is set with
//     the l-variants of the calls (lchown, lsetxattr, utimensat with
//     AT_SYMLINK_NOFOLLOW).
//   - Hardlink targets are refused, with an error wrapping
//     errdefs.ErrInvalidArgument, when they climb above the root ("../x");
//     an absolute target is relative to the root like an entry name, and its
//     parents are resolved with securejoin, so a hardlink can only ever link
//     to a file inside dir.
//   - Symlink entries are created as they are, pointing anywhere: they are
//     only text until something follows them, and Apply never does.
//   - Whiteouts naming "." or ".." are refused; whiteouts and opaque markers
//     resolve their directory with securejoin like any entry.
//
// Apply assumes nothing else changes dir while it runs (dir is a fresh
// snapshot or a directory the caller owns); the checks above are not meant
// to hold against a concurrent writer in dir.
//
// Replacing: an entry replaces whatever is at its path, as Docker does: an
// existing directory is kept (and its metadata updated) only when the entry
// is a directory too; anything else is removed first, recursively.
//
// Metadata: mode (setuid, setgid and sticky bits included), owner (unless
// NoSameOwner), xattrs (from SCHILY.xattr PAX records; trusted.* and
// security.selinux only when running as root; trusted.overlay.* never, since
// it would change how overlayfs reads the layer; a file system that does not
// support an xattr namespace makes Apply skip it), modification and access
// times. Directory times are set after the whole archive is written, since
// writing their contents changes them. Device nodes and fifos are created
// (this needs root). AUFS metadata (".wh..wh.plnk" and the other
// ".wh..wh.*" names) is skipped.
//
// # Writing
//
// Tar and WriteDiff write deterministic tars: entries in lexical order of
// their paths (parents first), modification times truncated to seconds,
// no access or change times, no user or group names, the USTAR format
// unless an entry needs PAX (long names, large ids, xattrs), as Docker
// writes them; so the same tree gives the same bytes and the same digest.
// Hardlinked files are written once and then as hardlink entries. Sockets
// are skipped (tar cannot hold them). Only user.* and security.capability
// xattrs are written: the host's SELinux labels, ACLs and trusted.* xattrs
// (overlayfs' own among them) do not belong in an image. Both read the tree
// through an os.Root and from open descriptors checked against their
// Lstat, so a tree a running container changes underneath them can give a
// torn archive but never makes them read outside it; callers that want a
// consistent archive (commit, export, cp) pause the container, as Docker
// does.
package archive
