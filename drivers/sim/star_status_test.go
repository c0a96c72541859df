package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/plugins/star/starline"
)

// escACKSOH is Star's real-time status request.
var escACKSOH = []byte{0x1b, 0x06, 0x01}

func starProfile(t *testing.T, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// asb sends ESC ACK SOH on c and returns the ASB it answers.
func asb(t *testing.T, c *Conn) []byte {
	t.Helper()
	if _, err := c.Write(escACKSOH); err != nil {
		t.Fatalf("writing ESC ACK SOH: %v", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	b := make([]byte, 9)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading the ASB: %v", err)
	}
	return b
}

// TestStarASB checks the sim's ASB bytes against the star plugin's decoder:
// every state a printer can be in comes back as itself.
func TestStarASB(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   core.Status
		want core.Status
	}{
		{"online", core.Status{Known: true, Online: true}, core.Status{Known: true, Online: true}},
		{"offline", core.Status{Known: true}, core.Status{Known: true}},
		{"paper low", core.Status{Known: true, Online: true, PaperLow: true}, core.Status{Known: true, Online: true, PaperLow: true}},
		{"paper out", core.Status{Known: true, PaperOut: true}, core.Status{Known: true, PaperOut: true, PaperLow: true}},
		{"paper out, still marked online", core.Status{Known: true, Online: true, PaperOut: true}, core.Status{Known: true, PaperOut: true, PaperLow: true}},
		{"cover open", core.Status{Known: true, CoverOpen: true}, core.Status{Known: true, CoverOpen: true}},
		{"error", core.Status{Known: true, Error: true}, core.Status{Known: true, Error: true, Detail: "non-recoverable error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := starASB(tc.st)
			if len(b) != 9 || !starline.IsASBHeader(b[0]) || starline.ASBLength(b[0]) != 9 {
				t.Fatalf("ASB % x: want a 9-byte ASB header", b)
			}
			got, err := starline.ParseASB(b)
			if err != nil {
				t.Fatalf("ParseASB(% x): %v", b, err)
			}
			if got != tc.want {
				t.Errorf("ParseASB(% x) = %+v\nwant %+v", b, got, tc.want)
			}
		})
	}
}

// TestStarStatusRequest sends ESC ACK SOH to the Star Line and Star
// Graphic sims: each answers with an ASB of its state (online, the fault
// files, paper out after paper_out_after), in line and raster mode, also
// when it cannot print, and a status-only connection prints nothing.
func TestStarStatusRequest(t *testing.T) {
	for _, name := range []string{"star-tsp650", "star-tsp100"} {
		t.Run(name, func(t *testing.T) {
			cfg := Config{PaperOutAfter: 1}
			cfg.SetProfile(starProfile(t, name))
			p, dir := newPrinter(t, cfg)
			parse := func(c *Conn) core.Status {
				t.Helper()
				st, err := starline.ParseASB(asb(t, c))
				if err != nil {
					t.Fatal(err)
				}
				return st
			}

			c := open(t, p)
			if st := parse(c); st.State() != core.StateOnline {
				t.Errorf("fresh printer: %+v, want online", st)
			}
			// In raster mode (ESC * r A) the request is answered too.
			c.Write([]byte("\x1b*rA"))
			if st := parse(c); st.State() != core.StateOnline {
				t.Errorf("in raster mode: %+v, want online", st)
			}
			c.Write([]byte("\x1b*rB"))
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if got := files(t, dir); len(got) != 0 {
				t.Errorf("a status-only connection printed %q", got)
			}

			for _, tc := range []struct {
				file string
				want core.PrinterState
			}{{"COVER_OPEN", core.StateCoverOpen}, {"PAPER_OUT", core.StatePaperOut}} {
				rm := touch(t, dir, tc.file)
				c := open(t, p)
				if st := parse(c); st.State() != tc.want {
					t.Errorf("%s: %+v, want %s", tc.file, st, tc.want)
				}
				c.Close()
				rm()
			}

			// One ticket empties the roll (paper_out_after = 1): the next
			// connection's request is answered "paper out" without an
			// error, while what it would print fails.
			c = open(t, p)
			ticket := []byte("\x1b*rAb\x01\x00\xff\x1b*rB") // one raster row; quitting cuts
			if name == "star-tsp650" {
				ticket = []byte("uno\n\x1bd\x02")
			}
			if _, err := c.Write(ticket); err != nil {
				t.Fatal(err)
			}
			c.Close()
			c = open(t, p)
			if st := parse(c); st.State() != core.StatePaperOut || !st.PaperOut || st.Online {
				t.Errorf("after paper_out_after: %+v, want paper out", st)
			}
			if _, err := c.Write(ticket); !errors.Is(err, core.ErrNotReady) {
				t.Errorf("a ticket with the paper out: %v, want ErrNotReady", err)
			}
			c.Close()
			p.Refill()
			c = open(t, p)
			if st := parse(c); st.State() != core.StateOnline {
				t.Errorf("after Refill: %+v, want online", st)
			}
			c.Close()
		})
	}
}

// TestStarStatusOverTCP asks a Star sim served on loopback TCP, as the net
// driver's connection carries it: the ASB comes back on the socket.
func TestStarStatusOverTCP(t *testing.T) {
	cfg := Config{}
	cfg.SetProfile(starProfile(t, "star-tsp650"))
	p, _ := newPrinter(t, cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- p.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(escACKSOH)
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 9)
	if _, err := io.ReadFull(nc, b); err != nil {
		t.Fatal(err)
	}
	st, err := starline.ParseASB(b)
	if err != nil || st.State() != core.StateOnline {
		t.Errorf("ASB over TCP % x: %+v, %v", b, st, err)
	}
}

// TestESCPOSIgnoresStarRequest: an ESC/POS sim does not answer Star's
// request (its DLE EOT behaviour is tested in TestStatusDLEEOT).
func TestESCPOSIgnoresStarRequest(t *testing.T) {
	p, _ := newPrinter(t, Config{})
	c := open(t, p)
	defer c.Close()
	c.Write(escACKSOH)
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	b := make([]byte, 16)
	if n, err := c.Read(b); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ESC/POS sim answered ESC ACK SOH: % x %v", b[:n], err)
	}
}
