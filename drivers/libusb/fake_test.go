package libusb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

// fakeUSB is a bus of fake devices behind the seam.
type fakeUSB struct {
	mu      sync.Mutex
	devs    []*fakeDevice
	listErr error
	closed  int
}

func (f *fakeUSB) newContext() (usbContext, error) { return &fakeContext{bus: f}, nil }

type fakeContext struct {
	bus *fakeUSB
}

func (c *fakeContext) devices() ([]*deviceDesc, error) {
	c.bus.mu.Lock()
	defer c.bus.mu.Unlock()
	var out []*deviceDesc
	for _, d := range c.bus.devs {
		out = append(out, d.desc)
	}
	return out, c.bus.listErr
}

func (c *fakeContext) open(d *deviceDesc) (usbDevice, error) {
	c.bus.mu.Lock()
	defer c.bus.mu.Unlock()
	for _, fd := range c.bus.devs {
		if fd.desc == d {
			if fd.openErr != nil {
				return nil, fd.openErr
			}
			fd.mu.Lock()
			fd.opened++
			fd.mu.Unlock()
			return &fakeHandle{d: fd}, nil
		}
	}
	return nil, errNoDevice
}

func (c *fakeContext) Close() error {
	c.bus.mu.Lock()
	c.bus.closed++
	c.bus.mu.Unlock()
	return nil
}

// fakeDevice is one printer (or not) on the bus.
type fakeDevice struct {
	desc                          *deviceDesc
	manufacturer, product, serial string
	openErr, claimErr             error
	deviceID                      []byte // GET_DEVICE_ID answer; nil: stall

	mu         sync.Mutex
	opened     int
	closedN    int
	detach     bool
	claimed    *[3]int
	released   bool
	port       byte // GET_PORT_STATUS answer
	got        bytes.Buffer
	maxChunk   int
	stall      bool        // OUT transfers hang until their context ends
	goneAfter  int         // >0: the device vanishes after this many bytes
	answer     bool        // queue DLE EOT replies on IN
	state      core.Status // answered state
	in         []byte
	inSig      chan struct{}
	controlLog []uint16
}

func (d *fakeDevice) received() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.got.Bytes())
}

type fakeHandle struct{ d *fakeDevice }

func (h *fakeHandle) strings() (string, string, string) {
	return h.d.manufacturer, h.d.product, h.d.serial
}

func (h *fakeHandle) setAutoDetach(on bool) error {
	h.d.mu.Lock()
	h.d.detach = on
	h.d.mu.Unlock()
	return nil
}

func (h *fakeHandle) activeConfig() (int, error) { return 1, nil }

func (h *fakeHandle) claim(config, intf, alt int) (usbInterface, error) {
	if h.d.claimErr != nil {
		return nil, h.d.claimErr
	}
	h.d.mu.Lock()
	h.d.claimed = &[3]int{config, intf, alt}
	if h.d.inSig == nil {
		h.d.inSig = make(chan struct{}, 1)
	}
	h.d.mu.Unlock()
	return &fakeIntf{d: h.d}, nil
}

func (h *fakeHandle) control(rType, request uint8, val, idx uint16, data []byte) (int, error) {
	d := h.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.controlLog = append(d.controlLog, uint16(request)<<8|uint16(rType))
	if d.goneAfter > 0 && d.got.Len() >= d.goneAfter {
		return 0, errNoDevice
	}
	switch {
	case rType == reqTypeClassIn && request == reqGetPortStatus && len(data) >= 1:
		data[0] = d.port
		return 1, nil
	case rType == reqTypeClassIn && request == reqGetDeviceID && d.deviceID != nil:
		return copy(data, d.deviceID), nil
	}
	return 0, errStall
}

func (h *fakeHandle) Close() error {
	h.d.mu.Lock()
	h.d.closedN++
	h.d.mu.Unlock()
	return nil
}

type fakeIntf struct{ d *fakeDevice }

