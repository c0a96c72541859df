//go:build linux

package e2e

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

const serialHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
printer "serial" {
  profile = "generic-80mm"
  serial {
    port          = "PORT"
    baud          = 115200
    flow_control  = "xonxoff"
    ready_timeout = "10s"
  }
}
printer "tapped" {
  profile = "generic-80mm"
  serial {
    port          = "TAP"
    baud          = 115200
    flow_control  = "xonxoff"
    ready_timeout = "10s"
  }
}
printer "ref" {
  profile = "generic-80mm"
  sim { output = "OUT/ref" }
}
`

// TestSerialSim runs `comandera serve` with printers on the serial driver
// (XON/XOFF flow control), each a `comandera sim -pty` process that prints
// at 400 mm/s and sends XOFF while 128 bytes are unprinted: the kitchen
// ticket with a picture prints whole, with the transcript the in-process sim
// driver gives.
// The second printer's line goes through a tap (a pty pair the test relays)
// that counts the XOFF and XON the sim sends during the job.
func TestSerialSim(t *testing.T) {
	dir := t.TempDir()
	direct := startSim(t, filepath.Join(dir, "serial"), "-pty", "-speed", "400", "-xoff-at", "128", "-no-render")
	behind := startSim(t, filepath.Join(dir, "tapped"), "-pty", "-speed", "400", "-xoff-at", "128", "-no-render")
	tap := newTap(t, behind.addr)
	e := newEnv(t, strings.NewReplacer("PORT", direct.addr, "TAP", tap.path).Replace(serialHCL))
	p := e.start()

	// The kitchen ticket with a 576×640 picture before the cut: 46 KB of
	// raster, more than the pty and the sim's receive buffer hold, so the
	// sim's XOFF comes while the driver still has bytes to send.
	doc := append([]map[string]any{}, kitchenTicket[:len(kitchenTicket)-1]...)
	doc = append(doc, map[string]any{"image": checkerPNG(t, 576, 640)}, kitchenTicket[len(kitchenTicket)-1])
	var ref job
	if st, body := p.do("POST", "/print?wait=10s", map[string]any{"printer": "ref", "document": doc}, &ref); st != 200 || ref.State != "printed" {
		t.Fatalf("POST /print to ref: %d %s", st, body)
	}
	want := waitTicket(t, filepath.Join(e.out, "ref"), ref.ID)

	for _, tc := range []struct {
		printer string
		sim     *simProc
	}{{"serial", direct}, {"tapped", behind}} {
		t.Run(tc.printer, func(t *testing.T) {
			var j job
			if st, body := p.do("POST", "/print?wait=15s", map[string]any{"printer": tc.printer, "document": doc}, &j); st != 200 || j.State != "printed" {
				t.Fatalf("POST /print: %d %s", st, body)
			}
			if tc.printer == "tapped" && tap.xoff.Load() == 0 {
				t.Errorf("the job printed without the sim sending XOFF: the test proves nothing")
			}
			if j.Attempts != 1 {
				t.Errorf("attempts %d, want 1", j.Attempts)
			}
			ts := waitTickets(t, tc.sim.out, 1)
			if len(ts) != 1 {
				t.Fatalf("%d tickets, want 1: %+v", len(ts), ts)
			}
			got := ts[0]
			if got.Cut != "partial" || len(got.Warnings) != 0 {
				t.Errorf("cut %q, warnings %q", got.Cut, got.Warnings)
			}
			hasLines(t, "the serial sim's transcript", got.Text)
			if !strings.Contains(got.Text, "[IMAGE 576x640]") {
				t.Errorf("transcript lacks the picture:\n%s", got.Text)
			}
			if got.Text != want {
				t.Errorf("serial transcript differs from the sim driver's:\n--- serial\n%s--- sim driver\n%s", got.Text, want)
			}
		})
	}
	// Every XOFF is followed by an XON once the sim has printed its backlog.
	for deadline := time.Now().Add(10 * time.Second); tap.xon.Load() < tap.xoff.Load(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the sim sent %d XOFF but %d XON", tap.xoff.Load(), tap.xon.Load())
		}
	}
	t.Logf("through the tap: %d XOFF and %d XON from the sim, %d bytes to it", tap.xoff.Load(), tap.xon.Load(), tap.sent.Load())
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// tap is a pty pair whose terminal side (path) the server opens as its
// serial port; the test relays its master side to and from another
// terminal (the sim's), counting the flow-control bytes the sim sends.
type tap struct {
	path          string
	xoff, xon     atomic.Int64
	sent          atomic.Int64
	master, other *os.File
}

func newTap(t *testing.T, simPath string) *tap {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	// Raw from the start, as a serial line is (the driver sets it again).
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	other, err := os.OpenFile(simPath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{path: slave.Name(), master: master, other: other}
	done := make(chan struct{}, 2)
	go func() { // server -> sim
		defer func() { done <- struct{}{} }()
		io.Copy(counter{other, &tp.sent}, master)
	}()
	go func() { // sim -> server
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 512)
		for {
			n, err := other.Read(buf)
			for _, b := range buf[:n] {
				switch b {
				case 0x13:
					tp.xoff.Add(1)
				case 0x11:
					tp.xon.Add(1)
				}
			}
			if n > 0 {
				if _, werr := master.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EIO) {
					t.Logf("tap: reading the sim's terminal: %v", err)
				}
				return
			}
		}
	}()
	t.Cleanup(func() {
		master.Close()
		other.Close()
		slave.Close()
		for range 2 {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("the tap's relays did not stop")
				return
			}
		}
	})
	return tp
}

// counter is a writer that counts what it writes.
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}
