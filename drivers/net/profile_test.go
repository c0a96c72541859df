package net

import (
	"bytes"
	"context"
	"strings"
	"testing"

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

// withProfile returns a config for addr with the profile set the way the
// config loader sets it.
func withProfile(t *testing.T, addr, profile string) *Config {
	t.Helper()
	cfg := Driver{}.Config()
	ps, ok := cfg.(core.ProfileSetter)
	if !ok {
		t.Fatalf("%T is not a core.ProfileSetter", cfg)
	}
	ps.SetProfile(builtin(t, profile))
	c := cfg.(*Config)
	c.Address = addr
	return c
}

// TestStarProfileNoDLEEOT: a printer whose profile speaks Star Line Mode or
// Star Graphic is never sent DLE EOT, even one that would answer it; its
// status is unknown, not online; the job arrives alone. An ESC/POS profile
// is asked as before.
func TestStarProfileNoDLEEOT(t *testing.T) {
	online := core.Status{Known: true, Online: true}
	for _, name := range []string{"star-tsp650", "star-tsp100"} {
		t.Run(name, func(t *testing.T) {
			r := newRecorder()
			p := newPrinter(t, r.handler(true, online))
			c := open(t, withProfile(t, p.addr(), name))
			st, err := c.Status(context.Background())
			if err != nil || st.Known || st.Online || st.State() != core.StateUnknown {
				t.Errorf("Status = %+v, %v; want unknown", st, err)
			}
			if !strings.Contains(st.Detail, "not asked") || !strings.Contains(st.Detail, name) {
				t.Errorf("Detail %q does not say why", st.Detail)
			}
			if _, err := c.Write([]byte("\x1b@job")); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if got := r.wait(t); !bytes.Equal(got, []byte("\x1b@job")) {
				t.Errorf("the printer received % x, want only the job", got)
			}
		})
	}
	t.Run("escpos", func(t *testing.T) {
		r := newRecorder()
		p := newPrinter(t, r.handler(true, online))
		c := open(t, withProfile(t, p.addr(), "epson-tm-t20iii"))
		if st, err := c.Status(context.Background()); err != nil || st.State() != core.StateOnline {
			t.Errorf("Status = %+v, %v; want online from DLE EOT", st, err)
		}
		c.Close()
		if got := r.wait(t); !bytes.HasPrefix(got, escpos.StatusRequest(1)) {
			t.Errorf("the ESC/POS printer received % x, want DLE EOT", got)
		}
	})
}
