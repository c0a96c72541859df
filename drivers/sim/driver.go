package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/comandera/comandera/core"
)

func init() {
	core.Register("sim", Driver{})
}

// Driver is the "sim" driver.
type Driver struct{}

// Config returns an empty *Config.
func (Driver) Config() any { return &Config{} }

// Open opens a connection (a job) to the simulated printer cfg describes.
// The printer behind a Config is created on first use and shared by every
// connection opened with the same Config.
func (Driver) Open(ctx context.Context, cfg any) (core.Conn, error) {
	c, ok := cfg.(*Config)
	if !ok || c == nil {
		return nil, fmt.Errorf("sim: config is %T, want *sim.Config", cfg)
	}
	p, err := c.Printer()
	if err != nil {
		return nil, err
	}
	return p.Open(ctx)
}

// Config is the `sim { … }` block of a printer.
type Config struct {
	// Output is the directory for each ticket's PNG, transcript and
	// sidecar; empty keeps tickets in memory (Printer.Tickets).
	Output string `hcl:"output,optional"`
	// Render draws PNGs (default true); false keeps only transcripts and
	// sidecars, for load tests.
	Render *bool `hcl:"render,optional"`
	// PaperOutAfter is how many tickets print before the paper runs out
	// (0: never).
	PaperOutAfter int `hcl:"paper_out_after,optional"`
	// DisconnectAfter is how many bytes the printer accepts before the link
	// drops, once (0: never).
	DisconnectAfter int64 `hcl:"disconnect_after,optional"`
	// Speed is the print speed in mm/s (0: instant); writes block so the
	// printer's receive buffer never holds more than it can.
	Speed float64 `hcl:"speed,optional"`
	// XOffAt is the number of unprinted bytes at which the printer sends
	// XOFF, and XON once it has printed them (0: never). It needs Speed.
	XOffAt int `hcl:"xoff_at,optional"`

	// Log receives the printer's events (tickets written, warnings); nil
	// discards them.
	Log *slog.Logger

	profile *core.Profile
}

// printers holds the Printer of each Config the driver opened, so state
// lasts across connections without making Config uncopyable.
var (
	printersMu sync.Mutex
	printers   = map[*Config]*Printer{}
)

// SetProfile implements core.ProfileSetter.
func (c *Config) SetProfile(p *core.Profile) { c.profile = p }

// Profile returns the profile set with SetProfile, or the default profile.
func (c *Config) Profile() *core.Profile {
	if c.profile == nil {
		return defaultProfile()
	}
	return c.profile
}

// ResolvePaths makes a relative output directory relative to dir (the
// configuration file's directory).
func (c *Config) ResolvePaths(dir string) {
	if c.Output != "" && !filepath.IsAbs(c.Output) {
		c.Output = filepath.Join(dir, c.Output)
	}
}

// Validate checks the values the schema cannot.
func (c *Config) Validate() error {
	switch {
	case c.PaperOutAfter < 0:
		return fmt.Errorf("paper_out_after %d: want 0 (never) or more", c.PaperOutAfter)
	case c.DisconnectAfter < 0:
		return fmt.Errorf("disconnect_after %d: want 0 (never) or more", c.DisconnectAfter)
	case c.Speed < 0 || c.Speed > 10000:
		return fmt.Errorf("speed %g: want 0 (instant) to 10000 mm/s", c.Speed)
	case c.XOffAt < 0:
		return fmt.Errorf("xoff_at %d: want 0 (never) or more", c.XOffAt)
	case c.XOffAt > 0 && c.Speed == 0:
		return fmt.Errorf("xoff_at needs a speed: an instant printer never has bytes waiting")
	}
	p, err := checkProfile(c.Profile())
	if err != nil {
		return err
	}
	interpMu.RLock()
	_, ok := interpreters[p.CommandSet]
	interpMu.RUnlock()
	if !ok {
		return fmt.Errorf("profile %q speaks %s, which is %w (it interprets escpos, starline and stargraphic)", p.Name, p.CommandSet, ErrUnsupported)
	}
	return nil
}

func (c *Config) render() bool { return c.Render == nil || *c.Render }

// Printer returns the simulated printer of this config, creating it on
// first use.
func (c *Config) Printer() (*Printer, error) {
	printersMu.Lock()
	defer printersMu.Unlock()
	if p := printers[c]; p != nil {
		return p, nil
	}
	p, err := NewPrinter(c)
	if err != nil {
		return nil, err
	}
	printers[c] = p
	return p, nil
}

// maxMemoryTickets bounds the tickets a printer without an output
// directory keeps.
const maxMemoryTickets = 1000

// A Printer is one simulated printer. Its state lasts across connections:
// tickets printed (for paper_out_after), the one-time disconnect, the file
// sequence and, without an output directory, the tickets themselves.
type Printer struct {
	cfg     Config
	profile *core.Profile
	log     *slog.Logger

	mu             sync.Mutex
	tickets        int // tickets cut or ended
	seq            int // unlabelled file sequence
	paperOut       bool
	disconnectLeft int64 // bytes before the link drops; <0 once it has fired or never
	memory         []*Ticket

	fileMu sync.Mutex // choosing a file name and writing the files
}

