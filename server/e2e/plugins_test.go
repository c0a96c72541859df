package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/escpos"
)

// plugin is a plugin binary built for a test.
type plugin struct{ path, sum string }

// buildPlugins runs `go build` on the named plugin packages (relative to
// the module: "plugins/star") into a new temporary directory and returns
// each binary's path and SHA-256, by the package's last element.
func buildPlugins(t *testing.T, pkgs ...string) map[string]plugin {
	t.Helper()
	dir := t.TempDir()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, p := range pkgs {
		args = append(args, "github.com/comandera/comandera/"+p)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	out := map[string]plugin{}
	for _, p := range pkgs {
		name := filepath.Base(p)
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		out[name] = plugin{path, hex.EncodeToString(s[:])}
	}
	return out
}

// capture is a network printer that keeps what it is sent: it answers the
// status requests a connection starts with (DLE EOT as an ESC/POS printer
// would, ESC ACK SOH with an ASB as a Star printer would; online) and
// records the rest of each connection as one job.
type capture struct {
	addr string
	mu   sync.Mutex
	jobs [][]byte
}

func newCapture(t *testing.T) *capture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.serve(nc)
			}()
		}
	}()
	return c
}

func (c *capture) serve(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	online := core.Status{Known: true, Online: true}
	var got []byte
	job := false // past the status requests
	buf := make([]byte, 64<<10)
	escACKSOH := []byte{escpos.ESC, 0x06, 0x01}
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		for !job && len(got) >= 3 {
			if got[0] == escpos.DLE && got[1] == escpos.EOT && got[2] >= 1 && got[2] <= 4 {
				nc.Write([]byte{escpos.StatusReply(got[2], online)})
			} else if bytes.HasPrefix(got, escACKSOH) {
				nc.Write([]byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}) // ASB: online
			} else {
				break
			}
			got = got[3:]
		}
		if len(got) >= 3 || len(got) > 0 && got[0] != escpos.DLE && !bytes.HasPrefix(escACKSOH, got) {
			job = true
		}
		if err != nil {
			break
		}
	}
	if len(got) > 0 {
		c.mu.Lock()
		c.jobs = append(c.jobs, got)
		c.mu.Unlock()
	}
}

