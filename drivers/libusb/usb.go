package libusb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/internal/devinfo"
	"github.com/comandera/comandera/escpos"
)

func init() { core.Register("libusb", Driver{}) }

// USB class codes and printer-class requests.
const (
	classPrinter = 0x07
	classVendor  = 0xff

	reqGetDeviceID   = 0    // GET_DEVICE_ID
	reqGetPortStatus = 1    // GET_PORT_STATUS
	reqTypeClassIn   = 0xa1 // device-to-host, class, interface
	deviceIDSize     = 1024
)

const (
	// chunkSize is the size of one bulk OUT transfer.
	chunkSize = 16 << 10
	// noReplyRetry is how long after an unanswered DLE EOT the next Status
	// skips asking.
	noReplyRetry = time.Minute
	// closeWait bounds how long Close waits for cancelled transfers.
	closeWait = time.Second
)

// Errors the gousb adapter maps libusb's codes to, so the logic can act on
// them without cgo.
var (
	errNoDevice = errors.New("device gone")
	errAccess   = errors.New("access denied")
	errBusy     = errors.New("interface busy")
	errTimeout  = errors.New("timeout")
	errStall    = errors.New("endpoint stalled")
)

// The seam over gousb: descriptors copied into plain structs, and the few
// operations the driver needs. gousb.go implements it behind the libusb tag;
// tests implement it with fakes.
type (
	usbContext interface {
		// devices returns the descriptor of every attached device.
		devices() ([]*deviceDesc, error)
		open(d *deviceDesc) (usbDevice, error)
		Close() error
	}
	usbDevice interface {
		// strings returns the manufacturer, product and serial number
		// strings ("" where unreadable).
		strings() (manufacturer, product, serial string)
		setAutoDetach(bool) error
		activeConfig() (int, error)
		// claim selects the configuration and claims the interface setting.
		claim(config, intf, alt int) (usbInterface, error)
		control(rType, request uint8, val, idx uint16, data []byte) (int, error)
		Close() error
	}
	usbInterface interface {
		outEndpoint(num int) (outEndpoint, error)
		inEndpoint(num int) (inEndpoint, error)
		// Close releases the interface and the configuration.
		Close() error
	}
	outEndpoint interface {
		WriteContext(ctx context.Context, b []byte) (int, error)
	}
	inEndpoint interface {
		ReadContext(ctx context.Context, b []byte) (int, error)
	}
)

type deviceDesc struct {
	Bus, Address int
	Path         []int // ports from the root hub
	Vendor       uint16
	Product      uint16
	Class        uint8
	Configs      []configDesc
}

type configDesc struct {
	Number     int
	Interfaces []intfDesc
}

type intfDesc struct {
	Number int
	Alts   []altDesc
}

type altDesc struct {
	Alternate int
	Class     uint8
	SubClass  uint8
	Protocol  uint8
	Endpoints []endpointDesc
}

type endpointDesc struct {
	Number        int
	In            bool
	Bulk          bool
	MaxPacketSize int
}

// location names a device by bus and port path, like Linux does ("1-1.4").
func (d *deviceDesc) location() string {
	if len(d.Path) == 0 {
		return fmt.Sprintf("usb:%d:%d", d.Bus, d.Address)
	}
	parts := make([]string, len(d.Path))
	for i, p := range d.Path {
		parts[i] = fmt.Sprint(p)
	}
	return fmt.Sprintf("usb:%d-%s", d.Bus, strings.Join(parts, "."))
}

func (d *deviceDesc) ids() string {
	return devinfo.HexID(d.Vendor) + ":" + devinfo.HexID(d.Product)
}

// selection is the interface setting and endpoints the driver uses.
type selection struct {
	config, intf, alt int
	printerClass      bool
	out               endpointDesc
	in                *endpointDesc
}

