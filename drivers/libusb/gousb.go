//go:build libusb

package libusb

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/google/gousb"
)

// This file is the thin adapter from the seam in usb.go to gousb. It is the
// only code that needs cgo.

func init() { backend = newGousbContext }

func newGousbContext() (uc usbContext, err error) {
	// gousb.NewContext panics when libusb_init fails (no usbfs, as in
	// some containers); turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			uc, err = nil, fmt.Errorf("libusb_init failed (is /dev/bus/usb there?): %v", r)
		}
	}()
	return &gousbContext{ctx: gousb.NewContext()}, nil
}

type gousbContext struct {
	ctx   *gousb.Context
	descs map[*deviceDesc]*gousb.DeviceDesc
}

func (g *gousbContext) devices() ([]*deviceDesc, error) {
	g.descs = map[*deviceDesc]*gousb.DeviceDesc{}
	var out []*deviceDesc
	// The opener sees every device's descriptor; opening none of them.
	_, err := g.ctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		dd := convert(d)
		g.descs[dd] = d
		out = append(out, dd)
		return false
	})
	return out, usbError(err)
}

func convert(d *gousb.DeviceDesc) *deviceDesc {
	dd := &deviceDesc{
		Bus: d.Bus, Address: d.Address, Path: append([]int(nil), d.Path...),
		Vendor: uint16(d.Vendor), Product: uint16(d.Product), Class: uint8(d.Class),
	}
	for _, c := range d.Configs {
		cd := configDesc{Number: c.Number}
		for _, in := range c.Interfaces {
			id := intfDesc{Number: in.Number}
			for _, alt := range in.AltSettings {
				ad := altDesc{Alternate: alt.Alternate, Class: uint8(alt.Class), SubClass: uint8(alt.SubClass), Protocol: uint8(alt.Protocol)}
				for _, ep := range alt.Endpoints {
					ad.Endpoints = append(ad.Endpoints, endpointDesc{
						Number:        ep.Number,
						In:            ep.Direction == gousb.EndpointDirectionIn,
						Bulk:          ep.TransferType == gousb.TransferTypeBulk,
						MaxPacketSize: ep.MaxPacketSize,
					})
				}
				id.Alts = append(id.Alts, ad)
			}
			cd.Interfaces = append(cd.Interfaces, id)
		}
		dd.Configs = append(dd.Configs, cd)
	}
	return dd
}

func (g *gousbContext) open(d *deviceDesc) (usbDevice, error) {
	want := g.descs[d]
	devs, err := g.ctx.OpenDevices(func(x *gousb.DeviceDesc) bool {
		return want != nil && x.Bus == want.Bus && x.Address == want.Address
	})
	if len(devs) == 0 {
		if err == nil {
			err = fmt.Errorf("%w: %s is no longer attached", errNoDevice, d.location())
		}
		return nil, usbError(err)
	}
	for _, extra := range devs[1:] {
		extra.Close()
	}
	dev := devs[0]
	dev.ControlTimeout = 2 * time.Second
	return &gousbDevice{dev: dev}, nil
}

func (g *gousbContext) Close() error { return usbError(g.ctx.Close()) }

type gousbDevice struct{ dev *gousb.Device }

func (d *gousbDevice) strings() (string, string, string) {
	m, _ := d.dev.Manufacturer()
	p, _ := d.dev.Product()
	s, _ := d.dev.SerialNumber()
	return m, p, s
}

func (d *gousbDevice) setAutoDetach(on bool) error { return usbError(d.dev.SetAutoDetach(on)) }

func (d *gousbDevice) activeConfig() (int, error) {
	n, err := d.dev.ActiveConfigNum()
	return n, usbError(err)
}

func (d *gousbDevice) claim(config, intf, alt int) (usbInterface, error) {
	cfg, err := d.dev.Config(config)
	if err != nil {
		return nil, usbError(err)
	}
	in, err := cfg.Interface(intf, alt)
	if err != nil {
		cfg.Close()
		return nil, usbError(err)
	}
	return &gousbInterface{cfg: cfg, intf: in}, nil
}

func (d *gousbDevice) control(rType, request uint8, val, idx uint16, data []byte) (int, error) {
	n, err := d.dev.Control(rType, request, val, idx, data)
	return n, usbError(err)
}

func (d *gousbDevice) Close() error { return usbError(d.dev.Close()) }

type gousbInterface struct {
	cfg  *gousb.Config
	intf *gousb.Interface
}

func (i *gousbInterface) outEndpoint(num int) (outEndpoint, error) {
	ep, err := i.intf.OutEndpoint(num)
	if err != nil {
		return nil, usbError(err)
	}
	return gousbOut{ep}, nil
}

func (i *gousbInterface) inEndpoint(num int) (inEndpoint, error) {
	ep, err := i.intf.InEndpoint(num)
	if err != nil {
		return nil, usbError(err)
	}
	return gousbIn{ep}, nil
}

func (i *gousbInterface) Close() error {
	i.intf.Close()
	return usbError(i.cfg.Close())
}

type gousbOut struct{ ep *gousb.OutEndpoint }

func (o gousbOut) WriteContext(ctx context.Context, b []byte) (int, error) {
	n, err := o.ep.WriteContext(ctx, b)
	return n, transferError(ctx, err)
}

type gousbIn struct{ ep *gousb.InEndpoint }

func (i gousbIn) ReadContext(ctx context.Context, b []byte) (int, error) {
	n, err := i.ep.ReadContext(ctx, b)
	return n, transferError(ctx, err)
}

func transferError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var st gousb.TransferStatus
	if errors.As(err, &st) {
		switch st {
		case gousb.TransferCancelled, gousb.TransferTimedOut:
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("transfer cancelled: %w", context.Canceled)
			}
			return fmt.Errorf("%w: %v", errTimeout, err)
		case gousb.TransferNoDevice:
			return fmt.Errorf("%w: %v", errNoDevice, err)
		case gousb.TransferStall:
			return fmt.Errorf("%w: %v", errStall, err)
		}
	}
	return usbError(err)
}

// code finds libusb's error code in a message: gousb often formats its
// errors with %v, losing the type.
var code = regexp.MustCompile(`\[code (-?\d+)\]`)

// usbError maps libusb's error codes to the seam's errors.
func usbError(err error) error {
	if err == nil {
		return nil
	}
	var e gousb.Error
	if !errors.As(err, &e) {
		m := code.FindStringSubmatch(err.Error())
		if m == nil {
			return err
		}
		n, _ := strconv.Atoi(m[1])
		e = gousb.Error(n)
	}
	switch e {
	case gousb.ErrorNoDevice:
		return fmt.Errorf("%w: %v", errNoDevice, err)
	case gousb.ErrorAccess:
		return fmt.Errorf("%w: %v", errAccess, err)
	case gousb.ErrorBusy:
		return fmt.Errorf("%w: %v", errBusy, err)
	case gousb.ErrorTimeout:
		return fmt.Errorf("%w: %v", errTimeout, err)
	case gousb.ErrorPipe:
		return fmt.Errorf("%w: %v", errStall, err)
	}
	return err
}
