//go:build linux || darwin || freebsd

package serial

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
	"github.com/creack/pty"
	bugst "go.bug.st/serial"
)

// printer plays the printer on the master side of a pty whose slave the
// driver opens as its serial port.
type printer struct {
	master *os.File
	path   string

	mu     sync.Mutex
	got    bytes.Buffer
	answer bool            // answer DLE EOT
	state  core.Status     // with this state
	onByte func(total int) // called after each chunk read, without mu
	done   chan struct{}
}

func newPrinter(t *testing.T) *printer {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return &printer{master: master, path: slave.Name(), done: make(chan struct{})}
}

// serve reads everything the driver sends until the master is closed.
func (p *printer) serve() {
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		var last [2]byte
		for {
			n, err := p.master.Read(buf)
			p.mu.Lock()
			for _, b := range buf[:n] {
				p.got.WriteByte(b)
				if p.answer && last[0] == escpos.DLE && last[1] == escpos.EOT && b >= 1 && b <= 4 {
					p.master.Write([]byte{escpos.StatusReply(b, p.state)})
				}
				last[0], last[1] = last[1], b
			}
			total := p.got.Len()
			p.mu.Unlock()
			if p.onByte != nil && n > 0 {
				p.onByte(total)
			}
			if err != nil {
				return
			}
		}
	}()
}

func (p *printer) received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got.Len()
}

func (p *printer) waitFor(t *testing.T, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.received() < n && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.got.Bytes())
}

func (p *printer) send(b ...byte) {
	p.master.Write(b)
}

func openConn(t *testing.T, d Driver, cfg *Config) *conn {
	t.Helper()
	c, err := d.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

func job(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestXonXoff1MiB: the printer sends XOFF and XON at random points while
// 1 MiB is written, plus stray non-flow bytes; every byte arrives once and
// in order, writing really stops during an XOFF, and the stray bytes are
// left for Read.
func TestXonXoff1MiB(t *testing.T) {
	p := newPrinter(t)
	c := openConn(t, Driver{}, &Config{Port: p.path, Baud: 115200, FlowControl: FlowXonXoff})
	r := rand.New(rand.NewPCG(7, 7))
	next := 1 + r.IntN(32<<10)
	type pause struct{ settled, resumed int }
	var pauses []pause
	var mu sync.Mutex
	count := 0
	p.onByte = func(total int) {
		if total < next {
			return
		}
		count++
		p.send(escpos.XOFF)
		if r.IntN(4) == 0 {
			p.send(escpos.XOFF) // repeated XOFF
		}
		if r.IntN(8) == 0 {
			p.send(0x14) // a byte that is not flow control
		}
		if count%6 == 2 {
			// Now and then a long pause: once the driver has had time to see the XOFF,
			// nothing more may arrive until XON.
			time.Sleep(30 * time.Millisecond)
			settled := p.received()
			time.Sleep(60 * time.Millisecond)
			mu.Lock()
			pauses = append(pauses, pause{settled, p.received()})
			mu.Unlock()
		} else {
			time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
		}
		p.send(escpos.XON)
		if r.IntN(4) == 0 {
			p.send(escpos.XON) // XON without XOFF
		}
		next = total + 1 + r.IntN(64<<10)
	}
	p.serve()
	data := job(1<<20, 1)
	n, err := c.Write(data)
	if err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := p.waitFor(t, len(data))
	if !bytes.Equal(got, data) {
		t.Fatalf("printer got %d bytes, want %d; first difference at %d", len(got), len(data), firstDiff(got, data))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pauses) == 0 {
		t.Fatal("no long pause happened; the test proves nothing")
	}
	for i, ps := range pauses {
		if ps.resumed != ps.settled {
			t.Errorf("pause %d: %d bytes arrived during XOFF", i, ps.resumed-ps.settled)
		}
	}
	// The stray bytes went to Read, XON/XOFF did not.
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 64)
	m, _ := c.Read(buf)
	for _, b := range buf[:m] {
		if b != 0x14 {
			t.Errorf("Read returned %#02x", b)
		}
	}
}

func TestXoffForeverIsOffline(t *testing.T) {
	for _, answer := range []bool{false, true} {
		t.Run(map[bool]string{false: "silent", true: "answers DLE EOT"}[answer], func(t *testing.T) {
			p := newPrinter(t)
			p.answer = answer
			p.state = core.Status{Known: true, PaperOut: true}
			sent := false
			p.onByte = func(total int) {
				if total >= 10<<10 && !sent {
					sent = true
					p.send(escpos.XOFF)
				}
			}
			p.serve()
			c := openConn(t, Driver{}, &Config{Port: p.path, Baud: 115200, FlowControl: FlowXonXoff,
				ReadyTimeout: "300ms", StatusTimeout: "100ms"})
			start := time.Now()
			data := job(1<<20, 2)
			n, err := c.Write(data)
			if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "XOFF") {
				t.Fatalf("Write = %d, %v; want offline after XOFF", n, err)
			}
			if el := time.Since(start); el < 300*time.Millisecond || el > 5*time.Second {
				t.Errorf("Write failed after %v, want about ready_timeout", el)
			}
			// A pty takes data far faster than its baud rate, so the driver
			// writes large chunks and the printer keeps reading while the
			// XOFF travels: how far the driver gets depends on how fast it
			// is scheduled (a UART's chunks are line-sized, see
			// TestChunksFollowTheLine). It must stop well short of the end.
			if n < 10<<10 || n > len(data)/2 {
				t.Errorf("Write reported %d bytes of %d for an XOFF at 10 KiB", n, len(data))
			}
			if got := p.waitFor(t, n); !bytes.Equal(got, data[:n]) {
				t.Errorf("printer got %d bytes, Write reported %d", len(got), n)
			}
			st, err := c.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := core.StateOffline
			if answer {
				want = core.StatePaperOut // the reply says why
			}
			if !st.Known || st.Online || st.State() != want || !strings.Contains(st.Detail, "XOFF") {
				t.Fatalf("Status = %+v (%s), want %s", st, st.State(), want)
			}
		})
	}
}