// NewPrinter returns a simulated printer for cfg. The output directory is
// created if needed.
func NewPrinter(cfg *Config) (*Printer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	p := &Printer{profile: cfg.Profile(), log: cfg.Log}
	p.cfg = Config{Output: cfg.Output, Render: cfg.Render, PaperOutAfter: cfg.PaperOutAfter,
		DisconnectAfter: cfg.DisconnectAfter, Speed: cfg.Speed, XOffAt: cfg.XOffAt}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.disconnectLeft = -1
	if cfg.DisconnectAfter > 0 {
		p.disconnectLeft = cfg.DisconnectAfter
	}
	if cfg.Output != "" {
		if err := os.MkdirAll(cfg.Output, 0o755); err != nil {
			return nil, fmt.Errorf("sim: output directory: %w", err)
		}
	}
	return p, nil
}

// Profile returns the printer's profile.
func (p *Printer) Profile() *core.Profile { return p.profile }

// Output returns the output directory ("" when tickets stay in memory).
func (p *Printer) Output() string { return p.cfg.Output }

// faults reads the fault files of the output directory.
type faults struct{ offline, paperOut, coverOpen bool }

func (p *Printer) faults() faults {
	var f faults
	if p.cfg.Output == "" {
		return f
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(p.cfg.Output, name))
		return err == nil
	}
	f.offline = exists("OFFLINE")
	f.paperOut = exists("PAPER_OUT")
	f.coverOpen = exists("COVER_OPEN")
	return f
}

// errOffline is the error the OFFLINE fault file causes.
var errOffline = fmt.Errorf("sim: OFFLINE: %w", core.ErrOffline)

// Status returns the simulated state. An OFFLINE printer cannot be asked:
// the error wraps core.ErrOffline.
func (p *Printer) Status() (core.Status, error) {
	f := p.faults()
	if f.offline {
		return core.Status{}, errOffline
	}
	p.mu.Lock()
	paperOut := p.paperOut
	p.mu.Unlock()
	s := core.Status{Known: true, Online: true, PaperOut: f.paperOut || paperOut, CoverOpen: f.coverOpen}
	if s.PaperOut || s.CoverOpen {
		s.Online = false
	}
	return s, nil
}

// ready returns nil when a job can be sent, else an error wrapping
// core.ErrOffline or core.ErrNotReady.
func (p *Printer) ready() error {
	s, err := p.Status()
	if err != nil {
		return err
	}
	switch {
	case s.CoverOpen:
		return fmt.Errorf("sim: cover open: %w", core.ErrNotReady)
	case s.PaperOut:
		return fmt.Errorf("sim: paper out: %w", core.ErrNotReady)
	}
	return nil
}

// Refill clears the paper-out state that paper_out_after raised, and starts
// counting tickets again.
func (p *Printer) Refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paperOut = false
	p.tickets = 0
}

// Tickets returns the tickets kept in memory (printers without an output
// directory keep the last 1000).
func (p *Printer) Tickets() []*Ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Ticket(nil), p.memory...)
}

// Open starts a job: a connection to the printer, in its power-on state.
// An OFFLINE printer cannot be opened (the error wraps core.ErrOffline).
func (p *Printer) Open(ctx context.Context) (*Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f := p.faults(); f.offline {
		return nil, errOffline
	}
	return newConn(p)
}

// ticketDone records a finished ticket: counts it, writes its files or
// keeps it in memory.
func (p *Printer) ticketDone(t *Ticket, label string, index int, bytes int64) error {
	p.mu.Lock()
	p.tickets++
	if p.cfg.PaperOutAfter > 0 && p.tickets >= p.cfg.PaperOutAfter {
		p.paperOut = true
	}
	var name string
	if p.cfg.Output == "" {
		p.memory = append(p.memory, t)
		if len(p.memory) > maxMemoryTickets {
			p.memory = p.memory[len(p.memory)-maxMemoryTickets:]
		}
	} else if label == "" {
		p.seq++
		name = fmt.Sprintf("%s-%04d", now().Format("20060102T150405.000"), p.seq)
	}
	p.mu.Unlock()
	if p.cfg.Output == "" {
		return nil
	}
	if label != "" {
		name = label
		if index > 1 {
			name = fmt.Sprintf("%s-%d", label, index)
		}
	}
	name, err := p.writeTicket(name, t, label, index, bytes)
	if err != nil {
		p.log.Error("sim: writing ticket", "name", name, "err", err)
		return err
	}
	p.log.Info("sim: ticket printed", "file", filepath.Join(p.cfg.Output, name), "lines", len(t.Lines),
		"length_mm", int(t.LengthMM()), "cut", t.Cut, "warnings", len(t.Warnings))
	return nil
}

var errClosed = errors.New("sim: connection closed")
