package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
	"github.com/comandera/comandera/plugins"
	"github.com/comandera/comandera/queue"
)

// idleKeep is how long a connection opened to read the status is kept for
// the Print that normally follows at once.
const idleKeep = time.Second

// vendorReplyTimeout bounds the wait for the answer to a quirks plugin's
// status request, and separately the plugin's decoding of it: a printer
// answers a real-time request at once, and a printer that does not answer
// is "unknown" after this long.
const vendorReplyTimeout = time.Second

// maxVendorReply bounds the bytes read as the answer to a status request
// (a Star ASB is 7 to 9 bytes, with LAN extended data at most 0x200 more).
const maxVendorReply = 1024

// vendorQuietRetry is how long after a status request went unanswered the
// printer is not asked again, so a printer that never answers (a
// unidirectional interface) does not cost every job vendorReplyTimeout, as
// the drivers do with DLE EOT.
const vendorQuietRetry = time.Minute

// A device is one configured printer as the queue sees it: it implements
// queue.Printer on top of the driver, the encoder and the quirks plugin.
// Each job opens a connection (the one the status check before it opened,
// when it is fresh), writes the job's bytes and closes it, so a printer that
// was unplugged and plugged back in is found again by the next job.
type device struct {
	cfg     *config.Printer
	drv     core.Driver
	quirks  plugins.Quirks // nil: no plugin
	profile *core.Profile
	log     *slog.Logger
	metrics *metrics

	io        sync.Mutex // held while a connection is in use
	idle      core.Conn
	idleAt    time.Time
	idleTimer *time.Timer

	smu    sync.Mutex
	status core.Status // last status read (by the worker or a probe)
	err    error       // last error reaching the printer
	at     time.Time   // when status or err was recorded

	info   *plugins.Info // the plugin's Info, when it had to be asked; guarded by io
	badReq bool          // the plugin's status request was refused (logged once); guarded by io
	quiet  time.Time     // when a status request last went unanswered; guarded by io
}

var _ queue.Printer = (*device)(nil)

func newDevice(p *config.Printer, q plugins.Quirks, log *slog.Logger, m *metrics) (*device, error) {
	drv, err := core.Lookup(p.Driver)
	if err != nil {
		return nil, fmt.Errorf("printer %q: %w", p.Name, err)
	}
	if err := core.Available(drv); err != nil {
		return nil, fmt.Errorf("printer %q: driver %s: %w", p.Name, p.Driver, err)
	}
	return &device{cfg: p, drv: drv, quirks: q, profile: p.Profile, log: log.With("printer", p.Name), metrics: m}, nil
}

// Print encodes job and writes one copy of it.
func (d *device) Print(ctx context.Context, job *queue.Job) (err error) {
	start := time.Now()
	data, err := d.encode(ctx, job)
	if err != nil {
		return err
	}
	d.io.Lock()
	defer d.io.Unlock()
	var conn core.Conn
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("driver panicked; failing only this job", "job", job.ID, "driver", d.cfg.Driver,
				"panic", r, "stack", string(debug.Stack()))
			if conn != nil {
				closeQuietly(conn)
			}
			err = queue.Permanent(fmt.Errorf("driver %s panicked: %v", d.cfg.Driver, r))
			d.record(core.Status{}, err)
		}
	}()
	conn, err = d.take(ctx)
	if err != nil {
		d.record(core.Status{}, err)
		return err
	}
	if l, ok := conn.(core.Labeler); ok {
		l.Label(job.ID)
	}
	err = write(ctx, conn, data)
	if cerr := conn.Close(); err == nil && cerr != nil {
		// Every byte was written but the printer did not confirm it took
		// them (the net driver confirms in Close): part may be on paper.
		err = queue.Partial(fmt.Errorf("closing the connection: %w", cerr))
	}
	conn = nil
	if err != nil {
		d.record(core.Status{}, err)
		return err
	}
	d.metrics.printDuration.WithLabelValues(d.cfg.Name).Observe(time.Since(start).Seconds())
	return nil
}

// write writes data to conn, bounded by ctx: by a deadline when the
// connection takes one, and by closing it when ctx ends.
func write(ctx context.Context, conn core.Conn, data []byte) error {
	if dl, ok := conn.(core.Deadliner); ok {
		if t, ok := ctx.Deadline(); ok {
			_ = dl.SetDeadline(t)
		}
	}
	c := &onceCloser{Conn: conn}
	stop := context.AfterFunc(ctx, func() { c.closeOnce() })
	n, err := conn.Write(data)
	if !stop() {
		// ctx ended: the connection was closed under the write.
		if err == nil {
			err = errors.New("the write finished as it was cut off")
		}
		err = fmt.Errorf("write interrupted (%v): %w", ctx.Err(), err)
	} else if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("writing %d bytes (%d sent): %w", len(data), n, err)
	if n > 0 {
		// Part of the ticket may be on the paper: the retry is marked REPRINT.
		err = queue.Partial(err)
	}
	return err
}

