package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/plugins"
	"github.com/comandera/comandera/plugins/star/starline"
	"github.com/comandera/comandera/queue"
)

// escACKSOH is Star's real-time status request.
var escACKSOH = []byte{0x1b, 0x06, 0x01}

// starMock is a quirks plugin that asks as the star plugin does and
// decodes with its ASB decoder.
func starMock() *plugins.Mock {
	return &plugins.Mock{
		StatusRequest: escACKSOH,
		EncodeFunc: func(_ context.Context, doc core.Document, p *core.Profile) ([]byte, error) {
			return starline.Encode(doc, p)
		},
		ParseStatusFunc: func(_ context.Context, reply []byte, _ *core.Profile) (core.Status, error) {
			return starline.ParseASB(reply)
		},
	}
}

func profile(t *testing.T, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// simDevice is a device on an in-process sim printer of profile prof,
// writing tickets to a temporary directory.
func simDevice(t *testing.T, prof *core.Profile, q plugins.Quirks) (*device, string) {
	t.Helper()
	render := false
	cfg := &sim.Config{Output: t.TempDir(), Render: &render}
	cfg.SetProfile(prof)
	d, err := newDevice(&config.Printer{Name: "p", Driver: "sim", DriverConfig: cfg, Profile: prof}, q, discardLogger(), newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d, cfg.Output
}

// TestVendorStatusStarSim: a Star Line Mode sim with a plugin that asks ESC
// ACK SOH reports its state through the ASB it answers (online, cover
// open, paper out), and the job after the status check prints on the same
// connection.
func TestVendorStatusStarSim(t *testing.T) {
	m := starMock()
	var mu sync.Mutex
	var replies [][]byte
	parse := m.ParseStatusFunc
	m.ParseStatusFunc = func(ctx context.Context, reply []byte, p *core.Profile) (core.Status, error) {
		mu.Lock()
		replies = append(replies, bytes.Clone(reply))
		mu.Unlock()
		return parse(ctx, reply, p)
	}
	d, dir := simDevice(t, profile(t, "star-tsp650"), m)
	ctx := context.Background()
	st, err := d.Status(ctx)
	if err != nil || st != (core.Status{Known: true, Online: true}) {
		t.Fatalf("Status = %+v, %v; want online from the ASB", st, err)
	}
	mu.Lock()
	if len(replies) != 1 || !bytes.Equal(replies[0], []byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("the plugin decoded %x, want the sim's one ASB", replies)
	}
	mu.Unlock()
	job := &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Content: "Hola", Copies: 1}
	if err := d.Print(ctx, job); err != nil {
		t.Fatal(err)
	}
	txt, err := os.ReadFile(filepath.Join(dir, job.ID+".txt"))
	if err != nil || !strings.Contains(string(txt), "Hola") {
		t.Errorf("ticket after the status check: %q, %v", txt, err)
	}
	var side struct{ Warnings []string }
	if b, err := os.ReadFile(filepath.Join(dir, job.ID+".json")); err != nil || json.Unmarshal(b, &side) != nil || len(side.Warnings) != 0 {
		t.Errorf("the ticket's sidecar: %s %v: want no warnings", b, err)
	}

	for _, tc := range []struct {
		file string
		want core.Status
	}{
		{"COVER_OPEN", core.Status{Known: true, CoverOpen: true}},
		{"PAPER_OUT", core.Status{Known: true, PaperOut: true, PaperLow: true}},
	} {
		path := filepath.Join(dir, tc.file)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := d.Status(ctx)
		os.Remove(path)
		if err != nil || st != tc.want {
			t.Errorf("%s: Status = %+v, %v; want %+v", tc.file, st, err, tc.want)
		}
	}
}

// TestVendorStatusNotForESCPOS: an ESC/POS printer is never sent the
// plugin's request; its driver's status stands and the plugin is not
// called.
func TestVendorStatusNotForESCPOS(t *testing.T) {
	m := starMock()
	d, _ := simDevice(t, profile(t, "generic-80mm"), m)
	st, err := d.Status(context.Background())
	if err != nil || st.State() != core.StateOnline {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if calls := m.Calls(); len(calls) != 0 {
		t.Errorf("plugin calls for an ESC/POS printer: %v", calls)
	}
}

// asbDriver is a bidirectional fake printer for the vendor status path:
// asbAnswer (nil: silence) gives what it answers to each write, and every
// connection's bytes are kept.
type asbDriver struct{ readable bool }

var (
	asbMu     sync.Mutex
	asbAnswer func(written []byte) []byte
	asbStale  []byte // what each connection has already sent when it opens
	asbConns  []*asbConn
)

func init() {
	core.Register("test-asb", asbDriver{readable: true})
	core.Register("test-asb-writeonly", asbDriver{})
}

func (asbDriver) Config() any { return &fakeConfig{} }

func (d asbDriver) Open(context.Context, any) (core.Conn, error) {
	c := &asbConn{kick: make(chan struct{})}
	asbMu.Lock()
	c.in = bytes.Clone(asbStale)
	asbConns = append(asbConns, c)
	asbMu.Unlock()
	if d.readable {
		return c, nil
	}
	return writeOnly{c}, nil
}

type writeOnly struct{ c *asbConn }

func (w writeOnly) Write(b []byte) (int, error) { return w.c.Write(b) }
func (w writeOnly) Close() error                { return w.c.Close() }

type asbConn struct {
	mu       sync.Mutex
	got      []byte
	in       []byte
	deadline time.Time
	closed   bool
	kick     chan struct{}
}

func (c *asbConn) wake() {
	close(c.kick)
	c.kick = make(chan struct{})
}

func (c *asbConn) Write(b []byte) (int, error) {
	asbMu.Lock()
	f := asbAnswer
	asbMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, b...)
	if f == nil {
		return len(b), nil
	}
	if answer := f(b); len(answer) > 0 {
		// The answer comes a little later, as from a real printer.
		time.AfterFunc(10*time.Millisecond, func() {
			c.mu.Lock()
			c.in = append(c.in, answer...)
			c.wake()
			c.mu.Unlock()
		})
	}
	return len(b), nil
}

func (c *asbConn) Read(b []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.in) > 0 {
			n := copy(b, c.in)
			c.in = c.in[n:]
			c.mu.Unlock()
			return n, nil
		}
		if c.closed {
			c.mu.Unlock()
			return 0, errors.New("closed")
		}
		dl, kick := c.deadline, c.kick
		c.mu.Unlock()
		if dl.IsZero() {
			<-kick
			continue
		}
		if time.Until(dl) <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		tm := time.NewTimer(time.Until(dl))
		select {
		case <-kick:
		case <-tm.C:
		}
		tm.Stop()
	}
}

