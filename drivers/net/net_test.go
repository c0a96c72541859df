package net

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	stdnet "net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

// printer is a loopback TCP server playing a network printer; handle runs
// for each connection.
type printer struct {
	ln     stdnet.Listener
	handle func(c *stdnet.TCPConn)
	wg     sync.WaitGroup
}

func newPrinter(t *testing.T, handle func(c *stdnet.TCPConn)) *printer {
	t.Helper()
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &printer{ln: ln, handle: handle}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				handle(c.(*stdnet.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *printer) addr() string { return p.ln.Addr().String() }

// recorder keeps what each connection sent, in order.
type recorder struct {
	mu   sync.Mutex
	jobs [][]byte
	done chan struct{}
}

func newRecorder() *recorder { return &recorder{done: make(chan struct{}, 16)} }

// readAll reads until EOF, answering DLE EOT with st when answer is set,
// then closes: what a printer does with a raw job.
func (r *recorder) handler(answer bool, st core.Status) func(c *stdnet.TCPConn) {
	return func(c *stdnet.TCPConn) {
		var got bytes.Buffer
		buf := make([]byte, 64<<10)
		var last [2]byte
		for {
			n, err := c.Read(buf)
			for _, b := range buf[:n] {
				if answer && last[0] == escpos.DLE && last[1] == escpos.EOT && b >= 1 && b <= 4 {
					c.Write([]byte{escpos.StatusReply(b, st)})
				}
				last[0], last[1] = last[1], b
			}
			got.Write(buf[:n])
			if err != nil {
				break
			}
		}
		r.mu.Lock()
		r.jobs = append(r.jobs, got.Bytes())
		r.mu.Unlock()
		r.done <- struct{}{}
	}
}

func (r *recorder) wait(t *testing.T) []byte {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("printer saw no connection end")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jobs[len(r.jobs)-1]
}

func open(t *testing.T, cfg *Config) *conn {
	t.Helper()
	c, err := Driver{}.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

func job(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestJobArrivesWhole(t *testing.T) {
	rec := newRecorder()
	p := newPrinter(t, rec.handler(false, core.Status{}))
	c := open(t, &Config{Address: p.addr()})
	data := job(1<<20, 1)
	if n, err := c.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v with a printer that closes on EOF", el)
	}
	if got := rec.wait(t); !bytes.Equal(got, data) {
		t.Fatalf("printer got %d bytes, want %d", len(got), len(data))
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, stdnet.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestConnectionPerJob(t *testing.T) {
	rec := newRecorder()
	p := newPrinter(t, rec.handler(false, core.Status{}))
	cfg := &Config{Address: p.addr()}
	for i := range 3 {
		c := open(t, cfg)
		data := job(1000+i, uint64(i))
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := rec.wait(t); !bytes.Equal(got, data) {
			t.Fatalf("job %d: got %d bytes", i, len(got))
		}
	}
}

func TestRefusedIsOffline(t *testing.T) {
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Driver{}.Open(context.Background(), &Config{Address: addr})
	if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Open: %v", err)
	}
}

// stalled accepts and never reads: the socket buffers fill up.
func stalled(t *testing.T) *printer {
	hold := make(chan struct{})
	p := newPrinter(t, func(c *stdnet.TCPConn) {
		c.SetReadBuffer(4096)
		<-hold
	})
	t.Cleanup(func() { close(hold) }) // runs before newPrinter's, which waits for handlers
	return p
}

func TestStalledWriteTimesOut(t *testing.T) {
	p := stalled(t)
	c := open(t, &Config{Address: p.addr(), WriteTimeout: "200ms"})
	// Small enough for the kernel buffers: it succeeds.
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatalf("small write: %v", err)
	}
	start := time.Now()
	n, err := c.Write(job(32<<20, 2))
	if !errors.Is(err, core.ErrOffline) || !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "accepted no data for 200ms") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	// Until the socket buffers are full the kernel takes data in trickles,
	// each of which is progress: the timeout counts from the last one.
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("took %v", el)
	}

	c2 := open(t, &Config{Address: p.addr()})
	c2.SetDeadline(time.Now().Add(150 * time.Millisecond))
	if _, err := c2.Write(job(32<<20, 2)); !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "deadline passed") {
		t.Fatalf("Write past deadline: %v", err)
	}
}

func TestCloseUnblocksWrite(t *testing.T) {
	p := stalled(t)
	c := open(t, &Config{Address: p.addr()})
	data := job(32<<20, 3)
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, stdnet.ErrClosed) {
			t.Fatalf("Write: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Write blocked 2s after Close")
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v during a write", el)
	}
}

