// Package libusb is the driver for USB printers reached through libusb
// (github.com/google/gousb): printers on a vendor-specific interface that the
// usblp kernel driver does not bind, or any printer when usblp is not
// wanted. It opens the device by vendor and product ID (and serial number),
// optionally detaches the kernel driver, claims the printer-class interface
// (class 7) or the vendor-specific interface of a known printer, finds the
// bulk OUT and IN endpoints from the descriptors, writes with a timeout, and
// reads status: the printer-class port status and, for a profile that
// speaks ESC/POS (Config.SetProfile), DLE EOT replies.
//
// libusb needs cgo, so the gousb adapter is built only with the libusb build
// tag (CGO_ENABLED=1, libusb-1.0-0-dev and pkg-config installed):
//
//	go build -tags libusb ./cmd/comandera
//
// Without the tag the driver is still registered, but reports itself
// unavailable with that instruction, so a printers.hcl that uses it gets a
// diagnostic instead of a crash. Everything but the thin adapter (interface
// selection, endpoint finding, chunked writes, status, discovery) is plain Go
// behind a seam over gousb's types and is tested in the default build.
//
// Register name: "libusb".
package libusb