func (c *asbConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.wake()
	c.mu.Unlock()
	return nil
}

func (c *asbConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.wake()
	c.mu.Unlock()
	return nil
}

func (c *asbConn) received() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.got)
}

// asbDevice is a Star TSP650 device on the fake printer.
func asbDevice(t *testing.T, driver string, q plugins.Quirks, answer func([]byte) []byte) *device {
	t.Helper()
	asbMu.Lock()
	asbAnswer, asbConns = answer, nil
	asbMu.Unlock()
	t.Cleanup(func() {
		asbMu.Lock()
		asbAnswer, asbConns, asbStale = nil, nil, nil
		asbMu.Unlock()
	})
	prof := profile(t, "star-tsp650")
	d, err := newDevice(&config.Printer{Name: "p", Driver: driver, DriverConfig: &fakeConfig{}, Profile: prof}, q, discardLogger(), newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d
}

func lastConn(t *testing.T) *asbConn {
	t.Helper()
	asbMu.Lock()
	defer asbMu.Unlock()
	if len(asbConns) == 0 {
		t.Fatal("no connection opened")
	}
	return asbConns[len(asbConns)-1]
}

// answerASB answers ESC ACK SOH with asb.
func answerASB(asb []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		if bytes.Equal(b, escACKSOH) {
			return asb
		}
		return nil
	}
}

