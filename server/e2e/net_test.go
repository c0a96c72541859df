package e2e

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kitchenTicket is a Spanish kitchen ticket: every accent, columns and a QR.
var kitchenTicket = []map[string]any{
	{"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
	{"text": "Mesa 12 · Camarero: Lucía"},
	{"line": "-"},
	{"columns": []string{"2x Tortilla española", "17,00 €"}},
	{"columns": []string{"1x Café con leche", "1,80 €"}},
	{"columns": []string{"1x Pingüino de crema", "3,50 €"}},
	{"text": "ñ á é í ó ú ü ¿ ¡ €"},
	{"text": "¡Sin cebolla! ¿Alérgenos? Ninguno", "underline": true},
	{"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
	{"cut": "partial"},
}

// kitchenLines are lines the kitchen ticket's transcript must hold, whole:
// the columns padded to the 48 columns of an 80 mm printer's font A.
var kitchenLines = []string{
	"COCINA",
	"Mesa 12 · Camarero: Lucía",
	strings.Repeat("-", 48),
	"2x Tortilla española" + strings.Repeat(" ", 48-20-7) + "17,00 €",
	"1x Café con leche" + strings.Repeat(" ", 48-17-6) + "1,80 €",
	"1x Pingüino de crema" + strings.Repeat(" ", 48-20-6) + "3,50 €",
	"ñ á é í ó ú ü ¿ ¡ €",
	"¡Sin cebolla! ¿Alérgenos? Ninguno",
	"[QR: https://example.com/t/8812]",
}

func hasLines(t *testing.T, what, txt string) {
	t.Helper()
	lines := strings.Split(txt, "\n")
	for _, want := range kitchenLines {
		found := false
		for _, l := range lines {
			if strings.TrimSpace(l) == strings.TrimSpace(want) && strings.Contains(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s lacks the line %q:\n%s", what, want, txt)
		}
	}
}

const netHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
printer "net" {
  profile       = "generic-80mm"
  retry_backoff = "100ms"
  retry_max     = "200ms"
  net {
    address = "NETADDR"
  }
}
printer "flaky" {
  profile       = "generic-80mm"
  retry_backoff = "100ms"
  retry_max     = "200ms"
  net {
    address = "FLAKYADDR"
  }
}
printer "ref" {
  profile = "generic-80mm"
  sim { output = "OUT/ref" }
}
`

// TestNetSim runs `comandera serve` with printers on the net driver, each a
// `comandera sim -listen` process on loopback: a document job prints with
// the same transcript and image as on the in-process sim driver; a sim that
// drops the connection mid-job gets the job again, whole; GET /status
// reports what the sim answers to DLE EOT over the socket, online and then
// paper out.
func TestNetSim(t *testing.T) {
	dir := t.TempDir()
	netOut, flakyOut := filepath.Join(dir, "net"), filepath.Join(dir, "flaky")
	sim := startSim(t, netOut, "-listen", "127.0.0.1:0")
	// 300 bytes: past the 12 of the startup status probe and the 12 of the
	// status check before the job, well inside the job's ~380 bytes.
	flaky := startSim(t, flakyOut, "-listen", "127.0.0.1:0", "-disconnect-after", "300", "-no-render")
	e := newEnv(t, strings.NewReplacer("NETADDR", sim.addr, "FLAKYADDR", flaky.addr).Replace(netHCL))
	p := e.start()

	t.Run("status online over DLE EOT", func(t *testing.T) {
		pi := p.waitPrinter("net", 10*time.Second, func(pi printerInfo) bool { return pi.State == "online" })
		if pi.Driver != "net" || !pi.Status.Known || !pi.Status.Online || pi.Status.PaperOut {
			t.Errorf("net printer in /status: %+v, want a known online status read from the sim", pi)
		}
	})

	t.Run("document job", func(t *testing.T) {
		var ref, j job
		if st, body := p.do("POST", "/print?wait=10s", map[string]any{"printer": "ref", "document": kitchenTicket}, &ref); st != 200 || ref.State != "printed" {
			t.Fatalf("POST /print to ref: %d %s", st, body)
		}
		if st, body := p.do("POST", "/print?wait=10s", map[string]any{"printer": "net", "document": kitchenTicket}, &j); st != 200 || j.State != "printed" {
			t.Fatalf("POST /print to net: %d %s", st, body)
		}
		if j.Attempts != 1 {
			t.Errorf("attempts %d, want 1", j.Attempts)
		}
		ts := waitTickets(t, netOut, 1)
		if len(ts) != 1 {
			t.Fatalf("the sim printed %d tickets, want 1: %+v", len(ts), ts)
		}
		got := ts[0]
		if got.Cut != "partial" || len(got.Warnings) != 0 || got.Profile != "generic-80mm" {
			t.Errorf("ticket cut %q, warnings %q, profile %s; want a partial cut, no warnings, generic-80mm", got.Cut, got.Warnings, got.Profile)
		}
		hasLines(t, "the net sim's transcript", got.Text)
		// The bytes that crossed the network print exactly as those the
		// in-process sim driver got.
		want := waitTicket(t, filepath.Join(e.out, "ref"), ref.ID)
		if got.Text != want {
			t.Errorf("net transcript differs from the sim driver's:\n--- net\n%s--- sim driver\n%s", got.Text, want)
		}
		a := readPNG(t, filepath.Join(netOut, got.Image))
		b := readPNG(t, filepath.Join(e.out, "ref", ref.ID+".png"))
		if !samePixels(a, b) {
			t.Errorf("net PNG %v differs from the sim driver's %v", a.Bounds(), b.Bounds())
		}
	})

	t.Run("dropped connection is retried", func(t *testing.T) {
		var j job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "flaky", "document": kitchenTicket}, &j); st != http.StatusAccepted {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		got := p.waitState(j.ID, "printed", 15*time.Second)
		if got.Attempts != 2 {
			t.Errorf("attempts %d, want 2 (the first connection dropped)", got.Attempts)
		}
		if !got.Reprint {
			t.Errorf("the retry after a torn ticket is not marked REPRINT")
		}
		ts := waitTickets(t, flakyOut, 2)
		if len(ts) != 2 {
			t.Fatalf("%d tickets, want the torn one and the reprint: %+v", len(ts), ts)
		}
		torn, whole := ts[0], ts[1]
		if torn.Cut != "none" || !strings.Contains(strings.Join(torn.Warnings, "\n"), "disconnect_after") || torn.Bytes == 0 {
			t.Errorf("first ticket: cut %q, %d bytes, warnings %q; want the torn ticket of the dropped link", torn.Cut, torn.Bytes, torn.Warnings)
		}
		if strings.Contains(torn.Text, "[QR:") {
			t.Errorf("the torn ticket holds the end of the job:\n%s", torn.Text)
		}
		if whole.Cut != "partial" || len(whole.Warnings) != 0 {
			t.Errorf("second ticket: cut %q, warnings %q", whole.Cut, whole.Warnings)
		}
		hasLines(t, "the retried ticket", whole.Text)
		if !strings.Contains(whole.Text, "REPRINT") {
			t.Errorf("the retried ticket has no REPRINT line:\n%s", whole.Text)
		}
	})

	t.Run("paper out over DLE EOT", func(t *testing.T) {
		sim.stop()
		paperOut := filepath.Join(dir, "net-paper")
		sim = startSim(t, paperOut, "-listen", sim.addr, "-paper-out-after", "1", "-no-render")
		var first job
		if st, body := p.do("POST", "/print?wait=10s", map[string]any{"printer": "net", "document": kitchenTicket}, &first); st != 200 || first.State != "printed" {
			t.Fatalf("first ticket: %d %s", st, body)
		}
		if ts := waitTickets(t, paperOut, 1); len(ts) != 1 || ts[0].Cut != "partial" {
			t.Fatalf("tickets after the first job: %+v", ts)
		}
		// The roll is empty now: the next job waits, and the sim says why
		// when the worker asks it before printing.
		var second job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "net", "content": "Sin papel"}, &second); st != http.StatusAccepted {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		pi := p.waitPrinter("net", 10*time.Second, func(pi printerInfo) bool { return pi.State == "paper_out" })
		if !pi.Status.Known || !pi.Status.PaperOut || pi.Status.Online {
			t.Errorf("status %+v, want a known paper-out reply", pi.Status)
		}
		var now job
		p.do("GET", "/jobs/"+second.ID, nil, &now)
		if now.State != "queued" || now.Attempts != 0 {
			t.Errorf("with the paper out the job is %s after %d attempts, want queued after none", now.State, now.Attempts)
		}
		if ts := simTickets(t, paperOut); len(ts) != 1 {
			t.Errorf("%d tickets with the paper out, want 1", len(ts))
		}
		// A new roll (the sim restarted without the fault): the job prints.
		sim.stop()
		refilled := filepath.Join(dir, "net-refilled")
		sim = startSim(t, refilled, "-listen", sim.addr, "-no-render")
		got := p.waitState(second.ID, "printed", 15*time.Second)
		if got.Attempts != 1 {
			t.Errorf("attempts %d, want 1: waiting for paper spends none", got.Attempts)
		}
		if ts := waitTickets(t, refilled, 1); !strings.Contains(ts[0].Text, "Sin papel") {
			t.Errorf("ticket after the refill: %q", ts[0].Text)
		}
		p.waitPrinter("net", 10*time.Second, func(pi printerInfo) bool { return pi.State == "online" })
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// readPNG decodes the PNG at path, waiting for it: the sim writes a
// ticket's PNG after its sidecar.
func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// samePixels reports whether a and b have the same size and the same
// black and white dots.
func samePixels(a, b image.Image) bool {
	if a.Bounds().Size() != b.Bounds().Size() {
		return false
	}
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, _, _, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, _, _, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			if (r1 < 0x8000) != (r2 < 0x8000) {
				return false
			}
		}
	}
	return true
}

// checkerPNG returns, base64-encoded, a w×h PNG of 16-dot black and white
// squares.
func checkerPNG(t testing.TB, w, h int) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if (x/16+y/16)%2 == 0 {
				img.SetGray(x, y, color.Gray{0})
			} else {
				img.SetGray(x, y, color.Gray{0xff})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