func (i *fakeIntf) outEndpoint(num int) (outEndpoint, error) { return fakeOut{i.d}, nil }
func (i *fakeIntf) inEndpoint(num int) (inEndpoint, error)   { return fakeIn{i.d}, nil }
func (i *fakeIntf) Close() error {
	i.d.mu.Lock()
	i.d.released = true
	i.d.mu.Unlock()
	return nil
}

type fakeOut struct{ d *fakeDevice }

func (o fakeOut) WriteContext(ctx context.Context, b []byte) (int, error) {
	d := o.d
	d.mu.Lock()
	stall := d.stall
	d.mu.Unlock()
	if stall {
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.Canceled) {
			return 0, context.Canceled
		}
		return 0, errTimeout
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.maxChunk = max(d.maxChunk, len(b))
	if d.goneAfter > 0 && d.got.Len()+len(b) > d.goneAfter {
		n := d.goneAfter - d.got.Len()
		d.got.Write(b[:n])
		return n, errNoDevice
	}
	d.got.Write(b)
	if d.answer {
		// Reply to the DLE EOT requests in b.
		for i := 0; i+2 < len(b); i++ {
			if b[i] == escpos.DLE && b[i+1] == escpos.EOT && b[i+2] >= 1 && b[i+2] <= 4 {
				d.in = append(d.in, 0x80|escpos.XON) // noise before the reply
				d.in = append(d.in, escpos.StatusReply(b[i+2], d.state))
			}
		}
		select {
		case d.inSig <- struct{}{}:
		default:
		}
	}
	return len(b), nil
}

type fakeIn struct{ d *fakeDevice }

func (i fakeIn) ReadContext(ctx context.Context, b []byte) (int, error) {
	d := i.d
	for {
		d.mu.Lock()
		if len(d.in) > 0 {
			n := copy(b, d.in)
			d.in = d.in[n:]
			d.mu.Unlock()
			return n, nil
		}
		sig := d.inSig
		d.mu.Unlock()
		select {
		case <-sig:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return 0, context.Canceled
			}
			return 0, errTimeout
		}
	}
}

// Descriptors of typical devices.

func bulk(num int, in bool) endpointDesc {
	return endpointDesc{Number: num, In: in, Bulk: true, MaxPacketSize: 64}
}

// vendorPrinter is an Epson-style printer on a vendor-specific interface.
func vendorPrinter(vid, pid uint16) *deviceDesc {
	return &deviceDesc{Bus: 1, Address: 5, Path: []int{1, 4}, Vendor: vid, Product: pid, Configs: []configDesc{{
		Number: 1,
		Interfaces: []intfDesc{{Number: 0, Alts: []altDesc{{
			Class: classVendor, Endpoints: []endpointDesc{bulk(1, false), bulk(2, true)},
		}}}},
	}}}
}

// classPrinterDesc is a composite device: HID on interface 0, printer class
// on interface 1 with a unidirectional and a bidirectional setting.
func classPrinterDesc(vid, pid uint16) *deviceDesc {
	return &deviceDesc{Bus: 2, Address: 3, Path: []int{2}, Vendor: vid, Product: pid, Configs: []configDesc{{
		Number: 1,
		Interfaces: []intfDesc{
			{Number: 0, Alts: []altDesc{{Class: 0x03, Endpoints: []endpointDesc{{Number: 1, In: true, MaxPacketSize: 8}}}}},
			{Number: 1, Alts: []altDesc{
				{Alternate: 0, Class: classPrinter, SubClass: 1, Protocol: 1, Endpoints: []endpointDesc{bulk(3, false)}},
				{Alternate: 1, Class: classPrinter, SubClass: 1, Protocol: 2, Endpoints: []endpointDesc{bulk(3, false), bulk(4, true)}},
			}},
		},
	}}}
}

func deviceIDBuf(s string) []byte {
	b := make([]byte, 2, 2+len(s))
	binary.BigEndian.PutUint16(b, uint16(2+len(s)))
	return append(b, s...)
}
