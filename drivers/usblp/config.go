package usblp

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/internal/devinfo"
)

// Config is the usblp block of a printer in printers.hcl. Name the device
// node, or match the printer by its USB identity so that a re-plug that
// renumbers lp0 to lp1 still reaches the same printer:
//
//	usblp { device = "/dev/usb/lp0" }
//	usblp {
//	  vendor_id  = "04b8"
//	  product_id = "0e28"
//	  serial     = "X5ZG012345" # needed only when two identical printers are attached
//	}
type Config struct {
	// Device is the device node, /dev/usb/lpN.
	Device string `hcl:"device,optional"`
	// VendorID and ProductID are the USB IDs in hex ("04b8", "0e28").
	VendorID  string `hcl:"vendor_id,optional"`
	ProductID string `hcl:"product_id,optional"`
	// Serial is the USB serial number, to tell identical printers apart.
	Serial string `hcl:"serial,optional"`
	// WriteTimeout is how long a write may make no progress (the printer
	// accepts nothing: paper out, cover open, jammed) before it fails.
	// Default "30s".
	WriteTimeout string `hcl:"write_timeout,optional"`
	// StatusTimeout is how long to wait for each reply to DLE EOT (asked
	// only of printers whose profile speaks ESC/POS). Default "500ms".
	StatusTimeout string `hcl:"status_timeout,optional"`

	profile *core.Profile // set by SetProfile
}

// SetProfile implements core.ProfileSetter: the driver asks DLE EOT only of
// a printer whose profile speaks ESC/POS (or when no profile is set).
func (c *Config) SetProfile(p *core.Profile) { c.profile = p }

// Defaults for the optional settings.
const (
	DefaultWriteTimeout  = 30 * time.Second
	DefaultStatusTimeout = 500 * time.Millisecond
)

// settings is a validated Config.
type settings struct {
	device          string
	vendor, product uint16
	serial          string
	byID            bool
	writeTimeout    time.Duration
	statusTimeout   time.Duration
	// foreign names the profile's command set when it is not ESC/POS: the
	// printer is not asked DLE EOT.
	foreign string
	profile string
}

// Validate checks the values the schema cannot.
func (c *Config) Validate() error {
	_, err := c.settings()
	return err
}

// ResolvePaths makes a relative device path relative to the configuration
// file's directory.
func (c *Config) ResolvePaths(dir string) {
	if c.Device != "" && !filepath.IsAbs(c.Device) {
		c.Device = filepath.Join(dir, c.Device)
	}
}

func (c *Config) settings() (settings, error) {
	s := settings{device: c.Device, serial: c.Serial}
	var errs []error
	ids := c.VendorID != "" || c.ProductID != ""
	switch {
	case c.Device != "" && (ids || c.Serial != ""):
		errs = append(errs, errors.New("set either device or vendor_id/product_id (and serial), not both"))
	case c.Device == "" && !ids:
		errs = append(errs, errors.New(`set device (like "/dev/usb/lp0") or vendor_id and product_id (like "04b8" and "0e28"); run "comandera scan" to find them`))
	case ids && (c.VendorID == "" || c.ProductID == ""):
		errs = append(errs, errors.New("set both vendor_id and product_id"))
	case c.Device == "" && c.Serial != "" && !ids:
		errs = append(errs, errors.New("serial needs vendor_id and product_id"))
	}
	if ids {
		s.byID = true
		var err error
		if c.VendorID != "" {
			if s.vendor, err = devinfo.ParseHexID(c.VendorID); err != nil {
				errs = append(errs, fmt.Errorf("vendor_id: %w", err))
			}
		}
		if c.ProductID != "" {
			if s.product, err = devinfo.ParseHexID(c.ProductID); err != nil {
				errs = append(errs, fmt.Errorf("product_id: %w", err))
			}
		}
	}
	s.writeTimeout = duration("write_timeout", c.WriteTimeout, DefaultWriteTimeout, &errs)
	s.statusTimeout = duration("status_timeout", c.StatusTimeout, DefaultStatusTimeout, &errs)
	if p := c.profile; p != nil && p.CommandSet != "" && p.CommandSet != core.CommandSetESCPOS {
		s.foreign, s.profile = p.CommandSet, p.Name
	}
	return s, errors.Join(errs...)
}

func duration(name, v string, def time.Duration, errs *[]error) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a positive duration like \"30s\"", name, v))
		return def
	}
	return d
}
