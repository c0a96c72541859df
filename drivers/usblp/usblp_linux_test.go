package usblp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const tmT20 = "MFG:EPSON;CMD:ESCPOS;MDL:TM-T20III;CLS:PRINTER;DES:TM-T20III;"

func open(t *testing.T, d Driver, cfg *Config) *conn {
	t.Helper()
	c, err := d.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

func TestWriteArrivesWhole(t *testing.T) {
	h := newFakeHost(t)
	p := h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	p.serve(0)
	c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0"})
	job := randomJob(1 << 20)
	n, err := c.Write(job)
	if err != nil || n != len(job) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := p.waitFor(t, len(job)); !bytes.Equal(got, job) {
		t.Fatalf("printer got %d bytes, not the job's %d (first difference at %d)", len(got), len(job), firstDiff(got, job))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestWriteTimeoutWhenPrinterTakesNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		port byte
		kind error
	}{
		{"busy", 0x18, core.ErrOffline},
		{"paper out", 0x38, core.ErrNotReady},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			p := h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
			p.port = tt.port // nobody reads the master: the pty fills up
			c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0", WriteTimeout: "200ms"})
			start := time.Now()
			n, err := c.Write(randomJob(4 << 20))
			if !errors.Is(err, tt.kind) || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Write = %d, %v; want %v and a deadline error", n, err, tt.kind)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("Write took %v", el)
			}
			if n == 0 || n >= 4<<20 {
				t.Errorf("Write reported %d bytes", n)
			}
		})
	}
}

func TestWriteHonoursDeadline(t *testing.T) {
	h := newFakeHost(t)
	h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0"}) // 30 s no-progress timeout
	c.SetDeadline(time.Now().Add(150 * time.Millisecond))
	_, err := c.Write(randomJob(4 << 20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "deadline passed") {
		t.Fatalf("Write: %v", err)
	}
}

func TestCloseUnblocksWrite(t *testing.T) {
	h := newFakeHost(t)
	h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0"})
	data := randomJob(4 << 20)
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Write after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Write still blocked 2s after Close")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write on closed conn: %v", err)
	}
}

func TestStatusPortBits(t *testing.T) {
	tests := []struct {
		port  byte
		state core.PrinterState
	}{
		{0x18, core.StateOnline},
		{0x38, core.StatePaperOut},
		{0x30, core.StatePaperOut},
		{0x10, core.StateError},
		{0x08, core.StateOffline},
	}
	h := newFakeHost(t)
	p := h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	p.serve(0) // reads, never answers DLE EOT
	c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0", StatusTimeout: "50ms"})
	for _, tt := range tests {
		p.mu.Lock()
		p.port = tt.port
		p.mu.Unlock()
		st, err := c.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.State() != tt.state {
			t.Errorf("port %#02x: state %s, want %s (%+v)", tt.port, st.State(), tt.state, st)
		}
	}
}

func TestStatusDLEEOT(t *testing.T) {
	h := newFakeHost(t)
	p := h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	p.answer = true
	p.state = core.Status{Known: true, CoverOpen: true}
	p.serve(0)
	c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0"})
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.State() != core.StateCoverOpen {
		t.Fatalf("state %s (%+v), want cover_open from DLE EOT", st.State(), st)
	}
	// Requests went to the printer and nothing else did.
	if got := p.waitFor(t, 12); !bytes.Equal(got, []byte{0x10, 4, 1, 0x10, 4, 2, 0x10, 4, 3, 0x10, 4, 4}) {
		t.Errorf("printer got % x", got)
	}
}

func TestStatusUnknownWithoutAnyReply(t *testing.T) {
	h := newFakeHost(t)
	p := h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	p.portErr = syscall.ENOTTY
	p.serve(0)
	c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0", StatusTimeout: "50ms"})
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Known || st.State() != core.StateUnknown || !st.CanPrint() {
		t.Fatalf("status %+v, want unknown", st)
	}
}

