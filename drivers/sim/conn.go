package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim/paper"
	"github.com/comandera/comandera/escpos"
)

// now is the clock, replaceable in tests.
var now = time.Now

// recvBuffer is the printer's receive buffer in bytes, when a speed is set:
// a Write returns once no more than this is waiting to print.
const recvBuffer = 4096

// maxReplies bounds the reply bytes a Conn holds for a reader that never
// reads.
const maxReplies = 64 << 10

// A Conn is one job sent to a simulated printer. Bytes written are
// interpreted as they arrive; each ticket's files are written when it is cut
// and at Close. It implements core.Conn, core.StatusReader, core.Reader,
// core.Labeler and core.Deadliner.
type Conn struct {
	p *Printer

	mu       sync.Mutex // interpretation and the fields below
	roll     *paper.Roll
	in       interpreter
	h        *host
	label    string
	index    int   // tickets of the current label (or of the connection)
	written  int64 // bytes accepted
	ticketB  int64 // host bytes when the last ticket ended
	dead     error // set once the link dropped
	finished bool  // the roll was finished (Close or drop)
	stopped  bool  // paper ran out during this job
	blocked  bool  // the printer is not ready during this Write
	dropped  int   // commands not printed because the paper ran out
	fileErr  error

	// Speed model: bytes accepted and when the paper will have printed
	// them.
	sent      int64
	printed   int64
	marks     []mark
	busyUntil time.Time
	fed       int64 // dots fed by finished tickets
	xoff      bool

	rmu      sync.Mutex // the fields below
	replies  []byte
	deadline time.Time
	closed   bool
	kick     chan struct{} // closed and replaced whenever a waiter should look again
}

type mark struct {
	cum  int64
	done time.Time
}

func newConn(p *Printer) (*Conn, error) {
	c := &Conn{p: p, kick: make(chan struct{})}
	prof := p.profile
	c.roll = paper.New(paper.Config{Width: prof.DotsPerLine, DPI: prof.DPI, Render: p.cfg.render(), OnTicket: c.onTicket})
	c.h = &host{roll: c.roll, profile: prof, reply: c.reply, stopped: func() bool {
		if c.stopped || c.blocked {
			c.dropped++
			return true
		}
		return false
	}, status: func() core.Status {
		s, err := p.Status()
		if err != nil {
			return core.Status{Known: true}
		}
		return s
	}}
	in, err := newInterpreter(c.h)
	if err != nil {
		return nil, err
	}
	c.in = in
	return c, nil
}

// onTicket runs (under c.mu) when the roll ends a ticket.
func (c *Conn) onTicket(t *Ticket) {
	c.index++
	c.fed += int64(t.Length)
	err := c.p.ticketDone(t, c.label, c.index, c.h.bytes-c.ticketB)
	if err != nil && c.fileErr == nil {
		c.fileErr = err
	}
	c.ticketB = c.h.bytes
	c.p.mu.Lock()
	c.stopped = c.p.paperOut
	c.p.mu.Unlock()
}

// Label names the files of the tickets that follow after jobID (the queue
// calls it before writing a job). Characters other than letters, digits,
// '.', '-' and '_' become '_'.
func (c *Conn) Label(jobID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.label = sanitize(jobID)
	c.index = 0
}

func sanitize(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if sb.Len() >= 120 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	out := strings.TrimLeft(sb.String(), ".")
	if out == "" && s != "" {
		out = "job"
	}
	return out
}

