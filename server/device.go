package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// readStatus opens (or reuses) a connection and asks it; with keep, the
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
	if keep {
		d.keepIdle(conn)
	} else {
		closeQuietly(conn)
	}
	conn = nil
	return st, nil
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