func TestOpenByIdentityAndReplugReprint(t *testing.T) {
	h := newFakeHost(t)
	lp0 := h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	h.addPrinter("lp1", 0x0519, 0x0047, "S9", "TSP143", "")
	cfg := &Config{VendorID: "04b8", ProductID: "0e28", Serial: "X1"}
	job := randomJob(512 << 10)

	// The printer is unplugged after taking 100 KiB of the job.
	lp0.serve(100 << 10)
	c := open(t, h.driver(), cfg)
	if c.path != h.sys.devDir+"/lp0" {
		t.Fatalf("resolved to %s", c.path)
	}
	_, err := c.Write(job)
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "disconnected") {
		t.Fatalf("Write during unplug: %v", err)
	}
	if _, err := c.Write(job); !errors.Is(err, core.ErrOffline) {
		t.Fatalf("Write after unplug: %v", err)
	}
	if st, _ := c.Status(context.Background()); st.State() != core.StateOffline {
		t.Errorf("Status after unplug: %+v", st)
	}
	c.Close()

	// While it is away, Open says offline.
	h.removePrinter("lp0")
	if _, err := h.driver().Open(context.Background(), cfg); !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "lp1 0519:0047") {
		t.Fatalf("Open while unplugged: %v", err)
	}

	// Plugged back in, it comes back as lp2; the queue's retry reprints it whole.
	lp2 := h.addPrinter("lp2", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	lp2.serve(0)
	c2 := open(t, h.driver(), cfg)
	if c2.path != h.sys.devDir+"/lp2" {
		t.Fatalf("re-resolved to %s", c2.path)
	}
	if n, err := c2.Write(job); err != nil || n != len(job) {
		t.Fatalf("reprint: %d, %v", n, err)
	}
	if got := lp2.waitFor(t, len(job)); !bytes.Equal(got, job) {
		t.Fatalf("reprint arrived with %d bytes, differs at %d", len(got), firstDiff(got, job))
	}
}

func TestOpenErrors(t *testing.T) {
	h := newFakeHost(t)
	h.addPrinter("lp0", 0x04b8, 0x0e28, "", "TM-T20III", tmT20)
	h.addPrinter("lp1", 0x04b8, 0x0e28, "", "TM-T20III", tmT20)
	d := h.driver()
	ctx := context.Background()

	_, err := d.Open(ctx, &Config{VendorID: "04b8", ProductID: "0e28"})
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "add serial") {
		t.Errorf("ambiguous: %v", err)
	}
	_, err = d.Open(ctx, &Config{VendorID: "1234", ProductID: "0001"})
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "no printer 1234:0001") {
		t.Errorf("absent: %v", err)
	}
	_, err = d.Open(ctx, &Config{Device: h.sys.devDir + "/lp7"})
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing node: %v", err)
	}
	for errno, want := range map[syscall.Errno][]string{
		syscall.EACCES: {"lp group", "deploy/99-comandera.rules", "udevadm"},
		syscall.EBUSY:  {"in use by another program"},
		syscall.ENODEV: {"disconnected"},
	} {
		h.mu.Lock()
		h.openErr = errno
		h.mu.Unlock()
		_, err = d.Open(ctx, &Config{Device: h.sys.devDir + "/lp0"})
		if !errors.Is(err, core.ErrOffline) {
			t.Errorf("%v: %v does not wrap ErrOffline", errno, err)
		}
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %v does not say %q", errno, err, w)
			}
		}
	}
	if _, err := d.Open(ctx, struct{}{}); err == nil {
		t.Error("wrong config type accepted")
	}
}

func TestDiscover(t *testing.T) {
	h := newFakeHost(t)
	h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", tmT20)
	// No sysfs ieee1284_id: the ID comes from the ioctl.
	star := h.addPrinter("lp1", 0x0519, 0x0047, "", "Star TSP143IIIU", "")
	star.id = deviceIDBuf("MFG:STAR;CMD:STAR;MDL:TSP143 (STR_T-001);CLS:PRINTER;")
	// Two identical serial-less clones: only their paths tell them apart.
	h.addPrinter("lp2", 0x0416, 0x5011, "", "POS80 Printer", "mdl:POS-80;mfg:Printer")
	h.addPrinter("lp10", 0x0416, 0x5011, "", "POS80 Printer", "")

	devs, err := h.driver().Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 4 {
		t.Fatalf("%d devices: %+v", len(devs), devs)
	}
	want := []struct {
		addr, model, mfg, profile, serial string
		attrs                             []string
	}{
		{"lp0", "TM-T20III", "EPSON", "epson-tm-t20iii", "X1", []string{`vendor_id  = "04b8"`, `product_id = "0e28"`, `serial     = "X1"`}},
		{"lp1", "TSP143 (STR_T-001)", "STAR", "star-tsp100", "", []string{`vendor_id  = "0519"`, `product_id = "0047"`}},
		{"lp2", "POS-80", "Printer", "generic-80mm", "", []string{`device = "` + h.sys.devDir + `/lp2"`}},
		{"lp10", "POS80 Printer", "EPSON", "generic-80mm", "", []string{`device = "` + h.sys.devDir + `/lp10"`}},
	}
	for i, w := range want {
		d := devs[i]
		if d.Address != h.sys.devDir+"/"+w.addr || d.Model != w.model || d.Manufacturer != w.mfg || d.Profile != w.profile || d.Serial != w.serial {
			t.Errorf("device %d = %+v, want %+v", i, d, w)
		}
		for _, a := range w.attrs {
			if !strings.Contains(d.Config, a) {
				t.Errorf("device %d config lacks %s:\n%s", i, a, d.Config)
			}
		}
		if !strings.Contains(d.Config, `profile = "`+w.profile+`"`) {
			t.Errorf("device %d config lacks the profile:\n%s", i, d.Config)
		}
		f, diags := hclsyntax.ParseConfig([]byte(d.Config), "scan.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("config does not parse: %v", diags)
		}
		// The suggested block decodes into a valid Config.
		blk := f.Body.(*hclsyntax.Body).Blocks[0].Body.Blocks[0]
		var cfg Config
		for name, a := range blk.Body.Attributes {
			v, _ := a.Expr.Value(nil)
			switch name {
			case "device":
				cfg.Device = v.AsString()
			case "vendor_id":
				cfg.VendorID = v.AsString()
			case "product_id":
				cfg.ProductID = v.AsString()
			case "serial":
				cfg.Serial = v.AsString()
			}
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("device %d: suggested config invalid: %v", i, err)
		}
		if _, err := h.driver().Open(context.Background(), &cfg); err != nil {
			t.Errorf("device %d: suggested config does not open: %v", i, err)
		}
	}
}

