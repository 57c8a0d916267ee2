// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package metadata

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Version is the minor version of the v1 bucket tree this code writes.
const Version = 1

var (
	bucketV1     = []byte("v1")
	bucketImages = []byte("images")
	bucketTarget = []byte("target")
	bucketLabels = []byte("labels")

	keyVersion   = []byte("version")
	keyCreatedAt = []byte("createdat")
	keyUpdatedAt = []byte("updatedat")
	keyMediaType = []byte("mediatype")
	keyDigest    = []byte("digest")
	keySize      = []byte("size")
)

// migrations[v] turns minor version v into v+1; there are none yet.
var migrations = map[int]func(*bolt.Tx) error{}

// DB is the metadata database. It is safe for concurrent use.
type DB struct {
	db *bolt.DB
}

// Open opens (or creates) <root>/metadata.db and brings it to the
// current version.
func Open(root string) (*DB, error) {
	path := filepath.Join(root, "metadata.db")
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("metadata: %s is in use by another process", path))
		}
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if err := bdb.Update(migrate); err != nil {
		bdb.Close()
		return nil, err
	}
	return &DB{db: bdb}, nil
}

func migrate(tx *bolt.Tx) error {
	version := Version // a new database
	v1 := tx.Bucket(bucketV1)
	if v1 != nil {
		b := v1.Get(keyVersion)
		v, err := strconv.Atoi(string(b))
		if err != nil {
			return fmt.Errorf("metadata: bad version %q: %w", b, err)
		}
		version = v
	} else {
		var err error
		if v1, err = tx.CreateBucket(bucketV1); err != nil {
			return err
		}
	}
	if version > Version {
		return errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("metadata: database version 1.%d is newer than this berth (1.%d)", version, Version))
	}
	for ; version < Version; version++ {
		if m := migrations[version]; m != nil {
			if err := m(tx); err != nil {
				return fmt.Errorf("metadata: migrate from 1.%d: %w", version, err)
			}
		}
	}
	if _, err := v1.CreateBucketIfNotExists(bucketImages); err != nil {
		return err
	}
	return v1.Put(keyVersion, []byte(strconv.Itoa(Version)))
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }
