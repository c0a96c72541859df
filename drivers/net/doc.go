// Package net is the driver for network printers that take raw jobs on a TCP
// port (JetDirect / AppSocket, port 9100 by default).
//
// Each Open dials a new connection, so every job starts on a fresh socket.
// Dial and writes are bounded: the dial by dial_timeout, a write by
// write_timeout without progress and by the caller's deadline. Close
// confirms the job: it half-closes and waits for the printer to close its
// end (which it does after reading everything), or failing that checks that
// the printer's TCP stack acknowledged every byte; if neither, Close returns
// an error wrapping core.ErrOffline and the job should be retried. TCP
// keepalive notices a printer that vanished while the socket was idle.
// Refused, reset and timed-out connections are errors wrapping
// core.ErrOffline.
//
// Status sends DLE EOT over the same socket and reports what the printer
// answers within status_timeout; a printer that does not answer is
// "unknown", never "ok". DLE EOT is ESC/POS: a printer whose profile speaks
// another command set (Star Line Mode, Star Graphic, set through
// Config.SetProfile) is never sent it, and its status is unknown unless its
// quirks plugin asks in its own language over the connection (core.Reader).
//
// The driver does not scan the network by itself (it is not a
// core.Discoverer): Scan probes an address range only when asked, which
// `comandera scan -net CIDR` does.
//
// Register name: "net".
package net
