//go:build !linux

package usblp

import (
	"context"
	"fmt"
	"runtime"

	"github.com/comandera/comandera/core"
)

func init() { core.Register("usblp", Driver{}) }

// Driver is the usblp driver. Off Linux it is unavailable.
type Driver struct{}

// Config returns a new, empty *Config.
func (Driver) Config() any { return &Config{} }

// Available reports that usblp needs Linux.
func (Driver) Available() error {
	return fmt.Errorf("the usblp driver needs Linux's usblp kernel driver (/dev/usb/lpN); on %s use the libusb driver (build with -tags libusb) or the net driver", runtime.GOOS)
}

// Open fails: usblp needs Linux.
func (d Driver) Open(context.Context, any) (core.Conn, error) { return nil, d.Available() }
