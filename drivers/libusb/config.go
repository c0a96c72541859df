package libusb

import (
	"errors"
	"fmt"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/internal/devinfo"
)

// Config is the libusb block of a printer in printers.hcl:
//
//	libusb {
//	  vendor_id            = "04b8"
//	  product_id           = "0e28"
//	  serial               = "X5ZG012345" # optional: tells identical printers apart
//	  detach_kernel_driver = true         # when usblp has bound the printer
//	}
type Config struct {
	// VendorID and ProductID are the USB IDs in hex ("04b8", "0e28").
	VendorID  string `hcl:"vendor_id"`
	ProductID string `hcl:"product_id"`
	// Serial is the USB serial number, to tell identical printers apart.
	Serial string `hcl:"serial,optional"`
	// Interface forces the interface number to claim; by default the
	// printer-class interface, else the vendor-specific one with a bulk OUT
	// endpoint.
	Interface *int `hcl:"interface,optional"`
	// DetachKernelDriver detaches a kernel driver (usblp) bound to the
	// interface while Comandera holds it, and reattaches it after.
	DetachKernelDriver bool `hcl:"detach_kernel_driver,optional"`
	// WriteTimeout is how long one bulk transfer may take before the write
	// fails (the printer accepts nothing: paper out, cover open). Default "30s".
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

type settings struct {
	vendor, product uint16
	serial          string
	intf            int // -1: choose
	detach          bool
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

func (c *Config) settings() (settings, error) {
	var errs []error
	s := settings{serial: c.Serial, intf: -1, detach: c.DetachKernelDriver}
	var err error
	if c.VendorID == "" || c.ProductID == "" {
		errs = append(errs, errors.New(`set vendor_id and product_id (like "04b8" and "0e28"); run "comandera scan" to find them`))
	}
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
	if c.Interface != nil {
		if *c.Interface < 0 || *c.Interface > 255 {
			errs = append(errs, fmt.Errorf("interface %d: want 0 to 255", *c.Interface))
		}
		s.intf = *c.Interface
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
