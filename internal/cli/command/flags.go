// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package command

import (
	"strings"

	"github.com/spf13/pflag"
)

// ListVar defines a flag that may be given many times, each value appended
// to *p as given (no splitting at commas), like docker's "list", "map",
// "mount" and "ulimit" flags; typ is the type the help shows. pflag's
// stringArray does the same, but formats its default through a CSV writer
// (a 4 KiB buffer) when the flag is defined: run and create define about
// thirty such flags at every start.
func ListVar(fs *pflag.FlagSet, p *[]string, name, shorthand, typ, usage string) {
	fs.VarP(&listValue{p: p, typ: typ}, name, shorthand, usage)
}

type listValue struct {
	p   *[]string
	typ string
}

func (v *listValue) Set(s string) error {
	*v.p = append(*v.p, s)
	return nil
}

func (v *listValue) Type() string { return v.typ }

// String is "" while empty, so that the help shows no default.
func (v *listValue) String() string {
	if len(*v.p) == 0 {
		return ""
	}
	return "[" + strings.Join(*v.p, ",") + "]"
}