// lines wraps a real pty port and fakes its modem status lines.
type lines struct {
	port
	mu         sync.Mutex
	cts, dsr   bool
	err        error
	lowAt      time.Time
	violations int // writes started long after the ready line fell
	flow       string
}

func (l *lines) GetModemStatusBits() (*bugst.ModemStatusBits, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	return &bugst.ModemStatusBits{CTS: l.cts, DSR: l.dsr}, nil
}

func (l *lines) set(ready bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.flow == FlowRTSCTS {
		l.cts = ready
	} else {
		l.dsr = ready
	}
	if !ready {
		l.lowAt = time.Now()
	}
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	ready := l.cts
	if l.flow == FlowDSRDTR {
		ready = l.dsr
	}
	if !ready && time.Since(l.lowAt) > 20*time.Millisecond {
		l.violations++
	}
	l.mu.Unlock()
	return l.port.Write(b)
}

func linesDriver(l *lines) Driver {
	return Driver{open: func(name string, mode *bugst.Mode) (port, error) {
		p, err := bugst.Open(name, mode)
		if err != nil {
			return nil, err
		}
		l.port = p
		return l, nil
	}}
}

func TestReadyLines(t *testing.T) {
	for _, flow := range []string{FlowRTSCTS, FlowDSRDTR} {
		t.Run(flow, func(t *testing.T) {
			p := newPrinter(t)
			p.serve()
			l := &lines{flow: flow}
			c := openConn(t, linesDriver(l), &Config{Port: p.path, Baud: 115200, FlowControl: flow, ReadyTimeout: "2s"})

			// The line toggles at random while 256 KiB go out.
			stop := make(chan struct{})
			toggled := make(chan struct{})
			go func() {
				defer close(toggled)
				r := rand.New(rand.NewPCG(3, 3))
				for {
					l.set(false)
					select {
					case <-stop:
						l.set(true)
						return
					case <-time.After(time.Duration(5+r.IntN(40)) * time.Millisecond):
					}
					l.set(true)
					time.Sleep(time.Duration(1+r.IntN(10)) * time.Millisecond)
				}
			}()
			data := job(256<<10, 3)
			n, err := c.Write(data)
			close(stop)
			<-toggled
			if err != nil || n != len(data) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if got := p.waitFor(t, len(data)); !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes, differs at %d", len(got), firstDiff(got, data))
			}
			l.mu.Lock()
			v := l.violations
			l.mu.Unlock()
			if v > 0 {
				t.Errorf("%d writes started while the ready line had been low for over 20ms", v)
			}
		})
	}
}

func TestReadyLineLowIsOffline(t *testing.T) {
	p := newPrinter(t)
	p.serve()
	l := &lines{flow: FlowDSRDTR}
	c := openConn(t, linesDriver(l), &Config{Port: p.path, FlowControl: FlowDSRDTR, ReadyTimeout: "200ms", StatusTimeout: "50ms"})
	l.set(false)
	_, err := c.Write([]byte("hello"))
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "DSR is low") {
		t.Fatalf("Write: %v", err)
	}
	if p.received() != 0 {
		t.Errorf("%d bytes sent while DSR was low", p.received())
	}
	st, _ := c.Status(context.Background())
	if st.State() != core.StateOffline {
		t.Errorf("Status = %+v", st)
	}
	// The line comes back: writing and status recover.
	l.set(true)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatalf("Write after DSR came back: %v", err)
	}
	if st, _ := c.Status(context.Background()); st.State() != core.StateUnknown {
		t.Errorf("Status after recovery = %+v, want unknown (no DLE EOT reply)", st)
	}
}

