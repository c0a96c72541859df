package serial

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

func builtin(t *testing.T, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withProfile sets the profile the way the config loader does.
func withProfile(t *testing.T, cfg *Config, profile string) *Config {
	t.Helper()
	var ps core.ProfileSetter = cfg
	ps.SetProfile(builtin(t, profile))
	return cfg
}

// TestStarProfileNoDLEEOT: a printer whose profile speaks Star Line Mode or
// Star Graphic is never sent DLE EOT, even one that would answer it; its
// status is unknown (the flow control state in Detail), or offline from the
// ready line, never online; the job arrives alone, and what the printer
// sends back (an ASB) is left for Read.
func TestStarProfileNoDLEEOT(t *testing.T) {
	for _, tc := range []struct {
		profile, flow string
		detail        string
	}{
		{"star-tsp650", FlowNone, "no flow control"},
		{"star-tsp650", FlowXonXoff, "no XOFF in force"},
		{"star-tsp100", FlowDSRDTR, "DSR high"},
	} {
		t.Run(tc.profile+"/"+tc.flow, func(t *testing.T) {
			p := newPrinter(t)
			p.answer = true
			p.state = core.Status{Known: true, Online: true}
			p.serve()
			d := Driver{}
			l := &lines{flow: tc.flow, dsr: true, cts: true}
			if tc.flow == FlowDSRDTR {
				d = linesDriver(l)
			}
			c := openConn(t, d, withProfile(t, &Config{Port: p.path, Baud: 115200, FlowControl: tc.flow, StatusTimeout: "50ms"}, tc.profile))
			st, err := c.Status(context.Background())
			if err != nil || st.Known || st.Online || st.State() != core.StateUnknown {
				t.Errorf("Status = %+v, %v; want unknown", st, err)
			}
			if !strings.Contains(st.Detail, "not asked") || !strings.Contains(st.Detail, tc.detail) {
				t.Errorf("Detail %q: want why and %q", st.Detail, tc.detail)
			}
			if _, err := c.Write([]byte("\x1b@job")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // room for anything else to arrive
			if got := p.waitFor(t, 5); !bytes.Equal(got, []byte("\x1b@job")) {
				t.Errorf("the printer received % x, want only the job", got)
			}
			// The printer's own status answer reaches Read, for the quirks
			// plugin.
			asb := []byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}
			p.send(asb...)
			c.SetDeadline(time.Now().Add(2 * time.Second))
			var got []byte
			buf := make([]byte, 16)
			for len(got) < len(asb) {
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				got = append(got, buf[:n]...)
			}
			if !bytes.Equal(got, asb) {
				t.Errorf("Read % x, want the ASB", got)
			}
		})
	}
	t.Run("ready line low is offline", func(t *testing.T) {
		p := newPrinter(t)
		p.answer = true
		p.state = core.Status{Known: true, Online: true}
		p.serve()
		l := &lines{flow: FlowDSRDTR}
		c := openConn(t, linesDriver(l), withProfile(t, &Config{Port: p.path, FlowControl: FlowDSRDTR, ReadyTimeout: "100ms"}, "star-tsp650"))
		l.set(false)
		time.Sleep(20 * time.Millisecond)
		st, _ := c.Status(context.Background())
		if st.Known || !strings.Contains(st.Detail, "DSR low") {
			t.Errorf("DSR low briefly: %+v, want unknown saying DSR is low", st)
		}
		time.Sleep(150 * time.Millisecond)
		if st, _ := c.Status(context.Background()); st.State() != core.StateOffline {
			t.Errorf("DSR low past ready_timeout: %+v, want offline", st)
		}
		if n := p.received(); n != 0 {
			t.Errorf("the printer received %d bytes", n)
		}
	})
	t.Run("escpos", func(t *testing.T) {
		p := newPrinter(t)
		p.answer = true
		p.state = core.Status{Known: true, Online: true}
		p.serve()
		c := openConn(t, Driver{}, withProfile(t, &Config{Port: p.path}, "epson-tm-t20iii"))
		if st, err := c.Status(context.Background()); err != nil || st.State() != core.StateOnline {
			t.Fatalf("Status = %+v, %v; want online from DLE EOT", st, err)
		}
		if got := p.waitFor(t, 3); !bytes.HasPrefix(got, escpos.StatusRequest(1)) {
			t.Errorf("the ESC/POS printer received % x, want DLE EOT", got)
		}
	})
}
