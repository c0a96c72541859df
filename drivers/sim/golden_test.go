package sim

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/text/encoding/charmap"

	"github.com/comandera/comandera/core"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata/")

// profile returns a built-in profile.
func profile(t testing.TB, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// render renders data for the named profile ("" for the default).
func render(t testing.TB, data []byte, prof string) *Result {
	t.Helper()
	var p *core.Profile
	if prof != "" {
		p = profile(t, prof)
	}
	res, err := Render(data, p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// enc transcodes UTF-8 text to a code page, as a test writing raw bytes
// would; it fails the test on a character the page lacks.
func enc(t testing.TB, cm *charmap.Charmap, s string) []byte {
	t.Helper()
	b, err := cm.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}

// golden compares img with testdata/NAME.png, pixel by pixel; -update
// rewrites it. On a difference the rendered image is saved beside the test's
// temporary files and its path reported.
func golden(t *testing.T, name string, img *image.Paletted) {
	t.Helper()
	path := filepath.Join("testdata", name+".png")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := EncodePNG(f, img); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
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
		p := filepath.Join(os.TempDir(), "comandera-golden-"+name+".png")
		if f, err := os.Create(p); err == nil {
			EncodePNG(f, img)
			f.Close()
		}
		return p
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("%s: rendered %v, golden %v; rendered image saved as %s", name, img.Bounds(), want.Bounds(), save())
	}
	diff := 0
	first := image.Point{-1, -1}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, _, _, _ := want.At(x, y).RGBA()
			ink := r < 0x8000
			if ink != (img.ColorIndexAt(x, y) == 1) {
				if diff == 0 {
					first = image.Point{x, y}
				}
				diff++
			}
		}
	}
	if diff > 0 {
		t.Errorf("%s: %d dots differ from the golden image (first at %v); rendered image saved as %s (go test -update to accept)", name, diff, first, save())
	}
}

// lines returns the transcript of a result's tickets joined, for compact
// comparisons.
func lines(res *Result) []string {
	var out []string
	for _, t := range res.Tickets {
		out = append(out, t.Lines...)
	}
	return out
}

