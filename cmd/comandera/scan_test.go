package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Discoverers only these tests use.
type scanDriver struct {
	devs  []core.Device
	err   error
	avail error
}

func (scanDriver) Config() any { return &struct{}{} }
func (scanDriver) Open(context.Context, any) (core.Conn, error) {
	return nil, errors.New("test driver")
}
func (d scanDriver) Discover(context.Context) ([]core.Device, error) { return d.devs, d.err }
func (d scanDriver) Available() error                                { return d.avail }

func init() {
	block := "printer \"tm-t20iii\" {\n  profile = \"epson-tm-t20iii\"\n  scantest-ok {\n    device = \"/dev/usb/lp%s\"\n  }\n}\n"
	core.Register("scantest-ok", scanDriver{devs: []core.Device{
		{Address: "/dev/usb/lp0", Manufacturer: "EPSON", Model: "TM-T20III\nsecond line", VendorID: 0x04b8, ProductID: 0x0e28, Serial: "X1", Profile: "epson-tm-t20iii",
			Config: strings.Replace(block, "%s", "0", 1)},
		{Address: "/dev/usb/lp1", Model: "TM-T20III", Config: strings.Replace(block, "%s", "1", 1)},
	}})
	core.Register("scantest-fail", scanDriver{
		devs: []core.Device{{Address: "partial", Config: "printer \"partial\" {\n  scantest-fail {}\n}\n"}},
		err:  errors.New("bus exploded"),
	})
	core.Register("scantest-off", scanDriver{avail: errors.New("needs the moon"), devs: []core.Device{{Address: "never"}}})
}

func TestScanText(t *testing.T) {
	code, out, errOut := runCmd(t, "scan")
	if code != 1 {
		t.Errorf("exit %d with a failing driver, want 1", code)
	}
	for _, want := range []string{
		"# scantest-ok /dev/usb/lp0, EPSON TM-T20III second line, USB 04b8:0e28, serial X1, profile epson-tm-t20iii\n",
		`printer "tm-t20iii" {`,
		`printer "tm-t20iii-2" {`, // renamed so the output pastes as is
		`device = "/dev/usb/lp1"`,
		`printer "partial"`, // a failing driver's partial list is kept
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "never") {
		t.Error("an unavailable driver was asked")
	}
	for _, want := range []string{"scantest-fail: bus exploded", "driver scantest-off is not available: needs the moon"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The whole output is HCL a user can paste.
	if _, diags := hclsyntax.ParseConfig([]byte(out), "scan.hcl", hcl.InitialPos); diags.HasErrors() {
		t.Errorf("output is not HCL: %v\n%s", diags, out)
	}
}

func TestScanJSON(t *testing.T) {
	code, out, _ := runCmd(t, "scan", "-json")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	var res scanResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var ok, partial int
	for _, d := range res.Devices {
		switch d.Driver {
		case "scantest-ok":
			ok++
		case "scantest-fail":
			partial++
		case "scantest-off":
			t.Error("unavailable driver listed")
		}
	}
	if ok != 2 || partial != 1 {
		t.Errorf("devices %+v", res.Devices)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "bus exploded") || res.Unavailable["scantest-off"] != "needs the moon" {
		t.Errorf("errors %q unavailable %q", res.Errors, res.Unavailable)
	}
}

func TestScanNet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, out, _ := runCmd(t, "scan", "-net", "127.0.0.1", "-port", port)
	if !strings.Contains(out, "# net "+ln.Addr().String()) || !strings.Contains(out, `address = "`+ln.Addr().String()+`"`) {
		t.Errorf("network printer missing:\n%s", out)
	}
	if code, _, errOut := runCmd(t, "scan", "-net", "not-a-range"); code != 2 || !strings.Contains(errOut, "CIDR") {
		t.Errorf("bad range: %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "scan", "-net", "10.0.0.0/8"); code != 1 || !strings.Contains(errOut, "at most 1024") {
		t.Errorf("huge range: %d %s", code, errOut)
	}
}
