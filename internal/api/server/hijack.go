// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
)

type bufioReadWriter = bufio.ReadWriter

func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("connection cannot be hijacked")
	}
	return hj.Hijack()
}
