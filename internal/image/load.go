// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
)

// Media types of Docker's schema 2, for manifests Load makes from legacy
// archives.
const (
	mediaTypeDockerConfig    = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayer     = "application/vnd.docker.image.rootfs.diff.tar"
	mediaTypeDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// Limits on what Load keeps in memory: the small files of an archive
// (manifest.json, index.json, legacy configs).
const (
	maxMemFile  = 4 << 20
	maxMemTotal = 64 << 20
)

// Load reads an image archive from r (uncompressed, gzip or zstd) and
// stores its images, as `docker load` does. It takes what Save writes
// (an OCI image layout, whose index.json it follows), the legacy format
// of Docker before 25 (manifest.json, <id>/layer.tar, <config>.json) and
// plain OCI image layouts. The archive is read once, entry by entry,
// straight into the content store: blobs/<alg>/<hex> entries are verified
// against their names and other files get the digest of their content.
// Nothing in it is ever written to a path it names. Entry names that are
// absolute or climb with "..", symlinks and hardlinks to anything but
// another entry of the archive, and files the manifests name but the
// archive lacks are refused with errdefs.ErrInvalidArgument.
//
// Each image's layers are unpacked, then its names (RepoTags, or the
// index's io.containerd.image.name or org.opencontainers.image.ref.name
// annotations) are recorded, all at the end: a failed load records
// nothing and leaves no blob behind. progress, if not nil, gets Docker's
// lines: "Loaded image: busybox:latest", or "Loaded image ID: sha256:…"
// for an image without a name.
func (s *Store) Load(ctx context.Context, r io.Reader, progress func(string)) ([]Image, error) {
	imgs, stored, err := s.load(ctx, r, progress)
	if err != nil && stored {
		_, _ = s.GC(context.WithoutCancel(ctx))
	}
	return imgs, err
}

// loading is one image found in the archive.
type loading struct {
	target ocispec.Descriptor
	config digest.Digest
	names  []string
}

func (s *Store) load(ctx context.Context, r io.Reader, progress func(string)) (_ []Image, stored bool, _ error) {
	s.gcMu.RLock()
	locked := true
	defer func() {
		if locked {
			s.gcMu.RUnlock()
		}
	}()

	dr, err := archive.Decompress(bufio.NewReader(r))
	if err != nil {
		return nil, false, fmt.Errorf("load: %w", err)
	}
	defer dr.Close()
	st := s.newStager(ctx)
	defer st.close()
	a, err := s.readArchive(ctx, dr, st)
	stored = a != nil && len(a.blobs) > 0
	if err != nil {
		return nil, stored, fmt.Errorf("load: %w", err)
	}
	var found []loading
	switch {
	case a.mem[ocispec.ImageIndexFile] != nil:
		found, err = s.loadIndex(ctx, a)
	case a.mem["manifest.json"] != nil:
		found, err = s.loadLegacy(ctx, a)
	default:
		err = errdefs.ErrInvalidArgument.WithMessage("neither index.json nor manifest.json in the archive")
	}
	if err != nil {
		return nil, true, fmt.Errorf("load: %w", err)
	}
	for _, l := range found {
		res, err := s.resolve(ctx, l.target)
		if err != nil {
			return nil, true, fmt.Errorf("load: %w", err)
		}
		if err := s.unpack(ctx, res.layers, res.image.RootFS.DiffIDs, nil, st); err != nil {
			return nil, true, fmt.Errorf("load: %w", err)
		}
	}

	s.mu.Lock()
	var lines []string
	for i, l := range found {
		res, _ := s.resolve(ctx, l.target)
		found[i].config = res.config.Digest
		for _, name := range l.names {
			if err := s.setName(ctx, name, l.target); err != nil {
				s.mu.Unlock()
				return nil, true, err
			}
			n, _ := reference.ParseNamed(name)
			lines = append(lines, "Loaded image: "+reference.FamiliarString(n))
		}
		if len(l.names) == 0 {
			if _, err := s.Get(ctx, res.config.Digest.String()); errdefs.IsNotFound(err) {
				if err := s.setName(ctx, danglingPrefix+l.target.Digest.String(), l.target); err != nil {
					s.mu.Unlock()
					return nil, true, err
				}
			}
			lines = append(lines, "Loaded image ID: "+res.config.Digest.String())
		}
	}
	s.mu.Unlock()
	s.gcMu.RUnlock()
	locked = false

	var imgs []Image
	for _, l := range found {
		img, err := s.Get(ctx, l.config.String())
		if err != nil {
			return nil, true, err
		}
		imgs = append(imgs, img)
	}
	if progress != nil {
		for _, line := range lines {
			progress(line)
		}
	}
	return imgs, true, nil
}

// loadArchive is what reading an archive found: small files in memory,
// the others in the content store, and links between entries.
type loadArchive struct {
	mem   map[string][]byte
	blobs map[string]ocispec.Descriptor
	links map[string]string
}

// readArchive reads every entry of the tar r, passing the files that may
// be layers through st.
func (s *Store) readArchive(ctx context.Context, r io.Reader, st *stager) (*loadArchive, error) {
	a := &loadArchive{mem: map[string][]byte{}, blobs: map[string]ocispec.Descriptor{}, links: map[string]string{}}
	tr := tar.NewReader(r)
	memTotal := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if len(a.mem)+len(a.blobs)+len(a.links) == 0 {
				return a, errdefs.ErrInvalidArgument.WithMessage("empty archive")
			}
			return a, nil
		}
		if err != nil {
			return a, err
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return a, err
		}
		_, inMem := a.mem[name]
		_, inBlobs := a.blobs[name]
		_, inLinks := a.links[name]
		if inMem || inBlobs || inLinks {
			return a, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q appears twice", hdr.Name))
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
		case tar.TypeSymlink, tar.TypeLink:
			target := hdr.Linkname
			if hdr.Typeflag == tar.TypeSymlink {
				if path.IsAbs(target) {
					return a, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q links outside the archive, to %q", hdr.Name, hdr.Linkname))
				}
				target = path.Join(path.Dir(name), target)
			}
			if target, err = entryName(target); err != nil {
				return a, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q links outside the archive, to %q", hdr.Name, hdr.Linkname))
			}
			a.links[name] = target
		case tar.TypeReg:
			if strings.HasPrefix(name, ocispec.ImageBlobsDir+"/") {
				d, err := digest.Parse(strings.Replace(strings.TrimPrefix(name, ocispec.ImageBlobsDir+"/"), "/", ":", 1))
				if err != nil {
					return a, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q: not a blob name: %v", hdr.Name, err))
				}
				g := st.layer()
				err = content.WriteBlob(ctx, s.content, "load-"+d.String(), g.tee(tr), hdr.Size, d)
				g.finish(d, err)
				if err != nil {
					// A truncated entry leaves an ingest that nothing resumes.
					if aerr := s.content.Abort(context.WithoutCancel(ctx), "load-"+d.String()); aerr != nil && !errdefs.IsNotFound(aerr) {
						err = errors.Join(err, aerr)
					}
					return a, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
				}
				a.blobs[name] = ocispec.Descriptor{Digest: d, Size: hdr.Size}
				continue
			}
			if path.Base(name) != "layer.tar" && hdr.Size <= maxMemFile {
				if memTotal += int(hdr.Size); memTotal > maxMemTotal {
					return a, errdefs.ErrInvalidArgument.WithMessage("archive holds too many small files")
				}
				b, err := io.ReadAll(tr)
				if err != nil {
					return a, err
				}
				a.mem[name] = b
				continue
			}
			d, err := s.stage(ctx, tr, hdr.Size, st)
			if err != nil {
				return a, fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
			a.blobs[name] = d
		default:
			return a, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q: unexpected type %q", hdr.Name, hdr.Typeflag))
		}
	}
}

