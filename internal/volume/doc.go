// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package volume is berth's local volume driver: named and anonymous
// volumes kept under <data-root>/volumes, as Docker keeps them.
//
// # On disk
//
//	<root>/<name>/_data        the volume's content (or where its device is mounted)
//	<root>/<name>/volume.json  this package's record (Record, JSON)
//
// volume.json is written by temp file and rename on every change. It
// holds the name, labels, driver options, creation time and the users
// that have the volume mounted (container IDs). Version 1 of the format;
// a later version adds fields and reads old files as they are.
//
// # Options and mounting
//
// A volume without options is a plain directory. With the options "type",
// "device" and "o" (Docker's local driver options: the file system type,
// the device and the mount options, e.g. type=tmpfs device=tmpfs
// o=size=64m, or type=none device=/srv/data o=bind) the device is mounted
// on _data when the first user mounts the volume and unmounted when the
// last one goes. Users are counted by ID and persisted, so a daemon that
// restarts while containers run keeps counting where it stopped.
package volume
