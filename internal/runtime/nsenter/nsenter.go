//go:build linux

// Package nsenter links berth's namespace-entering C constructor into the
// binary. Importing it for side effects is all there is to do; see
// nsenter.c for the protocol it speaks with the runtime.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
*/
import "C"
