// Package usblp is the driver for USB printers bound to Linux's usblp kernel
// driver: /dev/usb/lpN. It writes in chunks bounded by a no-progress timeout
// and the caller's deadline, reads the port status with the LPGETSTATUS ioctl
// and, when the printer answers on its IN endpoint and its profile speaks
// ESC/POS (Config.SetProfile), the DLE EOT status; it
// names the model from the IEEE 1284 device ID (LPIOC_GET_DEVICE_ID or
// sysfs) and suggests a profile; it discovers printers from /dev/usb/lp*
// and sysfs, and can find a printer by vendor, product and serial number so a
// re-plug that renumbers lp0 to lp1 still prints on the right one.
//
// An unplugged printer (ENODEV, EIO) closes the Conn and fails the write
// with an error wrapping core.ErrOffline: the queue keeps the job and opens
// the printer again later, re-resolving its identity. A permission error says
// what to fix (the lp group or the udev rule in deploy/).
//
// Off Linux the driver is registered but unavailable.
//
// Register name: "usblp".
package usblp