func TestModemLinesUnreadable(t *testing.T) {
	p := newPrinter(t)
	p.serve()
	l := &lines{flow: FlowRTSCTS, err: errors.New("inappropriate ioctl for device")}
	c := openConn(t, linesDriver(l), &Config{Port: p.path, FlowControl: FlowRTSCTS})
	_, err := c.Write([]byte("x"))
	if err == nil || !strings.Contains(err.Error(), `use "xonxoff" or "none"`) {
		t.Fatalf("Write: %v", err)
	}
}

func TestCloseAndDeadlineUnblockWrite(t *testing.T) {
	for _, flow := range []string{FlowNone, FlowXonXoff} {
		t.Run(flow, func(t *testing.T) {
			p := newPrinter(t) // never reads: the pty fills up
			c := openConn(t, Driver{}, &Config{Port: p.path, FlowControl: flow})
			c.SetDeadline(time.Now().Add(150 * time.Millisecond))
			start := time.Now()
			_, err := c.Write(job(4<<20, 4))
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, core.ErrOffline) {
				t.Fatalf("Write past deadline: %v", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("deadline honoured after %v", el)
			}
			c.SetDeadline(time.Time{})
			data := job(4<<20, 4)
			done := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			start = time.Now()
			go c.Close()
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrClosed) {
					t.Fatalf("Write after Close: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Write still blocked 2s after Close")
			}
		})
	}
}

