// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// blockIO is the blkio part of the resources: --blkio-weight,
// --blkio-weight-device and the --device-{read,write}-{bps,iops}
// throttles, each device given by its host path (stat'ed for its number).
// It is nil when nothing is limited.
func blockIO(r container.Resources) (*specs.LinuxBlockIO, error) {
	var b specs.LinuxBlockIO
	if r.BlkioWeight > 0 {
		w := r.BlkioWeight
		b.Weight = &w
	}
	for _, wd := range r.BlkioWeightDevice {
		d, err := blockDevice(wd.Path)
		if err != nil {
			return nil, err
		}
		w := wd.Weight
		b.WeightDevice = append(b.WeightDevice, specs.LinuxWeightDevice{
			LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: d.Major, Minor: d.Minor}, Weight: &w,
		})
	}
	var err error
	for _, t := range []struct {
		in  []*blkiodev.ThrottleDevice
		out *[]specs.LinuxThrottleDevice
	}{
		{r.BlkioDeviceReadBps, &b.ThrottleReadBpsDevice},
		{r.BlkioDeviceWriteBps, &b.ThrottleWriteBpsDevice},
		{r.BlkioDeviceReadIOps, &b.ThrottleReadIOPSDevice},
		{r.BlkioDeviceWriteIOps, &b.ThrottleWriteIOPSDevice},
	} {
		if *t.out, err = throttles(t.in); err != nil {
			return nil, err
		}
	}
	if b.Weight == nil && b.WeightDevice == nil && b.ThrottleReadBpsDevice == nil && b.ThrottleWriteBpsDevice == nil &&
		b.ThrottleReadIOPSDevice == nil && b.ThrottleWriteIOPSDevice == nil {
		return nil, nil
	}
	return &b, nil
}

func throttles(in []*blkiodev.ThrottleDevice) ([]specs.LinuxThrottleDevice, error) {
	var out []specs.LinuxThrottleDevice
	for _, t := range in {
		d, err := blockDevice(t.Path)
		if err != nil {
			return nil, err
		}
		out = append(out, specs.LinuxThrottleDevice{
			LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: d.Major, Minor: d.Minor}, Rate: t.Rate,
		})
	}
	return out, nil
}

func blockDevice(p string) (specs.LinuxDevice, error) {
	d, err := statDevice(p, p)
	if err != nil {
		return d, invalid(err)
	}
	return d, nil
}
