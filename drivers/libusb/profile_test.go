package libusb

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
)

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
// status is the printer-class port status, or unknown without one, never
// online by guess; the job arrives alone, and what the printer sends back
// (an ASB) is left for Read.
func TestStarProfileNoDLEEOT(t *testing.T) {
	online := core.Status{Known: true, Online: true}
	for _, name := range []string{"star-tsp650", "star-tsp100"} {
		t.Run(name+"/printer class", func(t *testing.T) {
			dev := &fakeDevice{desc: classPrinterDesc(0x0519, 0x0047), port: 0x38, answer: true, state: online}
			c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, withProfile(t, &Config{VendorID: "0519", ProductID: "0047"}, name))
			if st, err := c.Status(context.Background()); err != nil || st.State() != core.StatePaperOut {
				t.Errorf("Status = %+v, %v; want paper out from the port status", st, err)
			}
			if got := dev.received(); len(got) != 0 {
				t.Errorf("the printer received % x for a status", got)
			}
		})
		t.Run(name+"/vendor class", func(t *testing.T) {
			dev := &fakeDevice{desc: vendorPrinter(0x0519, 0x0047), answer: true, state: online}
			c := openFake(t, &fakeUSB{devs: []*fakeDevice{dev}}, withProfile(t, &Config{VendorID: "0519", ProductID: "0047"}, name))
			st, err := c.Status(context.Background())
			if err != nil || st.Known || st.Online || st.State() != core.StateUnknown || !strings.Contains(st.Detail, "not asked") {
				t.Errorf("Status = %+v, %v; want unknown, saying why", st, err)
			}
			if _, err := c.Write([]byte("\x1b@job")); err != nil {
				t.Fatal(err)
			}
			if got := dev.received(); !bytes.Equal(got, []byte("\x1b@job")) {
				t.Errorf("the printer received % x, want only the job", got)
			}
			asb := []byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}
			dev.mu.Lock()
			dev.in = append(dev.in, asb...)
			dev.mu.Unlock()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			if n, err := c.Read(buf); err != nil || !bytes.Equal(buf[:n], asb) {
				t.Errorf("Read % x, %v: want the ASB", buf[:n], err)
			}
		})
	}
}
