// Package escpos is Comandera's model of the ESC/POS command language (and, in
// starline.go, Star Line Mode): an encoder that turns a core.Document into the
// bytes for one printer profile, a decoder that turns bytes back into a stream
// of commands without panicking or over-allocating on hostile input, and the
// status replies (DLE EOT) printers send.
package escpos

// Control bytes used by ESC/POS.
const (
	NUL  = 0x00
	EOT  = 0x04
	ENQ  = 0x05
	HT   = 0x09
	LF   = 0x0a
	FF   = 0x0c
	CR   = 0x0d
	DLE  = 0x10
	XON  = 0x11 // DC1
	XOFF = 0x13 // DC3
	DC4  = 0x14
	CAN  = 0x18
	ESC  = 0x1b
	FS   = 0x1c
	GS   = 0x1d
	RS   = 0x1e
)
