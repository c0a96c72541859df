package sim_test

// The same Spanish kitchen ticket (DESIGN.md's example document, with a line
// of every Spanish accent) encoded for five printers by the encoders the
// server uses, rendered by the sim with the matching profile, and compared
// with golden PNGs in testdata/star/:
//
//	design-epson-tm-t20iii   escpos.Encode                       ESC/POS
//	design-star-tsp650       starline.Encode (the star plugin)   Star Line Mode
//	design-star-tsp100       stargraphic.Encode (star plugin)    Star raster (Star Graphic Mode)
//	design-xprinter-xp80     escpos.Encode + the clone plugin    ESC/POS on clone firmware
//	design-xprinter-xp58     escpos.Encode + the clone plugin    ESC/POS on clone firmware, 58 mm
//
// The clone plugin is a separate program (package main): the test builds it
// and calls Transform across the real go-plugin boundary.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/escpos"
	"github.com/comandera/comandera/plugins"
	"github.com/comandera/comandera/plugins/star/stargraphic"
	"github.com/comandera/comandera/plugins/star/starline"
)

// updating reports whether -update was given (the flag is defined by the
// package's internal tests, which share this test binary).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// kitchenDoc is DESIGN.md's example document, with a line of the Spanish
// accents and a small image.
const kitchenDoc = `[
  {"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
  {"text": "Mesa 12 · Camarero: Lucía"},
  {"line": "-"},
  {"columns": ["2x Tortilla española", "17,00 €"]},
  {"text": "Sin cebolla", "underline": true, "invert": false, "font": "b"},
  {"text": "ñ á é í ó ú ü ¿ ¡ Ñ"},
  {"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
  {"barcode": "4006381333931", "type": "ean13", "hri": true},
  {"image": "", "align": "center"},
  {"feed": 2},
  {"cut": "partial"},
  {"drawer": 1},
  {"beep": 2}
]`

