package serial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
	bugst "go.bug.st/serial"
)

func init() { core.Register("serial", Driver{}) }

const (
	// fastChunk is the write size on a port that takes data far faster
	// than its nominal line rate (see run); fastProbe is how much must have
	// been written before the rate is judged. After 2 KiB a real UART cannot
	// look 4 times faster than its line: with drained chunks only its FIFO
	// (a few hundred bytes on common USB adapters) can be ahead.
	fastChunk = 32 << 10
	fastProbe = 2 << 10
	// maxInput bounds the bytes kept from the printer for Read and Status;
	// beyond it the oldest are dropped.
	maxInput = 4 << 10
	// linePoll is how often a write waiting for CTS or DSR looks again.
	linePoll = 5 * time.Millisecond
	// closeWait bounds how long Close waits for a write system call in
	// progress before closing the port under it.
	closeWait = time.Second
	// noReplyRetry is how long after an unanswered DLE EOT the next Status
	// skips asking.
	noReplyRetry = time.Minute
)

// port is the part of a go.bug.st/serial Port the driver uses; tests wrap a
// real pty port to fake the modem lines a pty does not have.
type port interface {
	io.ReadWriteCloser
	Drain() error
	GetModemStatusBits() (*bugst.ModemStatusBits, error)
	SetDTR(bool) error
	SetRTS(bool) error
}

// Driver is the serial driver. The zero value uses the host's ports.
type Driver struct {
	open    func(name string, mode *bugst.Mode) (port, error) // nil: go.bug.st/serial
	list    func() ([]portInfo, error)                        // nil: listPorts
	byIDDir string                                            // "": /dev/serial/by-id
}

// Config returns a new, empty *Config.
func (Driver) Config() any { return &Config{} }

// Open opens and configures the port.
func (d Driver) Open(ctx context.Context, cfg any) (core.Conn, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("serial: config is %T, want *serial.Config", cfg)
	}
	set, err := c.settings()
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	open := d.open
	if open == nil {
		open = func(name string, mode *bugst.Mode) (port, error) { return bugst.Open(name, mode) }
	}
	p, err := open(set.port, &set.mode)
	if err != nil {
		return nil, openError(set.port, err)
	}
	// Tell the printer we are ready on the line it watches; a port without
	// modem lines (a pty, some adapters) refuses, which is fine.
	p.SetDTR(true)
	p.SetRTS(true)
	cn := &conn{
		p:      p,
		set:    set,
		chunk:  set.lineChunk(),
		wlock:  make(chan struct{}, 1),
		closed: make(chan struct{}),
		jobs:   make(chan *wjob),
		ioSem:  make(chan struct{}, 1),
		inSig:  make(chan struct{}, 1),
		resume: make(chan struct{}),
	}
	if set.flow != FlowNone {
		cn.chunk = set.flowChunk()
	}
	go cn.readLoop()
	go cn.writeLoop()
	return cn, nil
}