// entryName cleans the name of an archive entry, refusing absolute names
// and names that climb out of the archive.
func entryName(name string) (string, error) {
	if path.IsAbs(name) {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q has an absolute name", name))
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q climbs out of the archive", name))
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("archive entry %q has no name", name))
	}
	return clean, nil
}

// stage stores size bytes of r under the digest of their content,
// passing them through st.
func (s *Store) stage(ctx context.Context, r io.Reader, size int64, st *stager) (_ ocispec.Descriptor, err error) {
	ingest := "load-" + rand.Text()
	w, err := s.content.Writer(ctx, ingest, "", 0)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer w.Close()
	g := st.layer()
	var d ocispec.Descriptor
	defer func() { g.finish(d.Digest, err) }()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, g.tee(r), buf); err != nil {
		s.content.Abort(context.WithoutCancel(ctx), ingest)
		return ocispec.Descriptor{}, err
	}
	d = ocispec.Descriptor{Digest: w.Digest(), Size: w.Offset()}
	if err := w.Commit(ctx, size, d.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		s.content.Abort(context.WithoutCancel(ctx), ingest)
		return ocispec.Descriptor{}, err
	}
	return d, nil
}

// file finds the archive entry name, following links within the archive,
// and stores it in the content store if it is not there yet.
func (s *Store) file(ctx context.Context, a *loadArchive, name string) (ocispec.Descriptor, error) {
	clean, err := entryName(name)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	for range 16 {
		if d, ok := a.blobs[clean]; ok {
			return d, nil
		}
		if b, ok := a.mem[clean]; ok {
			d := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
			if err := content.WriteBlob(ctx, s.content, d.Digest.String(), bytes.NewReader(b), d.Size, d.Digest); err != nil {
				return ocispec.Descriptor{}, err
			}
			return d, nil
		}
		target, ok := a.links[clean]
		if !ok {
			break
		}
		clean = target
	}
	return ocispec.Descriptor{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q is not in the archive", name))
}

// loadIndex follows index.json; names come from its annotations, or
// from manifest.json for the same manifest.
func (s *Store) loadIndex(ctx context.Context, a *loadArchive) ([]loading, error) {
	var index ocispec.Index
	if err := json.Unmarshal(a.mem[ocispec.ImageIndexFile], &index); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("index.json: " + err.Error())
	}
	var found []loading
	byTarget := map[digest.Digest]int{}
	for _, m := range index.Manifests {
		if err := m.Digest.Validate(); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage("index.json: " + err.Error())
		}
		d, err := s.file(ctx, a, blobPath(m.Digest))
		if err != nil {
			return nil, fmt.Errorf("index.json: manifest %s: %w", m.Digest, err)
		}
		if d.Size != m.Size {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("index.json: manifest %s has size %d, not %d", m.Digest, d.Size, m.Size))
		}
		i, ok := byTarget[m.Digest]
		if !ok {
			i = len(found)
			byTarget[m.Digest] = i
			target := ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}
			if target.MediaType == "" {
				target.MediaType = ocispec.MediaTypeImageManifest
			}
			if err := s.checkBlobs(ctx, target); err != nil {
				return nil, err
			}
			found = append(found, loading{target: target})
		}
		name := m.Annotations[annotationImageName]
		if name == "" {
			if rn := m.Annotations[annotationRefName]; strings.ContainsAny(rn, ":/") {
				name = rn
			}
		}
		if name != "" {
			n, err := distribution.ParseRef(name)
			if err != nil {
				return nil, fmt.Errorf("index.json: %w", err)
			}
			found[i].names = append(found[i].names, n.String())
		}
	}
	return found, nil
}

