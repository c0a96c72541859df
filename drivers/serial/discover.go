package serial

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/internal/devinfo"
)

// portInfo is what the port lister knows about one port.
type portInfo struct {
	Name                          string
	IsUSB                         bool
	VID, PID                      string // hex
	Serial, Manufacturer, Product string
}

// Discover lists the serial ports with their USB identity (for USB-serial
// adapters and printers with a virtual COM port) and the printers.hcl block
// to use them; on Linux the block names the port by its stable
// /dev/serial/by-id link when there is one. A port's line settings cannot be
// discovered: the block has the defaults, to be checked against the
// printer's self-test page.
func (d Driver) Discover(ctx context.Context) ([]core.Device, error) {
	list := d.list
	if list == nil {
		list = listPorts
	}
	ports, err := list()
	if err != nil {
		return nil, fmt.Errorf("serial: listing ports: %w", err)
	}
	byID := d.stableNames()
	profiles := core.Builtin()
	var devs []core.Device
	for _, p := range ports {
		if ctx.Err() != nil {
			return devs, ctx.Err()
		}
		if p.Name == "" {
			continue
		}
		dev := core.Device{Driver: "serial", Address: p.Name}
		if p.IsUSB {
			dev.VendorID = hex16(p.VID)
			dev.ProductID = hex16(p.PID)
			dev.Serial = p.Serial
			dev.Manufacturer = p.Manufacturer
			dev.Model = p.Product
			dev.Profile = devinfo.SuggestProfile(profiles, dev.VendorID, dev.ProductID, p.Product)
		}
		name := p.Name
		if stable, ok := byID[p.Name]; ok {
			name = stable
		}
		dev.Config = devinfo.Block(devinfo.Name(dev.Model, filepath.Base(p.Name)), dev.Profile, "serial",
			devinfo.Attr{Name: "port", Value: name},
			devinfo.Attr{Name: "baud", Value: DefaultBaud},
			devinfo.Attr{Name: "flow_control", Value: FlowNone})
		devs = append(devs, dev)
	}
	return devs, nil
}

func hex16(s string) uint16 {
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0
	}
	return uint16(v)
}

// stableNames maps a port's device path to its /dev/serial/by-id link.
func (d Driver) stableNames() map[string]string {
	dir := d.byIDDir
	if dir == "" {
		dir = "/dev/serial/by-id"
	}
	m := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return m
	}
	for _, e := range ents {
		link := filepath.Join(dir, e.Name())
		target, err := filepath.EvalSymlinks(link)
		if err != nil {
			continue
		}
		if _, dup := m[target]; !dup {
			m[target] = link
		}
	}
	return m
}
