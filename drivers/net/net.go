package net

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

func init() { core.Register("net", Driver{}) }

const (
	// noReplyRetry is how long after an unanswered DLE EOT the next Status
	// on the same connection skips asking.
	noReplyRetry = time.Minute
)

// Driver is the raw TCP (port 9100) driver.
type Driver struct{}

// Config returns a new, empty *Config.
func (Driver) Config() any { return &Config{} }

// Open dials the printer. Every job gets its own connection.
func (Driver) Open(ctx context.Context, cfg any) (core.Conn, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("net: config is %T, want *net.Config", cfg)
	}
	set, err := c.settings()
	if err != nil {
		return nil, fmt.Errorf("net: %w", err)
	}
	return dial(ctx, set)
}

func dial(ctx context.Context, set settings) (*conn, error) {
	d := stdnet.Dialer{
		Timeout: set.dialTimeout,
		KeepAliveConfig: stdnet.KeepAliveConfig{
			Enable:   true,
			Idle:     set.keepAlive,
			Interval: set.keepAlive,
			Count:    4,
		},
	}
	nc, err := d.DialContext(ctx, "tcp", set.address)
	if err != nil {
		return nil, dialError(set, err)
	}
	tc, ok := nc.(*stdnet.TCPConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("net: %s: not a TCP connection", set.address)
	}
	return &conn{
		c:         tc,
		set:       set,
		wlock:     make(chan struct{}, 1),
		closed:    make(chan struct{}),
		closeDone: make(chan struct{}),
	}, nil
}

func dialError(set settings, err error) error {
	why := err.Error()
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno) && errno == syscall.ECONNREFUSED:
		why = "connection refused: the printer is up but nothing listens on that port (wrong port, or raw printing disabled)"
	case errors.As(err, &errno) && (errno == syscall.EHOSTUNREACH || errno == syscall.ENETUNREACH):
		why = "no route to the printer: it is off, unplugged or on another network"
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		why = fmt.Sprintf("no answer within %s: the printer is off, the address is wrong, or a firewall drops the connection", set.dialTimeout)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("net: connecting to %s: %w", set.address, err)
	}
	return fmt.Errorf("net: cannot connect to %s: %s: %w: %w", set.address, why, core.ErrOffline, err)
}

// conn is one TCP connection to a printer.
type conn struct {
	c   *stdnet.TCPConn
	set settings

	wlock     chan struct{} // held by Write and by a DLE EOT query
	rmu       sync.Mutex
	closed    chan struct{}
	closeDone chan struct{}

	mu       sync.Mutex
	deadline time.Time
	closing  bool
	failed   bool // a Write failed: Close has nothing to confirm
	noReply  time.Time
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

func (c *conn) userExpired() bool {
	u := c.userDeadline()
	return !u.IsZero() && !time.Now().Before(u)
}

// progressDeadline is when a write must have made progress: after the write
// timeout, or at the caller's deadline if that is sooner.
func (c *conn) progressDeadline() time.Time {
	d := time.Now().Add(c.set.writeTimeout)
	if u := c.userDeadline(); !u.IsZero() && u.Before(d) {
		d = u
	}
	return d
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *conn) closedErr() error { return fmt.Errorf("net: %s: %w", c.set.address, stdnet.ErrClosed) }

// Write hands p to the connection, each window of write_timeout having to
// see progress. Delivery is confirmed by Close.
func (c *conn) Write(p []byte) (int, error) {
	select {
	case c.wlock <- struct{}{}:
	case <-c.closed:
		return 0, c.closedErr()
	}
	defer func() { <-c.wlock }()
	n := 0
	for n < len(p) {
		// The deadline bounds one window: a window in which the printer
		// took some bytes is progress, and the write goes on.
		c.c.SetWriteDeadline(c.progressDeadline())
		w, err := c.c.Write(p[n:])
		n += w
		if err != nil {
			if w > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.userExpired() {
				continue
			}
			c.mu.Lock()
			c.failed = true
			c.mu.Unlock()
			return n, c.ioErr(err)
		}
	}
	return n, nil
}

func (c *conn) ioErr(err error) error {
	switch {
	case c.isClosed() || errors.Is(err, stdnet.ErrClosed):
		return c.closedErr()
	case errors.Is(err, os.ErrDeadlineExceeded):
		why := fmt.Sprintf("the printer accepted no data for %s (paper out, cover open or jammed?)", c.set.writeTimeout)
		if u := c.userDeadline(); !u.IsZero() && !time.Now().Before(u) {
			why = "the deadline passed before the printer took the data"
		}
		return fmt.Errorf("net: %s: %s: %w: %w", c.set.address, why, core.ErrOffline, os.ErrDeadlineExceeded)
	}
	return fmt.Errorf("net: %s: connection lost: %w: %w", c.set.address, err, core.ErrOffline)
}

// Read returns bytes the printer sent back, honouring the deadline.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.c.SetReadDeadline(c.userDeadline())
	n, err := c.c.Read(p)
	if err != nil && err != io.EOF {
		return n, c.ioErr(err)
	}
	return n, err
}

