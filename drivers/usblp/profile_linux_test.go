package usblp

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
)

const tsp143 = "MFG:STAR;CMD:STAR;MDL:TSP143 (STR_T-001);CLS:PRINTER;"

// withProfile sets the profile the way the config loader does.
func withProfile(t *testing.T, cfg *Config, name string) *Config {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	var ps core.ProfileSetter = cfg
	ps.SetProfile(p)
	return cfg
}

// TestStarProfileNoDLEEOT: a printer whose profile speaks Star Line Mode or
// Star Graphic is never sent DLE EOT, even one that would answer it; its
// status is what LPGETSTATUS reads, or unknown without it, never online by
// guess; the job arrives alone, and what the printer sends back (an ASB)
// is left for Read.
func TestStarProfileNoDLEEOT(t *testing.T) {
	for _, name := range []string{"star-tsp650", "star-tsp100"} {
		t.Run(name, func(t *testing.T) {
			h := newFakeHost(t)
			p := h.addPrinter("lp0", 0x0519, 0x0047, "S1", "TSP143", tsp143)
			p.answer = true
			p.state = core.Status{Known: true, Online: true}
			p.port = 0x38 // paper out, selected
			p.serve(0)
			c := open(t, h.driver(), withProfile(t, &Config{Device: h.sys.devDir + "/lp0", StatusTimeout: "50ms"}, name))
			st, err := c.Status(context.Background())
			if err != nil || st.State() != core.StatePaperOut {
				t.Errorf("Status = %+v, %v; want paper out from LPGETSTATUS", st, err)
			}
			p.mu.Lock()
			p.portErr = syscall.ENOTTY
			p.mu.Unlock()
			st, err = c.Status(context.Background())
			if err != nil || st.Known || st.Online || st.State() != core.StateUnknown || !strings.Contains(st.Detail, "not asked") {
				t.Errorf("without LPGETSTATUS: Status = %+v, %v; want unknown, saying why", st, err)
			}
			if _, err := c.Write([]byte("\x1b@job")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			if got := p.waitFor(t, 5); !bytes.Equal(got, []byte("\x1b@job")) {
				t.Errorf("the printer received % x, want only the job", got)
			}
			asb := []byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}
			p.master.Write(asb)
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
}