// selectInterface picks the interface to print on: the one forced by the
// config, else a printer-class setting (bidirectional protocol 2 before
// unidirectional 1 before IEEE 1284.4 protocol 3), else a vendor-specific
// setting with a bulk OUT endpoint. Within a setting the first bulk OUT and
// bulk IN endpoints are used.
func selectInterface(d *deviceDesc, active, force int) (selection, error) {
	var cands []selection
	for _, cfg := range d.Configs {
		if active > 0 && cfg.Number != active && len(d.Configs) > 1 {
			continue
		}
		for _, in := range cfg.Interfaces {
			if force >= 0 && in.Number != force {
				continue
			}
			for _, alt := range in.Alts {
				s := selection{config: cfg.Number, intf: in.Number, alt: alt.Alternate, printerClass: alt.Class == classPrinter}
				hasOut := false
				for _, ep := range alt.Endpoints {
					switch {
					case ep.Bulk && !ep.In && !hasOut:
						s.out, hasOut = ep, true
					case ep.Bulk && ep.In && s.in == nil:
						e := ep
						s.in = &e
					}
				}
				if !hasOut {
					continue
				}
				if force >= 0 || alt.Class == classPrinter || alt.Class == classVendor || d.Class == classVendor {
					cands = append(cands, s)
				}
			}
		}
	}
	if len(cands) == 0 {
		what := "no printer-class (7) or vendor-specific interface with a bulk OUT endpoint"
		if force >= 0 {
			what = fmt.Sprintf("interface %d has no bulk OUT endpoint", force)
		}
		return selection{}, fmt.Errorf("libusb: %s: %s (%s)", d.ids(), what, describe(d))
	}
	rank := func(s selection) int {
		switch {
		case !s.printerClass:
			return 3
		case s.in != nil && protocol(d, s) == 2:
			return 0
		case protocol(d, s) == 3:
			return 2
		}
		return 1
	}
	slices.SortStableFunc(cands, func(a, b selection) int { return rank(a) - rank(b) })
	return cands[0], nil
}

func protocol(d *deviceDesc, s selection) uint8 {
	for _, c := range d.Configs {
		for _, in := range c.Interfaces {
			for _, alt := range in.Alts {
				if c.Number == s.config && in.Number == s.intf && alt.Alternate == s.alt {
					return alt.Protocol
				}
			}
		}
	}
	return 0
}

// describe lists a device's interfaces for error messages.
func describe(d *deviceDesc) string {
	var parts []string
	for _, c := range d.Configs {
		for _, in := range c.Interfaces {
			for _, alt := range in.Alts {
				var eps []string
				for _, ep := range alt.Endpoints {
					kind := "intr"
					if ep.Bulk {
						kind = "bulk"
					}
					dir := "out"
					if ep.In {
						dir = "in"
					}
					eps = append(eps, fmt.Sprintf("%s-%s %d", kind, dir, ep.Number))
				}
				parts = append(parts, fmt.Sprintf("config %d interface %d.%d class %#02x [%s]", c.Number, in.Number, alt.Alternate, alt.Class, strings.Join(eps, ", ")))
			}
		}
	}
	if len(parts) == 0 {
		return "no interfaces"
	}
	return strings.Join(parts, "; ")
}

// isPrinter reports whether discovery lists the device: it has a
// printer-class interface, or a vendor-specific interface with a bulk OUT
// endpoint and the USB ID of a known printer.
func isPrinter(d *deviceDesc, known map[string]bool) (printerClass, ok bool) {
	for _, c := range d.Configs {
		for _, in := range c.Interfaces {
			for _, alt := range in.Alts {
				if alt.Class == classPrinter {
					return true, true
				}
			}
		}
	}
	if !known[d.ids()] {
		return false, false
	}
	_, err := selectInterface(d, 0, -1)
	return false, err == nil
}

// backend creates a libusb context; nil when built without the libusb tag.
var backend func() (usbContext, error)

// Driver is the libusb driver.
type Driver struct {
	newContext func() (usbContext, error) // nil: backend
}

func (d Driver) context() (usbContext, error) {
	f := d.newContext
	if f == nil {
		f = backend
	}
	if f == nil {
		return nil, errUnavailable
	}
	return f()
}

var errUnavailable = fmt.Errorf("this comandera was built without libusb support: install libusb-1.0-0-dev and pkg-config, then build with cgo and the libusb tag: CGO_ENABLED=1 go build -tags libusb ./cmd/comandera (or use the usblp driver, which needs no cgo)")

