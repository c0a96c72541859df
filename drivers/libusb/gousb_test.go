//go:build libusb

package libusb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/google/gousb"
)

// These tests run with the real libusb (go test -tags libusb) and need no
// USB device; drivers/libusbsmoketest checks a real printer.

func TestAvailableWithTag(t *testing.T) {
	d, err := core.Lookup("libusb")
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Available(d); err != nil {
		t.Fatalf("libusb unavailable with the tag: %v", err)
	}
}

func TestRealDiscover(t *testing.T) {
	devs, err := Driver{}.Discover(context.Background())
	if err != nil {
		// A machine without usbfs (a container) cannot initialise libusb:
		// that must be an error that says so, not a panic.
		if !strings.Contains(err.Error(), "libusb_init failed") {
			t.Fatalf("Discover: %v", err)
		}
		t.Logf("no usbfs here: %v", err)
		return
	}
	for _, d := range devs {
		if d.Driver != "libusb" || d.VendorID == 0 || !strings.Contains(d.Config, "libusb {") {
			t.Errorf("bad device %+v", d)
		}
	}
	t.Logf("%d printers", len(devs))
}

func TestRealOpenAbsentDevice(t *testing.T) {
	_, err := Driver{}.Open(context.Background(), &Config{VendorID: "ffff", ProductID: "fffe"})
	if !errors.Is(err, core.ErrOffline) {
		t.Fatalf("Open of an absent device: %v", err)
	}
}

func TestUSBErrorMapping(t *testing.T) {
	tests := []struct {
		in   error
		want error
	}{
		{gousb.ErrorBusy, errBusy},
		{gousb.ErrorAccess, errAccess},
		{gousb.ErrorNoDevice, errNoDevice},
		{gousb.ErrorTimeout, errTimeout},
		{gousb.ErrorPipe, errStall},
		// gousb formats many errors with %v, losing the type.
		{fmt.Errorf("failed to claim interface 0 on dev: %v", gousb.ErrorBusy), errBusy},
		{fmt.Errorf("Can't detach kernel driver: %v", gousb.ErrorAccess), errAccess},
	}
	for _, tt := range tests {
		if got := usbError(tt.in); !errors.Is(got, tt.want) {
			t.Errorf("usbError(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if err := usbError(errors.New("other")); err.Error() != "other" {
		t.Errorf("unrelated error changed: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := transferError(ctx, gousb.TransferNoDevice); !errors.Is(err, errNoDevice) {
		t.Errorf("TransferNoDevice: %v", err)
	}
	if err := transferError(ctx, gousb.TransferCancelled); !errors.Is(err, errTimeout) {
		t.Errorf("cancelled by a deadline: %v", err)
	}
	cancel()
	if err := transferError(ctx, gousb.TransferCancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled by Close: %v", err)
	}
}

func TestConvert(t *testing.T) {
	g := &gousb.DeviceDesc{
		Bus: 1, Address: 7, Path: []int{1, 3}, Vendor: 0x04b8, Product: 0x0e28,
		Configs: map[int]gousb.ConfigDesc{1: {Number: 1, Interfaces: []gousb.InterfaceDesc{{
			Number: 0,
			AltSettings: []gousb.InterfaceSetting{{
				Number: 0, Alternate: 0, Class: gousb.ClassVendorSpec,
				Endpoints: map[gousb.EndpointAddress]gousb.EndpointDesc{
					0x01: {Address: 0x01, Number: 1, Direction: gousb.EndpointDirectionOut, TransferType: gousb.TransferTypeBulk, MaxPacketSize: 64},
					0x82: {Address: 0x82, Number: 2, Direction: gousb.EndpointDirectionIn, TransferType: gousb.TransferTypeBulk, MaxPacketSize: 64},
					0x83: {Address: 0x83, Number: 3, Direction: gousb.EndpointDirectionIn, TransferType: gousb.TransferTypeInterrupt, MaxPacketSize: 8},
				},
			}},
		}}}},
	}
	d := convert(g)
	if d.location() != "usb:1-1.3" || d.ids() != "04b8:0e28" {
		t.Errorf("converted %+v", d)
	}
	s, err := selectInterface(d, 1, -1)
	if err != nil || s.out.Number != 1 || s.in == nil || s.in.Number != 2 {
		t.Fatalf("selection %+v, %v", s, err)
	}
}