// onceCloser closes a connection at most once from the ctx watcher; Print
// closes it again afterwards, which drivers tolerate (io.Closer says the
// behaviour is driver-specific, so the second Close error is ignored there).
type onceCloser struct {
	core.Conn
	once sync.Once
}

func (c *onceCloser) closeOnce() { c.once.Do(func() { closeQuietly(c.Conn) }) }

func closeQuietly(c io.Closer) {
	defer func() { _ = recover() }()
	_ = c.Close()
}

// Status reads the printer's state through the connection the next Print
// will use. A transport that cannot tell gives the zero (unknown) Status.
func (d *device) Status(ctx context.Context) (st core.Status, err error) {
	d.io.Lock()
	defer d.io.Unlock()
	st, err = d.readStatus(ctx, true)
	return st, err
}

// readStatus opens (or reuses) a connection and asks it: the driver's own
// status (core.StatusReader), then, for a printer whose quirks plugin has a
// status request, the printer itself (vendorStatus). With keep, the
// connection is kept for the next Print. d.io is held.
func (d *device) readStatus(ctx context.Context, keep bool) (st core.Status, err error) {
	var conn core.Conn
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("driver panicked reading status", "driver", d.cfg.Driver, "panic", r, "stack", string(debug.Stack()))
			if conn != nil {
				closeQuietly(conn)
			}
			st, err = core.Status{}, fmt.Errorf("driver %s panicked reading status: %v", d.cfg.Driver, r)
		}
		d.record(st, err)
	}()
	conn, err = d.take(ctx)
	if err != nil {
		return core.Status{}, err
	}
	if sr, ok := conn.(core.StatusReader); ok {
		st, err = sr.Status(ctx)
		if err != nil {
			closeQuietly(conn)
			conn = nil
			return st, err
		}
	}
	reuse := true
	if req := d.statusRequest(ctx); req != nil {
		var vst core.Status
		vst, reuse, err = d.vendorStatus(ctx, conn, req)
		if err != nil {
			closeQuietly(conn)
			conn = nil
			return core.Status{}, err
		}
		st = mergeStatus(st, vst)
	}
	if keep && reuse {
		d.keepIdle(conn)
	} else {
		closeQuietly(conn)
	}
	conn = nil
	return st, nil
}

// statusRequest returns the bytes the quirks plugin asks this printer's
// status with (plugins.Info.StatusRequest), or nil: no plugin, a plugin
// without a request, or an ESC/POS printer, which its driver asks with
// DLE EOT. d.io is held.
func (d *device) statusRequest(ctx context.Context) []byte {
	if d.quirks == nil || d.profile.CommandSet == core.CommandSetESCPOS {
		return nil
	}
	var in plugins.Info
	switch {
	case d.info != nil:
		in = *d.info
	default:
		// A loaded plugin knows its Info without a call; another Quirks
		// (a Mock) is asked once.
		if l, ok := d.quirks.(interface{ LoadedInfo() plugins.Info }); ok {
			in = l.LoadedInfo()
			if in.Name != "" {
				break
			}
		}
		var err error
		if in, err = d.quirks.Info(ctx); err != nil {
			d.log.Debug("cannot ask the quirks plugin for its info", "err", err)
			return nil
		}
		d.info = &in
	}
	req := in.StatusRequest
	if len(req) > plugins.MaxStatusRequest {
		if !d.badReq {
			d.badReq = true
			d.log.Warn("ignoring the quirks plugin's status request: too long", "plugin", in.Name,
				"bytes", len(req), "max", plugins.MaxStatusRequest)
		}
		return nil
	}
	if len(req) == 0 {
		return nil
	}
	return req
}