func openError(name string, err error) error {
	var pe *bugst.PortError
	if errors.As(err, &pe) {
		switch pe.Code() {
		case bugst.PortBusy:
			return fmt.Errorf("serial: %s is in use by another program: %w", name, core.ErrOffline)
		case bugst.PermissionDenied:
			return fmt.Errorf("serial: permission denied opening %s: add the user comandera runs as to the group that owns the port, "+
				"dialout on Debian and Raspberry Pi OS (sudo usermod -aG dialout USER, then restart comandera): %w", name, core.ErrOffline)
		case bugst.PortNotFound:
			return fmt.Errorf("serial: %s not found: the adapter is unplugged: %w", name, core.ErrOffline)
		case bugst.InvalidSpeed, bugst.InvalidDataBits, bugst.InvalidParity, bugst.InvalidStopBits:
			return fmt.Errorf("serial: %s: the port refuses the line settings: %w", name, err)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("serial: %s does not exist: the adapter is unplugged: %w", name, core.ErrOffline)
	}
	return fmt.Errorf("serial: opening %s: %w: %w", name, err, core.ErrOffline)
}

// wjob is one Write (or status request) handed to writeLoop.
type wjob struct {
	p     []byte
	flow  bool          // obey XOFF or the ready line
	user  time.Time     // the caller's deadline (zero: none)
	abort chan struct{} // closed when the caller gives up
	done  chan struct{} // closed by writeLoop when it is finished
	n     atomic.Int64  // bytes written so far
	sys   atomic.Int64  // when the port call in progress began (UnixNano), 0 outside one
	err   error         // valid once done is closed
}

// conn is an open serial port. Two goroutines own the port's blocking
// calls: readLoop reads everything the printer sends (acting on XON/XOFF),
// writeLoop runs each Write's chunks, so Write can give up at a deadline or
// on Close without waiting for a system call that may not return.
type conn struct {
	p     port
	set   settings
	chunk int

	wlock     chan struct{} // held by Write and by a DLE EOT query
	closed    chan struct{}
	closeOnce sync.Once
	jobs      chan *wjob
	busy      *wjob         // a job that outlived its Write; guarded by wlock
	ioSem     chan struct{} // held by writeLoop inside a port call
	rmu       sync.Mutex    // one reader at a time

	mu         sync.Mutex
	deadline   time.Time
	paused     bool          // XOFF received, no XON yet
	xoffs      int           // XOFFs seen
	resume     chan struct{} // closed when writing may go on
	stallSince time.Time     // start of the current XOFF or low ready line
	failed     error         // the port broke (unplugged)
	in         []byte        // bytes from the printer, XON/XOFF removed
	inErr      error         // why readLoop stopped
	inSig      chan struct{} // signalled when in or inErr change
	noReply    time.Time
}

var (
	_ core.StatusReader = (*conn)(nil)
	_ core.Reader       = (*conn)(nil)
	_ core.Deadliner    = (*conn)(nil)
)

func (c *conn) readLoop() {
	buf := make([]byte, 512)
	for {
		n, err := c.p.Read(buf)
		c.mu.Lock()
		for _, b := range buf[:n] {
			if c.set.flow == FlowXonXoff && (b == escpos.XOFF || b == escpos.XON) {
				c.flow(b == escpos.XON)
				continue
			}
			if len(c.in) >= maxInput {
				c.in = append(c.in[:0], c.in[len(c.in)-maxInput/2:]...)
			}
			c.in = append(c.in, b)
		}
		if err == nil && n == 0 {
			err = io.EOF // a port that reads nothing without a timeout is gone
		}
		if err != nil {
			c.inErr = err
			if !c.isClosed() && c.failed == nil {
				c.failed = fmt.Errorf("serial: %s: the port stopped reading (%v); unplugged?: %w", c.set.port, err, core.ErrOffline)
			}
		}
		c.mu.Unlock()
		select {
		case c.inSig <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// flow records XON (go) or XOFF (stop); c.mu is held.
func (c *conn) flow(on bool) {
	switch {
	case on && c.paused:
		c.paused = false
		c.stallSince = time.Time{}
		close(c.resume)
	case !on && !c.paused:
		c.xoffs++
		c.paused = true
		c.stallSince = time.Now()
		c.resume = make(chan struct{})
	}
}

func (c *conn) writeLoop() {
	for {
		select {
		case j := <-c.jobs:
			c.run(j)
			close(j.done)
		case <-c.closed:
			return
		}
	}
}

// run writes one job's chunks: with flow control each waits until the
// printer is ready and is drained before the next; without, the port is
// drained at the end.
func (c *conn) run(j *wjob) {
	start := time.Now()
	n := 0
	for n < len(j.p) {
		select {
		case <-j.abort:
			return
		default:
		}
		if j.flow {
			if j.err = c.waitReady(j); j.err != nil {
				return
			}
		}
		end := min(n+c.chunk, len(j.p))
		w, err := c.portIO(j, j.p[n:end], j.flow)
		n += w
		j.n.Store(int64(n))
		if err != nil {
			j.err = err
			return
		}
		if c.chunk < fastChunk && n >= fastProbe &&
			float64(n)/time.Since(start).Seconds() > 4*c.set.lineRate() {
			// Far faster than the line rate: no UART paces this port (a
			// pty, a USB printer's virtual COM port), and line-sized
			// chunks would only cost time.
			c.chunk = fastChunk
		}
	}
	if !j.flow {
		_, j.err = c.portIO(j, nil, true)
	}
}

// portIO writes b whole and drains the port if asked. The port's calls are
// raw system calls: a signal (the Go runtime's preemption) can cut a write
// short or fail it with EINTR, which only means "again".
func (c *conn) portIO(j *wjob, b []byte, drain bool) (int, error) {
	c.ioSem <- struct{}{}
	defer func() { <-c.ioSem }()
	if c.isClosed() {
		return 0, c.closedErr()
	}
	j.sys.Store(time.Now().UnixNano())
	defer j.sys.Store(0)
	n := 0
	for tries := 0; n < len(b); {
		w, err := c.p.Write(b[n:])
		n += max(w, 0)
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			return n, c.portErr(err)
		case w <= 0:
			if tries++; tries > 100 {
				return n, c.portErr(io.ErrShortWrite)
			}
		}
	}
	for drain {
		err := c.p.Drain()
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return n, c.portErr(err)
		}
		break
	}
	return n, nil
}

// portErr records a port failure: the adapter was unplugged or broke.
func (c *conn) portErr(err error) error {
	if c.isClosed() {
		return c.closedErr()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		c.failed = fmt.Errorf("serial: %s: %v; unplugged?: %w", c.set.port, err, core.ErrOffline)
	}
	return c.failed
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

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

func (c *conn) failedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func (c *conn) closedErr() error { return fmt.Errorf("serial: %s: %w", c.set.port, os.ErrClosed) }

// errDeadline is returned when the caller's deadline passes.
func (c *conn) errDeadline(why string) error {
	return fmt.Errorf("serial: %s: deadline passed %s: %w: %w", c.set.port, why, core.ErrOffline, os.ErrDeadlineExceeded)
}

// timer returns a channel that fires at t, or nil for the zero time.
func timer(t time.Time) (<-chan time.Time, func() bool) {
	if t.IsZero() {
		return nil, func() bool { return false }
	}
	tm := time.NewTimer(time.Until(t))
	return tm.C, tm.Stop
}

// Write sends p. Without flow control it goes out in chunks of about a
// second of line time and is drained at the end; with flow control each
// chunk of about 10 ms of line time waits for the printer to be ready and
// is drained before the next. A port that turns out to take data far
// faster than its baud rate (a pty, a virtual COM port) gets large chunks.
// A nil error means every byte left the port.
func (c *conn) Write(p []byte) (int, error) {
	select {
	case c.wlock <- struct{}{}:
	case <-c.closed:
		return 0, c.closedErr()
	}
	defer func() { <-c.wlock }()
	if err := c.failedErr(); err != nil {
		return 0, err
	}
	return c.submit(p, c.set.flow != FlowNone, c.userDeadline())
}

// submit hands p to writeLoop and waits for it to finish, for Close, for
// the deadline user (zero: none), or until a port call has blocked for
// ready_timeout. The caller holds wlock.
func (c *conn) submit(p []byte, flow bool, user time.Time) (int, error) {
	expired := func() bool { return !user.IsZero() && !time.Now().Before(user) }
	if j := c.busy; j != nil {
		// An earlier job was abandoned; writeLoop stops it at the next
		// chunk, or when its port call returns.
		tc, stop := timer(minTime(nonZero(user), time.Now().Add(c.set.readyTimeout)))
		select {
		case <-j.done:
			stop()
			c.busy = nil
		case <-c.closed:
			stop()
			return 0, c.closedErr()
		case <-tc:
			if expired() {
				return 0, c.errDeadline("while the port was still busy with an earlier write")
			}
			return 0, fmt.Errorf("serial: %s: the port accepted no data for %s: %w", c.set.port, c.set.readyTimeout, core.ErrOffline)
		}
	}
	j := &wjob{p: p, flow: flow, user: user, abort: make(chan struct{}), done: make(chan struct{})}
	select {
	case c.jobs <- j:
	case <-c.closed:
		return 0, c.closedErr()
	}
	// Look at the job's progress a few times per ready_timeout.
	tick := time.NewTicker(c.set.readyTimeout / 4)
	defer tick.Stop()
	tc, stop := timer(user)
	defer stop()
	giveUp := func(err error) (int, error) {
		close(j.abort)
		c.busy = j
		return int(j.n.Load()), err
	}
	for {
		select {
		case <-j.done:
			return int(j.n.Load()), j.err
		case <-c.closed:
			return giveUp(c.closedErr())
		case <-tc:
			return giveUp(c.errDeadline("while the port was writing"))
		case <-tick.C:
			if since := j.sys.Load(); since != 0 && time.Since(time.Unix(0, since)) > c.set.readyTimeout {
				return giveUp(fmt.Errorf("serial: %s: the port accepted no data for %s: %w", c.set.port, c.set.readyTimeout, core.ErrOffline))
			}
		}
	}
}

func nonZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().Add(100 * 365 * 24 * time.Hour)
	}
	return t
}

// waitReady returns when the printer may take more data: no XOFF in force,
// or its ready line high. A stop longer than ready_timeout is an error
// wrapping core.ErrOffline.
func (c *conn) waitReady(j *wjob) error {
	for {
		var wait <-chan struct{}
		var since time.Time
		if c.set.flow == FlowXonXoff {
			c.mu.Lock()
			paused := c.paused
			wait, since = c.resume, c.stallSince
			c.mu.Unlock()
			if !paused {
				return nil
			}
		} else {
			ready, err := c.pollLine()
			if err != nil {
				return err
			}
			if ready {
				return nil
			}
			c.mu.Lock()
			since = c.stallSince
			c.mu.Unlock()
		}
		limit := since.Add(c.set.readyTimeout)
		if !time.Now().Before(limit) {
			return fmt.Errorf("serial: %s: the printer has not been ready for %s (%s): %w",
				c.set.port, c.set.readyTimeout, c.stopReason(), core.ErrOffline)
		}
		if !j.user.IsZero() && !time.Now().Before(j.user) {
			return c.errDeadline("while the printer was not ready (" + c.stopReason() + ")")
		}
		wake := minTime(limit, nonZero(j.user))
		if wait == nil { // a ready line: look again soon
			wake = minTime(wake, time.Now().Add(linePoll))
		}
		tc, stop := timer(wake)
		select {
		case <-wait:
		case <-tc:
		case <-j.abort:
			stop()
			return errors.New("aborted")
		case <-c.closed:
			stop()
			return c.closedErr()
		}
		stop()
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (c *conn) stopReason() string {
	switch c.set.flow {
	case FlowXonXoff:
		return "it sent XOFF and no XON"
	case FlowRTSCTS:
		return "CTS is low"
	case FlowDSRDTR:
		return "DSR is low"
	}
	return "it took no data"
}

// pollLine reads the printer's ready line (CTS or DSR) and tracks how long
// it has been low.
func (c *conn) pollLine() (bool, error) {
	bits, err := c.p.GetModemStatusBits()
	if err != nil || bits == nil {
		return false, fmt.Errorf("serial: %s: cannot read the modem lines for flow_control = %q (%v); "+
			"use \"xonxoff\" or \"none\" if the port or cable has no %s: %w",
			c.set.port, c.set.flow, err, map[string]string{FlowRTSCTS: "CTS", FlowDSRDTR: "DSR"}[c.set.flow], core.ErrOffline)
	}
	ready := bits.CTS
	if c.set.flow == FlowDSRDTR {
		ready = bits.DSR
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case ready:
		c.stallSince = time.Time{}
	case c.stallSince.IsZero():
		c.stallSince = time.Now()
	}
	return ready, nil
}

// stalled returns how long writing has been held back.
func (c *conn) stalled() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stallSince.IsZero() {
		return 0
	}
	return time.Since(c.stallSince)
}

// Read returns bytes the printer sent (without XON/XOFF), honouring the
// deadline.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.read(p, c.userDeadline())
}

func (c *conn) read(p []byte, deadline time.Time) (int, error) {
	tc, stop := timer(deadline)
	defer stop()
	for {
		c.mu.Lock()
		if len(c.in) > 0 {
			n := copy(p, c.in)
			c.in = append(c.in[:0], c.in[n:]...)
			c.mu.Unlock()
			return n, nil
		}
		inErr := c.inErr
		c.mu.Unlock()
		if c.isClosed() {
			return 0, c.closedErr()
		}
		if inErr != nil {
			if err := c.failedErr(); err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("serial: %s: %w", c.set.port, inErr)
		}
		select {
		case <-c.inSig:
		case <-c.closed:
		case <-tc:
			return 0, fmt.Errorf("serial: %s: read: %w", c.set.port, os.ErrDeadlineExceeded)
		}
	}
}

// Status asks DLE EOT when no job is being written (the request goes out
// even during XOFF: printers answer real-time commands with a full buffer)
// and reports the printer offline once writing has been held back longer
// than ready_timeout. Without a reply the state is unknown, never "ok". A
// printer whose profile does not speak ESC/POS is not asked DLE EOT: it is
// offline when held back longer than ready_timeout, else unknown, with the
// flow control state in Detail.
func (c *conn) Status(ctx context.Context) (core.Status, error) {
	if c.isClosed() {
		return core.Status{}, c.closedErr()
	}
	if err := c.failedErr(); err != nil {
		return core.Status{Known: true, Detail: "disconnected: " + err.Error()}, nil
	}
	var lineErr error
	if c.set.flow == FlowRTSCTS || c.set.flow == FlowDSRDTR {
		_, lineErr = c.pollLine()
	}
	var dle core.Status
	var derr error
	if c.set.foreign != "" {
		derr = fmt.Errorf("not asked: profile %s speaks %s, not ESC/POS, so the driver sends no DLE EOT "+
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
	if s := c.stalled(); s > c.set.readyTimeout {
		st := dle
		st.Known, st.Online = true, false
		if st.Detail != "" {
			st.Detail += "; "
		}
		st.Detail += fmt.Sprintf("not ready for %s: %s", s.Round(time.Second), c.stopReason())
		return st, nil
	}
	if dle.Known {
		return dle, nil
	}
	st := core.Status{Detail: fmt.Sprintf("no reply to DLE EOT: %v", derr)}
	if c.set.foreign != "" {
		st.Detail = derr.Error()
		if lineErr == nil {
			st.Detail += "; " + c.flowState()
		}
	}
	if lineErr != nil {
		st.Detail += "; " + lineErr.Error()
	}
	return st, nil
}

// flowState describes what the flow control says now: whether the printer
// is taking data. It says nothing about paper or cover, so it is a Detail,
// never a state.
func (c *conn) flowState() string {
	switch c.set.flow {
	case FlowXonXoff:
		c.mu.Lock()
		paused, since := c.paused, c.stallSince
		c.mu.Unlock()
		if paused {
			return fmt.Sprintf("flow control: XOFF in force for %s", time.Since(since).Round(time.Millisecond))
		}
		return "flow control: no XOFF in force (the printer takes data)"
	case FlowRTSCTS, FlowDSRDTR:
		line := map[string]string{FlowRTSCTS: "CTS", FlowDSRDTR: "DSR"}[c.set.flow]
		if s := c.stalled(); s > 0 {
			return fmt.Sprintf("flow control: %s low for %s", line, s.Round(time.Millisecond))
		}
		return fmt.Sprintf("flow control: %s high (the printer takes data)", line)
	}
	return "no flow control: nothing to read without the printer's language"
}

func (c *conn) queryDLE(ctx context.Context) (core.Status, error) {
	c.mu.Lock()
	skip := !c.noReply.IsZero() && time.Since(c.noReply) < noReplyRetry
	c.in = c.in[:0] // late replies to an earlier query
	c.mu.Unlock()
	if skip {
		return core.Status{}, errors.New("the printer did not answer recently")
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 4*c.set.statusTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 4*c.set.statusTimeout)
		defer cancel()
	}
	st, err := escpos.QueryStatus(ctx, statusWriter{c}, statusReader{c})
	c.mu.Lock()
	if err != nil {
		c.noReply = time.Now()
	} else {
		c.noReply = time.Time{}
	}
	c.mu.Unlock()
	return st, err
}

type statusWriter struct{ c *conn }

// Write sends a status request, ignoring XOFF, within the status timeout.
func (w statusWriter) Write(p []byte) (int, error) {
	return w.c.submit(p, false, time.Now().Add(w.c.set.statusTimeout))
}

type statusReader struct{ c *conn }

func (r statusReader) Read(p []byte) (int, error) {
	return r.c.read(p, time.Now().Add(r.c.set.statusTimeout))
}

// Close closes the port; a Write, Read or Status in progress returns at once.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		// Let a port call in progress finish, briefly, so the descriptor is
		// not closed (and its number reused) under it.
		select {
		case c.ioSem <- struct{}{}:
		case <-time.After(closeWait):
		}
		if cerr := c.p.Close(); cerr != nil {
			err = fmt.Errorf("serial: %s: %w", c.set.port, cerr)
		}
	})
	return err
}
