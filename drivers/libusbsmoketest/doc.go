// Package libusbsmoketest checks the libusb driver against a real printer.
// It is not part of `go test ./...`: its test needs the libusb and smoketest
// build tags, cgo, libusb-1.0-0-dev and a printer on USB.
//
// Find the printer's IDs with `comandera scan` (built with -tags libusb) or
// `lsusb`, then, with permission to open the device (root, or the udev rule
// deploy/99-comandera.rules):
//
//	COMANDERA_USB_VID=04b8 COMANDERA_USB_PID=0e28 \
//	COMANDERA_USB_DETACH=1 \
//	CGO_ENABLED=1 go test -tags 'libusb smoketest' -count=1 -v ./drivers/libusbsmoketest/
//
// COMANDERA_USB_SERIAL picks one of two identical printers; COMANDERA_USB_DETACH=1
// detaches usblp from a printer-class interface while the test runs. The test
// lists what discovery finds, reads the status, prints a short ticket (with
// Spanish accents, a partial cut) and reads the status again. Check that the
// ticket came out whole and the logged status matches the printer (open its
// cover or take the paper out and run again: the status must say so).
package libusbsmoketest
