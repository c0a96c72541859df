//go:build !linux

package net

import "syscall"

// unsent is not available here: Write returns once the kernel has the data.
func unsent(syscall.RawConn) (int, bool) { return 0, false }
