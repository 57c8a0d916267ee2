// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image_test

import "os"

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }
