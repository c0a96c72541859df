package usblp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/internal/devinfo"
	"github.com/comandera/comandera/escpos"
	"golang.org/x/sys/unix"
)

func init() { core.Register("usblp", Driver{}) }

// chunkSize is how much one write hands the kernel: usblp's own buffer
// (USBLP_BUF_SIZE) is 8 KiB, so each write is one bulk transfer.
const chunkSize = 8 << 10

// noReplyRetry is how long a Conn whose printer did not answer DLE EOT waits
// before asking again (each unanswered query costs a status timeout).
const noReplyRetry = time.Minute

// Driver is the usblp driver. The zero value uses the host's /dev/usb and
// sysfs.
type Driver struct {
	sys *system // nil: host
}

func (d Driver) system() *system {
	if d.sys == nil {
		return host
	}
	return d.sys
}

// Config returns a new, empty *Config.
func (Driver) Config() any { return &Config{} }

// Available reports nil: usblp works on Linux.
func (Driver) Available() error { return nil }

// Open opens the printer's device node, found by path or by USB identity.
func (d Driver) Open(ctx context.Context, cfg any) (core.Conn, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("usblp: config is %T, want *usblp.Config", cfg)
	}
	set, err := c.settings()
	if err != nil {
		return nil, fmt.Errorf("usblp: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sys := d.system()
	path := set.device
	if set.byID {
		n, err := sys.resolve(set)
		if err != nil {
			return nil, err
		}
		path = n.path
	}
	f, err := sys.open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	return &conn{
		f:      f,
		sys:    sys,
		path:   path,
		set:    set,
		wlock:  make(chan struct{}, 1),
		closed: make(chan struct{}),
	}, nil
}

// Discover lists the usblp printers with their USB identity, IEEE 1284 model
// and a suggested profile and printers.hcl block.
func (d Driver) Discover(ctx context.Context) ([]core.Device, error) {
	sys := d.system()
	nodes, err := sys.nodes()
	if err != nil {
		return nil, fmt.Errorf("usblp: %w", err)
	}
	perID := map[[2]uint16]int{}
	for _, n := range nodes {
		if n.hasIDs {
			perID[[2]uint16{n.vendor, n.product}]++
		}
	}
	profiles := core.Builtin()
	var devs []core.Device
	for _, n := range nodes {
		if ctx.Err() != nil {
			return devs, ctx.Err()
		}
		id := sys.identity(n)
		dev := core.Device{
			Driver:       "usblp",
			Address:      n.path,
			Manufacturer: first(id.Manufacturer, n.manufacturer),
			Model:        first(id.Model, n.productName),
			Serial:       first(n.serial, id.Serial),
			VendorID:     n.vendor,
			ProductID:    n.product,
		}
		dev.Profile = devinfo.SuggestProfile(profiles, n.vendor, n.product, id.Model, n.productName)
		var attrs []devinfo.Attr
		switch {
		case n.hasIDs && (n.serial != "" || perID[[2]uint16{n.vendor, n.product}] == 1):
			attrs = append(attrs, devinfo.Attr{Name: "vendor_id", Value: devinfo.HexID(n.vendor)},
				devinfo.Attr{Name: "product_id", Value: devinfo.HexID(n.product)})
			if n.serial != "" {
				attrs = append(attrs, devinfo.Attr{Name: "serial", Value: n.serial})
			}
		default:
			attrs = append(attrs, devinfo.Attr{Name: "device", Value: n.path})
		}
		dev.Config = devinfo.Block(devinfo.Name(dev.Model, n.name), dev.Profile, "usblp", attrs...)
		devs = append(devs, dev)
	}
	return devs, nil
}

// identity returns the printer's IEEE 1284 ID from sysfs or, failing that,
// from the device itself (which needs permission and a free device).
func (s *system) identity(n node) devinfo.DeviceID {
	if n.ieee1284 != "" {
		return devinfo.ParseDeviceID(n.ieee1284)
	}
	f, err := s.open(n.path)
	if err != nil {
		return devinfo.DeviceID{}
	}
	defer f.Close()
	id, _ := s.deviceID(f)
	return id
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// conn is an open /dev/usb/lpN.
type conn struct {
	f    *os.File
	sys  *system
	path string
	set  settings

	// wlock is held by Write and by a DLE EOT query, so a status request is
	// never put in the middle of a job.
	wlock     chan struct{}
	rmu       sync.Mutex // one reader at a time
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	deadline time.Time
	gone     error     // set once the printer is unplugged
	noReply  time.Time // when the printer last left DLE EOT unanswered
	readOnly bool      // the device refuses reads (not bidirectional)
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

// chunkDeadline is when the current chunk must be accepted: after the
// no-progress timeout, or at the caller's deadline if that is sooner.
func (c *conn) chunkDeadline() time.Time {
	d := time.Now().Add(c.set.writeTimeout)
	if u := c.userDeadline(); !u.IsZero() && u.Before(d) {
		d = u
	}
	return d
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

// Write sends p in chunks, each of which must be accepted within the write
// timeout and before the deadline, then waits for the last transfer to
// complete, so a nil error means the printer took every byte.
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
		if err := c.f.SetWriteDeadline(c.chunkDeadline()); err != nil && !errors.Is(err, os.ErrNoDeadline) {
			return n, c.ioErr(err)
		}
		w, err := c.f.Write(p[n:end])
		n += w
		if err != nil {
			return n, c.ioErr(err)
		}
	}
	if err := c.drain(); err != nil {
		return n, c.ioErr(err)
	}
	return n, nil
}

// drain waits until the kernel has no transfer in flight: in non-blocking
// mode usblp accepts a chunk before the printer has taken it, and reports
// the device writable (POLLOUT) once the transfer has completed. Closing
// the device earlier would cancel the transfer and cut the job's tail.
func (c *conn) drain() error {
	if err := c.f.SetWriteDeadline(c.chunkDeadline()); err != nil && !errors.Is(err, os.ErrNoDeadline) {
		return err
	}
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	err = rc.Write(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, 0)
		for err == unix.EINTR {
			n, err = unix.Poll(fds, 0)
		}
		switch {
		case err != nil:
			perr = err
		case n == 0:
			return false // still in flight: wait for the poller
		case fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0:
			perr = syscall.ENODEV
		}
		return true
	})
	if err != nil {
		return err
	}
	return perr
}

// ioErr turns an I/O error into what the queue needs to know.
func (c *conn) ioErr(err error) error {
	var errno syscall.Errno
	errors.As(err, &errno)
	switch {
	case c.isClosed() || errors.Is(err, os.ErrClosed) && c.goneErr() == nil:
		return c.closedErr()
	case c.goneErr() != nil:
		return c.goneErr()
	case unplugged(errno):
		return c.unplug(errno)
	case errors.Is(err, os.ErrDeadlineExceeded):
		why := fmt.Sprintf("the printer accepted no data for %s", c.set.writeTimeout)
		if u := c.userDeadline(); !u.IsZero() && !time.Now().Before(u) {
			why = "the deadline passed before the printer took the data"
		}
		kind := core.ErrOffline
		if b, serr := c.sys.portStatus(c.f); serr == nil {
			st := devinfo.PortStatus(b)
			if st.Detail != "" {
				why += " (" + st.Detail + ")"
			}
			if st.PaperOut {
				kind = core.ErrNotReady
			}
		}
		return fmt.Errorf("usblp: %s: %s: %w: %w", c.path, why, kind, os.ErrDeadlineExceeded)
	}
	return fmt.Errorf("usblp: %s: %w: %w", c.path, err, core.ErrOffline)
}

// unplug closes the device after the printer went away; the queue opens it
// again (by path or identity) when it retries.
func (c *conn) unplug(errno syscall.Errno) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone == nil {
		c.gone = fmt.Errorf("usblp: %s: printer disconnected (%v); the connection is closed and must be opened again: %w",
			c.path, errno, core.ErrOffline)
		c.f.Close()
	}
	return c.gone
}

func (c *conn) closedErr() error {
	return fmt.Errorf("usblp: %s: %w", c.path, os.ErrClosed)
}

// Read returns bytes the printer sent back, honouring the deadline.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := c.goneErr(); err != nil {
		return 0, err
	}
	if err := c.f.SetReadDeadline(c.userDeadline()); err != nil && !errors.Is(err, os.ErrNoDeadline) {
		return 0, c.ioErr(err)
	}
	n, err := c.f.Read(p)
	if err != nil {
		return n, c.ioErr(err)
	}
	return n, nil
}

// Status reads the port status (LPGETSTATUS) and, when no job is being
// written and the printer answers reads, the DLE EOT status, and merges
// them. Neither available: the state is unknown, never "ok". A printer
// whose profile does not speak ESC/POS is not asked DLE EOT: only the port
// status is read.
func (c *conn) Status(ctx context.Context) (core.Status, error) {
	if c.isClosed() {
		return core.Status{}, c.closedErr()
	}
	if c.goneErr() != nil {
		return core.Status{Known: true, Detail: "disconnected"}, nil
	}
	var port core.Status
	b, perr := c.sys.portStatus(c.f)
	if perr == nil {
		port = devinfo.PortStatus(b)
	} else {
		var errno syscall.Errno
		if errors.As(perr, &errno) && unplugged(errno) {
			c.unplug(errno)
			return core.Status{Known: true, Detail: "disconnected"}, nil
		}
	}
	var dle core.Status
	var derr error
	if c.set.foreign != "" {
		derr = fmt.Errorf("not asked: profile %s speaks %s, not ESC/POS "+
			"(the printer's quirks plugin can ask in its own language)", c.set.profile, c.set.foreign)
	} else {
		select {
		case c.wlock <- struct{}{}:
			dle, derr = c.queryDLE(ctx)
			<-c.wlock
		default:
			derr = errors.New("a job is being written")
		}
	}
	st := devinfo.Merge(port, dle)
	if !st.Known {
		st.Detail = fmt.Sprintf("no status: %v; DLE EOT: %v", perr, derr)
	}
	return st, nil
}

// queryDLE asks DLE EOT 1-4 and reads the replies, each within the status
// timeout.
func (c *conn) queryDLE(ctx context.Context) (core.Status, error) {
	c.mu.Lock()
	skip := c.readOnly || !c.noReply.IsZero() && time.Since(c.noReply) < noReplyRetry
	c.mu.Unlock()
	if skip {
		return core.Status{}, errors.New("the printer did not answer recently")
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.discardInput()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 4*c.set.statusTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 4*c.set.statusTimeout)
		defer cancel()
	}
	st, err := escpos.QueryStatus(ctx, timedWriter{c}, timedReader{c})
	if err != nil {
		c.mu.Lock()
		c.noReply = time.Now()
		var errno syscall.Errno
		if errors.As(err, &errno) && errno == syscall.EINVAL {
			c.readOnly = true // usblp refuses reads from unidirectional printers
		}
		c.mu.Unlock()
		return core.Status{}, err
	}
	c.mu.Lock()
	c.noReply = time.Time{}
	c.mu.Unlock()
	return st, nil
}

// discardInput drops bytes already waiting (late replies to an earlier
// query), without blocking.
func (c *conn) discardInput() {
	c.f.SetReadDeadline(time.Time{})
	rc, err := c.f.SyscallConn()
	if err != nil {
		return
	}
	var buf [256]byte
	rc.Read(func(fd uintptr) bool {
		for range 64 {
			if n, err := syscall.Read(int(fd), buf[:]); n <= 0 || err != nil {
				break
			}
		}
		return true
	})
}

type timedWriter struct{ c *conn }

func (w timedWriter) Write(p []byte) (int, error) {
	w.c.f.SetWriteDeadline(time.Now().Add(w.c.set.statusTimeout))
	return w.c.f.Write(p)
}

type timedReader struct{ c *conn }

func (r timedReader) Read(p []byte) (int, error) {
	r.c.f.SetReadDeadline(time.Now().Add(r.c.set.statusTimeout))
	return r.c.f.Read(p)
}

// Close closes the device; a Write or Read in progress returns at once.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		if cerr := c.f.Close(); cerr != nil && !errors.Is(cerr, os.ErrClosed) {
			err = fmt.Errorf("usblp: %s: %w", c.path, cerr)
		}
	})
	return err
}