// wait returns the n-th job (from 1) once it has arrived.
func (c *capture) wait(t *testing.T, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.jobs) >= n {
			b := c.jobs[n-1]
			c.mu.Unlock()
			return b
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no job %d at the capturing printer %s", n, c.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// designTicket is DESIGN.md's example document with a line of every Spanish
// accent and a small picture.
func designTicket(t *testing.T) []map[string]any {
	return []map[string]any{
		{"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
		{"text": "Mesa 12 · Camarero: Lucía"},
		{"line": "-"},
		{"columns": []string{"2x Tortilla española", "17,00 €"}},
		{"text": "Sin cebolla", "underline": true, "invert": false, "font": "b"},
		{"text": "ñ á é í ó ú ü ¿ ¡ Ñ €"},
		{"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
		{"barcode": "4006381333931", "type": "ean13", "hri": true},
		{"image": checkerPNG(t, 96, 64), "align": "center"},
		{"feed": 2},
		{"cut": "partial"},
		{"drawer": 1},
		{"beep": 2},
	}
}

// imageLine is a transcript line for a picture.
var imageLine = regexp.MustCompile(`^\[IMAGE \d+x\d+\]$`)

// designText is what the transcript of the design ticket must hold.
var designText = []string{"COCINA", "Mesa 12 · Camarero: Lucía", "2x Tortilla española", "17,00 €", "Sin cebolla", "ñ á é í ó ú ü ¿ ¡ Ñ €"}

const pluginsHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
plugin "star" {
  path   = "STARPATH"
  sha256 = "STARSUM"
}
plugin "clone" {
  path    = "CLONEPATH"
  sha256  = "CLONESUM"
  timeout = "5s"
}
# The TSP100's paper, printed in ESC/POS: the reference its Star raster
# output is compared with.
profile "tsp100-escpos" {
  base        = "star-tsp100"
  command_set = "escpos"
  raster      = "gs_v_0"
}
printer "tsp650" {
  profile = "star-tsp650"
  quirks  = "star"
  sim { output = "OUT/tsp650" }
}
printer "tsp100" {
  profile = "star-tsp100"
  sim { output = "OUT/tsp100" }
}
printer "tsp100-ref" {
  profile = "tsp100-escpos"
  quirks  = ""
  sim { output = "OUT/tsp100-ref" }
}
printer "xp80" {
  profile = "xprinter-xp80"
  quirks  = "clone"
  sim { output = "OUT/xp80" }
}
printer "tsp650-net" {
  profile = "star-tsp650"
  quirks  = "star"
  net { address = "TSP650NET" }
}
printer "xp80-net" {
  profile = "xprinter-xp80"
  net { address = "XP80NET" }
}
printer "xp80-plain" {
  profile = "xprinter-xp80"
  quirks  = ""
  net { address = "PLAINNET" }
}
`

// TestPlugins builds the star and clone plugins with `go build`, declares
// them with their SHA-256 in printers.hcl and prints DESIGN.md's document
// through `comandera serve` on a Star TSP650 (Star Line Mode), a Star TSP100
// (Star raster) and an Xprinter clone: the sims' transcripts have the
// accents right, and the bytes a capturing network printer receives are
// Star Line Mode for the TSP650 and carry the clone plugin's FS . for the
// Xprinter, without which its firmware prints the accents as Kanji.
func TestPlugins(t *testing.T) {
	bins := buildPlugins(t, "plugins/star", "plugins/clone")
	tsp650Net, xp80Net, plainNet := newCapture(t), newCapture(t), newCapture(t)
	e := newEnv(t, strings.NewReplacer(
		"STARPATH", bins["star"].path, "STARSUM", bins["star"].sum,
		"CLONEPATH", bins["clone"].path, "CLONESUM", bins["clone"].sum,
		"TSP650NET", tsp650Net.addr, "XP80NET", xp80Net.addr, "PLAINNET", plainNet.addr,
	).Replace(pluginsHCL))
	p := e.start()

	var st struct {
		Plugins  []string
		Printers []printerInfo
	}
	p.do("GET", "/status", nil, &st)
	if strings.Join(st.Plugins, ",") != "clone,star" {
		t.Errorf("plugins in /status: %v, want clone and star", st.Plugins)
	}
	quirks := map[string]string{}
	for _, pi := range st.Printers {
		quirks[pi.Name] = pi.Quirks
	}
	// tsp100 and xp80-net take the plugin from their profile.
	if quirks["tsp650"] != "star" || quirks["tsp100"] != "star" || quirks["xp80"] != "clone" || quirks["xp80-net"] != "clone" || quirks["xp80-plain"] != "" {
		t.Errorf("quirks in /status: %v", quirks)
	}

	doc := designTicket(t)
	printOn := func(t *testing.T, printer string) job {
		t.Helper()
		var j job
		if st, body := p.do("POST", "/print?wait=15s", map[string]any{"printer": printer, "document": doc}, &j); st != 200 || j.State != "printed" {
			t.Fatalf("POST /print to %s: %d %s", printer, st, body)
		}
		return j
	}
	// sidecar reads a ticket's sidecar fields the tests check.
	sidecar := func(t *testing.T, printer, name string) simTicket {
		t.Helper()
		for _, tk := range simTickets(t, filepath.Join(e.out, printer)) {
			if tk.Name == name {
				return tk
			}
		}
		t.Fatalf("no ticket %s of %s", name, printer)
		return simTicket{}
	}
	hasText := func(t *testing.T, what, txt string) {
		t.Helper()
		for _, s := range designText {
			if !strings.Contains(txt, s) {
				t.Errorf("%s lacks %q:\n%s", what, s, txt)
			}
		}
	}

	t.Run("star line mode", func(t *testing.T) {
		j := printOn(t, "tsp650")
		txt := waitTicket(t, filepath.Join(e.out, "tsp650"), j.ID)
		hasText(t, "the TSP650 transcript", txt)
		for _, s := range []string{"[QR: https://example.com/t/8812]", "[EAN13: 4006381333931]", "[IMAGE 576x64]"} {
			if !strings.Contains(txt, s) {
				t.Errorf("the TSP650 transcript lacks %q:\n%s", s, txt)
			}
		}
		if tk := sidecar(t, "tsp650", j.ID); tk.Profile != "star-tsp650" || tk.Cut != "partial" || len(tk.Warnings) != 0 {
			t.Errorf("TSP650 ticket: profile %s, cut %q, warnings %q", tk.Profile, tk.Cut, tk.Warnings)
		}

		// The same job to a network TSP650 that keeps the bytes: they are
		// Star Line Mode, command for command, and print the same ticket.
		printOn(t, "tsp650-net")
		data := tsp650Net.wait(t, 1)
		ops := map[escpos.StarOp]int{}
		for c := range escpos.StarAll(data, false) {
			switch c.Kind {
			case escpos.KindUnknown, escpos.KindInvalid, escpos.KindTruncated:
				t.Errorf("not Star Line Mode: %v", c)
			case escpos.KindCommand:
				ops[c.Op]++
			}
		}
		for _, op := range []escpos.StarOp{escpos.StarOpCodePage, escpos.StarOpQRData, escpos.StarOpQRPrint, escpos.StarOpBarcode, escpos.StarOpCut, escpos.StarOpRasterEnter} {
			if ops[op] == 0 {
				t.Errorf("the TSP650 job has no %v command", op)
			}
		}
		t.Logf("TSP650 job: %d bytes of Star Line Mode, %d kinds of command", len(data), len(ops))
		res, err := sim.Render(data, builtinProfile(t, "star-tsp650"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Tickets[0].Text() != txt {
			t.Errorf("the captured bytes print\n%s\nnot the TSP650 sim's\n%s", res.Tickets[0].Text(), txt)
		}
	})

	t.Run("star raster", func(t *testing.T) {
		j := printOn(t, "tsp100")
		ref := printOn(t, "tsp100-ref")
		txt := waitTicket(t, filepath.Join(e.out, "tsp100"), j.ID)
		for _, l := range strings.Split(strings.TrimSpace(txt), "\n") {
			if !imageLine.MatchString(l) {
				t.Errorf("a raster-only printer's transcript holds %q:\n%s", l, txt)
			}
		}
		if tk := sidecar(t, "tsp100", j.ID); tk.Profile != "star-tsp100" || tk.Cut != "partial" || len(tk.Warnings) != 0 {
			t.Errorf("TSP100 ticket: profile %s, cut %q, warnings %q", tk.Profile, tk.Cut, tk.Warnings)
		}
		// The Star raster, dot for dot, is the ESC/POS rendering of the
		// same document on the same paper, whose transcript has the text.
		refTxt := waitTicket(t, filepath.Join(e.out, "tsp100-ref"), ref.ID)
		hasText(t, "the ESC/POS reference transcript", refTxt)
		star := readPNG(t, filepath.Join(e.out, "tsp100", j.ID+".png"))
		esc := readPNG(t, filepath.Join(e.out, "tsp100-ref", ref.ID+".png"))
		h := min(star.Bounds().Dy(), esc.Bounds().Dy())
		if h < esc.Bounds().Dy()*9/10 || star.Bounds().Dx() != esc.Bounds().Dx() {
			t.Fatalf("Star raster %v, ESC/POS %v", star.Bounds(), esc.Bounds())
		}
		crop := func(img image.Image) image.Image {
			return img.(interface {
				SubImage(image.Rectangle) image.Image
			}).SubImage(image.Rect(0, 0, img.Bounds().Dx(), h))
		}
		if !samePixels(crop(star), crop(esc)) {
			t.Errorf("the TSP100's Star raster differs from the ESC/POS rendering in its first %d rows", h)
		}
		t.Logf("Star raster %v and ESC/POS rendering %v agree in the first %d rows", star.Bounds(), esc.Bounds(), h)
	})

	t.Run("clone", func(t *testing.T) {
		j := printOn(t, "xp80")
		txt := waitTicket(t, filepath.Join(e.out, "xp80"), j.ID)
		hasText(t, "the XP-80 transcript", txt)
		if tk := sidecar(t, "xp80", j.ID); tk.Profile != "xprinter-xp80" || tk.Cut != "partial" || len(tk.Warnings) != 0 {
			t.Errorf("XP-80 ticket: profile %s, cut %q, warnings %q", tk.Profile, tk.Cut, tk.Warnings)
		}
		// The bytes on the wire: FS . (cancel Kanji mode) right after
		// every ESC @, from the plugin the profile names.
		printOn(t, "xp80-net")
		data := xp80Net.wait(t, 1)
		inits, after := 0, 0
		var prev *escpos.Command
		for c := range escpos.All(data) {
			if prev != nil && prev.Kind == escpos.KindCommand && prev.Op == escpos.OpInit {
				inits++
				if c.Kind == escpos.KindCommand && c.Op == escpos.OpKanjiOff {
					after++
				}
			}
			prev = &c
		}
		if inits == 0 || after != inits {
			t.Errorf("%d ESC @, %d of them followed by FS .", inits, after)
		}
		t.Logf("XP-80 job: %d bytes, %d ESC @ each followed by FS .", len(data), inits)
		// On clone firmware, which starts in Kanji mode and goes back to it
		// at ESC @, the plugin's bytes print the accents; the same job sent
		// without the plugin prints them as Kanji.
		prof := builtinProfile(t, "xprinter-xp80")
		res, err := sim.Render(cloneFirmware(data), prof)
		if err != nil {
			t.Fatal(err)
		}
		hasText(t, "the clone firmware's transcript", res.Tickets[0].Text())
		printOn(t, "xp80-plain")
		plain := plainNet.wait(t, 1)
		if bytes.Contains(plain, []byte{escpos.FS, '.'}) {
			t.Errorf("the job without the plugin holds FS .")
		}
		res, err = sim.Render(cloneFirmware(plain), prof)
		if err != nil {
			t.Fatal(err)
		}
		if txt := res.Tickets[0].Text(); strings.Contains(txt, "Lucía") || strings.Contains(txt, "española") {
			t.Errorf("without the plugin the clone firmware printed the accents right, so the check above proves nothing:\n%s", txt)
		}
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func builtinProfile(t *testing.T, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cloneFirmware models clone firmware for the sim, as the sim's golden
// tests do: Kanji mode is on at power-on and again after every ESC @ (FS &
// is inserted there).
func cloneFirmware(data []byte) []byte {
	kanjiOn := []byte{escpos.FS, '&'}
	out := append([]byte{}, kanjiOn...)
	for c := range escpos.All(data) {
		out = append(out, c.Raw...)
		if c.Kind == escpos.KindCommand && c.Op == escpos.OpInit {
			out = append(out, kanjiOn...)
		}
	}
	return out
}