// Config returns a new, empty *Config.
func (Driver) Config() any { return &Config{} }

// Available reports whether libusb support was built in.
func (d Driver) Available() error {
	if d.newContext == nil && backend == nil {
		return errUnavailable
	}
	return nil
}

// Open finds the device by vendor, product and serial, claims its printer
// interface and opens its endpoints.
func (d Driver) Open(ctx context.Context, cfg any) (core.Conn, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("libusb: config is %T, want *libusb.Config", cfg)
	}
	set, err := c.settings()
	if err != nil {
		return nil, fmt.Errorf("libusb: %w", err)
	}
	if err := d.Available(); err != nil {
		return nil, fmt.Errorf("libusb: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	uc, err := d.context()
	if err != nil {
		return nil, fmt.Errorf("libusb: cannot initialise libusb: %w: %w", err, core.ErrOffline)
	}
	cn, err := openConn(uc, set)
	if err != nil {
		uc.Close()
		return nil, err
	}
	return cn, nil
}

func openConn(uc usbContext, set settings) (*conn, error) {
	want := devinfo.HexID(set.vendor) + ":" + devinfo.HexID(set.product)
	if set.serial != "" {
		want += " serial " + set.serial
	}
	descs, err := uc.devices()
	if err != nil && len(descs) == 0 {
		return nil, fmt.Errorf("libusb: listing devices: %w: %w", err, core.ErrOffline)
	}
	var dev usbDevice
	var desc *deviceDesc
	var found []string
	for _, dd := range descs {
		if dd.Vendor != set.vendor || dd.Product != set.product {
			continue
		}
		dv, err := uc.open(dd)
		if err != nil {
			return nil, deviceError(dd, "opening", err)
		}
		_, _, serial := dv.strings()
		if set.serial != "" && serial != set.serial {
			found = append(found, dd.location()+" serial "+serial)
			dv.Close()
			continue
		}
		if dev != nil {
			dv.Close()
			dev.Close()
			return nil, fmt.Errorf("libusb: several devices match %s: add serial to the libusb block to choose one: %w", want, core.ErrOffline)
		}
		dev, desc = dv, dd
	}
	if dev == nil {
		extra := ""
		if len(found) > 0 {
			extra = " (found " + strings.Join(found, ", ") + ")"
		}
		return nil, fmt.Errorf("libusb: no USB device %s is connected%s: %w", want, extra, core.ErrOffline)
	}
	cn, err := claim(dev, desc, set)
	if err != nil {
		dev.Close()
		return nil, err
	}
	cn.uc = uc
	return cn, nil
}

func claim(dev usbDevice, desc *deviceDesc, set settings) (*conn, error) {
	active, err := dev.activeConfig()
	if err != nil {
		active = 0
	}
	sel, err := selectInterface(desc, active, set.intf)
	if err != nil {
		return nil, err
	}
	if set.detach {
		if err := dev.setAutoDetach(true); err != nil {
			return nil, deviceError(desc, "detaching the kernel driver", err)
		}
	}
	intf, err := dev.claim(sel.config, sel.intf, sel.alt)
	if err != nil {
		return nil, deviceError(desc, fmt.Sprintf("claiming interface %d", sel.intf), err)
	}
	out, err := intf.outEndpoint(sel.out.Number)
	if err != nil {
		intf.Close()
		return nil, deviceError(desc, "opening the bulk OUT endpoint", err)
	}
	cn := &conn{
		dev:    dev,
		intf:   intf,
		out:    out,
		sel:    sel,
		desc:   desc,
		set:    set,
		wlock:  make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	if sel.in != nil {
		if in, err := intf.inEndpoint(sel.in.Number); err == nil {
			cn.in = in
		}
	}
	cn.base, cn.cancel = context.WithCancel(context.Background())
	return cn, nil
}

// deviceError explains a failure on a device.
func deviceError(d *deviceDesc, doing string, err error) error {
	where := fmt.Sprintf("libusb: %s at %s: %s", d.ids(), d.location(), doing)
	switch {
	case errors.Is(err, errAccess):
		hint := "install the udev rule deploy/99-comandera.rules, which gives printers to the lp group (sudo cp deploy/99-comandera.rules /etc/udev/rules.d/ && " +
			"sudo udevadm control --reload-rules && sudo udevadm trigger), and add the user comandera runs as to the lp group (sudo usermod -aG lp USER); " +
			"a printer with only a vendor-specific interface may need its USB ID added to the rule"
		if runtime.GOOS != "linux" {
			hint = "run comandera as a user allowed to open USB devices"
		}
		return fmt.Errorf("%s: permission denied: %s: %w", where, hint, core.ErrOffline)
	case errors.Is(err, errBusy):
		return fmt.Errorf("%s: the interface is held by a kernel driver (usblp?) or another program: set detach_kernel_driver = true in the libusb block, or use the usblp driver: %w", where, core.ErrOffline)
	case errors.Is(err, errNoDevice):
		return fmt.Errorf("%s: the printer was unplugged: %w", where, core.ErrOffline)
	}
	return fmt.Errorf("%s: %w: %w", where, err, core.ErrOffline)
}

// Discover lists printer-class devices and vendor-class devices with the
// USB ID of a built-in profile, with what their descriptors and IEEE 1284
// ID say and the printers.hcl block to use them.
func (d Driver) Discover(ctx context.Context) ([]core.Device, error) {
	uc, err := d.context()
	if err != nil {
		return nil, fmt.Errorf("libusb: %w", err)
	}
	defer uc.Close()
	descs, derr := uc.devices()
	profiles := core.Builtin()
	known := map[string]bool{}
	for _, p := range profiles {
		for _, id := range p.USBIDs {
			known[strings.ToLower(id)] = true
		}
	}
	var devs []core.Device
	for _, dd := range descs {
		if ctx.Err() != nil {
			return devs, ctx.Err()
		}
		printerClass, ok := isPrinter(dd, known)
		if !ok {
			continue
		}
		dev := core.Device{Driver: "libusb", Address: dd.location(), VendorID: dd.Vendor, ProductID: dd.Product}
		var id devinfo.DeviceID
		if dv, err := uc.open(dd); err == nil {
			dev.Manufacturer, dev.Model, dev.Serial = dv.strings()
			if printerClass {
				id = deviceID(dv, dd)
			}
			dv.Close()
		}
		if id.Manufacturer != "" {
			dev.Manufacturer = id.Manufacturer
		}
		product := dev.Model
		if id.Model != "" {
			dev.Model = id.Model
		}
		dev.Profile = devinfo.SuggestProfile(profiles, dd.Vendor, dd.Product, id.Model, product)
		attrs := []devinfo.Attr{
			{Name: "vendor_id", Value: devinfo.HexID(dd.Vendor)},
			{Name: "product_id", Value: devinfo.HexID(dd.Product)},
		}
		if dev.Serial != "" {
			attrs = append(attrs, devinfo.Attr{Name: "serial", Value: dev.Serial})
		}
		if printerClass && runtime.GOOS == "linux" {
			// usblp binds printer-class interfaces on Linux.
			attrs = append(attrs, devinfo.Attr{Name: "detach_kernel_driver", Value: true})
		}
		dev.Config = devinfo.Block(devinfo.Name(dev.Model, "usb-"+dd.ids()), dev.Profile, "libusb", attrs...)
		devs = append(devs, dev)
	}
	if derr != nil {
		return devs, fmt.Errorf("libusb: listing devices: %w", derr)
	}
	return devs, nil
}

// deviceID asks a printer-class interface for its IEEE 1284 ID.
func deviceID(dv usbDevice, dd *deviceDesc) devinfo.DeviceID {
	sel, err := selectInterface(dd, 0, -1)
	if err != nil || !sel.printerClass {
		return devinfo.DeviceID{}
	}
	buf := make([]byte, deviceIDSize)
	n, err := dv.control(reqTypeClassIn, reqGetDeviceID, 0, uint16(sel.intf)<<8|uint16(sel.alt), buf)
	if err != nil || n <= 0 {
		return devinfo.DeviceID{}
	}
	id, _ := devinfo.ParseDeviceIDBuffer(buf[:min(n, len(buf))])
	return id
}

// conn is a claimed printer interface.
type conn struct {
	uc   usbContext
	dev  usbDevice
	intf usbInterface
	out  outEndpoint
	in   inEndpoint // nil: write-only
	sel  selection
	desc *deviceDesc
	set  settings

	base   context.Context // cancelled by Close: aborts transfers
	cancel context.CancelFunc

	wlock     chan struct{} // held by Write and by a DLE EOT query
	rmu       sync.Mutex
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	deadline time.Time
	gone     error
	noReply  time.Time
	pending  []byte // read but not yet returned
}

var (
	_ core.StatusReader = (*conn)(nil)
	_ core.Reader       = (*conn)(nil)
	_ core.Deadliner    = (*conn)(nil)
)

// SetDeadline bounds Write, Read and Status.
func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

func (c *conn) userDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline
}

func (c *conn) goneErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *conn) closedErr() error {
	return fmt.Errorf("libusb: %s: %w", c.desc.ids(), os.ErrClosed)
}

