// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package formatter

import (
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/image"
)

// Default history format.
const DefaultHistoryTableFormat = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

// HistoryWrite writes an image's history in ctx's format; human renders
// sizes and dates for people.
func HistoryWrite(ctx Context, human bool, items []image.HistoryResponseItem) error {
	return ctx.Write(&HistoryContext{}, func(emit func(SubContext) error) error {
		for _, h := range items {
			if err := emit(&HistoryContext{h: h, trunc: ctx.Trunc, human: human}); err != nil {
				return err
			}
		}
		return nil
	})
}

// HistoryContext is one row of "history".
type HistoryContext struct {
	h     image.HistoryResponseItem
	trunc bool
	human bool
}

// FullHeader is the column header of every field.
func (c *HistoryContext) FullHeader() any {
	return HeaderContext{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
		"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
}

// MarshalJSON renders the row for {{json .}}.
func (c *HistoryContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// ID is the layer's image ID or <missing>.
func (c *HistoryContext) ID() string {
	if c.trunc {
		return TruncateID(c.h.ID)
	}
	return c.h.ID
}

// CreatedAt is the creation time.
func (c *HistoryContext) CreatedAt() string {
	return time.Unix(c.h.Created, 0).Format(time.RFC3339)
}

// CreatedSince is how long ago the layer was created.
func (c *HistoryContext) CreatedSince() string {
	if !c.human {
		return c.CreatedAt()
	}
	return HumanSince(c.h.Created)
}

// CreatedBy is the instruction that made the layer.
func (c *HistoryContext) CreatedBy() string {
	s := strings.ReplaceAll(c.h.CreatedBy, "\t", " ")
	if c.trunc {
		return Ellipsis(s, 45)
	}
	return s
}

// Size is the layer's size.
func (c *HistoryContext) Size() string {
	if c.human {
		return HumanSize(c.h.Size)
	}
	return strconv.FormatInt(c.h.Size, 10)
}

// Comment is the layer's comment.
func (c *HistoryContext) Comment() string { return c.h.Comment }
