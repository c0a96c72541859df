// Package usblpsmoketest checks the usblp driver against a real printer on
// /dev/usb/lpN. It is not part of `go test ./...`: its test needs the
// smoketest build tag, Linux and a printer.
//
// With permission to open the device (the lp group or the udev rule
// deploy/99-comandera.rules):
//
//	COMANDERA_USBLP_DEVICE=/dev/usb/lp0 go test -tags smoketest -count=1 -v ./drivers/usblpsmoketest/
//	COMANDERA_USB_VID=04b8 COMANDERA_USB_PID=0e28 go test -tags smoketest -count=1 -v ./drivers/usblpsmoketest/
//
// The test lists what discovery finds (model from the IEEE 1284 ID, the
// suggested profile and block), reads the status, prints a short ticket and
// reads the status again. Check the ticket came out whole; unplug the printer
// during a second run to see the write fail as offline.
package usblpsmoketest
