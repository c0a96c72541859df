// Package serial is the driver for printers on RS-232 ports and USB-serial
// adapters, through go.bug.st/serial: line settings, and flow control by
// XON/XOFF in the printer's input stream or by its CTS or DSR ready line.
//
// Writes go out in chunks. With flow control, each chunk waits until the
// printer is ready and drains before the next, so little is in flight when
// the printer says stop; a pause longer than ready_timeout fails the write
// with an error wrapping core.ErrOffline and Status reports the printer
// offline. Bytes the printer sends that are not flow control (DLE EOT
// replies, ASB) are kept for Read and Status. Status asks DLE EOT only of a
// printer whose profile speaks ESC/POS (Config.SetProfile); for another
// command set it reports the flow control state and leaves asking to the
// printer's quirks plugin (through Read and Write). Discovery lists the ports with
// their USB identity and, on Linux, their stable /dev/serial/by-id name.
//
// Register name: "serial".
package serial