// Status sends DLE EOT 1-4 when no job is being written and returns what
// the printer answers; without an answer within the status timeout the
// state is unknown. A printer whose profile does not speak ESC/POS is not
// asked: its state is unknown (the raw TCP port has no status of its own).
func (c *conn) Status(ctx context.Context) (core.Status, error) {
	if c.isClosed() {
		return core.Status{}, c.closedErr()
	}
	if c.set.foreign != "" {
		return core.Status{Detail: fmt.Sprintf("not asked: profile %s speaks %s, not ESC/POS, so the driver sends no DLE EOT "+
			"(the printer's quirks plugin can ask in its own language)", c.set.profile, c.set.foreign)}, nil
	}
	select {
	case c.wlock <- struct{}{}:
		defer func() { <-c.wlock }()
	default:
		return core.Status{Detail: "a job is being written"}, nil
	}
	c.mu.Lock()
	skip := !c.noReply.IsZero() && time.Since(c.noReply) < noReplyRetry
	c.mu.Unlock()
	if skip {
		return core.Status{Detail: "the printer does not answer DLE EOT"}, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.discardInput()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 4*c.set.statusTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 4*c.set.statusTimeout)
		defer cancel()
	}
	st, err := escpos.QueryStatus(ctx, timed{c}, timed{c})
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.noReply = time.Now()
		return core.Status{Detail: fmt.Sprintf("no reply to DLE EOT within %s: %v", c.set.statusTimeout, err)}, nil
	}
	c.noReply = time.Time{}
	return st, nil
}

// discardInput drops bytes already received (ASB, late replies to an
// earlier query), waiting at most a millisecond for more.
func (c *conn) discardInput() {
	var buf [512]byte
	c.c.SetReadDeadline(time.Now().Add(time.Millisecond))
	for range 64 {
		if _, err := c.c.Read(buf[:]); err != nil {
			break
		}
	}
}

// timed reads and writes status bytes within the status timeout.
type timed struct{ c *conn }

func (t timed) Write(p []byte) (int, error) {
	t.c.c.SetWriteDeadline(time.Now().Add(t.c.set.statusTimeout))
	return t.c.c.Write(p)
}

func (t timed) Read(p []byte) (int, error) {
	t.c.c.SetReadDeadline(time.Now().Add(t.c.set.statusTimeout))
	return t.c.c.Read(p)
}

// Close ends the connection and confirms the job. When no Write is in
// progress it half-closes (FIN after the last byte) and waits up to
// close_timeout for the printer to close its end, which it does once it has
// read everything; a printer that keeps the connection open confirms by
// having acknowledged every byte (Linux). Close returns an error wrapping
// core.ErrOffline when neither happened or the printer reset the
// connection: the job may be lost and should be retried. While a Write is in
// progress (or when called again) it closes at once and the Write returns.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		c.c.Close()
		<-c.closeDone
		return nil
	}
	c.closing = true
	c.mu.Unlock()
	defer close(c.closeDone)
	close(c.closed)
	var err error
	select {
	case c.wlock <- struct{}{}:
		err = c.finish()
	default: // a Write is in progress: abort it
	}
	if cerr := c.c.Close(); cerr != nil && !errors.Is(cerr, stdnet.ErrClosed) && err == nil {
		err = fmt.Errorf("net: %s: %w", c.set.address, cerr)
	}
	return err
}

// finish half-closes and waits for the printer to confirm the job.
func (c *conn) finish() error {
	c.mu.Lock()
	failed := c.failed
	c.mu.Unlock()
	if failed {
		return nil // the Write already reported the failure
	}
	if err := c.c.CloseWrite(); err != nil {
		return fmt.Errorf("net: %s: the connection broke before the job was confirmed: %w: %w", c.set.address, err, core.ErrOffline)
	}
	c.c.SetReadDeadline(time.Now().Add(c.set.closeTimeout))
	buf := make([]byte, 4096)
	for range 256 { // bound what a chatty printer can make us read
		_, err := c.c.Read(buf)
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return nil // it read everything and closed
		case !errors.Is(err, os.ErrDeadlineExceeded):
			// Reset: the printer dropped the job (a printer that fails,
			// reboots or runs out of paper does so), or it ends every job
			// this way; which, cannot be known, and a lost ticket is worse
			// than a duplicate.
			return fmt.Errorf("net: %s: the printer reset the connection before confirming the job (%v): %w", c.set.address, err, core.ErrOffline)
		}
		break
	}
	rc, err := c.c.SyscallConn()
	if err != nil {
		return nil
	}
	q, ok := unsent(rc)
	if !ok || q <= 1 { // 1: our FIN itself
		return nil
	}
	return fmt.Errorf("net: %s: the printer neither closed the connection nor acknowledged the last %d bytes within %s: %w",
		c.set.address, q-1, c.set.closeTimeout, core.ErrOffline)
}
