package starline

import (
	"bytes"
	"encoding/hex"
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
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// designDoc is the example document of DESIGN.md, with a real PNG for the
// image block.
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

// testPNG is 16×2: the first row's left half black, the rest white.
func testPNG(t testing.TB) []byte {
	img := image.NewGray(image.Rect(0, 0, 16, 2))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for x := 0; x < 8; x++ {
		img.SetGray(x, 0, color.Gray{})
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
			doc[i].Image = testPNG(t)
		}
	}
	return doc
}

func profile(t testing.TB, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// h decodes hex with spaces, and quoted ASCII: h(`1b 40 "AB"`).
func h(s string) []byte {
	var out []byte
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \n\t")
		if s == "" {
			break
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"') + 1
			out = append(out, s[1:end]...)
			s = s[end+1:]
			continue
		}
		f := strings.Fields(s)[0]
		b, err := hex.DecodeString(f)
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
		s = s[len(f):]
	}
	return out
}

// TestEncodeDesignDocument checks every block of the DESIGN.md document
// against bytes worked out by hand from the Star Line Mode specification,
// and the whole against the golden file.
func TestEncodeDesignDocument(t *testing.T) {
	p := profile(t, "star-tsp650")
	doc := loadDoc(t, designDoc)
	want := [][]byte{
		// ESC @; ESC GS t 1 (PC437, the TSP650's default page).
		h(`1b 40 1b 1d 74 01`),
		// Centre, emphasis, ESC i 1 1 (2× high and wide), text, back to defaults.
		h(`1b 1d 61 01 1b 45 1b 69 01 01 "COCINA" 0a 1b 1d 61 00 1b 46 1b 69 00 00`),
		// · is 0xFA and í 0xA1 in PC437.
		h(`"Mesa 12 " fa " Camarero: Luc" a1 "a" 0a`),
		h(`"------------------------------------------------" 0a`),
		// ñ is 0xA4 in PC437; € needs PC858 (Star's 4), where it is 0xD5.
		h(`"2x Tortilla espa" a4 "ola                     17,00 " 1b 1d 74 04 d5 0a`),
		// Font B (ESC RS F 1) and underline (ESC - 1); PC858 stays selected.
		h(`1b 1e 46 01 1b 2d 01 "Sin cebolla" 0a 1b 1e 46 00 1b 2d 00`),
		// QR: model 2, level M (1), cell 6, 26 bytes of data, print.
		h(`1b 1d 79 53 30 02 1b 1d 79 53 31 01 1b 1d 79 53 32 06 1b 1d 79 44 31 00 1a 00 "https://example.com/t/8812" 1b 1d 79 50 0a`),
		// ESC b: EAN-13 (3), digits under the bars (2), 3-dot modules (mode 2), 80 dots high, RS.
		h(`1b 62 03 02 02 50 "4006381333931" 1e`),
		// Raster mode: enter, continuous page, no cut at the end; two rows; quit.
		h(`1b 2a 72 41 1b 2a 72 50 30 00 1b 2a 72 45 31 00 62 01 00 ff 62 01 00 00 1b 2a 72 42`),
		h(`1b 61 02`), // feed 2 lines
		h(`1b 64 03`), // feed to the cutter, partial cut
		h(`07`),       // drawer 1
		nil,           // beep: the TSP650 profile has no buzzer
	}
	got, err := Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	rest := got
	for i, w := range want {
		if !bytes.HasPrefix(rest, w) {
			n := min(len(rest), len(w)+8)
			t.Fatalf("part %d:\n got % x\nwant % x", i, rest[:n], w)
		}
		rest = rest[len(w):]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes after the last block: % x", len(rest), rest)
	}
	golden(t, "design-tsp650.hex", got)
}