// vendorStatus asks the printer for its status in its own language: it
// writes req on conn, reads the answer for up to vendorReplyTimeout (within
// ctx) and decodes it with the quirks plugin's ParseStatus. No answer, an
// answer the plugin does not decode, or a plugin that cannot be reached is
// an unknown Status saying why, never "online". reuse is false when the
// request could not be written whole (the connection is then not used for
// the job); err is set when writing it failed for another reason than the
// deadline (the printer dropped the connection). d.io is held.
func (d *device) vendorStatus(ctx context.Context, conn core.Conn, req []byte) (st core.Status, reuse bool, err error) {
	r, ok := conn.(core.Reader)
	if !ok {
		return core.Status{Detail: "not asked: the connection cannot read answers (write-only transport)"}, true, nil
	}
	if !d.quiet.IsZero() && time.Since(d.quiet) < vendorQuietRetry {
		return core.Status{Detail: fmt.Sprintf("not asked: the printer left the status request unanswered %s ago",
			time.Since(d.quiet).Round(time.Second))}, true, nil
	}
	dl, ok := conn.(core.Deadliner)
	if !ok {
		return core.Status{Detail: "not asked: the driver cannot bound a read with a deadline"}, true, nil
	}
	start := time.Now()
	deadline := start.Add(vendorReplyTimeout)
	if t, ok := ctx.Deadline(); ok && t.Before(deadline) {
		deadline = t
	}
	// Drop what the printer sent before the request (an unasked automatic
	// status, a late answer): what is decoded must answer this request.
	if err := dl.SetDeadline(start.Add(time.Millisecond)); err != nil {
		return core.Status{Detail: fmt.Sprintf("not asked: setting a deadline: %v", err)}, true, nil
	}
	// A cancelled ctx cuts the wait short (for drivers that look at a new
	// deadline during a read); the connection is then not kept.
	stop := context.AfterFunc(ctx, func() { _ = dl.SetDeadline(time.Now()) })
	defer func() {
		if !stop() {
			reuse = false
		}
		// The job that follows on this connection sets its own deadline,
		// or none.
		_ = dl.SetDeadline(time.Time{})
	}()
	var (
		reply = make([]byte, 0, 64)
		buf   = make([]byte, 256)
		perr  error
		rerr  error
	)
	for range 16 {
		if n, err := r.Read(buf); n <= 0 || err != nil {
			break
		}
	}
	if err := dl.SetDeadline(deadline); err != nil {
		return core.Status{Detail: fmt.Sprintf("not asked: setting a deadline: %v", err)}, true, nil
	}
	if n, err := conn.Write(req); err != nil || n < len(req) {
		if err == nil {
			err = io.ErrShortWrite
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil {
			return core.Status{Detail: fmt.Sprintf("the printer took no status request (% x) in time: %v", req, err)}, false, nil
		}
		return core.Status{}, false, fmt.Errorf("sending the status request (% x): %w", req, err)
	}
	for reads := 0; rerr == nil && len(reply) < maxVendorReply && ctx.Err() == nil && reads < 256; reads++ {
		var n int
		n, rerr = r.Read(buf[:min(len(buf), maxVendorReply-len(reply))])
		if n <= 0 {
			continue
		}
		reply = append(reply, buf[:n]...)
		// Decode what came so far; an answer still arriving does not
		// decode yet, so read on.
		pctx, cancel := context.WithTimeout(ctx, vendorReplyTimeout)
		st, perr = d.quirks.ParseStatus(pctx, reply, d.profile)
		cancel()
		switch {
		case perr == nil:
			d.quiet = time.Time{}
			return st, true, nil
		case errors.Is(perr, plugins.ErrUnsupported):
			return core.Status{Detail: "the quirks plugin does not decode status replies"}, true, nil
		case errors.Is(perr, plugins.ErrUnavailable) || errors.Is(perr, plugins.ErrTimeout) || errors.Is(perr, context.DeadlineExceeded) || ctx.Err() != nil:
			return core.Status{Detail: fmt.Sprintf("the quirks plugin could not decode the answer: %v", perr)}, true, nil
		}
	}
	// A read that failed for another reason than the deadline (the
	// printer closed or dropped the connection) leaves nothing to print on.
	reuse = rerr == nil || errors.Is(rerr, os.ErrDeadlineExceeded)
	if len(reply) == 0 {
		why := "no answer"
		if !reuse {
			why = rerr.Error()
		} else if ctx.Err() == nil && !time.Now().Before(start.Add(vendorReplyTimeout)) {
			// Silent for the whole wait (not cut short by the caller).
			d.quiet = time.Now()
		}
		return core.Status{Detail: fmt.Sprintf("no answer to the status request (% x) within %s: %s",
			req, deadline.Sub(start).Round(time.Millisecond), why)}, reuse, nil
	}
	return core.Status{Detail: fmt.Sprintf("the answer to the status request (% x) did not decode: %v",
		reply[:min(len(reply), 32)], perr)}, reuse, nil
}

// mergeStatus combines what the driver read by itself (a port status, the
// flow control, or nothing) with what the printer answered in its own
// language: the answer wins where it is known, and paper out, off line and
// error from the driver's real reading are kept.
func mergeStatus(drv, vendor core.Status) core.Status {
	join := func(a, b string) string {
		switch {
		case a == "":
			return b
		case b == "":
			return a
		}
		return a + "; " + b
	}
	switch {
	case !vendor.Known:
		drv.Detail = join(drv.Detail, vendor.Detail)
		return drv
	case !drv.Known:
		return vendor
	}
	s := vendor
	s.PaperOut = s.PaperOut || drv.PaperOut
	s.Online = s.Online && drv.Online
	s.Error = s.Error || drv.Error
	s.CoverOpen = s.CoverOpen || drv.CoverOpen
	if drv.Detail != "" {
		s.Detail = join(s.Detail, "driver: "+drv.Detail)
	}
	return s
}

// probe reads the status of an idle printer for /status, /health and the
// printer_up metric. It does nothing while a job holds the printer, or when
// the last reading is younger than fresh.
func (d *device) probe(ctx context.Context, fresh time.Duration) {
	if _, _, at := d.last(); time.Since(at) < fresh {
		return
	}
	if !d.io.TryLock() {
		return
	}
	defer d.io.Unlock()
	d.dropIdle()
	_, _ = d.readStatus(ctx, false)
}

// take returns the idle connection when it is fresh, else a new one. d.io
// is held.
func (d *device) take(ctx context.Context) (core.Conn, error) {
	if d.idle != nil {
		c, at := d.idle, d.idleAt
		d.idle = nil
		if d.idleTimer != nil {
			d.idleTimer.Stop()
		}
		if time.Since(at) < idleKeep {
			return c, nil
		}
		closeQuietly(c)
	}
	return d.drv.Open(ctx, d.cfg.DriverConfig)
}

// keepIdle parks conn for the next Print; a timer closes it if none comes.
// d.io is held.
func (d *device) keepIdle(conn core.Conn) {
	d.idle, d.idleAt = conn, time.Now()
	if d.idleTimer == nil {
		d.idleTimer = time.AfterFunc(idleKeep, func() {
			if d.io.TryLock() {
				if time.Since(d.idleAt) >= idleKeep {
					d.dropIdle()
				}
				d.io.Unlock()
			}
		})
		return
	}
	d.idleTimer.Reset(idleKeep)
}

// dropIdle closes the parked connection. d.io is held.
func (d *device) dropIdle() {
	if d.idle != nil {
		closeQuietly(d.idle)
		d.idle = nil
	}
}

// close closes the parked connection, at shutdown.
func (d *device) close() {
	d.io.Lock()
	defer d.io.Unlock()
	if d.idleTimer != nil {
		d.idleTimer.Stop()
	}
	d.dropIdle()
}

func (d *device) record(st core.Status, err error) {
	d.smu.Lock()
	d.status, d.err, d.at = st, err, time.Now()
	d.smu.Unlock()
}

func (d *device) last() (core.Status, error, time.Time) {
	d.smu.Lock()
	defer d.smu.Unlock()
	return d.status, d.err, d.at
}

// encode turns a job into the bytes for this printer: a document or text
// through the quirks plugin (or the built-in encoder), raw bytes through
// the plugin's Transform; a REPRINT banner first when job.Reprint is set.
// Errors with the job itself are permanent; a plugin that crashed or timed
// out is worth a retry.
func (d *device) encode(ctx context.Context, job *queue.Job) ([]byte, error) {
	data, err := d.encodePayload(ctx, job.Content, job.Raw, job.Document, job.Reprint)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, plugins.ErrUnavailable) || errors.Is(err, plugins.ErrTimeout) {
			return nil, fmt.Errorf("encoding: %w", err)
		}
		return nil, queue.Permanent(fmt.Errorf("encoding for profile %s: %w", d.profile.Name, err))
	}
	return data, nil
}