// plate is a 96×64 picture: a plate (ring) with a fork and a knife.
func plate(t testing.TB) []byte {
	const w, h = 96, 64
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := uint8(0xff)
			dx, dy := float64(x-48), float64(y-32)
			r2 := dx*dx + dy*dy
			switch {
			case r2 >= 22*22 && r2 <= 28*28, r2 >= 12*12 && r2 <= 14*14: // rim and well
				c = 0
			case x >= 8 && x < 11 && y >= 6 && y < 58: // knife
				c = 0
			case x >= 6 && x < 12 && y >= 6 && y < 28:
				c = 0
			case (x == 84 || x == 87 || x == 90) && y >= 6 && y < 22: // fork tines
				c = 0
			case x >= 84 && x <= 90 && y >= 22 && y < 26, x >= 86 && x <= 88 && y >= 26 && y < 58:
				c = 0
			}
			img.SetGray(x, y, color.Gray{c})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func kitchen(t testing.TB) core.Document {
	t.Helper()
	var doc core.Document
	src := strings.Replace(kitchenDoc, `"image": ""`, `"image": "iVBORw0KGgo="`, 1)
	if err := json.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	for i := range doc {
		if doc[i].Kind == core.KindImage {
			doc[i].Image = plate(t)
		}
	}
	if err := doc.Validate(); err != nil {
		t.Fatal(err)
	}
	return doc
}

func builtin(t testing.TB, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// goldenPNG compares img with testdata/star/NAME.png; -update rewrites it.
func goldenPNG(t *testing.T, name string, img *image.Paletted) {
	t.Helper()
	dir := filepath.Join("testdata", "star")
	path := filepath.Join(dir, name+".png")
	if updating() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := sim.EncodePNG(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	want, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	save := func() string {
		p := filepath.Join(os.TempDir(), "comandera-golden-star-"+name+".png")
		var buf bytes.Buffer
		if sim.EncodePNG(&buf, img) == nil {
			os.WriteFile(p, buf.Bytes(), 0o644)
		}
		return p
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("%s: rendered %v, golden %v; rendered image saved as %s", name, img.Bounds(), want.Bounds(), save())
	}
	diff := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, _, _, _ := want.At(x, y).RGBA()
			if (r < 0x8000) != (img.ColorIndexAt(x, y) == 1) {
				diff++
			}
		}
	}
	if diff > 0 {
		t.Errorf("%s: %d dots differ from the golden image; rendered image saved as %s (go test -update to accept)", name, diff, save())
	}
}

// zx decodes the symbol of the given kind ("qr" or "ean13") in img with
// gozxing, a decoder independent of the encoders and of the sim. The image
// is the printable width only; it is framed in white as the paper's
// margins frame it, so a symbol printed at the left edge has its quiet
// zone.
func zx(t testing.TB, kind string, img image.Image) (string, error) {
	t.Helper()
	const m = 32
	b := img.Bounds()
	framed := image.NewGray(image.Rect(0, 0, b.Dx()+2*m, b.Dy()+2*m))
	draw.Draw(framed, framed.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(framed, b.Add(image.Pt(m, m)), img, b.Min, draw.Src)
	bmp, err := gozxing.NewBinaryBitmapFromImage(framed)
	if err != nil {
		t.Fatal(err)
	}
	var r gozxing.Reader = qrcode.NewQRCodeReader()
	if kind == "ean13" {
		r = oned.NewEAN13Reader()
	}
	res, err := r.Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// clonePlugin builds the clone plugin into dir and loads it in a new host,
// closed when the test ends.
func clonePlugin(t *testing.T) *plugins.Plugin {
	t.Helper()
	path := filepath.Join(t.TempDir(), "comandera-clone")
	gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if p, err := exec.LookPath("go"); err == nil {
		gotool = p
	}
	out, err := exec.Command(gotool, "build", "-o", path, "github.com/comandera/comandera/plugins/clone").CombinedOutput()
	if err != nil {
		t.Fatalf("go build the clone plugin: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	h := plugins.NewHost(nil)
	t.Cleanup(func() { h.Close() })
	pl, err := h.Load(context.Background(), plugins.Config{Name: "clone", Path: path, SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// cloneFirmware models what distinguishes clone firmware for the sim: it
// starts in Kanji mode and ESC @ puts it back in Kanji mode (profiles.hcl,
// "Clone printers"). It inserts FS & at the start and after every ESC @.
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

// spanish are the strings every rendering's transcript must hold.
var spanish = []string{"COCINA", "Mesa 12 · Camarero: Lucía", "2x Tortilla española", "17,00 €", "Sin cebolla", "ñ á é í ó ú ü ¿ ¡ Ñ"}

func TestGoldenStarKitchen(t *testing.T) {
	doc := kitchen(t)
	clone := clonePlugin(t)
	cloneTransform := func(t *testing.T, data []byte, p *core.Profile) []byte {
		out, err := clone.Transform(context.Background(), data, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		profile string
		encode  func(*testing.T, *core.Profile) []byte
		text    bool // the transcript has the text (not a raster-only printer)
	}{
		{"epson-tm-t20iii", func(t *testing.T, p *core.Profile) []byte {
			b, err := escpos.Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, true},
		{"star-tsp650", func(t *testing.T, p *core.Profile) []byte {
			b, err := starline.Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, true},
		{"star-tsp100", func(t *testing.T, p *core.Profile) []byte {
			b, err := stargraphic.Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, false},
		{"xprinter-xp80", func(t *testing.T, p *core.Profile) []byte {
			b, err := escpos.Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			return cloneFirmware(cloneTransform(t, b, p))
		}, true},
		{"xprinter-xp58", func(t *testing.T, p *core.Profile) []byte {
			b, err := escpos.Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			return cloneFirmware(cloneTransform(t, b, p))
		}, true},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			p := builtin(t, tc.profile)
			data := tc.encode(t, p)
			res, err := sim.Render(data, p)
			if err != nil {
				t.Fatal(err)
			}
			goldenPNG(t, "design-"+tc.profile, res.Image)
			if w := res.Warnings(); len(w) > 0 {
				t.Errorf("the sim warned about the %s bytes: %q", tc.profile, w)
			}
			// The ticket ends in a partial cut; the drawer kick after it
			// is on the next (blank) one, as the document orders them.
			pulses := 0
			for _, tk := range res.Tickets {
				pulses += len(tk.Pulses)
			}
			cut := ""
			if len(p.Cuts) > 0 {
				cut = "partial"
			}
			if res.Tickets[0].Cut != cut || (p.Drawer && pulses != 1) || (!p.Drawer && pulses != 0) {
				t.Errorf("first ticket cut %q, %d drawer pulses (profile drawer %v)", res.Tickets[0].Cut, pulses, p.Drawer)
			}
			text := res.Text()
			if tc.text {
				for _, s := range spanish {
					if !strings.Contains(text, s) {
						t.Errorf("transcript lacks %q:\n%s", s, text)
					}
				}
			}
			// Native (ESC/POS GS ( k and GS k, Star ESC GS y and ESC b)
			// or drawn as images, the symbols scan.
			if got, err := zx(t, "qr", res.Image); err != nil || got != "https://example.com/t/8812" {
				t.Errorf("QR: gozxing decoded %q, %v", got, err)
			}
			if got, err := zx(t, "ean13", res.Image); err != nil || got != "4006381333931" {
				t.Errorf("EAN-13: gozxing decoded %q, %v", got, err)
			}
			t.Logf("%s: %d bytes, %d dots of paper\n%s", tc.profile, len(data), res.Tickets[0].Length, text)
		})
	}
}

// TestCloneWithoutPlugin is the control for the clone goldens: the same
// bytes sent to clone firmware without the clone plugin's FS . come out in
// Kanji mode, accents lost.
func TestCloneWithoutPlugin(t *testing.T) {
	p := builtin(t, "xprinter-xp80")
	res, err := sim.Render(cloneFirmware(must(escpos.Encode(kitchen(t), p))), p)
	if err != nil {
		t.Fatal(err)
	}
	if text := res.Text(); strings.Contains(text, "Lucía") || strings.Contains(text, "española") {
		t.Errorf("accents printed right without the plugin:\n%s", text)
	}
	if w := strings.Join(res.Warnings(), "\n"); !strings.Contains(w, "Kanji mode") {
		t.Errorf("warnings %q, want the Kanji mode warning", w)
	}
}

// TestStarGraphicMatchesESCPOS: the star plugin's raster encoding for the
// TSP100 (stargraphic), rendered by the sim's Star raster interpreter, is
// dot for dot the sim's ESC/POS rendering of the same blocks for the same
// paper, whose transcript has the Spanish text: the raster path loses
// nothing, accents included.
func TestStarGraphicMatchesESCPOS(t *testing.T) {
	doc := kitchen(t)
	p := builtin(t, "star-tsp100")
	data, err := stargraphic.Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	star, err := sim.Render(data, p)
	if err != nil {
		t.Fatal(err)
	}
	proxy := p.Clone()
	proxy.CommandSet, proxy.Raster, proxy.Quirks = core.CommandSetESCPOS, core.RasterGSv0, ""
	cut := 0
	for cut < len(doc) && doc[cut].Kind != core.KindCut {
		cut++
	}
	ref, err := sim.Render(must(escpos.Encode(doc[:cut], proxy)), proxy)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range spanish {
		if !strings.Contains(ref.Text(), s) {
			t.Errorf("ESC/POS transcript lacks %q", s)
		}
	}
	h := ref.Image.Rect.Dy()
	if star.Image.Rect.Dy() < h {
		t.Fatalf("Star roll %v shorter than the ESC/POS one %v", star.Image.Rect, ref.Image.Rect)
	}
	w := ref.Image.Stride
	if !bytes.Equal(star.Image.Pix[:h*w], ref.Image.Pix[:h*w]) {
		t.Errorf("the Star raster rendering differs from the ESC/POS rendering in its first %d rows", h)
	}
	if star.Tickets[0].Cut != "partial" || len(star.Warnings()) > 0 {
		t.Errorf("cut %q, warnings %q", star.Tickets[0].Cut, star.Warnings())
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestStarLinePluginRenders checks the star plugin's Star Line Mode output
// for documents that use every block kind and option: the sim renders it
// without a warning, and the transcript says what the document says.
func TestStarLinePluginRenders(t *testing.T) {
	p := builtin(t, "star-tsp650")
	var doc core.Document
	add := func(b core.Block) { doc = append(doc, b) }
	for _, f := range []string{"", "a", "b"} {
		for _, a := range []string{"left", "center", "right"} {
			add(core.Block{Kind: core.KindText, Text: "Añejo " + f + " " + a, Font: f, Align: a})
		}
	}
	add(core.Block{Kind: core.KindText, Text: "Negrita", Bold: true})
	add(core.Block{Kind: core.KindText, Text: "Subrayado", Underline: true})
	add(core.Block{Kind: core.KindText, Text: "Invertido", Invert: true})
	for n := 1; n <= 8; n++ {
		add(core.Block{Kind: core.KindText, Text: "X", Width: n, Height: n})
	}
	add(core.Block{Kind: core.KindText, Text: "Una línea muy larga que no cabe en una sola línea del ticket y se parte en palabras"})
	add(core.Block{Kind: core.KindLine, Text: "="})
	add(core.Block{Kind: core.KindLine, Text: "·", Font: "b"})
	add(core.Block{Kind: core.KindColumns, Columns: []string{"1x Café con leche", "1,80 €"}})
	add(core.Block{Kind: core.KindColumns, Columns: []string{"3x Croquetas de jamón ibérico con alioli casero", "12,50 €"}, Bold: true})
	add(core.Block{Kind: core.KindText, Text: "Ελληνικά и кириллица ✓"})
	for _, l := range []string{"l", "m", "q", "h"} {
		add(core.Block{Kind: core.KindQR, Text: "https://example.com/" + l, Level: l, Size: 4, Align: "center"})
	}
	for _, bc := range []struct{ sym, data string }{
		{"ean13", "4006381333931"}, {"ean8", "9638507"}, {"upca", "01234567890"}, {"upce", "04210000526"}, {"upce", "0425261"},
		{"code39", "ABC-123"}, {"itf", "12345678"}, {"codabar", "A40156B"}, {"code93", "CODE93"}, {"code128", "Mesa 12"},
	} {
		add(core.Block{Kind: core.KindBarcode, Text: bc.data, Symbology: bc.sym, HRI: true, Align: "center"})
	}
	add(core.Block{Kind: core.KindImage, Image: plate(t), Align: "right"})
	add(core.Block{Kind: core.KindFeed, N: 200})
	add(core.Block{Kind: core.KindCut, Cut: "full"})
	add(core.Block{Kind: core.KindText, Text: "Segundo ticket"})
	add(core.Block{Kind: core.KindDrawer, N: 2})
	add(core.Block{Kind: core.KindCut, Cut: "partial"})

	data, err := starline.Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.Render(data, p)
	if err != nil {
		t.Fatal(err)
	}
	if w := res.Warnings(); len(w) > 0 {
		t.Errorf("the sim warned about the star plugin's output: %q", w)
	}
	text := res.Text()
	for _, s := range []string{"Añejo  left", "Añejo b right", "Negrita", "Subrayado", "Invertido", "1x Café con leche", "1,80 €",
		"12,50 €", "???????? и кириллица ?", "[QR: https://example.com/h]", "[EAN13: 4006381333931]", "[EAN8: 96385074]",
		"[UPCA: 012345678905]", "[UPCE: 425261]", "[CODE39: ABC-123]", "[ITF: 12345678]", "[CODABAR: A40156B]", "[CODE93: CODE93]",
		"[CODE128: Mesa 12]", "--- full cut ---\nSegundo ticket\n--- partial cut ---"} {
		if !strings.Contains(text, s) {
			t.Errorf("transcript lacks %q", s)
		}
	}
	if len(res.Tickets) != 2 || len(res.Tickets[1].Pulses) != 1 || res.Tickets[1].Pulses[0].Pin != 5 {
		t.Errorf("%d tickets, want 2 with a drawer 2 kick on the second", len(res.Tickets))
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", text)
	}
}

// FuzzStarLinePlugin feeds documents from JSON to the star plugin's Star
// Line Mode encoder and renders what it returns: the sim must never warn
// about the plugin's output, whatever the document.
func FuzzStarLinePlugin(f *testing.F) {
	f.Add(strings.Replace(kitchenDoc, `"image": ""`, `"image": "`+base64.StdEncoding.EncodeToString(plate(f))+`"`, 1))
	f.Add(`[{"columns":["a very long item name that wraps","1,00 €"],"width":3}]`)
	f.Add(`[{"barcode":"12345678","type":"upce","hri":true},{"barcode":"{x}","type":"code128"},{"feed":255}]`)
	f.Add(`[{"qr":"ñ","size":16,"level":"q","align":"right"},{"text":"\u0007\u001b\u001e¿?","font":"b","width":8,"height":7,"invert":true}]`)
	f.Add(`[{"line":"€","bold":true},{"cut":"full"},{"drawer":2},{"beep":9},{"text":"日本語 ✓ Ελλάδα"}]`)
	p := builtin(f, "star-tsp650")
	f.Fuzz(func(t *testing.T, src string) {
		var doc core.Document
		if json.Unmarshal([]byte(src), &doc) != nil {
			return
		}
		out, err := starline.Encode(doc, p)
		if err != nil {
			return
		}
		res, err := sim.RenderOptions(out, p, sim.Options{NoImage: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range res.Warnings() {
			if !strings.Contains(w, "paper length cap") {
				t.Fatalf("the sim warned about the plugin's output: %s\ndocument %s", w, src)
			}
		}
	})
}

// BenchmarkRenderStar measures the sim interpreting and drawing the kitchen
// ticket as the star plugin encodes it, in Star Line Mode (TSP650) and as
// Star raster rows (TSP100):
//
//	go test -bench RenderStar -benchmem ./drivers/sim
func BenchmarkRenderStar(b *testing.B) {
	doc := kitchen(b)
	for _, tc := range []struct {
		profile string
		encode  func(core.Document, *core.Profile) ([]byte, error)
	}{
		{"star-tsp650", starline.Encode},
		{"star-tsp100", stargraphic.Encode},
	} {
		b.Run(tc.profile, func(b *testing.B) {
			p := builtin(b, tc.profile)
			data, err := tc.encode(doc, p)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sim.Render(data, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