// golden compares data, as a hex dump, with testdata/name (-update rewrites it).
func golden(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	dump := []byte(hex.Dump(data))
	if *update {
		if err := os.WriteFile(path, dump, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(dump, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\n%s", path, dump)
	}
}

func TestEncodeBlocks(t *testing.T) {
	tsp := profile(t, "star-tsp650")
	noQR := tsp.Clone()
	noQR.QR = false
	noBarcodes := tsp.Clone()
	noBarcodes.Barcodes = nil
	noCutter := tsp.Clone()
	noCutter.Cuts = nil
	cutFeed := tsp.Clone()
	cutFeed.CutFeed = 300
	fullOnly := tsp.Clone()
	fullOnly.Cuts = []string{"full"}
	buzzer := tsp.Clone()
	buzzer.Beep = true
	const init = "1b 40 1b 1d 74 01 "
	for _, tc := range []struct {
		name string
		p    *core.Profile
		doc  string
		want string // hex after ESC @ ESC GS t 1
	}{
		{"invert", tsp, `[{"text":"X","invert":true}]`, `1b 34 "X" 0a 1b 35`},
		{"size clamps at 6x", tsp, `[{"text":"X","width":8,"height":7}]`, `1b 69 05 05 "X" 0a 1b 69 00 00`},
		{"right", tsp, `[{"text":"X","align":"right"}]`, `1b 1d 61 02 "X" 0a 1b 1d 61 00`},
		{"newlines", tsp, `[{"text":"a\nb\n"}]`, `"a" 0a "b" 0a`},
		{"control characters print as ?", tsp, `[{"text":"a\u001bb\u001dc"}]`, `"a?b?c" 0a`},
		{"word wrap at 24 columns (2x wide)", tsp, `[{"text":"aaaa bbbbbbbbbb cccccccccc dddd","width":2}]`,
			`1b 69 00 01 "aaaa bbbbbbbbbb" 0a "cccccccccc dddd" 0a 1b 69 00 00`},
		{"line of =", tsp, `[{"line":"=","font":"b"}]`, `1b 1e 46 01 "` + strings.Repeat("=", 64) + `" 0a 1b 1e 46 00`},
		{"feed 300", tsp, `[{"feed":255}]`, `1b 61 7f 1b 61 7f 1b 61 01`},
		{"full cut", tsp, `[{"cut":"full"}]`, `1b 64 02`},
		{"partial asked, full made", fullOnly, `[{"cut":"partial"}]`, `1b 64 02`},
		{"no cutter", noCutter, `[{"cut":"full"}]`, `1b 61 04`},
		{"cut feed", cutFeed, `[{"cut":"partial"}]`, `1b 49 ff 1b 49 2d 1b 64 01`},
		{"drawer 2", tsp, `[{"drawer":2}]`, `1a`},
		{"beep", buzzer, `[{"beep":2}]`, `1b 1d 07 01 0a 0a 1b 1d 07 01 0a 0a`},
		{"code39 without stars", tsp, `[{"barcode":"*AB-12*","type":"code39","module_width":2,"bar_height":40}]`,
			`1b 62 04 01 01 28 "AB-12" 1e`},
		{"codabar gets start/stop", tsp, `[{"barcode":"1234","type":"codabar"}]`, `1b 62 08 01 02 50 "A1234A" 1e`},
		{"itf wide modules", tsp, `[{"barcode":"1234","type":"itf","module_width":6,"align":"center"}]`,
			`1b 1d 61 01 1b 62 05 01 03 50 "1234" 1e 1b 1d 61 00`},
		{"qr cell clamps at 8", tsp, `[{"qr":"x","size":16,"level":"h"}]`,
			`1b 1d 79 53 30 02 1b 1d 79 53 31 03 1b 1d 79 53 32 08 1b 1d 79 44 31 00 01 00 "x" 1b 1d 79 50 0a`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := loadDoc(t, tc.doc)
			got, err := Encode(doc, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			want := h(init + tc.want)
			if !bytes.Equal(got, want) {
				t.Errorf("\n got % x\nwant % x", got, want)
			}
		})
	}

	// Without native QR or barcodes the symbols are drawn as rasters.
	for _, tc := range []struct {
		name string
		p    *core.Profile
		doc  string
		tail string
	}{
		{"qr as raster", noQR, `[{"qr":"hello"}]`, ""},
		{"barcode as raster", noBarcodes, `[{"barcode":"4006381333931","type":"ean13","hri":true}]`, `"4006381333931" 0a`},
		{"short upce as raster", tsp, `[{"barcode":"0123456","type":"upce"}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(loadDoc(t, tc.doc), tc.p)
			if err != nil {
				t.Fatal(err)
			}
			body := got[len(h(init)):]
			enter := h(`1b 2a 72 41 1b 2a 72 50 30 00 1b 2a 72 45 31 00`)
			if !bytes.HasPrefix(body, enter) {
				t.Fatalf("no raster mode: % x", body[:min(len(body), 32)])
			}
			quit := bytes.Index(body, h(`1b 2a 72 42`))
			if quit < 0 {
				t.Fatal("raster mode not quit")
			}
			rows := countRows(t, body[len(enter):quit])
			if rows < 20 {
				t.Errorf("%d raster rows, want a symbol's worth", rows)
			}
			if tail := body[quit+4:]; !bytes.Equal(tail, h(tc.tail)) {
				t.Errorf("after the raster: % x, want % x", tail, h(tc.tail))
			}
		})
	}
}

// countRows walks "b n1 n2 d…" rows and counts them; anything else fails.
func countRows(t *testing.T, b []byte) int {
	t.Helper()
	rows := 0
	for len(b) > 0 {
		if b[0] != 'b' || len(b) < 3 {
			t.Fatalf("not a raster row: % x", b[:min(len(b), 8)])
		}
		n := int(b[1]) | int(b[2])<<8
		if n < 1 || n > 72 || len(b) < 3+n {
			t.Fatalf("bad row length %d", n)
		}
		b = b[3+n:]
		rows++
	}
	return rows
}

func TestEncodeAlignedImage(t *testing.T) {
	p := profile(t, "star-tsp650")
	doc := core.Document{{Kind: core.KindImage, Image: testPNG(t), Align: "center"}}
	got, err := Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	// 16 dots wide on 576: starts at dot 280 = byte 35.
	row := append(bytes.Repeat([]byte{0}, 35), 0xff)
	want := append([]byte{'b', 36, 0}, row...)
	if !bytes.Contains(got, want) {
		t.Errorf("centred row not found in % x", got)
	}
	// An unaligned offset shifts bits across bytes.
	dst := make([]byte, 4)
	placeRow(dst, []byte{0xff, 0x81}, 4)
	if !bytes.Equal(dst, []byte{0x0f, 0xf8, 0x10, 0x00}) {
		t.Errorf("placeRow = % x", dst)
	}
}

func TestEncodeErrors(t *testing.T) {
	p := profile(t, "star-tsp650")
	for _, tc := range []struct {
		doc  string
		p    *core.Profile
		want string
	}{
		{`[{"text":"x"}]`, profile(t, "epson-tm-t20iii"), "not Star Line Mode"},
		{`[{"barcode":"4006381333932","type":"ean13"}]`, p, "document[0]: ean13: check digit"},
		{`[{"text":"x","width":9}]`, p, "width 9"},
		{`[{"image":"aGVsbG8="}]`, p, "document[0]: image"},
	} {
		var doc core.Document
		if err := json.Unmarshal([]byte(tc.doc), &doc); err != nil {
			t.Fatal(err)
		}
		_, err := Encode(doc, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
	if _, err := Encode(core.Document{{Kind: core.KindText}}, nil); err == nil {
		t.Error("nil profile accepted")
	}
}

// FuzzEncode feeds documents from JSON: whatever the backend sends, Encode
// returns bytes or an error, never panics.
func FuzzEncode(f *testing.F) {
	f.Add(designDoc)
	f.Add(`[{"columns":["a very long item name that wraps","1,00 €"],"width":3}]`)
	f.Add(`[{"barcode":"12345678","type":"upce","hri":true}]`)
	f.Add(`[{"qr":"ñ","size":1,"level":"q","align":"right"}]`)
	p := core.Builtin()["star-tsp650"]
	f.Fuzz(func(t *testing.T, src string) {
		var doc core.Document
		if json.Unmarshal([]byte(src), &doc) != nil {
			return
		}
		out, err := Encode(doc, p)
		if err == nil && (len(out) < 6 || !bytes.HasPrefix(out, []byte{esc, '@'})) {
			t.Fatalf("output % x does not start with ESC @", out)
		}
	})
}

func ExampleEncode() {
	p := core.Builtin()["star-tsp650"]
	out, _ := Encode(core.Document{{Kind: core.KindText, Text: "Hola", Bold: true}}, p)
	fmt.Printf("% x\n", out)
	// Output: 1b 40 1b 1d 74 01 1b 45 48 6f 6c 61 0a 1b 46
}
