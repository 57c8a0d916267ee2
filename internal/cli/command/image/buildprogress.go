// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/berth-project/berth/internal/cli/command"
)

// displaySteps shows a classic build's stream on a terminal, one block
// per step: the instruction in bold with its number, the command's output
// indented under it, and how the step ended (cached or the new image, and
// how long it took). `--progress plain` prints the stream as Docker does
// instead.
func displaySteps(r io.Reader, out io.Writer, aux func(jsonstream.Message)) error {
	dec := json.NewDecoder(r)
	start, stepStart := time.Now(), time.Now()
	cached := false
	var partial string
	line := func(l string) {
		switch {
		case strings.HasPrefix(l, "Step "):
			num, instr, _ := strings.Cut(strings.TrimPrefix(l, "Step "), " : ")
			fmt.Fprintf(out, "\x1b[1m[%s] %s\x1b[0m\n", num, instr)
			stepStart, cached = time.Now(), false
		case l == " ---> Using cache":
			cached = true
		case strings.HasPrefix(l, " ---> Running in "), strings.HasPrefix(l, "Removing intermediate container "):
		case strings.HasPrefix(l, " ---> "):
			how := "done"
			if cached {
				how = "CACHED"
			}
			fmt.Fprintf(out, "  => %s %s %.2fs\n", strings.TrimPrefix(l, " ---> "), how, time.Since(stepStart).Seconds())
		case strings.HasPrefix(l, "Successfully built "):
			fmt.Fprintf(out, "%s in %.2fs\n", l, time.Since(start).Seconds())
		case strings.HasPrefix(l, "Successfully tagged "), strings.HasPrefix(l, "[Warning]"):
			fmt.Fprintln(out, l)
		default:
			fmt.Fprintf(out, "  | %s\n", l)
		}
	}
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if m.Error != nil {
			if partial != "" {
				line(partial)
			}
			code := m.Error.Code
			if code == 0 {
				code = 1
			}
			return command.StatusError{Status: m.Error.Message, StatusCode: code}
		}
		if m.Aux != nil {
			aux(m)
			continue
		}
		text := partial + m.Stream
		if m.Status != "" {
			text += m.Status + "\n"
		}
		lines := strings.Split(text, "\n")
		partial = lines[len(lines)-1]
		for _, l := range lines[:len(lines)-1] {
			line(strings.TrimRight(l, "\r"))
		}
	}
	if partial != "" {
		line(partial)
	}
	return nil
}