// checkBlobs makes sure the config and layers of the manifest target
// (or of the index's manifests) are stored, so that a missing one is an
// error about the archive.
func (s *Store) checkBlobs(ctx context.Context, target ocispec.Descriptor) error {
	var m struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    ocispec.Descriptor   `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := s.readJSON(ctx, target.Digest, &m); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("manifest " + err.Error())
	}
	if isIndex(target.MediaType) || m.Manifests != nil {
		return nil // resolve picks the stored platform manifest
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if _, err := s.content.Info(ctx, d.Digest); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("manifest %s: blob %s is not in the archive", target.Digest, d.Digest))
		}
	}
	return nil
}

// loadLegacy follows Docker's manifest.json, making a Docker schema 2
// manifest for each image.
func (s *Store) loadLegacy(ctx context.Context, a *loadArchive) ([]loading, error) {
	var lms []legacyManifest
	if err := json.Unmarshal(a.mem["manifest.json"], &lms); err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage("manifest.json: " + err.Error())
	}
	var found []loading
	for _, lm := range lms {
		cfg, err := s.file(ctx, a, lm.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: config: %w", err)
		}
		cfg.MediaType = mediaTypeDockerConfig
		m := ocispec.Manifest{MediaType: distribution.MediaTypeDockerManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
		m.SchemaVersion = 2
		for _, l := range lm.Layers {
			d, err := s.file(ctx, a, l)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: layer: %w", err)
			}
			if d.MediaType, err = s.layerMediaType(ctx, d.Digest); err != nil {
				return nil, err
			}
			m.Layers = append(m.Layers, d)
		}
		target, err := s.writeJSON(ctx, distribution.MediaTypeDockerManifest, m)
		if err != nil {
			return nil, err
		}
		l := loading{target: target}
		for _, tag := range lm.RepoTags {
			n, err := distribution.ParseRef(tag)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			l.names = append(l.names, n.String())
		}
		found = append(found, l)
	}
	return found, nil
}

// layerMediaType tells a gzip layer from an uncompressed one by its first
// bytes.
func (s *Store) layerMediaType(ctx context.Context, d digest.Digest) (string, error) {
	ra, err := s.content.ReaderAt(ctx, d)
	if err != nil {
		return "", err
	}
	defer ra.Close()
	magic := make([]byte, 4)
	n, _ := ra.ReadAt(magic, 0)
	switch {
	case bytes.HasPrefix(magic[:n], []byte{0x1f, 0x8b}):
		return mediaTypeDockerLayerGzip, nil
	case bytes.HasPrefix(magic[:n], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return ocispec.MediaTypeImageLayerZstd, nil
	}
	return mediaTypeDockerLayer, nil
}