// transferContext bounds one transfer by timeout and the caller's deadline;
// Close cancels it.
func (c *conn) transferContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	d := time.Now().Add(timeout)
	if u := c.userDeadline(); !u.IsZero() && u.Before(d) {
		d = u
	}
	return context.WithDeadline(c.base, d)
}

// Write sends p in bulk transfers, each of which must complete within the
// write timeout and before the deadline. A completed bulk transfer has been
// acknowledged by the printer, so a nil error means it has every byte.
func (c *conn) Write(p []byte) (int, error) {
	select {
	case c.wlock <- struct{}{}:
	case <-c.closed:
		return 0, c.closedErr()
	}
	defer func() { <-c.wlock }()
	if err := c.goneErr(); err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) {
		end := min(n+chunkSize, len(p))
		ctx, cancel := c.transferContext(c.set.writeTimeout)
		w, err := c.out.WriteContext(ctx, p[n:end])
		cancel()
		n += max(0, min(w, end-n))
		if err != nil {
			return n, c.ioErr(ctx, err)
		}
		if w <= 0 {
			return n, c.ioErr(ctx, errors.New("short write"))
		}
	}
	return n, nil
}

func (c *conn) ioErr(ctx context.Context, err error) error {
	switch {
	case c.isClosed():
		return c.closedErr()
	case errors.Is(err, errNoDevice):
		c.mu.Lock()
		if c.gone == nil {
			c.gone = fmt.Errorf("libusb: %s: the printer was unplugged; the connection must be opened again: %w", c.desc.ids(), core.ErrOffline)
		}
		c.mu.Unlock()
		return c.gone
	case errors.Is(err, errTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		why := fmt.Sprintf("the printer accepted no data for %s", c.set.writeTimeout)
		if u := c.userDeadline(); !u.IsZero() && !time.Now().Before(u) {
			why = "the deadline passed before the printer took the data"
		}
		kind := core.ErrOffline
		if st, ok := c.portStatus(); ok {
			if st.Detail != "" {
				why += " (" + st.Detail + ")"
			}
			if st.PaperOut {
				kind = core.ErrNotReady
			}
		}
		return fmt.Errorf("libusb: %s: %s: %w: %w", c.desc.ids(), why, kind, os.ErrDeadlineExceeded)
	}
	return fmt.Errorf("libusb: %s: %w: %w", c.desc.ids(), err, core.ErrOffline)
}

// Read returns bytes the printer sent on its bulk IN endpoint.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	var ctx context.Context
	cancel := func() {}
	if u := c.userDeadline(); !u.IsZero() {
		ctx, cancel = context.WithDeadline(c.base, u)
	} else {
		ctx = c.base
	}
	defer cancel()
	return c.read(ctx, p)
}

