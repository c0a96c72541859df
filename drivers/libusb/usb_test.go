package libusb

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
)

func job(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func ptr(i int) *int { return &i }

func TestSelectInterface(t *testing.T) {
	multi := &deviceDesc{Vendor: 1, Product: 2, Configs: []configDesc{
		{Number: 1, Interfaces: []intfDesc{{Number: 0, Alts: []altDesc{{Class: classPrinter, Protocol: 2, Endpoints: []endpointDesc{bulk(1, false), bulk(2, true)}}}}}},
		{Number: 2, Interfaces: []intfDesc{{Number: 0, Alts: []altDesc{{Class: classVendor, Endpoints: []endpointDesc{bulk(5, false)}}}}}},
	}}
	tests := []struct {
		name              string
		desc              *deviceDesc
		active, force     int
		config, intf, alt int
		out               int
		in                int // 0: none
		printerClass      bool
		err               string
	}{
		{name: "vendor class", desc: vendorPrinter(0x04b8, 0x0e28), force: -1, config: 1, intf: 0, out: 1, in: 2},
		{name: "printer class prefers bidirectional", desc: classPrinterDesc(0x0519, 0x0047), force: -1, config: 1, intf: 1, alt: 1, out: 3, in: 4, printerClass: true},
		{name: "forced interface", desc: classPrinterDesc(0x0519, 0x0047), force: 1, config: 1, intf: 1, alt: 1, out: 3, in: 4, printerClass: true},
		{name: "forced interface without bulk OUT", desc: classPrinterDesc(0x0519, 0x0047), force: 0, err: "interface 0 has no bulk OUT endpoint"},
		{name: "active configuration", desc: multi, active: 2, force: -1, config: 2, intf: 0, out: 5},
		{name: "only a HID", desc: &deviceDesc{Vendor: 0x046d, Product: 0xc077, Configs: []configDesc{{Number: 1, Interfaces: []intfDesc{{Number: 0, Alts: []altDesc{{Class: 3, Endpoints: []endpointDesc{{Number: 1, In: true}}}}}}}}},
			force: -1, err: "no printer-class (7) or vendor-specific interface"},
		{name: "printer class without bulk OUT", desc: &deviceDesc{Configs: []configDesc{{Number: 1, Interfaces: []intfDesc{{Number: 0, Alts: []altDesc{{Class: classPrinter, Endpoints: []endpointDesc{{Number: 1}}}}}}}}},
			force: -1, err: "class 0x07 [intr-out 1]"},
		{name: "no configurations", desc: &deviceDesc{}, force: -1, err: "no interfaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := selectInterface(tt.desc, tt.active, tt.force)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			in := 0
			if s.in != nil {
				in = s.in.Number
			}
			if s.config != tt.config || s.intf != tt.intf || s.alt != tt.alt || s.out.Number != tt.out || in != tt.in || s.printerClass != tt.printerClass {
				t.Errorf("got %+v (in %d)", s, in)
			}
		})
	}
}

func openFake(t *testing.T, bus *fakeUSB, cfg *Config) *conn {
	t.Helper()
	c, err := Driver{newContext: bus.newContext}.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

func TestWriteArrivesWholeInChunks(t *testing.T) {
	dev := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28), serial: "X1"}
	bus := &fakeUSB{devs: []*fakeDevice{{desc: classPrinterDesc(0x1234, 1)}, dev}}
	c := openFake(t, bus, &Config{VendorID: "04b8", ProductID: "0e28"})
	data := job(1 << 20)
	if n, err := c.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := dev.received(); !bytes.Equal(got, data) {
		t.Fatalf("device got %d bytes", len(got))
	}
	if dev.maxChunk > chunkSize {
		t.Errorf("a transfer of %d bytes", dev.maxChunk)
	}
	if *dev.claimed != [3]int{1, 0, 0} || dev.detach {
		t.Errorf("claimed %v, detach %v", *dev.claimed, dev.detach)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !dev.released || dev.closedN != dev.opened || bus.closed != 1 {
		t.Errorf("after Close: released %v, opened %d closed %d, contexts closed %d", dev.released, dev.opened, dev.closedN, bus.closed)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestOpenChoosesBySerial(t *testing.T) {
	a := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28), serial: "A"}
	b := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28), serial: "B"}
	bus := &fakeUSB{devs: []*fakeDevice{a, b}}
	c := openFake(t, bus, &Config{VendorID: "04b8", ProductID: "0e28", Serial: "B"})
	c.Write([]byte("hi"))
	if string(b.received()) != "hi" || len(a.received()) != 0 {
		t.Errorf("wrote to the wrong printer")
	}
	if a.opened != a.closedN {
		t.Errorf("the other printer was left open")
	}
	d := Driver{newContext: bus.newContext}
	if _, err := d.Open(context.Background(), &Config{VendorID: "04b8", ProductID: "0e28"}); !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "add serial") {
		t.Errorf("ambiguous: %v", err)
	}
	_, err := d.Open(context.Background(), &Config{VendorID: "04b8", ProductID: "0e28", Serial: "C"})
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "serial A") {
		t.Errorf("absent serial: %v", err)
	}
	if _, err := d.Open(context.Background(), &Config{VendorID: "0519", ProductID: "0003"}); !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "no USB device 0519:0003") {
		t.Errorf("absent: %v", err)
	}
}

func TestClaimErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{errBusy, "detach_kernel_driver = true"},
		{errAccess, "deploy/99-comandera.rules"},
		{errNoDevice, "unplugged"},
	} {
		dev := &fakeDevice{desc: classPrinterDesc(0x04b8, 0x0202), claimErr: tt.err}
		bus := &fakeUSB{devs: []*fakeDevice{dev}}
		_, err := Driver{newContext: bus.newContext}.Open(context.Background(), &Config{VendorID: "04b8", ProductID: "0202"})
		if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v", tt.err, err)
		}
		if dev.opened != dev.closedN || bus.closed != 1 {
			t.Errorf("%v: device or context left open", tt.err)
		}
	}
	dev := &fakeDevice{desc: classPrinterDesc(0x04b8, 0x0202), openErr: errAccess}
	bus := &fakeUSB{devs: []*fakeDevice{dev}}
	_, err := Driver{newContext: bus.newContext}.Open(context.Background(), &Config{VendorID: "04b8", ProductID: "0202"})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("open: %v", err)
	}
}

func TestDetachAndForcedInterface(t *testing.T) {
	dev := &fakeDevice{desc: classPrinterDesc(0x04b8, 0x0202)}
	bus := &fakeUSB{devs: []*fakeDevice{dev}}
	openFake(t, bus, &Config{VendorID: "04b8", ProductID: "0202", DetachKernelDriver: true, Interface: ptr(1)})
	if !dev.detach || *dev.claimed != [3]int{1, 1, 1} {
		t.Errorf("detach %v claimed %v", dev.detach, *dev.claimed)
	}
}

func TestWriteTimeout(t *testing.T) {
	for _, tt := range []struct {
		name string
		port byte
		kind error
	}{
		{"busy", 0x18, core.ErrOffline},
		{"paper out", 0x38, core.ErrNotReady},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dev := &fakeDevice{desc: classPrinterDesc(0x04b8, 0x0202), stall: true, port: tt.port}
			c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0202", WriteTimeout: "100ms"})
			start := time.Now()
			_, err := c.Write(job(100))
			if !errors.Is(err, tt.kind) || !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "accepted no data for 100ms") {
				t.Fatalf("Write: %v", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
	dev := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28), stall: true}
	c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0e28"})
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Write(job(100)); !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "deadline passed") {
		t.Fatalf("Write past deadline: %v", err)
	}
}

func TestCloseUnblocksWrite(t *testing.T) {
	dev := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28), stall: true}
	c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0e28"})
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(job(100))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Write: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Write blocked after Close")
	}
}

func TestUnplugMidJob(t *testing.T) {
	dev := &fakeDevice{desc: classPrinterDesc(0x04b8, 0x0202), goneAfter: 40 << 10}
	c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0202"})
	n, err := c.Write(job(1 << 20))
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "unplugged") || n != 40<<10 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, core.ErrOffline) {
		t.Errorf("Write after unplug: %v", err)
	}
	if st, _ := c.Status(context.Background()); st.State() != core.StateOffline {
		t.Errorf("Status after unplug: %+v", st)
	}
}

func TestStatus(t *testing.T) {
	t.Run("printer class merges port status and DLE EOT", func(t *testing.T) {
		dev := &fakeDevice{desc: classPrinterDesc(0x04b8, 0x0202), port: 0x18, answer: true, state: core.Status{Known: true, CoverOpen: true}}
		c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0202"})
		st, err := c.Status(context.Background())
		if err != nil || st.State() != core.StateCoverOpen {
			t.Fatalf("Status = %+v, %v", st, err)
		}
		if !bytes.Equal(dev.received(), []byte{0x10, 4, 1, 0x10, 4, 2, 0x10, 4, 3, 0x10, 4, 4}) {
			t.Errorf("sent % x", dev.received())
		}
	})
	t.Run("port status only", func(t *testing.T) {
		dev := &fakeDevice{desc: classPrinterDesc(0x04b8, 0x0202), port: 0x38}
		c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0202", StatusTimeout: "30ms"})
		if st, _ := c.Status(context.Background()); st.State() != core.StatePaperOut {
			t.Fatalf("Status = %+v", st)
		}
	})
	t.Run("vendor class answers", func(t *testing.T) {
		dev := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28), answer: true, state: core.Status{Known: true, Online: true}}
		c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0e28"})
		if st, _ := c.Status(context.Background()); st.State() != core.StateOnline {
			t.Fatalf("Status = %+v", st)
		}
	})
	t.Run("silent vendor class is unknown", func(t *testing.T) {
		dev := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28)}
		c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0e28", StatusTimeout: "30ms"})
		st, err := c.Status(context.Background())
		if err != nil || st.Known || !strings.Contains(st.Detail, "no status") {
			t.Fatalf("Status = %+v, %v", st, err)
		}
	})
	t.Run("write-only", func(t *testing.T) {
		d := vendorPrinter(0x04b8, 0x0e28)
		d.Configs[0].Interfaces[0].Alts[0].Endpoints = []endpointDesc{bulk(1, false)}
		c := openFake(t, &fakeUSB{devs: []*fakeDevice{{desc: d}}}, &Config{VendorID: "04b8", ProductID: "0e28"})
		if st, _ := c.Status(context.Background()); st.Known || !strings.Contains(st.Detail, "no bulk IN") {
			t.Fatalf("Status = %+v", st)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "write-only") {
			t.Errorf("Read: %v", err)
		}
	})
}