// Write interprets b. It fails with an error wrapping core.ErrOffline when
// the printer is OFFLINE or the link dropped (disconnect_after), and with
// core.ErrNotReady when the paper is out or the cover open. With a speed
// set it blocks until the printer has room for more, honouring the
// deadline and Close.
func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if err := c.writable(); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	// A printer that is not ready (paper out, cover open) still answers
	// real-time status requests; anything it would print fails the Write.
	notReady := c.p.ready()
	if errors.Is(notReady, core.ErrOffline) {
		c.mu.Unlock()
		return 0, notReady
	}
	c.blocked = notReady != nil
	n := len(b)
	drop := false
	c.p.mu.Lock()
	if c.p.disconnectLeft >= 0 {
		if int64(n) >= c.p.disconnectLeft {
			n, drop = int(c.p.disconnectLeft), true
			c.p.disconnectLeft = -1
		} else {
			c.p.disconnectLeft -= int64(n)
		}
	}
	c.p.mu.Unlock()

	before := c.fed + int64(c.roll.Position())
	dropped := c.dropped
	c.in.Write(b[:n])
	c.blocked = false
	c.written += int64(n)
	if drop {
		c.dead = fmt.Errorf("sim: the link dropped after %d bytes (disconnect_after): %w", c.written, core.ErrOffline)
		c.roll.Warn("the link dropped after %d bytes (disconnect_after): the ticket is incomplete", c.written)
		c.finish()
		err := c.dead
		c.mu.Unlock()
		c.wake()
		return n, err
	}
	var err error
	if c.dropped > dropped {
		if err = notReady; err == nil {
			err = fmt.Errorf("sim: paper out after %d tickets (paper_out_after): %w", c.p.cfg.PaperOutAfter, core.ErrNotReady)
		}
	}
	if c.fileErr != nil && err == nil {
		err, c.fileErr = c.fileErr, nil
	}
	var until time.Time
	if c.p.cfg.Speed > 0 {
		until = c.schedule(n, c.fed+int64(c.roll.Position())-before)
	}
	c.mu.Unlock()
	if !until.IsZero() {
		if werr := c.waitUntil(until); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

// writable reports why the connection cannot take bytes (c.mu held).
func (c *Conn) writable() error {
	c.rmu.Lock()
	closed, dl := c.closed, c.deadline
	c.rmu.Unlock()
	switch {
	case closed:
		return errClosed
	case c.dead != nil:
		return c.dead
	case !dl.IsZero() && !now().Before(dl):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// schedule books n bytes that fed dots of paper (c.mu held) and returns
// until when the writer must wait for room in the receive buffer.
func (c *Conn) schedule(n int, dots int64) time.Time {
	t := now()
	start := c.busyUntil
	if start.Before(t) {
		start = t
	}
	secs := float64(dots) / float64(c.p.profile.DPI) * 25.4 / c.p.cfg.Speed
	c.busyUntil = start.Add(time.Duration(secs * float64(time.Second)))
	c.sent += int64(n)
	c.marks = append(c.marks, mark{c.sent, c.busyUntil})
	if x := c.p.cfg.XOffAt; x > 0 && !c.xoff && c.unprinted(t) >= int64(x) {
		c.xoff = true
		c.reply([]byte{escpos.XOFF})
		go c.xonWhenDrained()
	}
	limit := int64(recvBuffer)
	if x := c.p.cfg.XOffAt; x > 0 {
		limit += int64(x)
	}
	for _, m := range c.marks {
		if c.sent-m.cum <= limit {
			if m.done.After(t) {
				return m.done
			}
			break
		}
	}
	return time.Time{}
}

// unprinted returns the bytes accepted but not yet printed at t (c.mu held).
func (c *Conn) unprinted(t time.Time) int64 {
	i := 0
	for i < len(c.marks) && !c.marks[i].done.After(t) {
		c.printed = c.marks[i].cum
		i++
	}
	c.marks = c.marks[i:]
	return c.sent - c.printed
}

// xonWhenDrained sends XON once every accepted byte has printed.
func (c *Conn) xonWhenDrained() {
	for {
		c.mu.Lock()
		if c.unprinted(now()) == 0 {
			c.xoff = false
			c.reply([]byte{escpos.XON})
			c.mu.Unlock()
			return
		}
		until := c.busyUntil
		c.mu.Unlock()
		c.rmu.Lock()
		closed, kick := c.closed, c.kick
		c.rmu.Unlock()
		if closed {
			return
		}
		t := time.NewTimer(time.Until(until))
		select {
		case <-t.C:
		case <-kick:
		}
		t.Stop()
	}
}

// waitUntil blocks until t, the deadline or Close.
func (c *Conn) waitUntil(t time.Time) error {
	for {
		c.rmu.Lock()
		closed, dl, kick := c.closed, c.deadline, c.kick
		c.rmu.Unlock()
		if closed {
			return errClosed
		}
		n := now()
		if !dl.IsZero() && !n.Before(dl) {
			return os.ErrDeadlineExceeded
		}
		if !n.Before(t) {
			return nil
		}
		wake := t
		if !dl.IsZero() && dl.Before(wake) {
			wake = dl
		}
		tm := time.NewTimer(wake.Sub(n))
		select {
		case <-tm.C:
		case <-kick:
		}
		tm.Stop()
	}
}

// reply queues bytes for Read.
func (c *Conn) reply(b []byte) {
	c.rmu.Lock()
	if len(c.replies)+len(b) <= maxReplies {
		c.replies = append(c.replies, b...)
	}
	c.rmu.Unlock()
	c.wake()
}

// wake makes every waiter look again.
func (c *Conn) wake() {
	c.rmu.Lock()
	close(c.kick)
	c.kick = make(chan struct{})
	c.rmu.Unlock()
}

// Read returns bytes the printer sends back: DLE EOT replies, XON and XOFF.
// It blocks until there are some, the deadline passes (os.ErrDeadlineExceeded)
// or the Conn is closed (io.EOF).
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		c.rmu.Lock()
		if len(c.replies) > 0 {
			n := copy(b, c.replies)
			c.replies = c.replies[:copy(c.replies, c.replies[n:])]
			c.rmu.Unlock()
			return n, nil
		}
		closed, dl, kick := c.closed, c.deadline, c.kick
		c.rmu.Unlock()
		if closed {
			return 0, io.EOF
		}
		if dl.IsZero() {
			<-kick
			continue
		}
		d := dl.Sub(now())
		if d <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		tm := time.NewTimer(d)
		select {
		case <-kick:
			tm.Stop()
		case <-tm.C:
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// SetDeadline bounds Read and Write (the wait for buffer room). The zero
// time means no deadline.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rmu.Lock()
	c.deadline = t
	c.rmu.Unlock()
	c.wake()
	return nil
}

// Status returns the simulated printer's state (core.StatusReader).
func (c *Conn) Status(ctx context.Context) (core.Status, error) {
	if err := ctx.Err(); err != nil {
		return core.Status{}, err
	}
	return c.p.Status()
}

// Close ends the job: an incomplete command becomes a warning and the last
// ticket's files are written. It returns an error if they could not be.
func (c *Conn) Close() error {
	c.rmu.Lock()
	if c.closed {
		c.rmu.Unlock()
		return nil
	}
	c.closed = true
	c.rmu.Unlock()
	c.wake()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finish()
	err := c.fileErr
	c.fileErr = nil
	return err
}

// finish ends interpretation and the last ticket (c.mu held).
func (c *Conn) finish() {
	if c.finished {
		return
	}
	c.finished = true
	c.in.End()
	c.roll.Finish()
}

// Written returns the bytes the connection accepted.
func (c *Conn) Written() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written
}
