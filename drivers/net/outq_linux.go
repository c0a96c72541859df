package net

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// unsent returns how many bytes of the socket's send queue the peer has not
// acknowledged yet (SIOCOUTQ).
func unsent(rc syscall.RawConn) (int, bool) {
	var n int
	var err error
	if cerr := rc.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); cerr != nil || err != nil {
		return 0, false
	}
	return n, true
}
