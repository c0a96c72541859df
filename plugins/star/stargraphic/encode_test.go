package stargraphic

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/escpos"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const designDoc = `[
  {"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
  {"text": "Mesa 12 · Camarero: Lucía"},
  {"line": "-"},
  {"columns": ["2x Tortilla española", "17,00 €"]},
  {"text": "Sin cebolla", "underline": true, "invert": false, "font": "b"},
  {"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
  {"barcode": "4006381333931", "type": "ean13", "hri": true},
  {"image": "iVBORw0KGgo="},
  {"feed": 2},
  {"cut": "partial"},
  {"drawer": 1},
  {"beep": 2}
]`

// logoPNG is a 64×32 black frame.
func logoPNG(t testing.TB) []byte {
	img := image.NewGray(image.Rect(0, 0, 64, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 64; x++ {
			c := color.Gray{0xff}
			if x < 4 || x >= 60 || y < 4 || y >= 28 {
				c = color.Gray{}
			}
			img.SetGray(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func loadDoc(t testing.TB, src string) core.Document {
	t.Helper()
	var doc core.Document
	if err := json.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	for i := range doc {
		if doc[i].Kind == core.KindImage {
			doc[i].Image = logoPNG(t)
		}
	}
	return doc
}

func tsp100(t testing.TB) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup("star-tsp100")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// item is one element of Encode's output: a run of raster rows as an image,
// or another command as text.
type item struct {
	img *image.Gray // white 0xff, black 0
	cmd string
}

// parse reads Encode's output back, failing on anything it does not emit.
func parse(t *testing.T, out []byte, width int) []item {
	t.Helper()
	var items []item
	var rows [][]byte
	flush := func() {
		if rows == nil {
			return
		}
		img := image.NewGray(image.Rect(0, 0, width, len(rows)))
		for i := range img.Pix {
			img.Pix[i] = 0xff
		}
		for y, r := range rows {
			for x := 0; x < width && x/8 < len(r); x++ {
				if r[x/8]&(0x80>>(x%8)) != 0 {
					img.Pix[y*img.Stride+x] = 0
				}
			}
		}
		items = append(items, item{img: img})
		rows = nil
	}
	for len(out) > 0 {
		switch {
		case out[0] == 'b':
			n := int(out[1]) | int(out[2])<<8
			if n < 1 || n > (width+7)/8 {
				t.Fatalf("row of %d bytes", n)
			}
			rows = append(rows, out[3:3+n])
			out = out[3+n:]
			continue
		case bytes.HasPrefix(out, []byte("\x1b*r")) && (out[3] == 'A' || out[3] == 'B'):
			flush()
			items = append(items, item{cmd: "ESC * r " + string(out[3])})
			out = out[4:]
		case bytes.HasPrefix(out, []byte("\x1b*r")):
			flush()
			end := bytes.IndexByte(out, 0)
			items = append(items, item{cmd: fmt.Sprintf("ESC * r %c %s NUL", out[3], out[4:end])})
			out = out[end+1:]
		case bytes.HasPrefix(out, []byte{esc, ff, eot}):
			flush()
			items = append(items, item{cmd: "ESC FF EOT"})
			out = out[3:]
		case out[0] == bel:
			flush()
			items = append(items, item{cmd: "BEL"})
			out = out[1:]
		case out[0] == sub:
			flush()
			items = append(items, item{cmd: "SUB"})
			out = out[1:]
		default:
			t.Fatalf("unexpected bytes % x", out[:min(len(out), 16)])
		}
	}
	flush()
	return items
}

func cmds(items []item) string {
	var s []string
	for _, it := range items {
		if it.img != nil {
			s = append(s, fmt.Sprintf("[%dx%d]", it.img.Rect.Dx(), it.img.Rect.Dy()))
		} else {
			s = append(s, it.cmd)
		}
	}
	return strings.Join(s, ", ")
}

// rendered is what the sim draws for doc on the ESC/POS twin of p.
func rendered(t *testing.T, doc core.Document, p *core.Profile) (*image.Paletted, string) {
	t.Helper()
	data, err := escpos.Encode(doc, proxy(p))
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.Render(data, proxy(p))
	if err != nil {
		t.Fatal(err)
	}
	return res.Image, res.Text()
}

func TestEncodeDesignDocument(t *testing.T) {
	p := tsp100(t)
	doc := loadDoc(t, designDoc)
	out, err := Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	items := parse(t, out, p.DotsPerLine)
	// Everything up to the cut is one image; then the partial cut (EOT
	// mode 13: cut feed and partial cut), the drawer, no beep (the TSP100
	// has no buzzer), and the end of raster mode.
	want := []string{"ESC * r A", "ESC * r P 0 NUL", "IMG", "ESC * r E 13 NUL", "ESC FF EOT", "BEL", "ESC * r E 1 NUL", "ESC * r B"}
	var got []string
	for _, it := range items {
		if it.img != nil {
			got = append(got, "IMG")
		} else {
			got = append(got, it.cmd)
		}
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("commands: %s\nwant %s", cmds(items), strings.Join(want, ", "))
	}
	// The image is, dot for dot, what the sim renders for the same blocks.
	img := items[2].img
	ref, text := rendered(t, doc[:9], p)
	if img.Rect != ref.Rect {
		t.Fatalf("image %v, sim renders %v", img.Rect, ref.Rect)
	}
	for y := 0; y < ref.Rect.Dy(); y++ {
		for x := 0; x < ref.Rect.Dx(); x++ {
			if (ref.ColorIndexAt(x, y) == 1) != (img.GrayAt(x, y).Y == 0) {
				t.Fatalf("dot %d,%d differs from the sim's rendering", x, y)
			}
		}
	}
	// What was rendered says what the document says, accents and € included.
	for _, s := range []string{"COCINA", "Mesa 12 · Camarero: Lucía", "2x Tortilla española", "17,00 €", "Sin cebolla"} {
		if !strings.Contains(text, s) {
			t.Errorf("rendered text lacks %q:\n%s", s, text)
		}
	}
	goldenPNG(t, "design-tsp100.png", img)
}

// goldenPNG compares img's dots with testdata/name (-update rewrites it).
func goldenPNG(t *testing.T, name string, img *image.Gray) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("image %v, golden %v (run with -update if intended)", img.Bounds(), want.Bounds())
	}
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			r, _, _, _ := want.At(x, y).RGBA()
			if (r < 0x8000) != (img.GrayAt(x, y).Y == 0) {
				t.Fatalf("dot %d,%d differs from %s (run with -update if intended)", x, y, path)
			}
		}
	}
}

func TestEncodeCutsAndStretches(t *testing.T) {
	p := tsp100(t)
	noCutter := p.Clone()
	noCutter.Cuts = nil
	cutFeed := p.Clone()
	cutFeed.CutFeed = 3
	buzzer := p.Clone()
	buzzer.Beep = true
	noDrawer := p.Clone()
	noDrawer.Drawer = false
	for _, tc := range []struct {
		name string
		p    *core.Profile
		doc  string
		want string
	}{
		{"two tickets", p, `[{"text":"uno"},{"cut":"full"},{"text":"dos"},{"cut":"partial"}]`,
			"ESC * r A, ESC * r P 0 NUL, [576x24], ESC * r E 9 NUL, ESC FF EOT, [576x24], ESC * r E 13 NUL, ESC FF EOT, ESC * r E 1 NUL, ESC * r B"},
		{"no cut at the end", p, `[{"text":"uno"}]`,
			"ESC * r A, ESC * r P 0 NUL, [576x24], ESC * r E 1 NUL, ESC * r B"},
		{"no cutter", noCutter, `[{"text":"uno"},{"cut":"full"}]`,
			"ESC * r A, ESC * r P 0 NUL, [576x24], ESC * r E 3 NUL, ESC FF EOT, ESC * r E 1 NUL, ESC * r B"},
		{"cut feed", cutFeed, `[{"text":"uno"},{"cut":"partial"}]`,
			"ESC * r A, ESC * r P 0 NUL, [576x27], ESC * r E 12 NUL, ESC FF EOT, ESC * r E 1 NUL, ESC * r B"},
		{"drawer 2 and beeps", buzzer, `[{"drawer":2},{"beep":3}]`,
			"ESC * r A, ESC * r P 0 NUL, SUB, ESC * r V 13 NUL, ESC * r E 1 NUL, ESC * r B"},
		{"no drawer", noDrawer, `[{"drawer":1}]`, "ESC * r A, ESC * r P 0 NUL, ESC * r E 1 NUL, ESC * r B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Encode(loadDoc(t, tc.doc), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			got := cmds(parse(t, out, tc.p.DotsPerLine))
			// Line heights come from the sim's fonts: compare the shape.
			if normalize(got) != normalize(tc.want) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// normalize replaces image heights by "h", except a cut feed's extra rows,
// which the "cut feed" case checks through its own reference.
func normalize(s string) string {
	var out []string
	for _, f := range strings.Split(s, ", ") {
		if strings.HasPrefix(f, "[576x") {
			f = "[576xh]"
		}
		out = append(out, f)
	}
	return strings.Join(out, ", ")
}

func TestCutFeedRows(t *testing.T) {
	p := tsp100(t)
	doc := loadDoc(t, `[{"text":"uno"},{"cut":"partial"}]`)
	plain, err := Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	fed := p.Clone()
	fed.CutFeed = 5
	withFeed, err := Encode(doc, fed)
	if err != nil {
		t.Fatal(err)
	}
	a := parse(t, plain, p.DotsPerLine)[2].img.Rect.Dy()
	b := parse(t, withFeed, p.DotsPerLine)[2].img.Rect.Dy()
	if b != a+5 {
		t.Errorf("%d rows with cut_feed 5, %d without", b, a)
	}
}

func TestEncodeErrors(t *testing.T) {
	p := tsp100(t)
	for _, tc := range []struct {
		doc  string
		p    *core.Profile
		want string
	}{
		{`[{"text":"a"},{"cut":"full"},{"text":"b"},{"barcode":"4006381333932","type":"ean13"}]`, p,
			"document[3]: ean13: check digit"},
		{`[{"image":"aGVsbG8="}]`, p, "document[0]: image"},
		{`[{"text":"x"}]`, core.Builtin()["star-tsp650"], "not Star Graphic Mode"},
		{`[{"text":"x","height":9}]`, p, "height 9"},
	} {
		var doc core.Document
		if err := json.Unmarshal([]byte(tc.doc), &doc); err != nil {
			t.Fatal(err)
		}
		_, err := Encode(doc, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// FuzzEncode feeds documents from JSON: whatever the backend sends, Encode
// returns raster bytes or an error, never panics.
func FuzzEncode(f *testing.F) {
	f.Add(`[{"text":"uno"},{"cut":"full"},{"text":"dos ñ €","width":3},{"drawer":2}]`)
	f.Add(`[{"columns":["a very long item name that wraps","1,00 €"]},{"qr":"x","align":"right"},{"beep":1}]`)
	f.Add(`[{"barcode":"12345670","type":"ean8","hri":true},{"feed":3},{"cut":"partial"}]`)
	p := core.Builtin()["star-tsp100"]
	f.Fuzz(func(t *testing.T, src string) {
		var doc core.Document
		if json.Unmarshal([]byte(src), &doc) != nil || len(doc) > 20 {
			return
		}
		out, err := Encode(doc, p)
		if err == nil && (!bytes.HasPrefix(out, []byte("\x1b*rA")) || !bytes.HasSuffix(out, []byte("\x1b*rB"))) {
			t.Fatalf("output % x… is not one raster job", out[:min(len(out), 16)])
		}
	})
}
