package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const starStatusHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
plugin "star" {
  path   = "STARPATH"
  sha256 = "STARSUM"
}
printer "tsp650" {
  profile       = "star-tsp650"
  quirks        = "star"
  retry_backoff = "100ms"
  retry_max     = "200ms"
  net {
    address = "NETADDR"
  }
}
`

// TestStarStatusNetSim runs `comandera serve` with a Star TSP650 (Star Line
// Mode) on the net driver, the star plugin as its quirks, and a `comandera
// sim -profile star-tsp650` process on loopback as the printer. The net
// driver sends it no DLE EOT; the server asks with the plugin's status
// request (ESC ACK SOH) and the plugin decodes the ASB the sim answers:
// GET /status shows it online, a ticket prints without a stray byte, and
// after the roll runs out (-paper-out-after 1) it shows paper_out and the
// next job waits, spending no attempt, until a new roll is in.
func TestStarStatusNetSim(t *testing.T) {
	star := buildPlugins(t, "plugins/star")["star"]
	dir := t.TempDir()
	first := filepath.Join(dir, "tsp650")
	sim := startSim(t, first, "-listen", "127.0.0.1:0", "-profile", "star-tsp650", "-no-render")
	e := newEnv(t, strings.NewReplacer("STARPATH", star.path, "STARSUM", star.sum, "NETADDR", sim.addr).Replace(starStatusHCL))
	p := e.start()

	t.Run("online through ASB", func(t *testing.T) {
		pi := p.waitPrinter("tsp650", 10*time.Second, func(pi printerInfo) bool { return pi.State == "online" })
		if pi.Driver != "net" || pi.Quirks != "star" || pi.Profile != "star-tsp650" || !pi.Status.Known || !pi.Status.Online || pi.Status.PaperOut {
			t.Errorf("tsp650 in /status: %+v, want a known online status from the sim's ASB", pi)
		}
	})

	t.Run("ticket without stray bytes", func(t *testing.T) {
		var j job
		if st, body := p.do("POST", "/print?wait=15s", map[string]any{"printer": "tsp650", "document": kitchenTicket}, &j); st != 200 || j.State != "printed" {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		if j.Attempts != 1 {
			t.Errorf("attempts %d, want 1", j.Attempts)
		}
		ts := waitTickets(t, first, 1)
		if len(ts) != 1 {
			t.Fatalf("%d tickets, want 1: %+v", len(ts), ts)
		}
		// The status request went on the job's connection, before it: a
		// DLE EOT there would be a warning (Star Line Mode has no DLE).
		if tk := ts[0]; tk.Profile != "star-tsp650" || tk.Cut != "partial" || len(tk.Warnings) != 0 {
			t.Errorf("ticket: profile %s, cut %q, warnings %q; want a clean Star ticket", tk.Profile, tk.Cut, tk.Warnings)
		}
		for _, s := range []string{"COCINA", "Mesa 12 · Camarero: Lucía", "ñ á é í ó ú ü ¿ ¡ €"} {
			if !strings.Contains(ts[0].Text, s) {
				t.Errorf("the transcript lacks %q:\n%s", s, ts[0].Text)
			}
		}
	})

	t.Run("paper out through ASB", func(t *testing.T) {
		sim.stop()
		paperOut := filepath.Join(dir, "tsp650-paper")
		sim = startSim(t, paperOut, "-listen", sim.addr, "-profile", "star-tsp650", "-paper-out-after", "1", "-no-render")
		var one job
		if st, body := p.do("POST", "/print?wait=15s", map[string]any{"printer": "tsp650", "document": kitchenTicket}, &one); st != 200 || one.State != "printed" {
			t.Fatalf("first ticket: %d %s", st, body)
		}
		if ts := waitTickets(t, paperOut, 1); len(ts) != 1 || ts[0].Cut != "partial" || len(ts[0].Warnings) != 0 {
			t.Fatalf("tickets after the first job: %+v", ts)
		}
		// The roll is empty: the next job waits, and the ASB says why.
		var second job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "tsp650", "content": "Sin papel"}, &second); st != http.StatusAccepted {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		pi := p.waitPrinter("tsp650", 10*time.Second, func(pi printerInfo) bool { return pi.State == "paper_out" })
		if !pi.Status.Known || !pi.Status.PaperOut || pi.Status.Online {
			t.Errorf("status %+v, want a known paper-out ASB", pi.Status)
		}
		var now job
		p.do("GET", "/jobs/"+second.ID, nil, &now)
		if now.State != "queued" || now.Attempts != 0 {
			t.Errorf("with the paper out the job is %s after %d attempts, want queued after none", now.State, now.Attempts)
		}
		if ts := simTickets(t, paperOut); len(ts) != 1 {
			t.Errorf("%d tickets with the paper out, want 1", len(ts))
		}
		// A new roll (the sim restarted without the fault): the job prints,
		// once.
		sim.stop()
		refilled := filepath.Join(dir, "tsp650-refilled")
		sim = startSim(t, refilled, "-listen", sim.addr, "-profile", "star-tsp650", "-no-render")
		got := p.waitState(second.ID, "printed", 15*time.Second)
		if got.Attempts != 1 {
			t.Errorf("attempts %d, want 1: waiting for paper spends none", got.Attempts)
		}
		ts := waitTickets(t, refilled, 1)
		if !strings.Contains(ts[0].Text, "Sin papel") || len(ts[0].Warnings) != 0 {
			t.Errorf("ticket after the refill: %q, warnings %q", ts[0].Text, ts[0].Warnings)
		}
		time.Sleep(200 * time.Millisecond)
		if ts := simTickets(t, refilled); len(ts) != 1 {
			t.Errorf("%d tickets after the refill, want the one job once", len(ts))
		}
		p.waitPrinter("tsp650", 10*time.Second, func(pi printerInfo) bool { return pi.State == "online" })
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