// TestVendorStatusAnswers: the answer is decoded by the plugin (also when
// the printer sent an XON first); a silent printer, an answer the plugin
// does not decode, and a plugin that does not decode status are "unknown",
// never "online"; the connection carries the job afterwards, request first.
func TestVendorStatusAnswers(t *testing.T) {
	ctx := context.Background()
	t.Run("ASB", func(t *testing.T) {
		d := asbDevice(t, "test-asb", starMock(), answerASB([]byte{0x11, 0x23, 0x06, 0x28, 0, 0, 0, 0, 0, 0}))
		st, err := d.Status(ctx)
		if err != nil || st != (core.Status{Known: true, CoverOpen: true}) {
			t.Fatalf("Status = %+v, %v; want cover open", st, err)
		}
	})
	t.Run("an earlier ASB is not the answer", func(t *testing.T) {
		d := asbDevice(t, "test-asb", starMock(), answerASB([]byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}))
		asbMu.Lock()
		asbStale = []byte{0x23, 0x06, 0x28, 0, 0, 0, 0, 0, 0} // cover open, sent before the request
		asbMu.Unlock()
		st, err := d.Status(ctx)
		if err != nil || st != (core.Status{Known: true, Online: true}) {
			t.Fatalf("Status = %+v, %v; want online, the answer to the request", st, err)
		}
	})
	t.Run("silent", func(t *testing.T) {
		d := asbDevice(t, "test-asb", starMock(), nil)
		start := time.Now()
		st, err := d.Status(ctx)
		if err != nil || st.Known || st.State() != core.StateUnknown || !strings.Contains(st.Detail, "no answer") {
			t.Fatalf("Status = %+v, %v; want unknown, no answer", st, err)
		}
		if el := time.Since(start); el < vendorReplyTimeout/2 || el > 3*vendorReplyTimeout {
			t.Errorf("waited %s for the answer, want about %s", el, vendorReplyTimeout)
		}
		job := &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Content: "Hola", Copies: 1}
		if err := d.Print(ctx, job); err != nil {
			t.Fatal(err)
		}
		asbMu.Lock()
		conns := len(asbConns)
		asbMu.Unlock()
		got := lastConn(t).received()
		if conns != 1 || !bytes.HasPrefix(got, escACKSOH) || !bytes.Contains(got[3:], []byte("Hola")) || bytes.Contains(got, []byte{0x10, 0x04}) {
			t.Errorf("%d connections; the printer got % x: want ESC ACK SOH then the job, no DLE EOT", conns, got)
		}
		// A printer that did not answer is not asked again for a while:
		// the next check is immediate, still unknown.
		start = time.Now()
		st, err = d.Status(ctx)
		if err != nil || st.Known || !strings.Contains(st.Detail, "unanswered") {
			t.Errorf("Status after no answer = %+v, %v; want unknown, not asked", st, err)
		}
		if el := time.Since(start); el > vendorReplyTimeout/2 {
			t.Errorf("the second check took %s", el)
		}
		if got := lastConn(t).received(); bytes.Contains(got, escACKSOH) {
			t.Errorf("asked again: % x", got)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		d := asbDevice(t, "test-asb", starMock(), answerASB([]byte{0xff, 0x12, 0x13}))
		st, err := d.Status(ctx)
		if err != nil || st.Known || !strings.Contains(st.Detail, "did not decode") {
			t.Fatalf("Status = %+v, %v; want unknown, did not decode", st, err)
		}
	})
	t.Run("plugin does not decode", func(t *testing.T) {
		m := &plugins.Mock{StatusRequest: escACKSOH} // ParseStatus: ErrUnsupported
		d := asbDevice(t, "test-asb", m, answerASB([]byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}))
		if st, err := d.Status(ctx); err != nil || st.Known {
			t.Fatalf("Status = %+v, %v; want unknown", st, err)
		}
	})
	t.Run("plugin without a request", func(t *testing.T) {
		m := starMock()
		m.StatusRequest = nil
		d := asbDevice(t, "test-asb", m, answerASB([]byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}))
		if st, err := d.Status(ctx); err != nil || st.Known {
			t.Fatalf("Status = %+v, %v; want unknown", st, err)
		}
		if got := lastConn(t).received(); len(got) != 0 {
			t.Errorf("sent % x without a status request", got)
		}
	})
	t.Run("write-only", func(t *testing.T) {
		d := asbDevice(t, "test-asb-writeonly", starMock(), answerASB([]byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}))
		st, err := d.Status(ctx)
		if err != nil || st.Known || !strings.Contains(st.Detail, "cannot read") {
			t.Fatalf("Status = %+v, %v; want unknown, cannot read", st, err)
		}
		if got := lastConn(t).received(); len(got) != 0 {
			t.Errorf("sent % x on a write-only connection", got)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		d := asbDevice(t, "test-asb", starMock(), nil)
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if st, err := d.Status(cctx); err != nil || st.Known {
			t.Fatalf("Status = %+v, %v; want unknown", st, err)
		}
		if el := time.Since(start); el > vendorReplyTimeout/2 {
			t.Errorf("took %s with a 100ms context", el)
		}
	})
}

func TestMergeStatus(t *testing.T) {
	port := core.Status{Known: true, Online: true, Detail: "port"}
	for _, tc := range []struct {
		name        string
		drv, vendor core.Status
		want        core.Status
	}{
		{"vendor only", core.Status{Detail: "d"}, core.Status{Known: true, Online: true}, core.Status{Known: true, Online: true}},
		{"neither", core.Status{Detail: "d"}, core.Status{Detail: "v"}, core.Status{Detail: "d; v"}},
		{"driver only", port, core.Status{Detail: "v"}, core.Status{Known: true, Online: true, Detail: "port; v"}},
		{"both: the answer says more", port, core.Status{Known: true, CoverOpen: true}, core.Status{Known: true, CoverOpen: true, Detail: "driver: port"}},
		{"both: the port says paper out", core.Status{Known: true, PaperOut: true}, core.Status{Known: true, Online: true}, core.Status{Known: true, PaperOut: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergeStatus(tc.drv, tc.vendor); got != tc.want {
				t.Errorf("mergeStatus = %+v, want %+v", got, tc.want)
			}
		})
	}
}
