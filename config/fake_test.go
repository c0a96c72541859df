package config_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/comandera/comandera/core"
)

// Fake drivers with names no real driver uses, so the tests do not depend on
// which real drivers are linked in.

type fakeUSB struct{}

// fakeUSBConfig exercises every optional capability of a driver config.
type fakeUSBConfig struct {
	Device  string `hcl:"device"`
	Capture string `hcl:"capture,optional"`
	Profile *core.Profile
}

func (fakeUSB) Config() any                                  { return &fakeUSBConfig{} }
func (fakeUSB) Open(context.Context, any) (core.Conn, error) { return nil, errors.New("fake") }

func (c *fakeUSBConfig) SetProfile(p *core.Profile) { c.Profile = p }

func (c *fakeUSBConfig) ResolvePaths(dir string) {
	if c.Capture != "" && !filepath.IsAbs(c.Capture) {
		c.Capture = filepath.Join(dir, c.Capture)
	}
}

func (c *fakeUSBConfig) Validate() error {
	if !strings.HasPrefix(c.Device, "/dev/") {
		return errors.New("device " + c.Device + " is not under /dev")
	}
	return nil
}

type fakeNet struct{}

type fakeNetConfig struct {
	Address string `hcl:"address"`
	Timeout string `hcl:"timeout,optional"`
}

func (fakeNet) Config() any                                  { return &fakeNetConfig{} }
func (fakeNet) Open(context.Context, any) (core.Conn, error) { return nil, errors.New("fake") }

type fakeOff struct{ fakeNet }

func (fakeOff) Available() error { return errors.New("fakeoff needs Plan 9") }

type fakeBad struct{ fakeNet }

func (fakeBad) Config() any { return fakeNetConfig{} }

func init() {
	core.Register("fakeusb", fakeUSB{})
	core.Register("fakenet", fakeNet{})
	core.Register("fakeoff", fakeOff{})
	core.Register("fakebad", fakeBad{})
}