func (c *conn) read(ctx context.Context, p []byte) (int, error) {
	if c.in == nil {
		return 0, fmt.Errorf("libusb: %s: the printer interface has no bulk IN endpoint (write-only)", c.desc.ids())
	}
	if err := c.goneErr(); err != nil {
		return 0, err
	}
	if len(c.pending) == 0 {
		// Read whole packets, so a packet larger than p cannot overflow.
		size := max(c.sel.in.MaxPacketSize, 64)
		buf := make([]byte, size*((512+size-1)/size))
		n, err := c.in.ReadContext(ctx, buf)
		n = max(0, min(n, len(buf)))
		c.pending = append(c.pending, buf[:n]...)
		if n == 0 && err != nil {
			if errors.Is(err, errTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return 0, fmt.Errorf("libusb: %s: read: %w", c.desc.ids(), os.ErrDeadlineExceeded)
			}
			return 0, c.ioErr(ctx, err)
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// portStatus asks a printer-class interface for its port status byte.
func (c *conn) portStatus() (core.Status, bool) {
	if !c.sel.printerClass {
		return core.Status{}, false
	}
	var b [1]byte
	n, err := c.dev.control(reqTypeClassIn, reqGetPortStatus, 0, uint16(c.sel.intf), b[:])
	if err != nil || n != 1 {
		return core.Status{}, false
	}
	return devinfo.PortStatus(b[0]), true
}

// Status combines the printer-class port status with the DLE EOT replies
// (asked only when no job is being written, there is an IN endpoint and the
// profile speaks ESC/POS). Neither available: unknown, never "ok".
func (c *conn) Status(ctx context.Context) (core.Status, error) {
	if c.isClosed() {
		return core.Status{}, c.closedErr()
	}
	if c.goneErr() != nil {
		return core.Status{Known: true, Detail: "disconnected"}, nil
	}
	port, _ := c.portStatus()
	var dle core.Status
	why := "no bulk IN endpoint"
	switch {
	case c.set.foreign != "":
		why = fmt.Sprintf("DLE EOT not asked: profile %s speaks %s, not ESC/POS "+
			"(the printer's quirks plugin can ask in its own language)", c.set.profile, c.set.foreign)
	case c.in != nil:
		select {
		case c.wlock <- struct{}{}:
			var err error
			dle, err = c.queryDLE(ctx)
			if err != nil {
				why = err.Error()
			}
			<-c.wlock
		default:
			why = "a job is being written"
		}
	}
	st := devinfo.Merge(port, dle)
	if !st.Known {
		st.Detail = "no status: " + why
	}
	return st, nil
}

func (c *conn) queryDLE(ctx context.Context) (core.Status, error) {
	c.mu.Lock()
	skip := !c.noReply.IsZero() && time.Since(c.noReply) < noReplyRetry
	c.mu.Unlock()
	if skip {
		return core.Status{}, errors.New("the printer did not answer DLE EOT recently")
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.pending = nil // stale bytes
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 4*c.set.statusTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 4*c.set.statusTimeout)
		defer cancel()
	}
	st, err := escpos.QueryStatus(ctx, statusIO{c}, statusIO{c})
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.noReply = time.Now()
		return core.Status{}, err
	}
	c.noReply = time.Time{}
	return st, nil
}

// statusIO moves status requests and replies within the status timeout.
type statusIO struct{ c *conn }

func (s statusIO) Write(p []byte) (int, error) {
	ctx, cancel := s.c.transferContext(s.c.set.statusTimeout)
	defer cancel()
	return s.c.out.WriteContext(ctx, p)
}

func (s statusIO) Read(p []byte) (int, error) {
	ctx, cancel := s.c.transferContext(s.c.set.statusTimeout)
	defer cancel()
	return s.c.read(ctx, p)
}

// Close cancels transfers in progress, releases the interface and closes
// the device.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		// Let cancelled transfers finish before releasing the interface.
		wait := time.NewTimer(closeWait)
		defer wait.Stop()
		select {
		case c.wlock <- struct{}{}:
		case <-wait.C:
		}
		err = errors.Join(c.intf.Close(), c.dev.Close())
		if c.uc != nil {
			err = errors.Join(err, c.uc.Close())
		}
		if err != nil {
			err = fmt.Errorf("libusb: %s: closing: %w", c.desc.ids(), err)
		}
	})
	return err
}