func TestDeviceIDIoctl(t *testing.T) {
	h := newFakeHost(t)
	p := h.addPrinter("lp0", 0x04b8, 0x0e28, "X1", "TM-T20III", "")
	p.id = append(deviceIDBuf(tmT20), "garbage after the length"...)
	c := open(t, h.driver(), &Config{Device: h.sys.devDir + "/lp0"})
	id, err := h.sys.deviceID(c.f)
	if err != nil || id.Model != "TM-T20III" || id.Manufacturer != "EPSON" {
		t.Fatalf("deviceID = %+v, %v", id, err)
	}
	if got := lpiocGetDeviceID(1024); iocDirShift == 30 && got != 0x84005001 {
		t.Errorf("LPIOC_GET_DEVICE_ID(1024) = %#x, want 0x84005001", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{Device: "/dev/usb/lp0"}, ""},
		{Config{VendorID: "04b8", ProductID: "0e28"}, ""},
		{Config{VendorID: "0x04B8", ProductID: "e28", Serial: "X", WriteTimeout: "1m", StatusTimeout: "200ms"}, ""},
		{Config{}, "set device"},
		{Config{Device: "/dev/usb/lp0", VendorID: "04b8"}, "either device"},
		{Config{VendorID: "04b8"}, "both vendor_id and product_id"},
		{Config{Serial: "X"}, "set device"},
		{Config{VendorID: "epson", ProductID: "0e28"}, "vendor_id"},
		{Config{VendorID: "04b8", ProductID: "12345"}, "product_id"},
		{Config{Device: "/dev/usb/lp0", WriteTimeout: "soon"}, "write_timeout"},
		{Config{Device: "/dev/usb/lp0", StatusTimeout: "-1s"}, "status_timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
	c := &Config{Device: "lp0"}
	c.ResolvePaths("/etc/comandera")
	if c.Device != "/etc/comandera/lp0" {
		t.Errorf("ResolvePaths: %s", c.Device)
	}
}

func TestRegistered(t *testing.T) {
	d, err := core.Lookup("usblp")
	if err != nil {
		t.Fatal(err)
	}
	if core.Available(d) != nil {
		t.Error("usblp unavailable on Linux")
	}
	if _, ok := d.(core.Discoverer); !ok {
		t.Error("usblp is not a Discoverer")
	}
	if _, ok := d.Config().(*Config); !ok {
		t.Error("Config() is not *Config")
	}
}

// TestDrainWaitsForTheTransfer: usblp says writable (POLLOUT) once its
// transfer has completed; a full pipe stands in for a transfer in flight.
func TestDrainWaitsForTheTransfer(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// Fill the pipe.
	w.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	for {
		if _, err := w.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	c := &conn{f: w, path: "pipe", set: settings{writeTimeout: 5 * time.Second}, closed: make(chan struct{})}
	go func() {
		time.Sleep(150 * time.Millisecond)
		r.Read(make([]byte, 64<<10))
	}()
	start := time.Now()
	if err := c.drain(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("drain returned after %v, before the transfer completed", el)
	}
	// Full again and nobody reading: drain gives up at the timeout.
	w.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	for {
		if _, err := w.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	c.set.writeTimeout = 100 * time.Millisecond
	if err := c.drain(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("drain on a stuck transfer: %v", err)
	}
}