func TestRead(t *testing.T) {
	dev := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28)}
	c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, &Config{VendorID: "04b8", ProductID: "0e28"})
	dev.mu.Lock()
	dev.in = []byte("abcdef")
	dev.mu.Unlock()
	buf := make([]byte, 4)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "abcd" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ef" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past deadline: %v", err)
	}
}

func TestDiscover(t *testing.T) {
	star := &fakeDevice{desc: classPrinterDesc(0x0519, 0x0047), manufacturer: "Star", product: "TSP143IIIU", serial: "S1",
		deviceID: deviceIDBuf("MFG:STAR;CMD:STAR;MDL:TSP143 (STR_T-001);CLS:PRINTER;")}
	epson := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e28), manufacturer: "EPSON", product: "TM-T20III"}
	locked := &fakeDevice{desc: vendorPrinter(0x04b8, 0x0e15), openErr: errAccess}
	locked.desc.Path = []int{1, 5}
	unknownVendor := &fakeDevice{desc: vendorPrinter(0x1234, 0x5678)}
	mouse := &fakeDevice{desc: &deviceDesc{Vendor: 0x046d, Product: 0xc077, Configs: []configDesc{{Number: 1, Interfaces: []intfDesc{{Alts: []altDesc{{Class: 3}}}}}}}}
	bus := &fakeUSB{devs: []*fakeDevice{star, epson, locked, unknownVendor, mouse}}
	devs, err := Driver{newContext: bus.newContext}.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 3 {
		t.Fatalf("%d devices: %+v", len(devs), devs)
	}
	want := []struct {
		addr, mfg, model, serial, profile string
		attrs                             []string
	}{
		{"usb:2-2", "STAR", "TSP143 (STR_T-001)", "S1", "star-tsp100", []string{`vendor_id            = "0519"`, `serial               = "S1"`, "detach_kernel_driver = true"}},
		{"usb:1-1.4", "EPSON", "TM-T20III", "", "epson-tm-t20iii", []string{`vendor_id  = "04b8"`, `product_id = "0e28"`}},
		{"usb:1-1.5", "", "", "", "epson-tm-m30", []string{`product_id = "0e15"`}},
	}
	for i, w := range want {
		d := devs[i]
		if d.Driver != "libusb" || d.Address != w.addr || d.Manufacturer != w.mfg || d.Model != w.model || d.Serial != w.serial || d.Profile != w.profile {
			t.Errorf("device %d = %+v, want %+v", i, d, w)
		}
		for _, a := range w.attrs {
			if !strings.Contains(d.Config, a) {
				t.Errorf("device %d config lacks %s:\n%s", i, a, d.Config)
			}
		}
	}
	if strings.Contains(devs[1].Config, "detach_kernel_driver") {
		t.Errorf("vendor-class device told to detach usblp:\n%s", devs[1].Config)
	}
	for _, d := range bus.devs {
		if d.opened != d.closedN {
			t.Errorf("%s left open", d.desc.ids())
		}
	}
	bus.listErr = errors.New("enumeration failed")
	devs, err = Driver{newContext: bus.newContext}.Discover(context.Background())
	if err == nil || len(devs) != 3 {
		t.Errorf("a partial listing lost: %d devices, %v", len(devs), err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{VendorID: "04b8", ProductID: "0e28"}, ""},
		{Config{VendorID: "0x04b8", ProductID: "0E28", Serial: "X", Interface: ptr(1), DetachKernelDriver: true, WriteTimeout: "10s", StatusTimeout: "1s"}, ""},
		{Config{}, "set vendor_id and product_id"},
		{Config{VendorID: "xyz", ProductID: "0e28"}, "vendor_id"},
		{Config{VendorID: "04b8", ProductID: "10000"}, "product_id"},
		{Config{VendorID: "04b8", ProductID: "0e28", Interface: ptr(300)}, "interface 300"},
		{Config{VendorID: "04b8", ProductID: "0e28", WriteTimeout: "fast"}, "write_timeout"},
		{Config{VendorID: "04b8", ProductID: "0e28", StatusTimeout: "0s"}, "status_timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}