func (d *device) encodePayload(ctx context.Context, content string, raw []byte, doc core.Document, reprint bool) ([]byte, error) {
	if raw != nil {
		data, err := plugins.Transform(ctx, d.quirks, raw, d.profile)
		if err != nil || !reprint {
			return data, err
		}
		if d.profile.CommandSet == core.CommandSetESCPOS {
			return escpos.MarkReprint(data, d.profile)
		}
		banner, err := plugins.Encode(ctx, d.quirks, core.Document{escpos.ReprintBlock()}, d.profile, escpos.Encode)
		if err != nil {
			return nil, err
		}
		return append(banner, data...), nil
	}
	if doc == nil {
		doc = TextDocument(content)
	}
	if reprint {
		doc = append(core.Document{escpos.ReprintBlock()}, doc...)
	}
	return plugins.Encode(ctx, d.quirks, doc, d.profile, escpos.Encode)
}

// TextDocument is how a `content` job prints: the text (see
// escpos.TextDocument) followed by a partial cut, as the old server cut
// each ticket.
func TextDocument(content string) core.Document {
	doc := escpos.TextDocument(content)
	return append(doc, core.Block{Kind: core.KindCut, Cut: "partial"})
}

// check encodes a request's payload for this printer without printing it,
// so a document the profile cannot print is refused at submission (400)
// rather than failing later. Command sets the built-in encoder does not
// speak are left to the plugin at print time.
func (d *device) check(doc core.Document) error {
	if doc == nil || d.profile.CommandSet != core.CommandSetESCPOS {
		return nil
	}
	_, err := escpos.Encode(doc, d.profile)
	return err
}