func TestGoldenStyles(t *testing.T) {
	cm := charmap.CodePage858
	b := bs(esc, '@', esc, 't', 19,
		"Normal: Ma", enc(t, cm, "ñana sí, café"), lf,
		esc, 'E', 1, "Bold (ESC E)", esc, 'E', 0, lf,
		esc, 'G', 1, "Double-strike (ESC G)", esc, 'G', 0, lf,
		esc, '-', 1, "Underline 1 dot", esc, '-', 0, lf,
		esc, '-', 2, "Underline 2 dots", esc, '-', 0, lf,
		gs, 'B', 1, " Invert (GS B) ", gs, 'B', 0, lf,
		esc, 'M', 1, "Font B: 9x17 cell, 64 columns on 80 mm paper", lf,
		esc, 'E', 1, "Font B bold", esc, 'E', 0, lf,
		esc, '-', 1, "Font B underlined", esc, '-', 0, esc, 'M', 0, lf,
		esc, '!', 0x01, "ESC ! font B", esc, '!', 0x08, " bold", esc, '!', 0x80, " under", esc, '!', 0x38, "2x2", esc, '!', 0, lf,
		esc, 'a', 0, "Left", lf,
		esc, 'a', 1, "Center", lf,
		esc, 'a', 2, "Right", lf,
		esc, 'a', 0, esc, ' ', 6, "Spaced (ESC SP 6)", esc, ' ', 0, lf,
		esc, '{', 1, "Upside down (ESC {)", lf, esc, '{', 0,
		"Mixed ", esc, 'E', 1, "bold ", esc, 'E', 0, esc, '-', 1, "under", esc, '-', 0, " ", gs, 'B', 1, "inv", gs, 'B', 0, " ", esc, 'M', 1, "fontB", esc, 'M', 0, " end", lf,
		"Tabs:", ht, "8", ht, "16", ht, "24", lf,
		esc, 'D', 10, 20, 30, 0, "ESC D:", ht, "10", ht, "20", ht, "30", lf,
		"Pos", esc, '$', 0, 1, "ESC $ 256", lf,
		gs, 'L', 48, 0, "Left margin 48 (GS L)", lf,
		gs, 'L', 0, 0, gs, 'W', 0, 1, "Print area 256 dots wide (GS W) wraps here", lf, gs, 'W', 64, 2,
		esc, '3', 50, "Line spacing 50 (ESC 3)", lf, "next", lf, esc, '2',
		"Line spacing default (ESC 2)", lf, "next", lf,
	)
	res := render(t, b, "")
	golden(t, "styles", res.Image)
	want := []string{
		"Normal: Mañana sí, café", "Bold (ESC E)", "Double-strike (ESC G)", "Underline 1 dot", "Underline 2 dots",
		" Invert (GS B)", "Font B: 9x17 cell, 64 columns on 80 mm paper", "Font B bold", "Font B underlined",
		"ESC ! font B bold under2x2", "Left", "Center", "Right", "Spaced (ESC SP 6)", "Upside down (ESC {)",
		"Mixed bold under inv fontB end", "Tabs:   8       16      24", "ESC D:    10        20        30",
		"Pos                  ESC $ 256", "Left margin 48 (GS L)", "Print area 256 dots w", "ide (GS W) wraps here",
		"Line spacing 50 (ESC 3)", "next", "Line spacing default (ESC 2)", "next",
	}
	if got := lines(res); !slices.Equal(got, want) {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w := res.Warnings(); len(w) > 0 {
		t.Errorf("warnings: %q", w)
	}
}

func TestGoldenSizes(t *testing.T) {
	b := bs(esc, '@')
	for n := 1; n <= 8; n++ {
		b = append(b, bs(gs, '!', (n-1)<<4, fmt.Sprintf("W%d", n), lf)...)
	}
	b = append(b, bs(gs, '!', 0, "H:")...)
	for n := 1; n <= 8; n++ {
		b = append(b, bs(gs, '!', n-1, fmt.Sprint(n))...)
	}
	b = append(b, bs(gs, '!', 0, "x", esc, 'M', 1, "B", esc, 'M', 0, lf)...)
	for n := 2; n <= 4; n++ {
		b = append(b, bs(gs, '!', (n-1)<<4|(n-1), fmt.Sprintf("%dx%d", n, n), lf)...)
	}
	b = append(b, bs(gs, '!', 0x11, esc, 'M', 1, "Font B 2x2 ", esc, 'M', 0, "A", gs, '!', 0, lf)...)
	// A line too wide for the paper wraps at the character that does not
	// fit: 12 characters of 48 dots fill 576.
	b = append(b, bs(gs, '!', 0x30, "WRAPPED AT 4X", gs, '!', 0, lf)...)
	res := render(t, b, "")
	golden(t, "sizes", res.Image)
	want := []string{"W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "H:12345678xB", "2x2", "3x3", "4x4", "Font B 2x2 A", "WRAPPED AT 4", "X"}
	if got := lines(res); !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
}

// pages are the code pages every profile of the sim must print, with the
// accented letters each holds.
var pages = []struct {
	name    string
	cm      *charmap.Charmap
	accents string
}{
	{"PC437", charmap.CodePage437, "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜáíóúñÑ¿¡"},
	{"PC850", charmap.CodePage850, "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜáíóúñÑ¿¡ÁÂÀÃãÊËÈÍÎÏÌÓÔÒõÕÚÛÙýÝ"},
	{"PC852", charmap.CodePage852, "ÇüéâäůćçłëŐőîŹÄĆÉĹĺôöĽľŚśÖÜŤťŁčáíóúĄąŽžĘęźČşÁÂĚŞŻżĂăĎđĐďËňÍÎěŢŮÓßÔŃńňŠšŔÚŕŰýÝţ"},
	{"PC858", charmap.CodePage858, "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜáíóúñÑ¿¡ÁÂÀÃãÊËÈÍÎÏÌÓÔÒõÕÚÛÙýÝ€"},
	{"PC860", charmap.CodePage860, "ÇüéâãàÁçêÊèÍÔìÃÂÉÀÈôõòÚùÌÕÜáíóúñÑ¿Ó"},
	{"PC863", charmap.CodePage863, "ÇüéâÂà¶çêëèïî‗À§ÉÈÊôËÏûùÔÜ¢£ÙÛƒ¦´óú¨¸³¯Î"},
	{"PC865", charmap.CodePage865, "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜøØáíóúñÑ¿¤"},
	{"PC866", charmap.CodePage866, "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюяЁёЄєЇїЎў"},
	{"WPC1252", charmap.Windows1252, "€ŠšŽžŸÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ¿¡"},
}

func TestGoldenCodePages(t *testing.T) {
	p := profile(t, core.DefaultProfile)
	var b []byte
	b = append(b, esc, '@')
	for _, pg := range pages {
		n, ok := p.CodePageNumber(pg.name)
		if !ok {
			t.Fatalf("%s is not in %s", pg.name, p.Name)
		}
		b = append(b, bs(esc, 't', 0, esc, 'E', 1, pg.name, esc, 'E', 0, lf, esc, 't', n)...)
		b = append(b, enc(t, pg.cm, pg.accents)...)
		b = append(b, lf)
	}
	res := render(t, b, "")
	golden(t, "codepages", res.Image)
	text := strings.Join(lines(res), "")
	for _, pg := range pages {
		if !strings.Contains(text, pg.name+pg.accents) {
			t.Errorf("%s: transcript lacks %q", pg.name, pg.accents)
		}
	}
}

// TestCodePageBytes checks every byte 0x20–0xFF of every listed code page
// prints as the character the code page defines.
func TestCodePageBytes(t *testing.T) {
	p := profile(t, core.DefaultProfile)
	for _, pg := range pages {
		n, _ := p.CodePageNumber(pg.name)
		b := bs(esc, '@', esc, 't', n)
		var want []rune
		for c := 0x20; c <= 0xff; c++ {
			b = append(b, byte(c), lf)
			if r := pg.cm.DecodeByte(byte(c)); r != ' ' {
				want = append(want, r)
			} else {
				want = append(want, 0) // blank line, dropped below
			}
		}
		res, err := RenderOptions(b, p, Options{NoImage: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []rune
		for _, l := range lines(res) {
			for _, r := range l {
				got = append(got, r)
			}
		}
		var wantNB []rune
		for _, r := range want {
			if r != 0 {
				wantNB = append(wantNB, r)
			}
		}
		if string(got) != string(wantNB) {
			t.Errorf("%s: printed %q\nwant %q", pg.name, string(got), string(wantNB))
		}
	}
}

// zxReader returns gozxing's reader for a symbology.
func zxReader(sym string) gozxing.Reader {
	switch sym {
	case "upca":
		return oned.NewUPCAReader()
	case "upce":
		return oned.NewUPCEReader()
	case "ean13":
		return oned.NewEAN13Reader()
	case "ean8":
		return oned.NewEAN8Reader()
	case "code39":
		return oned.NewCode39Reader()
	case "itf":
		return oned.NewITFReader()
	case "codabar":
		return oned.NewCodaBarReader()
	case "code93":
		return oned.NewCode93Reader()
	case "code128":
		return oned.NewCode128Reader()
	case "qr":
		return qrcode.NewQRCodeReader()
	}
	panic(sym)
}

// zxDecode decodes the symbol in img with gozxing, an independent decoder.
func zxDecode(t testing.TB, sym string, img image.Image) (string, error) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_TRY_HARDER:               true,
		gozxing.DecodeHintType_RETURN_CODABAR_START_END: true,
	}
	res, err := zxReader(sym).Decode(bmp, hints)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

var barcodes = []struct {
	sym     string
	m       byte // GS k function B
	data    string
	decoded string
	label   string
}{
	{"upca", 65, "01234567890", "012345678905", "[UPCA: 012345678905]"},
	{"upce", 66, "0425261", "04252614", "[UPCE: 425261]"},
	{"ean13", 67, "4006381333931", "4006381333931", "[EAN13: 4006381333931]"},
	{"ean8", 68, "9638507", "96385074", "[EAN8: 96385074]"},
	{"code39", 69, "CODE39 SIM", "CODE39 SIM", "[CODE39: CODE39 SIM]"},
	{"itf", 70, "12345678", "12345678", "[ITF: 12345678]"},
	{"codabar", 71, "A40156B", "A40156B", "[CODABAR: A40156B]"},
	{"code93", 72, "CODE93", "CODE93", "[CODE93: CODE93]"},
	{"code128", 73, "{BMesa-12/8812", "Mesa-12/8812", "[CODE128: Mesa-12/8812]"},
}

func TestGoldenBarcodes(t *testing.T) {
	for _, bc := range barcodes {
		t.Run(bc.sym, func(t *testing.T) {
			b := bs(esc, '@', esc, 'J', 24, esc, 'a', 1, gs, 'h', 80, gs, 'w', 2, gs, 'H', 2,
				gs, 'k', bc.m, len(bc.data), bc.data, lf)
			res := render(t, b, "")
			golden(t, "barcode-"+bc.sym, res.Image)
			if got := lines(res); !slices.Equal(got, []string{bc.label}) {
				t.Errorf("transcript %q, want %q", got, bc.label)
			}
			if w := res.Warnings(); len(w) > 0 {
				t.Errorf("warnings %q", w)
			}
			got, err := zxDecode(t, bc.sym, res.Image)
			if err != nil {
				t.Fatalf("gozxing cannot decode the rendered %s: %v", bc.sym, err)
			}
			if got != bc.decoded {
				t.Errorf("gozxing decoded %q, want %q", got, bc.decoded)
			}
			// Function A (NUL-terminated, m = 0–6) draws the same symbol.
			if bc.m <= 71 {
				a := bs(esc, '@', esc, 'J', 24, esc, 'a', 1, gs, 'h', 80, gs, 'w', 2, gs, 'H', 2,
					gs, 'k', bc.m-65, bc.data, 0, lf)
				ra := render(t, a, "")
				if !slices.Equal(ra.Image.Pix, res.Image.Pix) {
					t.Errorf("GS k function A draws a different image from function B")
				}
			}
		})
	}
}

// TestBarcodeOptions covers GS H above/both, GS f font B, GS w widths, and
// barcodes a printer refuses.
func TestBarcodeOptions(t *testing.T) {
	b := bs(esc, '@', esc, 'J', 24, esc, 'a', 1,
		gs, 'h', 60, gs, 'w', 3, gs, 'H', 1, gs, 'k', 67, 12, "590123412345", lf,
		gs, 'H', 3, gs, 'f', 1, gs, 'w', 2, gs, 'k', 73, 8, "{C", 12, 34, 56, 78, 90, 12, lf,
		gs, 'H', 0, gs, 'h', 40, gs, 'k', 69, 4, "NOHR", lf,
		gs, 'H', 2, gs, 'w', 6, gs, 'k', 72, 40, strings.Repeat("X", 40), lf, // too wide: not printed
		gs, 'k', 67, 5, "12AB5", lf, // not digits: not printed
		gs, 'k', 67, 13, "4006381333932", lf, // wrong check digit: printed, with a warning
	)
	res := render(t, b, "")
	golden(t, "barcode-options", res.Image)
	want := []string{"[EAN13: 5901234123457]", "[CODE128: 123456789012]", "[CODE39: NOHR]", "[EAN13: 4006381333932]"}
	got := slices.DeleteFunc(lines(res), func(s string) bool { return s == "" })
	if !slices.Equal(got, want) {
		t.Errorf("transcript %q, want %q", got, want)
	}
	w := strings.Join(res.Warnings(), "\n")
	for _, s := range []string{"more than the print area", "12AB5", "check digit"} {
		if !strings.Contains(w, s) {
			t.Errorf("warnings lack %q:\n%s", s, w)
		}
	}
}

// qrBytes returns the GS ( k commands that print data as a QR code.
func qrBytes(data string, size, level byte) []byte {
	n := len(data) + 3
	return bs(gs, '(', 'k', 4, 0, 49, 65, 50, 0,
		gs, '(', 'k', 3, 0, 49, 67, size,
		gs, '(', 'k', 3, 0, 49, 69, level,
		gs, '(', 'k', n&0xff, n>>8, 49, 80, 48, data,
		gs, '(', 'k', 3, 0, 49, 81, 48)
}

func TestGoldenQR(t *testing.T) {
	for _, tc := range []struct {
		data  string
		size  byte
		level byte
	}{
		{"https://example.com/t/8812", 3, 48},
		{"https://example.com/t/8812", 6, 49},
		{"Mesa 12 · Lucía · 2x Tortilla española · 17,00 €", 8, 50},
		{"HOLA-MUNDO-0123456789", 4, 51},
		{strings.Repeat("Comandera ", 40), 2, 48},
	} {
		name := fmt.Sprintf("qr-s%d-%c", tc.size, "LMQH"[tc.level-48])
		t.Run(name, func(t *testing.T) {
			b := bs(esc, '@', esc, 'J', 32, esc, 'a', 1, qrBytes(tc.data, tc.size, tc.level), lf)
			res := render(t, b, "")
			golden(t, name, res.Image)
			if got := lines(res); !slices.Equal(got, []string{"[QR: " + tc.data + "]"}) {
				t.Errorf("transcript %q", got)
			}
			got, err := zxDecode(t, "qr", res.Image)
			if err != nil {
				t.Fatalf("gozxing cannot decode the rendered QR: %v", err)
			}
			if got != tc.data {
				t.Errorf("gozxing decoded %q, want %q", got, tc.data)
			}
		})
	}
}

// logo returns a w × h test image as packed rows: a frame, a filled disc and
// diagonal stripes.
func logo(w, h int) (bits []byte, stride int) {
	stride = (w + 7) / 8
	bits = make([]byte, stride*h)
	set := func(x, y int) { bits[y*stride+x/8] |= 0x80 >> (x % 8) }
	cx, cy, r := h/2, h/2, h/2-6
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			frame := x < 3 || y < 3 || x >= w-3 || y >= h-3
			disc := (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
			stripe := x > h && (x+y)%16 < 6
			if frame || disc || stripe {
				set(x, y)
			}
		}
	}
	return bits, stride
}

// columns converts packed rows to ESC * column data: dots tall rows per
// stripe (8 or 24), starting at row y0.
func columns(bits []byte, stride, w, y0, dots int) []byte {
	var out []byte
	for x := 0; x < w; x++ {
		for k := 0; k < dots/8; k++ {
			var b byte
			for bit := 0; bit < 8; bit++ {
				y := y0 + k*8 + bit
				if y*stride+x/8 < len(bits) && bits[y*stride+x/8]&(0x80>>(x%8)) != 0 {
					b |= 0x80 >> bit
				}
			}
			out = append(out, b)
		}
	}
	return out
}

func TestGoldenRaster(t *testing.T) {
	const w, h = 192, 96
	bits, stride := logo(w, h)
	b := bs(esc, '@', "GS v 0:", lf, esc, 'a', 1,
		gs, 'v', '0', 0, stride, 0, h, 0, bits,
		esc, 'a', 0, "GS v 0 in two bands (one image):", lf, esc, 'a', 2,
		gs, 'v', '0', 0, stride, 0, h/2, 0, bits[:stride*h/2],
		gs, 'v', '0', 0, stride, 0, h/2, 0, bits[stride*h/2:],
		esc, 'a', 0, "GS v 0 m=3 (double width and height):", lf,
		gs, 'v', '0', 3, stride, 0, h/2, 0, bits[:stride*h/2],
		"ESC * 33 (24-dot double density):", lf, esc, '3', 24)
	for y := 0; y < h; y += 24 {
		b = append(b, bs(esc, '*', 33, w, 0, columns(bits, stride, w, y, 24), lf)...)
	}
	b = append(b, bs(esc, '2', "ESC * 32 (24-dot single density, 2x wide):", lf, esc, '3', 24, esc, '*', 32, w/2, 0, columns(bits, stride, w/2, 0, 24), lf)...)
	b = append(b, bs(esc, '2', "ESC * 0 and ESC * 1 (8-dot, 3x tall):", lf, esc, '3', 24,
		esc, '*', 0, w/2, 0, columns(bits, stride, w/2, 40, 8), esc, '*', 1, w, 0, columns(bits, stride, w, 40, 8), lf, esc, '2')...)
	// GS ( L fn 112 store + fn 50 print, with 2x scale; GS 8 L the same.
	store := bs(48, 112, 48, 2, 1, 49, w, 0, h, 0, bits)
	b = append(b, bs("GS ( L fn 112 + fn 50 (2x wide):", lf, esc, 'a', 1,
		gs, '(', 'L', len(store)&0xff, len(store)>>8, store, gs, '(', 'L', 2, 0, 48, 50)...)
	store1 := bs(48, 112, 48, 1, 1, 49, w, 0, h, 0, bits)
	b = append(b, bs(esc, 'a', 0, "GS 8 L fn 112 + fn 50:", lf,
		gs, '8', 'L', len(store1)&0xff, len(store1)>>8, 0, 0, store1, gs, '8', 'L', 2, 0, 0, 0, 48, 50)...)
	// NV graphics: define under key "LG", print at 1x.
	nv := bs(48, 67, 48, 'L', 'G', 1, w, 0, h, 0, 49, bits)
	b = append(b, bs("GS ( L NV graphics \"LG\":", lf,
		gs, '(', 'L', len(nv)&0xff, len(nv)>>8, nv, gs, '(', 'L', 6, 0, 48, 69, 'L', 'G', 1, 1, lf)...)
	res := render(t, b, "")
	golden(t, "raster", res.Image)
	want := []string{
		"GS v 0:", "[IMAGE 192x96]",
		"GS v 0 in two bands (one image):", "[IMAGE 192x96]",
		"GS v 0 m=3 (double width and height):", "[IMAGE 384x96]",
		"ESC * 33 (24-dot double density):", "[IMAGE 192x96]",
		"ESC * 32 (24-dot single density, 2x wide):", "[IMAGE 192x24]",
		"ESC * 0 and ESC * 1 (8-dot, 3x tall):", "[IMAGE 384x24]",
		"GS ( L fn 112 + fn 50 (2x wide):", "[IMAGE 384x96]",
		"GS 8 L fn 112 + fn 50:", "[IMAGE 192x96]",
		"GS ( L NV graphics \"LG\":", "[IMAGE 192x96]",
	}
	if got := lines(res); !slices.Equal(got, want) {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if w := res.Warnings(); len(w) > 0 {
		t.Errorf("warnings %q", w)
	}
}
