// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package formatter renders lists and objects the way the docker CLI does:
// aligned tables with a header, "json" (one JSON object per line) and
// arbitrary Go templates given with --format, with docker's template
// functions (json, join, split, lower, upper, title, pad, truncate).
package formatter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// Format is the value of a --format flag.
type Format string

// Format keywords understood by every formatter.
const (
	TableFormatKey = "table"
	RawFormatKey   = "raw"
	JSONFormatKey  = "json"
	// JSONFormat is what "json" expands to.
	JSONFormat = "{{json .}}"
)

// IsTable reports whether the format starts with "table".
func (f Format) IsTable() bool { return strings.HasPrefix(string(f), TableFormatKey) }

// IsJSON reports whether the format is the "json" keyword.
func (f Format) IsJSON() bool { return string(f) == JSONFormatKey }

// Contains reports whether the format mentions sub.
func (f Format) Contains(sub string) bool { return strings.Contains(string(f), sub) }

// HeaderContext maps template field names to their column headers.
type HeaderContext map[string]string

// SubContext is one row: a value whose methods the template calls, plus
// the header of every column.
type SubContext interface {
	FullHeader() any
}

// Context is where and how to write.
type Context struct {
	Output io.Writer
	Format Format
	// Trunc shortens IDs and commands, as without --no-trunc.
	Trunc bool

	finalFormat string
	buffer      *bytes.Buffer
}

// Funcs returns docker's template functions.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) string {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				panic(err)
			}
			return strings.TrimSpace(b.String())
		},
		"split":    strings.Split,
		"join":     strings.Join,
		"title":    title,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
		"truncate": truncate,
		"println":  fmt.Sprintln,
	}
}

// headerFuncs make the functions no-ops when the template renders the
// header row, as docker's HeaderFunctions do.
func headerFuncs() template.FuncMap {
	id := func(v string) string { return v }
	return template.FuncMap{
		"json": func(v any) any { return v }, "split": func(v string, _ string) string { return v },
		"join": func(v string, _ string) string { return v }, "title": id, "lower": id, "upper": id,
		"pad":      func(v string, _, _ int) string { return v },
		"truncate": func(v string, _ int) string { return v },
	}
}

func title(s string) string {
	r := []rune(s)
	for i := range r {
		if i == 0 || !unicode.IsLetter(r[i-1]) {
			r[i] = unicode.ToUpper(r[i])
		}
	}
	return string(r)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// ParseTemplate parses a --format value with docker's functions; "\t" and
// "\n" escapes are not interpreted (use PreFormat for that).
func ParseTemplate(format string) (*template.Template, error) {
	return template.New("").Funcs(Funcs()).Parse(format)
}

func (c *Context) preFormat() {
	f := string(c.Format)
	if c.Format.IsTable() {
		f = f[len(TableFormatKey):]
		f = strings.TrimLeft(f, " ")
	}
	if c.Format.IsJSON() {
		f = JSONFormat
	}
	c.finalFormat = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(f)
}

func (c *Context) parse() (*template.Template, error) {
	tmpl, err := ParseTemplate(c.finalFormat)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

// defaultRower is a row that can render its command's default format
// without text/template, which evaluates every field through reflection:
// for "ps" with 100 containers that was a tenth of the command's time. It
// must give exactly what the template gives (TestDefaultRow).
type defaultRower interface {
	DefaultRow(format string) (string, bool)
}

// Write renders each row that render yields. For table formats the header
// is rendered from the first row's FullHeader (or from empty when there is
// none, given by empty).
func (c *Context) Write(empty SubContext, render func(emit func(SubContext) error) error) error {
	c.buffer = new(bytes.Buffer)
	c.preFormat()
	tmpl, err := c.parse()
	if err != nil {
		return err
	}
	var header any
	if empty != nil {
		header = empty.FullHeader()
	}
	err = render(func(sc SubContext) error {
		if d, ok := sc.(defaultRower); ok {
			if row, ok := d.DefaultRow(c.finalFormat); ok {
				c.buffer.WriteString(row)
				c.buffer.WriteString("\n")
				return nil
			}
		}
		if err := tmpl.Execute(c.buffer, sc); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		c.buffer.WriteString("\n")
		return nil
	})
	if err != nil {
		return err
	}
	if c.Format.IsTable() {
		tw := tabwriter.NewWriter(c.Output, 10, 1, 3, ' ', 0)
		if header != nil {
			var hb bytes.Buffer
			ht, err := template.New("").Funcs(headerFuncs()).Parse(c.finalFormat)
			if err == nil && ht.Execute(&hb, header) == nil {
				hb.WriteTo(tw)
				tw.Write([]byte("\n"))
			}
		}
		c.buffer.WriteTo(tw)
		return tw.Flush()
	}
	_, err = c.buffer.WriteTo(c.Output)
	return err
}

// MarshalJSON renders a row as docker's {{json .}} does: every exported
// method without arguments that returns one value, by method name.
func MarshalJSON(x any) ([]byte, error) {
	m, err := marshalMap(x)
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

var skipMethods = map[string]bool{"FullHeader": true, "Label": true, "MarshalJSON": true}

func marshalMap(x any) (map[string]any, error) {
	val := reflect.ValueOf(x)
	typ := val.Type()
	m := make(map[string]any)
	for i := 0; i < val.NumMethod(); i++ {
		meth := typ.Method(i)
		name := meth.Name
		if skipMethods[name] || meth.Type.NumIn() != 1 || meth.Type.NumOut() != 1 {
			continue
		}
		m[name] = val.Method(i).Call(nil)[0].Interface()
	}
	return m, nil
}
