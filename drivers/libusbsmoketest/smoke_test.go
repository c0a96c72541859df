//go:build libusb && smoketest

package libusbsmoketest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/libusb"
)

func TestRealPrinter(t *testing.T) {
	cfg := &libusb.Config{
		VendorID:           os.Getenv("COMANDERA_USB_VID"),
		ProductID:          os.Getenv("COMANDERA_USB_PID"),
		Serial:             os.Getenv("COMANDERA_USB_SERIAL"),
		DetachKernelDriver: os.Getenv("COMANDERA_USB_DETACH") == "1",
	}
	if cfg.VendorID == "" || cfg.ProductID == "" {
		t.Fatal("set COMANDERA_USB_VID and COMANDERA_USB_PID to the printer's USB IDs (see the package doc)")
	}
	d, err := core.Lookup("libusb")
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Available(d); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	devs, err := d.(core.Discoverer).Discover(ctx)
	if err != nil {
		t.Errorf("Discover: %v", err)
	}
	for _, dev := range devs {
		t.Logf("found %s %s %s (%04x:%04x) serial %q profile %q\n%s", dev.Address, dev.Manufacturer, dev.Model, dev.VendorID, dev.ProductID, dev.Serial, dev.Profile, dev.Config)
	}
	c, err := d.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	status := func(when string) {
		st, err := c.(core.StatusReader).Status(ctx)
		t.Logf("status %s: %s %+v %v", when, st.State(), st, err)
	}
	status("before")
	c.(core.Deadliner).SetDeadline(time.Now().Add(30 * time.Second))
	ticket := []byte("\x1b@\x1bt\x13Comandera libusb smoke test\n" + time.Now().Format(time.RFC3339) + "\n" +
		"Espa\xa4ol: \xa0 \x82 \xa1 \xa2 \xa3 \x81 \xa8 \xad \xd5\n\n\n\x1dVB\x00")
	if n, err := c.Write(ticket); err != nil || n != len(ticket) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	status("after")
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
