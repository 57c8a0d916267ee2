// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berth-project/berth/internal/cli/formatter"
)

// InspectFunc fetches one object: its typed value and the raw JSON the
// daemon sent (nil to marshal the value).
type InspectFunc func(ref string) (value any, raw []byte, err error)

// Inspect writes the objects as docker inspect does: an indented JSON
// array, or the template once per object. Errors for single objects are
// printed on errw and make the whole command fail (exit 1).
func Inspect(out, errw io.Writer, refs []string, format string, get InspectFunc) error {
	var elems []json.RawMessage
	var errs []string
	var tmplOut bytes.Buffer
	var tmpl interface {
		Execute(io.Writer, any) error
	}
	if format != "" {
		t, err := formatter.ParseTemplate(format)
		if err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		tmpl = t
	}
	for _, ref := range refs {
		v, raw, err := get(ref)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if raw == nil {
			if raw, err = json.Marshal(v); err != nil {
				return err
			}
		}
		if tmpl == nil {
			elems = append(elems, raw)
			continue
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, v); err != nil {
			// Fall back to the raw JSON, as docker does, so that fields
			// the typed value lacks can still be addressed.
			var m any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if dec.Decode(&m) != nil {
				return fmt.Errorf("template parsing error: %w", err)
			}
			b.Reset()
			if err2 := tmpl.Execute(&b, m); err2 != nil {
				return fmt.Errorf("template parsing error: %w", err)
			}
		}
		tmplOut.Write(b.Bytes())
		tmplOut.WriteString("\n")
	}
	if tmpl != nil {
		tmplOut.WriteTo(out)
	} else if len(elems) == 0 {
		io.WriteString(out, "[]\n")
	} else {
		var b bytes.Buffer
		b.WriteString("[")
		for i, e := range elems {
			if i > 0 {
				b.WriteString(",")
			}
			b.Write(e)
		}
		b.WriteString("]")
		var ind bytes.Buffer
		if err := json.Indent(&ind, b.Bytes(), "", "    "); err != nil {
			return err
		}
		ind.WriteString("\n")
		ind.WriteTo(out)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