// TestResetMidJobThenRetry: the printer drops the connection after 100 KiB;
// the write fails as offline and the queue's retry on a new connection
// delivers the whole job.
func TestResetMidJobThenRetry(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	rec := newRecorder()
	whole := rec.handler(false, core.Status{})
	p := newPrinter(t, func(c *stdnet.TCPConn) {
		mu.Lock()
		conns++
		first := conns == 1
		mu.Unlock()
		if !first {
			whole(c)
			return
		}
		io.CopyN(io.Discard, c, 100<<10)
		c.SetLinger(0) // reset, like a printer that reboots
	})
	data := job(8<<20, 4)
	cfg := &Config{Address: p.addr()}
	c := open(t, cfg)
	_, err := c.Write(data)
	if !errors.Is(err, core.ErrOffline) {
		t.Fatalf("Write through a reset: %v", err)
	}
	c.Close()
	c2 := open(t, cfg)
	if _, err := c2.Write(data); err != nil {
		t.Fatalf("retry: %v", err)
	}
	c2.Close()
	if got := rec.wait(t); !bytes.Equal(got, data) {
		t.Fatalf("retry delivered %d bytes, want %d", len(got), len(data))
	}
}

func TestStatus(t *testing.T) {
	t.Run("answers", func(t *testing.T) {
		p := newPrinter(t, newRecorder().handler(true, core.Status{Known: true, PaperOut: true}))
		c := open(t, &Config{Address: p.addr()})
		st, err := c.Status(context.Background())
		if err != nil || st.State() != core.StatePaperOut {
			t.Fatalf("Status = %+v, %v", st, err)
		}
		// The job after a status query arrives clean.
		if _, err := c.Write([]byte("job")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("silent", func(t *testing.T) {
		p := newPrinter(t, newRecorder().handler(false, core.Status{}))
		c := open(t, &Config{Address: p.addr(), StatusTimeout: "100ms"})
		start := time.Now()
		st, err := c.Status(context.Background())
		if err != nil || st.Known || st.State() != core.StateUnknown {
			t.Fatalf("Status = %+v, %v; want unknown", st, err)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("took %v", el)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		p := newPrinter(t, func(c *stdnet.TCPConn) {
			buf := make([]byte, 64)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				for range n {
					c.Write([]byte{0xff, 0x00, escpos.XOFF}) // never a status reply
				}
			}
		})
		c := open(t, &Config{Address: p.addr(), StatusTimeout: "100ms"})
		if st, err := c.Status(context.Background()); err != nil || st.Known {
			t.Fatalf("Status = %+v, %v; want unknown", st, err)
		}
	})
	t.Run("stale bytes are dropped", func(t *testing.T) {
		p := newPrinter(t, func(c *stdnet.TCPConn) {
			c.Write([]byte{0x12 | 0x08}) // an unasked "offline" reply
			newRecorder().handler(true, core.Status{Known: true, Online: true})(c)
		})
		c := open(t, &Config{Address: p.addr()})
		time.Sleep(50 * time.Millisecond)
		if st, err := c.Status(context.Background()); err != nil || st.State() != core.StateOnline {
			t.Fatalf("Status = %+v, %v", st, err)
		}
	})
}

func TestAddress(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.50":       "192.168.1.50:9100",
		"192.168.1.50:9101":  "192.168.1.50:9101",
		" printer.local ":    "printer.local:9100",
		"fe80::1":            "[fe80::1]:9100",
		"[fe80::1]":          "[fe80::1]:9100",
		"[fe80::1]:9100":     "[fe80::1]:9100",
		"kitchen-printer:80": "kitchen-printer:80",
	} {
		if got, err := Address(in); err != nil || got != want {
			t.Errorf("Address(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ":9100", "host:0", "host:70000", "host:http", "a b", "http://x/y", "[fe80::1"} {
		if got, err := Address(in); err == nil {
			t.Errorf("Address(%q) = %q, want an error", in, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (&Config{Address: "10.0.0.2", DialTimeout: "1s", WriteTimeout: "1m", StatusTimeout: "200ms", KeepAlive: "30s", CloseTimeout: "1s"}).Validate(); err != nil {
		t.Error(err)
	}
	for field, cfg := range map[string]*Config{
		"address":        {},
		"dial_timeout":   {Address: "a", DialTimeout: "x"},
		"write_timeout":  {Address: "a", WriteTimeout: "0"},
		"status_timeout": {Address: "a", StatusTimeout: "-1s"},
		"keepalive":      {Address: "a", KeepAlive: "1"},
		"close_timeout":  {Address: "a", CloseTimeout: "y"},
	} {
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func TestScan(t *testing.T) {
	epson := newPrinter(t, func(c *stdnet.TCPConn) {
		buf := make([]byte, 6)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write([]byte("\x12_EPSON\x00_TM-T20III\x00"))
		io.Copy(io.Discard, c)
	})
	_, port, _ := stdnet.SplitHostPort(epson.addr())
	var portNum int
	for _, r := range port {
		portNum = portNum*10 + int(r-'0')
	}
	devs, err := Scan(context.Background(), netip.MustParsePrefix("127.0.0.0/30"), portNum, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 {
		t.Fatalf("found %+v", devs)
	}
	d := devs[0]
	if d.Address != epson.addr() || d.Manufacturer != "EPSON" || d.Model != "TM-T20III" || d.Profile != "epson-tm-t20iii" {
		t.Errorf("device %+v", d)
	}
	if !strings.Contains(d.Config, `address = "`+epson.addr()+`"`) || !strings.Contains(d.Config, `printer "tm-t20iii"`) {
		t.Errorf("config:\n%s", d.Config)
	}

	silent := newPrinter(t, func(c *stdnet.TCPConn) { io.Copy(io.Discard, c) })
	_, port, _ = stdnet.SplitHostPort(silent.addr())
	portNum = 0
	for _, r := range port {
		portNum = portNum*10 + int(r-'0')
	}
	devs, err = Scan(context.Background(), netip.MustParsePrefix("127.0.0.1/32"), portNum, 100*time.Millisecond)
	if err != nil || len(devs) != 1 || devs[0].Model != "" || devs[0].Profile != "" || !strings.Contains(devs[0].Config, "printer-127-0-0-1") {
		t.Errorf("silent printer: %+v, %v", devs, err)
	}

	if _, err := Scan(context.Background(), netip.MustParsePrefix("10.0.0.0/8"), 0, 0); err == nil {
		t.Error("a /8 scan was accepted")
	}
	if got := infoReplies([]byte("\x12junk_A\x00\x00_ B \x00_C")); len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Errorf("infoReplies = %q", got)
	}
}

func TestRegistered(t *testing.T) {
	d, err := core.Lookup("net")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Config().(*Config); !ok {
		t.Error("Config() is not *Config")
	}
	if _, ok := d.(core.Discoverer); ok {
		t.Error("net scans the network by default")
	}
}

// TestSlowPrinterIsNotATimeout: a printer that keeps taking data, slowly,
// is not offline even when the job takes many write timeouts.
func TestSlowPrinterIsNotATimeout(t *testing.T) {
	var got int64
	done := make(chan struct{})
	p := newPrinter(t, func(c *stdnet.TCPConn) {
		defer close(done)
		c.SetReadBuffer(64 << 10)
		for {
			n, err := io.CopyN(io.Discard, c, 256<<10)
			got += n
			if err != nil {
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	})
	c := open(t, &Config{Address: p.addr(), WriteTimeout: "150ms"})
	data := job(12<<20, 7)
	start := time.Now()
	if _, err := c.Write(data); err != nil {
		t.Fatalf("Write after %v: %v", time.Since(start), err)
	}
	c.Close()
	<-done
	if got != int64(len(data)) {
		t.Fatalf("printer got %d bytes", got)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("the job took only %v: the test did not span several timeouts", el)
	}
}

// TestCloseConfirms covers how Close confirms a job with printers that
// close, keep the connection open, reset it, or stop taking data.
func TestCloseConfirms(t *testing.T) {
	t.Run("printer keeps the connection open", func(t *testing.T) {
		hold := make(chan struct{})
		p := newPrinter(t, func(c *stdnet.TCPConn) {
			io.CopyN(io.Discard, c, 300<<10)
			<-hold
		})
		t.Cleanup(func() { close(hold) })
		c := open(t, &Config{Address: p.addr(), CloseTimeout: "200ms"})
		if _, err := c.Write(job(300<<10, 8)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if el := time.Since(start); el < 150*time.Millisecond || el > 2*time.Second {
			t.Errorf("Close took %v, want about close_timeout", el)
		}
	})
	t.Run("printer resets the connection", func(t *testing.T) {
		// As the sim and failing printers drop a job: the whole job fitted
		// in the socket buffers, so only Close can tell.
		p := newPrinter(t, func(c *stdnet.TCPConn) {
			io.CopyN(io.Discard, c, 10<<10)
			c.SetLinger(0)
		})
		c := open(t, &Config{Address: p.addr()})
		if _, err := c.Write(job(100<<10, 9)); err != nil {
			if !errors.Is(err, core.ErrOffline) {
				t.Fatalf("Write: %v", err)
			}
			return // the reset came in time to fail the Write: as good
		}
		if err := c.Close(); !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "confirm") {
			t.Fatalf("Close: %v", err)
		}
	})
	t.Run("printer stops taking data", func(t *testing.T) {
		p := stalled(t)
		c := open(t, &Config{Address: p.addr(), CloseTimeout: "200ms"})
		c.c.SetWriteBuffer(4 << 20) // the job fits in our buffer, not in the printer's window
		if _, err := c.Write(job(1<<20, 10)); err != nil {
			t.Fatal(err)
		}
		err := c.Close()
		if !errors.Is(err, core.ErrOffline) || !strings.Contains(err.Error(), "acknowledged") {
			t.Fatalf("Close: %v", err)
		}
	})
	t.Run("a failed write is not reported twice", func(t *testing.T) {
		p := stalled(t)
		c := open(t, &Config{Address: p.addr(), WriteTimeout: "100ms", CloseTimeout: "100ms"})
		if _, err := c.Write(job(32<<20, 11)); err == nil {
			t.Fatal("Write to a stalled printer succeeded")
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close after a failed Write: %v", err)
		}
	})
}