func TestStatusDLEEOT(t *testing.T) {
	p := newPrinter(t)
	p.answer = true
	p.state = core.Status{Known: true, Online: true, PaperLow: true}
	p.serve()
	c := openConn(t, Driver{}, &Config{Port: p.path})
	st, err := c.Status(context.Background())
	if err != nil || !st.Known || !st.Online || !st.PaperLow || st.State() != core.StateOnline {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	p.mu.Lock()
	p.answer = false
	p.mu.Unlock()
	c2 := openConn(t, Driver{}, &Config{Port: newPrinterServing(t).path, StatusTimeout: "50ms"})
	if st, _ := c2.Status(context.Background()); st.Known {
		t.Fatalf("silent printer: %+v, want unknown", st)
	}
}

func newPrinterServing(t *testing.T) *printer {
	p := newPrinter(t)
	p.serve()
	return p
}

func TestUnplugMidJob(t *testing.T) {
	p := newPrinter(t)
	p.onByte = func(total int) {
		if total >= 64<<10 {
			p.master.Close()
		}
	}
	p.serve()
	c := openConn(t, Driver{}, &Config{Port: p.path, ReadyTimeout: "2s"})
	_, err := c.Write(job(1<<20, 5))
	if !errors.Is(err, core.ErrOffline) {
		t.Fatalf("Write during unplug: %v", err)
	}
	if st, _ := c.Status(context.Background()); st.State() != core.StateOffline {
		t.Errorf("Status after unplug = %+v", st)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Driver{}.Open(context.Background(), &Config{Port: filepath.Join(t.TempDir(), "ttyUSB9")})
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "unplugged") {
		t.Errorf("missing port: %v", err)
	}
	_, err = Driver{open: func(string, *bugst.Mode) (port, error) {
		return nil, &bugst.PortError{}
	}}.Open(context.Background(), &Config{Port: "/dev/ttyS0"})
	if err == nil {
		t.Error("open error lost")
	}
	if _, err := (Driver{}).Open(context.Background(), &Config{}); err == nil || !strings.Contains(err.Error(), "port is empty") {
		t.Errorf("empty port: %v", err)
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "ttyUSB0"), nil, 0o644))
	byID := filepath.Join(dir, "by-id")
	must(t, os.MkdirAll(byID, 0o755))
	must(t, os.Symlink(filepath.Join(dir, "ttyUSB0"), filepath.Join(byID, "usb-EPSON_TM-T20III_X5-if00")))
	d := Driver{
		byIDDir: byID,
		list: func() ([]portInfo, error) {
			return []portInfo{
				{Name: filepath.Join(dir, "ttyUSB0"), IsUSB: true, VID: "04B8", PID: "0E28", Serial: "X5", Manufacturer: "EPSON", Product: "TM-T20III"},
				{Name: "/dev/ttyS0"},
				{},
			}, nil
		},
	}
	devs, err := d.Discover(context.Background())
	if err != nil || len(devs) != 2 {
		t.Fatalf("Discover = %+v, %v", devs, err)
	}
	u := devs[0]
	if u.VendorID != 0x04b8 || u.ProductID != 0x0e28 || u.Serial != "X5" || u.Model != "TM-T20III" || u.Profile != "epson-tm-t20iii" {
		t.Errorf("USB port: %+v", u)
	}
	for _, want := range []string{`printer "tm-t20iii"`, `profile = "epson-tm-t20iii"`, `port         = "` + byID + `/usb-EPSON_TM-T20III_X5-if00"`, "baud         = 9600", `flow_control = "none"`} {
		if !strings.Contains(u.Config, want) {
			t.Errorf("config lacks %s:\n%s", want, u.Config)
		}
	}
	if s := devs[1]; s.Address != "/dev/ttyS0" || s.Profile != "" || !strings.Contains(s.Config, `printer "ttys0"`) || strings.Contains(s.Config, "profile") {
		t.Errorf("plain port: %+v\n%s", s, s.Config)
	}
	if _, err := (Driver{list: func() ([]portInfo, error) { return nil, errors.New("boom") }}).Discover(context.Background()); err == nil {
		t.Error("list error lost")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Port: "/dev/ttyUSB0"}, ""},
		{Config{Port: "COM3", Baud: 38400, DataBits: 7, Parity: "Even", StopBits: 2, FlowControl: "dsrdtr", ReadyTimeout: "1m"}, ""},
		{Config{}, "port is empty"},
		{Config{Port: "p", Baud: 10}, "baud"},
		{Config{Port: "p", DataBits: 9}, "data_bits"},
		{Config{Port: "p", Parity: "weird"}, "parity"},
		{Config{Port: "p", StopBits: 3}, "stop_bits"},
		{Config{Port: "p", FlowControl: "hardware"}, "flow_control"},
		{Config{Port: "p", ReadyTimeout: "0s"}, "ready_timeout"},
		{Config{Port: "p", StatusTimeout: "x"}, "status_timeout"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
	for _, tt := range []struct{ port, want string }{{"COM3", "COM3"}, {"dev/tty", "/etc/c/dev/tty"}, {"/dev/ttyS0", "/dev/ttyS0"}} {
		c := Config{Port: tt.port}
		c.ResolvePaths("/etc/c")
		if c.Port != tt.want {
			t.Errorf("ResolvePaths(%q) = %q", tt.port, c.Port)
		}
	}
	for baud, want := range map[int][2]int{9600: {16, 960}, 115200: {115, 11520}, 1000000: {256, 32 << 10}, 300: {16, 256}} {
		s, _ := (&Config{Port: "p", Baud: baud}).settings()
		if got := [2]int{s.flowChunk(), s.lineChunk()}; got != want {
			t.Errorf("flowChunk, lineChunk at %d baud = %d, want %d", baud, got, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// paced wraps a pty port and takes bytes no faster than a real line would.
type paced struct {
	port
	rate     float64 // bytes per second; 0: unpaced
	mu       sync.Mutex
	maxWrite int
}

func (p *paced) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.maxWrite = max(p.maxWrite, len(b))
	p.mu.Unlock()
	if p.rate > 0 {
		time.Sleep(time.Duration(float64(len(b)) / p.rate * float64(time.Second)))
	}
	return p.port.Write(b)
}

// TestChunksFollowTheLine: a port that takes data at its line rate gets
// line-sized chunks throughout; one that takes it far faster (a pty, a
// virtual COM port) gets large ones once that is clear.
func TestChunksFollowTheLine(t *testing.T) {
	for _, tt := range []struct {
		name  string
		flow  string
		rate  float64
		small int // largest write on a paced port
	}{
		{"xonxoff UART-paced", FlowXonXoff, 100000, 256},
		{"xonxoff unpaced", FlowXonXoff, 0, 0},
		{"none UART-paced", FlowNone, 100000, 32 << 10},
		{"none unpaced", FlowNone, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newPrinterServing(t)
			pp := &paced{rate: tt.rate}
			d := Driver{open: func(name string, mode *bugst.Mode) (port, error) {
				bp, err := bugst.Open(name, mode)
				pp.port = bp
				return pp, err
			}}
			c := openConn(t, d, &Config{Port: p.path, Baud: 1000000, FlowControl: tt.flow})
			data := job(96<<10, 6)
			if _, err := c.Write(data); err != nil {
				t.Fatal(err)
			}
			if got := p.waitFor(t, len(data)); !bytes.Equal(got, data) {
				t.Fatal("data differs")
			}
			pp.mu.Lock()
			defer pp.mu.Unlock()
			if tt.small > 0 && pp.maxWrite > tt.small || tt.small == 0 && pp.maxWrite != fastChunk {
				t.Errorf("largest write %d bytes", pp.maxWrite)
			}
		})
	}
}
