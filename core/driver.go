package core

import (
	"context"
	"errors"
	"io"
	"time"
)

// A Driver opens connections to one kind of transport (usblp, serial, net, sim…).
// Drivers register themselves with Register in an init function.
type Driver interface {
	// Config returns a new, empty config struct (a pointer, with hcl tags) for one
	// printer of this driver. The config package decodes the printer's driver
	// block into it and hands it back to Open.
	Config() any
	// Open connects to the printer the config describes.
	Open(ctx context.Context, cfg any) (Conn, error)
}

// A Conn is a byte pipe to one printer. Write must honour deadlines set with
// SetDeadline when the Conn implements Deadliner, and must return promptly once
// Close is called from another goroutine.
type Conn interface {
	io.Writer
	io.Closer
}

// StatusReader is implemented by a Conn that can ask the printer for its state
// (paper, cover, online, error). Fallback: the state is Unknown and the printer
// is assumed able to print.
type StatusReader interface {
	Status(ctx context.Context) (Status, error)
}

// Reader is implemented by a Conn on a bidirectional transport; it returns the
// bytes the printer sends back (status replies, ASB, XON/XOFF). Fallback: the
// transport is write-only.
type Reader interface {
	io.Reader
}

// Deadliner is implemented by a Conn whose reads and writes can be bounded by a
// deadline, like net.Conn. Fallback: the caller bounds a write by closing the
// Conn when its context ends.
type Deadliner interface {
	SetDeadline(t time.Time) error
}

// Discoverer is implemented by a Driver that can list the printers attached to
// this machine (for /scan and `comandera scan`). Fallback: the driver lists
// nothing.
type Discoverer interface {
	Discover(ctx context.Context) ([]Device, error)
}

// Availability is implemented by a Driver that may not work on this platform or
// in this build (usblp off Linux, libusb without the build tag). Available
// returns nil when the driver can be used, or an error that says why not and
// what to do about it. Fallback: the driver is available.
type Availability interface {
	Available() error
}

// Device is one printer a Discoverer found.
type Device struct {
	Driver       string `json:"driver"`                 // registry name of the driver that found it
	Address      string `json:"address"`                // path, host:port or bus address
	Manufacturer string `json:"manufacturer,omitempty"` // from USB descriptors or the IEEE 1284 ID
	Model        string `json:"model,omitempty"`
	Serial       string `json:"serial,omitempty"`
	VendorID     uint16 `json:"vendor_id,omitempty"`
	ProductID    uint16 `json:"product_id,omitempty"`
	// Profile is the built-in profile that best matches the model, if any.
	Profile string `json:"profile,omitempty"`
	// Config is the printers.hcl block a user would paste to use this device.
	Config string `json:"config"`
}

// Errors a Conn returns (wrapped) so the queue can tell a transient transport
// problem from a broken job.
var (
	// ErrOffline means the printer cannot be reached now (unplugged, powered
	// off, connection refused or dropped). The job stays queued and is retried.
	ErrOffline = errors.New("printer offline")
	// ErrNotReady means the printer is reachable but cannot print now (paper
	// out, cover open). The job waits without spending an attempt.
	ErrNotReady = errors.New("printer not ready")
)

// ProfileSetter is implemented by a driver config that needs the printer's
// profile (the sim renders at the profile's resolution and command set). The
// config loader calls SetProfile after decoding the driver block, before Open.
type ProfileSetter interface {
	SetProfile(p *Profile)
}

// Labeler is implemented by a Conn that records what it prints (the sim): the
// queue calls Label with the job's ID before writing a job, so the recording
// is named after it. Fallback: recordings are numbered.
type Labeler interface {
	Label(jobID string)
}
