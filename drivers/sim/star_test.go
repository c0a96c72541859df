package sim

import (
	"bytes"
	"image"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim/paper"
)

// Star control bytes for tests (esc, gs, fs and lf are shared with ESC/POS).
const (
	rs   = 0x1e
	bel  = 0x07
	sub  = 0x1a
	em   = 0x19
	stSO = 0x0e
	stSI = 0x0f
	dc2  = 0x12
	dc4  = 0x14
	ff   = 0x0c
	eot  = 0x04
)

// starRaster wraps rows in raster mode with the given EOT mode.
func starRaster(eotMode string, rows ...[]byte) []byte {
	b := bs(esc, '*', 'r', 'A', esc, '*', 'r', 'P', "0", 0)
	if eotMode != "" {
		b = bs(b, esc, '*', 'r', 'E', eotMode, 0)
	}
	for _, r := range rows {
		b = bs(b, 'b', len(r), len(r)>>8, r)
	}
	return bs(b, esc, '*', 'r', 'B')
}

func TestStarTranscript(t *testing.T) {
	tests := []struct {
		name  string
		prof  string // default star-tsp650
		in    []byte
		want  []string
		warns []string // substrings expected among the warnings
	}{
		{"plain lines", "", bs("uno", lf, "dos", lf), []string{"uno", "dos"}, nil},
		{"CR is ignored (memory switch default)", "", bs("uno\r\ndos\r\n"), []string{"uno", "dos"}, nil},
		{"ESC a counts lines", "", bs("a", esc, 'a', 3, "b", lf), []string{"a", "", "", "b"}, nil},
		{"ESC J and ESC I feed without lines", "", bs("a", esc, 'J', 100, "b", esc, 'I', 100, "c", lf), []string{"a", "b", "c"}, nil},
		{"wrap at 48 columns in font A", "", bs(strings.Repeat("x", 50), lf), []string{strings.Repeat("x", 48), "xx"}, nil},
		{"wrap at 64 columns in font B", "", bs(esc, rs, 'F', 1, strings.Repeat("y", 65), lf), []string{strings.Repeat("y", 64), "y"}, nil},
		{"wrap at 24 columns double wide", "", bs(esc, 'i', 0, 1, strings.Repeat("w", 25), lf), []string{strings.Repeat("w", 24), "w"}, nil},
		{"ESC W and SO widen", "", bs(esc, 'W', 2, strings.Repeat("3", 17), lf, stSO, strings.Repeat("2", 25), dc4, lf), []string{strings.Repeat("3", 16), "3", strings.Repeat("2", 24), "2"}, nil},
		{"PC437 by default, ESC GS t per profile", "", bs("\xa4", esc, gs, 't', 4, "\xd5", esc, gs, 't', 32, "\x80", esc, gs, 't', 34, "\xe4", lf), []string{"ñ€€д"}, nil},
		{"unknown code page keeps the page", "", bs(esc, gs, 't', 99, "\xa4", lf), []string{"ñ"}, []string{"ESC GS t 99"}},
		{"tabs in characters", "", bs(esc, 'D', 4, 10, 0, "a", ht, "b", ht, "c", lf), []string{"a   b     c"}, nil},
		{"absolute position in dots", "", bs("a", esc, gs, 'A', 120, 0, "b", lf), []string{"a         b"}, nil},
		{"ESC @ discards the buffer", "", bs("lost", esc, '@', "kept", lf), []string{"kept"}, []string{"ESC @ discarded"}},
		{"CAN cancels the line", "", bs("lost", 0x18, "kept", lf), []string{"kept"}, nil},
		{"unknown command warns and goes on", "", bs("a", esc, '~', "b", esc, gs, 'Z', "c", esc, rs, 'Z', "d", lf), []string{"abcd"},
			[]string{"unknown command ESC ~", "unknown command ESC GS Z", "unknown command ESC RS Z"}},
		{"recognised no-ops", "", bs(esc, rs, 'a', 1, esc, 0x06, 1, esc, rs, 'd', 2, esc, rs, 'r', 1, 0x05, 0x04, 0x17, esc, 'C', 42,
			esc, 'N', 2, esc, 'O', esc, '&', 1, 0, 'A', esc, buzzerSet(), esc, gs, 'y', 'I', esc, gs, 3, 1, 0, 0, "ok", lf), []string{"ok"}, nil},
		{"ignored by thermal printers", "", bs(esc, '3', 20, esc, 'y', 10, "x", lf), []string{"x"}, []string{"ESC 3 is ignored", "ESC y is ignored"}},
		{"out of range expansion", "", bs(esc, 'i', 6, 0, "x", lf), []string{"x"}, []string{"ESC i 6 0"}},
		{"truncated command", "", bs("a", lf, esc, 'b', 3, 2, 2, 80, "400"), []string{"a"}, []string{"ended inside a command"}},
		{"unterminated line is not printed", "", bs("a", lf, "lost"), []string{"a"}, []string{"never printed"}},
		{"bit images in the line", "", bs("x", esc, 'K', 2, 0, 0xff, 0x81, esc, 'L', 3, 0, 1, 2, 3, lf, esc, 'k', 2, 0, strings.Repeat("\xaa", 48), lf,
			esc, 'X', 2, 0, "abcdef", lf), []string{"x [IMAGE]", "[IMAGE 16x24]", "[IMAGE 2x24]"}, nil},
		{"raster mode prints an image", "", bs("antes", lf, starRaster("1", []byte{0xff}, []byte{0x81}, []byte{0xff}), "despues", lf),
			[]string{"antes", "[IMAGE 576x3]", "despues"}, nil},
		{"text in raster mode is not printed", "", bs(esc, '*', 'r', 'A', "hola", esc, '*', 'r', 'B', "fin", lf), []string{"fin"},
			[]string{"raster mode: bytes that start no raster command"}},
		{"raster commands in line mode", "", bs(esc, '*', 'r', 'Y', "8", 0, esc, ff, eot, "x", lf), []string{"x"},
			[]string{"ESC * r Y is a raster mode command", "ESC FF EOT is a raster mode command"}},
		{"line commands in raster mode", "", bs(esc, '*', 'r', 'A', esc, gs, 'a', 1, esc, '*', 'r', 'E', "1", 0, esc, '*', 'r', 'B', "x", lf), []string{"x"},
			[]string{"ESC GS a is not a raster mode command"}},
		{"QR", "", bs(esc, gs, 'y', 'S', '0', 2, esc, gs, 'y', 'S', '1', 1, esc, gs, 'y', 'S', '2', 4, esc, gs, 'y', 'D', '1', 0, 4, 0, "mesa", esc, gs, 'y', 'P', lf),
			[]string{"[QR: mesa]"}, nil},
		{"QR without data", "", bs(esc, gs, 'y', 'P', "x", lf), []string{"x"}, []string{"no QR data"}},
		{"PDF417 is not simulated", "", bs(esc, gs, 'x', 'D', 1, 0, "z", esc, gs, 'x', 'P', "x", lf), []string{"x"}, []string{"PDF417"}},
		{"EAN-13", "", bs(esc, 'b', 3, 2, 2, 60, "400638133393", 0x1e), []string{"[EAN13: 4006381333931]"}, nil},
		{"graphic: text is not printed", "star-tsp100", bs("hola", lf, esc, 'E', starRaster("1", []byte{0xf0})), []string{"[IMAGE 576x1]"},
			[]string{"text outside raster mode is not printed", "ESC E is not a Star Graphic Mode command", "control byte LF is not a Star Graphic Mode command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prof := tt.prof
			if prof == "" {
				prof = "star-tsp650"
			}
			res := render(t, tt.in, prof)
			if got := lines(res); !slices.Equal(got, tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
			w := strings.Join(res.Warnings(), "\n")
			for _, s := range tt.warns {
				if !strings.Contains(w, s) {
					t.Errorf("warnings lack %q: %q", s, res.Warnings())
				}
			}
			if len(tt.warns) == 0 && w != "" {
				t.Errorf("unexpected warnings %q", res.Warnings())
			}
		})
	}
}

// buzzerSet is ESC GS EM DC1 m n1 n2 after its ESC: the buzzer pulse
// condition.
func buzzerSet() []byte { return bs(gs, em, 0x11, 1, 5, 5) }

// inkBox returns the bounding box of the black dots of img within rows
// [y0, y1).
func inkBox(img *image.Paletted, y0, y1 int) image.Rectangle {
	box := image.Rectangle{}
	for y := y0; y < min(y1, img.Rect.Dy()); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			if img.Pix[y*img.Stride+x] == 1 {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

// TestStarGeometry measures what the commands do to the paper, in dots at
// 203 dpi (8 dots/mm).
func TestStarGeometry(t *testing.T) {
	length := func(data []byte) int {
		t.Helper()
		res := render(t, data, "star-tsp650")
		return res.Tickets[0].Length
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want int
	}{
		{"LF feeds 4 mm by default", bs("a", lf, "b", lf), 64},
		{"ESC 0: 3 mm", bs(esc, '0', "a", lf, "b", lf), 48},
		{"ESC z 1: 4 mm again", bs(esc, '0', esc, 'z', 1, "a", lf, "b", lf), 64},
		{"ESC a 3: three lines", bs(esc, 'a', 3), 96},
		{"ESC J 10: 2.5 mm", bs(esc, 'J', 10), 20},
		{"ESC I 10: 1.25 mm", bs(esc, 'I', 10), 10},
		{"double high line", bs(esc, 'i', 1, 0, "A", lf), 48},
		{"6× high line", bs(esc, 'h', 5, "A", lf), 144},
		{"ESC d 3 feeds 12 mm to the cutter", bs("a", lf, esc, 'd', 3), 32 + 96},
		{"ESC d 1 cuts where it is", bs("a", lf, esc, 'd', 1), 32},
		{"raster rows, one dot each", starRaster("1", []byte{1}, []byte{1}, []byte{0}, []byte{1}), 4},
		{"raster Y feed", bs(esc, '*', 'r', 'A', 'b', 1, 0, 1, esc, '*', 'r', 'Y', "10", 0, 'b', 1, 0, 1, esc, '*', 'r', 'E', "1", 0, esc, '*', 'r', 'B'), 12},
		{"raster EOT mode 13 feeds to the cutter", starRaster("13", []byte{1}), 1 + 96},
	} {
		if got := length(tc.in); got != tc.want {
			t.Errorf("%s: %d dots of paper, want %d", tc.name, got, tc.want)
		}
	}

	// Character cells: font A 12×24, font B 9×24, expansion multiplies.
	for _, tc := range []struct {
		name string
		in   []byte
		w, h int // ink box of "H"
	}{
		{"font A", bs("HH", lf), 12 + 11, 0},
		{"font B", bs(esc, rs, 'F', 1, "HH", lf), 9 + 8, 0},
		{"ESC i 2 1: 3× high 2× wide", bs(esc, 'i', 2, 1, "HH", lf), 24 + 22, 0},
	} {
		res := render(t, tc.in, "star-tsp650")
		box := inkBox(res.Image, 0, res.Image.Rect.Dy())
		// Two H side by side: from the first stem to the second's right
		// stem spans one advance plus one glyph width (minus its bearing).
		if box.Dx() < tc.w-4 || box.Dx() > tc.w {
			t.Errorf("%s: ink %v, width %d, want about %d", tc.name, box, box.Dx(), tc.w)
		}
	}

	// Alignment: ESC GS a 1 centres, 2 right-aligns.
	for a, want := range map[byte]func(r image.Rectangle) bool{
		0: func(r image.Rectangle) bool { return r.Min.X < 4 },
		1: func(r image.Rectangle) bool { c := (r.Min.X + r.Max.X) / 2; return c > 280 && c < 296 },
		2: func(r image.Rectangle) bool { return r.Max.X > 570 },
	} {
		res := render(t, bs(esc, gs, 'a', a, "CENTRO", lf), "star-tsp650")
		if box := inkBox(res.Image, 0, 32); !want(box) {
			t.Errorf("ESC GS a %d: ink %v", a, box)
		}
	}

	// Underline: 2 dots under the cell, 4 when double high; inversion
	// paints the cell.
	for _, tc := range []struct {
		in    []byte
		under image.Rectangle
	}{
		{bs(esc, '-', 1, "    ", lf), image.Rect(0, 22, 48, 24)},
		{bs(esc, '-', 1, esc, 'h', 1, "    ", lf), image.Rect(0, 44, 48, 48)},
	} {
		res := render(t, tc.in, "star-tsp650")
		if box := inkBox(res.Image, 0, 64); box != tc.under {
			t.Errorf("%q: underline %v, want %v", tc.in, box, tc.under)
		}
	}
	res := render(t, bs(esc, '4', " ", esc, '5', lf), "star-tsp650")
	if box := inkBox(res.Image, 0, 32); box.Dx() != 12 || box.Dy() != 24 {
		t.Errorf("inverted space: ink %v, want a 12×24 cell", box)
	}
}

// TestStarCutsAndEvents checks cuts, drawer kicks and the buzzer.
func TestStarCutsAndEvents(t *testing.T) {
	for _, tc := range []struct {
		prof string
		in   []byte
		cuts []string
	}{
		{"star-tsp650", bs("a", lf, esc, 'd', 0, "b", lf, esc, 'd', '1', "c", lf, esc, 'd', 2, "d", lf, esc, 'd', 3), []string{"full", "partial", "full", "partial"}},
		{"star-tsp650", bs(starRaster("", []byte{1}), starRaster("12", []byte{1}), starRaster("1", []byte{1})), []string{"full", "partial", ""}},
		{"star-tsp650", bs(esc, '*', 'r', 'A', esc, '*', 'r', 'F', "8", 0, 'b', 1, 0, 1, esc, ff, 0, 'b', 1, 0, 1, esc, '*', 'r', 'E', "13", 0, esc, ff, eot, esc, '*', 'r', 'B'), []string{"full", "partial"}},
		{"star-tsp100", bs(esc, '*', 'r', 'A', 'b', 1, 0, 1, esc, '*', 'r', 'E', "13", 0, esc, ff, eot, esc, '*', 'r', 'B'), []string{"partial"}},
	} {
		res := render(t, tc.in, tc.prof)
		var cuts []string
		for _, tk := range res.Tickets {
			cuts = append(cuts, tk.Cut)
		}
		if !slices.Equal(cuts, tc.cuts) {
			t.Errorf("%s %q: cuts %q, want %q", tc.prof, tc.in, cuts, tc.cuts)
		}
		if w := res.Warnings(); len(w) > 0 {
			t.Errorf("warnings %q", w)
		}
	}
	// A profile without a cutter says so.
	p := profile(t, "star-tsp650").Clone()
	p.Cuts = nil
	res, err := Render(bs("a", lf, esc, 'd', 3), p)
	if err != nil || len(res.Tickets) != 1 || res.Tickets[0].Cut != "" || !strings.Contains(strings.Join(res.Warnings(), ""), "no cutter") {
		t.Errorf("no cutter: %v %+v %q", err, res.Tickets, res.Warnings())
	}

	res = render(t, bs(bel, esc, bel, 5, 10, fs, sub, em, esc, '*', 'r', 'A', esc, '*', 'r', 'D', "3", 0, bel, esc, '*', 'r', 'B',
		esc, gs, bel, 1, 10, 10, esc, gs, em, 0x12, 1, 3, 0, esc, '*', 'r', 'A', esc, '*', 'r', 'V', "12", 0, esc, '*', 'r', 'B'), "star-tsp650")
	tk := res.Tickets[0]
	pulse := func(pin, on, off int) paper.Pulse { return paper.Pulse{Pin: pin, OnMS: on, OffMS: off} }
	want := []paper.Pulse{pulse(2, 200, 200), pulse(2, 50, 100), pulse(5, 50, 100), pulse(5, 50, 100), pulse(2, 50, 100), pulse(5, 50, 100), pulse(2, 50, 100)}
	if !slices.Equal(tk.Pulses, want) {
		t.Errorf("pulses %v, want %v", tk.Pulses, want)
	}
	if tk.Beeps != 1+3+2 {
		t.Errorf("%d beeps, want 6", tk.Beeps)
	}
	if w := strings.Join(res.Warnings(), "\n"); !strings.Contains(w, "no buzzer") {
		t.Errorf("warnings %q, want the buzzer warning (star-tsp650 has none)", w)
	}
}

// TestStarBarcodes prints every ESC b symbology and decodes it with gozxing,
// with Star's data rules: check digits computed by the printer (a wrong one
// sent is replaced), UPC-E given as UPC-A, ITF with an odd count, CODE128
// as plain ASCII.
func TestStarBarcodes(t *testing.T) {
	for _, tc := range []struct {
		n1, mode byte
		data     string
		sym      string
		decoded  string
		label    string
	}{
		{'0', 2, "04210000526", "upce", "04252614", "[UPCE: 425261]"},
		{'1', 2, "01234567890", "upca", "012345678905", "[UPCA: 012345678905]"},
		{'2', 2, "96385070", "ean8", "96385074", "[EAN8: 96385074]"},
		{'3', 2, "4006381333930", "ean13", "4006381333931", "[EAN13: 4006381333931]"},
		{'4', 1, "CODE39 SIM", "code39", "CODE39 SIM", "[CODE39: CODE39 SIM]"},
		{'4', 5, "STAR", "code39", "STAR", "[CODE39: STAR]"},
		{'5', 1, "1234567", "itf", "01234567", "[ITF: 01234567]"},
		{'6', 2, "Mesa-12/8812", "code128", "Mesa-12/8812", "[CODE128: Mesa-12/8812]"},
		{'6', 2, "20260101", "code128", "20260101", "[CODE128: 20260101]"},
		{'7', 2, "CODE93", "code93", "CODE93", "[CODE93: CODE93]"},
		{'8', 2, "A40156B", "codabar", "A40156B", "[CODABAR: A40156B]"},
	} {
		t.Run(tc.sym+"-"+tc.data, func(t *testing.T) {
			res := render(t, bs(esc, gs, 'a', 1, esc, 'b', tc.n1, '2', tc.mode, 80, tc.data, 0x1e), "star-tsp650")
			if got := lines(res); !slices.Equal(got, []string{tc.label}) {
				t.Errorf("transcript %q, want %q", got, tc.label)
			}
			if w := res.Warnings(); len(w) > 0 {
				t.Errorf("warnings %q", w)
			}
			got, err := zxDecode(t, tc.sym, res.Image)
			if err != nil || got != tc.decoded {
				t.Errorf("gozxing decoded %q, %v; want %q", got, err, tc.decoded)
			}
		})
	}
	// Module widths: mode 1, 2, 3 are 2, 3, 4 dots per module for EAN-13
	// (95 modules); Code 39 mode 1 is 2:6, mode 3 is 4:12.
	for _, tc := range []struct {
		n1, mode byte
		data     string
		width    int
	}{
		{3, 1, "400638133393", 190}, {3, 2, "400638133393", 285}, {3, 3, "400638133393", 380},
	} {
		res := render(t, bs(esc, 'b', tc.n1, 1, tc.mode, 40, tc.data, 0x1e), "star-tsp650")
		if box := inkBox(res.Image, 0, 40); box.Dx() != tc.width || box.Dy() != 40 {
			t.Errorf("ESC b %d 1 %d: bars %v, want %d dots wide, 40 high", tc.n1, tc.mode, box, tc.width)
		}
	}
	c39 := func(mode byte) int {
		res := render(t, bs(esc, 'b', 4, 1, mode, 40, "1", 0x1e), "star-tsp650")
		return inkBox(res.Image, 0, 40).Dx()
	}
	// *1*: 3 characters of 3 wide and 6 narrow elements, and 2 narrow gaps.
	if a, b := c39(1), c39(3); a != 3*(3*6+6*2)+2*2 || b != 2*a {
		t.Errorf("Code 39 widths %d (mode 1) and %d (mode 3)", a, b)
	}
	res := render(t, bs(esc, 'b', 3, 2, 2, 80, "12345", 0x1e, esc, 'b', 9, 2, 2, 80, "1", 0x1e, "x", lf), "star-tsp650")
	if w := strings.Join(res.Warnings(), "\n"); !strings.Contains(w, "5 digits") || !strings.Contains(w, "unknown bar code type") {
		t.Errorf("warnings %q", w)
	}
}

// TestStarQR decodes the QR codes the Star commands print, at each level
// and cell size.
func TestStarQR(t *testing.T) {
	for _, tc := range []struct {
		data       string
		ecc, cell  byte
		wantModule int // modules per side
	}{
		{"https://example.com/t/8812", '0', 3, 25},
		{"https://example.com/t/8812", '1', 6, 25},
		{"Mesa 12 · Lucía · 2x Tortilla española · 17,00 €", '2', 8, 37},
		{"HOLA-0123456789", '3', 4, 25},
	} {
		b := bs(esc, gs, 'a', 1, esc, gs, 'y', 'S', '1', tc.ecc-'0', esc, gs, 'y', 'S', '2', tc.cell,
			esc, gs, 'y', 'D', '1', 0, len(tc.data), 0, tc.data, esc, gs, 'y', 'P', lf)
		res := render(t, b, "star-tsp650")
		if got := lines(res); !slices.Equal(got, []string{"[QR: " + tc.data + "]"}) {
			t.Errorf("transcript %q", got)
		}
		box := inkBox(res.Image, 0, res.Image.Rect.Dy())
		if box.Dx() != tc.wantModule*int(tc.cell) || (box.Min.X+box.Max.X)/2 < 280 || (box.Min.X+box.Max.X)/2 > 296 {
			t.Errorf("%q: QR at %v, want %d dots wide and centred", tc.data, box, tc.wantModule*int(tc.cell))
		}
		got, err := zxDecode(t, "qr", res.Image)
		if err != nil || got != tc.data {
			t.Errorf("gozxing decoded %q, %v; want %q", got, err, tc.data)
		}
	}
}

// TestStarRasterDots checks raster rows land dot for dot, with margins and
// k data merged into the next row.
func TestStarRasterDots(t *testing.T) {
	rows := [][]byte{{0xff, 0x00, 0x81}, {0x00}, {0x0f, 0xf0}}
	data := bs(esc, '*', 'r', 'A', esc, '*', 'r', 'E', "1", 0)
	for _, r := range rows {
		data = bs(data, 'b', len(r), 0, r)
	}
	data = bs(data, esc, '*', 'r', 'm', 'l', "2", 0, 'k', 1, 0, 0x80, 'b', 1, 0, 0x01, esc, '*', 'r', 'B')
	res := render(t, data, "star-tsp100")
	img := res.Image
	dot := func(x, y int) bool { return img.Pix[y*img.Stride+x] == 1 }
	for y, r := range rows {
		for x := 0; x < 576; x++ {
			want := x/8 < len(r) && r[x/8]&(0x80>>(x%8)) != 0
			if dot(x, y) != want {
				t.Fatalf("row %d dot %d: %v, want %v", y, x, dot(x, y), want)
			}
		}
	}
	// Row 3: k put a dot at 16 (left margin 2×8), b one at 16+7.
	var got []int
	for x := 0; x < 576; x++ {
		if dot(x, 3) {
			got = append(got, x)
		}
	}
	if !slices.Equal(got, []int{16, 23}) || img.Rect.Dy() != 4 {
		t.Errorf("merged row: dots %v, image %v", got, img.Rect)
	}
	if w := res.Warnings(); len(w) > 0 {
		t.Errorf("warnings %q", w)
	}
}

// starInterpret runs data through a fresh Star interpreter in chunks (paper
// only) and returns the transcripts and warnings. Repeat counts are
// dropped from the warnings: a text run split by chunking is two runs.
func starInterpret(p *core.Profile, data []byte, cuts []int) []string {
	var out []string
	roll := paper.New(paper.Config{Width: p.DotsPerLine, DPI: p.DPI, MaxLength: 4000, OnTicket: func(t *Ticket) {
		out = append(out, t.Lines...)
		for _, w := range t.Warnings {
			if i := strings.LastIndex(w, " (×"); i >= 0 && strings.HasSuffix(w, ")") {
				w = w[:i]
			}
			out = append(out, w)
		}
		out = append(out, "--"+t.Cut)
	}})
	in, _ := newInterpreter(&host{roll: roll, profile: p, status: func() core.Status { return core.Status{Known: true, Online: true} }})
	prev := 0
	for _, c := range cuts {
		in.Write(data[prev:c])
		prev = c
	}
	in.Write(data[prev:])
	in.End()
	roll.Finish()
	return out
}

func starSample() []byte {
	return bs(esc, '@', esc, gs, 't', 4, esc, gs, 'a', 1, esc, 'i', 1, 1, esc, 'E', "COCINA", lf, esc, 'F', esc, 'i', 0, 0,
		esc, gs, 'a', 0, "Mesa 12 \xfa Luc\xa1a", lf, esc, rs, 'F', 1, esc, '-', 1, "Sin cebolla", lf, esc, '-', 0, esc, rs, 'F', 0,
		esc, gs, 'y', 'S', '2', 4, esc, gs, 'y', 'D', '1', 0, 5, 0, "https", esc, gs, 'y', 'P', lf,
		esc, 'b', 3, 2, 2, 60, "4006381333931", 0x1e, starRaster("1", []byte{0xf0, 0x0f}, []byte{0x3c}), esc, 'a', 2, esc, 'd', 3, bel)
}

func TestStarChunks(t *testing.T) {
	data := starSample()
	for _, prof := range []string{"star-tsp650", "star-tsp100"} {
		p := profile(t, prof)
		whole := starInterpret(p, data, nil)
		for i := 0; i <= len(data); i++ {
			if got := starInterpret(p, data, []int{i}); !slices.Equal(got, whole) {
				t.Fatalf("%s: split at %d:\n%q\n%q", prof, i, got, whole)
			}
		}
	}
}

// TestStarHostile renders hostile Star input as a whole roll: the roll is
// capped, the peak heap bounded, nothing allocated from a length field.
func TestStarHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MB")
	}
	maxRows := RollMaxMM * 203 * 10 / 254
	raster := bs(esc, '*', 'r', 'A')
	for name, in := range map[string][]byte{
		"raster row declaring 64 KB + 8 MiB": bs(raster, 'b', 0xff, 0xff, bytes.Repeat([]byte{0xaa}, 8<<20)),
		"endless raster rows":                bs(raster, bytes.Repeat(bs('b', 72, 0, bytes.Repeat([]byte{0xff}, 72)), 100000)),
		"endless raster feeds":               bs(raster, bytes.Repeat(bs(esc, '*', 'r', 'Y', "99999", 0), 100000)),
		"endless ESC a 127":                  bytes.Repeat(bs(esc, 'a', 127), 1<<20),
		"6x6 text forever":                   bs(esc, 'i', 5, 5, bytes.Repeat([]byte("W\n"), 1<<20)),
		"QR data 64 KB x 100":                bytes.Repeat(bs(esc, gs, 'y', 'D', '1', 0, 0xff, 0xff, bytes.Repeat([]byte{'9'}, 65535), esc, gs, 'y', 'P'), 100),
		"barcodes x10000":                    bytes.Repeat(bs(esc, 'b', 6, 2, 3, 255, strings.Repeat("x", 250), 0x1e), 10000),
		"fine bit images":                    bytes.Repeat(bs(esc, 'k', 0xff, 0xff, bytes.Repeat([]byte{0xff}, 65535)), 100),
		"logo definition 4 GB":               bs(esc, fs, 'q', 1, 0xff, 0xff, 0xff, 0xff, bytes.Repeat([]byte{0x55}, 8<<20)),
		"warnings x1M":                       bytes.Repeat(bs(esc, '~', esc, gs, 'Z', 0x01), 1<<18),
	} {
		var res *Result
		n := peakHeap(func() {
			var err error
			res, err = Render(in, profile(t, "star-tsp650"))
			if err != nil {
				t.Fatal(err)
			}
		})
		if h := res.Image.Bounds().Dy(); h > maxRows+8 {
			t.Errorf("%s: roll is %d dots long, cap %d", name, h, maxRows)
		}
		if n > rollBound {
			t.Errorf("%s: peak heap %.1f MiB, bound %.0f MiB", name, float64(n)/(1<<20), float64(rollBound)/(1<<20))
		}
		t.Logf("%-36s peak heap %6.1f MiB, roll %5d dots", name, float64(n)/(1<<20), res.Image.Bounds().Dy())
	}
}

// FuzzSimStar renders arbitrary bytes as Star Line Mode (and, with graphic
// set, as a raster-only Star printer): never a panic, the roll within its
// cap, and chunked interpretation the same as whole.
func FuzzSimStar(f *testing.F) {
	f.Add(starSample(), uint16(1), false)
	f.Add(starSample(), uint16(2), true)
	f.Add(bs(esc, '*', 'r', 'A', 'b', 0xff, 0x7f, "abc", esc, '*', 'r', 'm', 'l', "70", 0, 'k', 3, 0, "xyz"), uint16(3), false)
	f.Add(bs(esc, 'b', 6, 2, 3, 255, "{Bx", 0x1e, esc, 'b', 0, 1, 1, 9, "01234567890", 0x1e), uint16(4), false)
	f.Add(bs(esc, 'k', 80, 0, "abc", esc, 'K', 0xff, 0xff, "d", esc, 'D', 1, 2, 0, ht, ht, esc, 'l', 200, esc, 'Q', 250, "z", lf), uint16(5), false)
	f.Add(bs(esc, gs, 'y', 'S', '2', 8, esc, gs, 'y', 'D', '1', 0, 3, 0, "abc", esc, gs, 'y', 'P', esc, 'd', 2), uint16(6), true)
	line, graphic := profile(f, "star-tsp650"), profile(f, "star-tsp100")
	f.Fuzz(func(t *testing.T, data []byte, seed uint16, raster bool) {
		p := line
		if raster {
			p = graphic
		}
		res, err := RenderOptions(data, p, Options{MaxLength: 600})
		if err != nil {
			t.Fatal(err)
		}
		if res.Image.Bounds().Dy() > 600+8 || res.Image.Bounds().Dx() != 576 {
			t.Fatalf("image %v beyond the cap", res.Image.Bounds())
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		var cuts []int
		for i := 0; i < len(data); i += 1 + rng.IntN(32) {
			cuts = append(cuts, i)
		}
		if whole, chunked := starInterpret(p, data, nil), starInterpret(p, data, cuts); !slices.Equal(whole, chunked) {
			t.Fatalf("chunked transcript differs:\n%q\n%q", whole, chunked)
		}
	})
}

// TestStarDevice prints through the "sim" driver with Star profiles: each
// ticket's transcript lands in the output directory, written in small
// chunks as a TCP printer receives them.
func TestStarDevice(t *testing.T) {
	for _, prof := range []string{"star-tsp650", "star-tsp100"} {
		var cfg Config
		cfg.SetProfile(profile(t, prof))
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		p, dir := newPrinter(t, cfg)
		c := open(t, p)
		c.Label("star")
		job := bs(starRaster("1", []byte{0xff, 0xff}), "Ma\xa4ana", lf, esc, 'd', 3, starRaster("", []byte{0x0f}))
		for i := 0; i < len(job); i += 5 {
			if _, err := c.Write(job[i:min(i+5, len(job))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if prof == "star-tsp100" {
			// Text and ESC d are not Star Graphic Mode commands: one ticket
			// of two rows, cut by the second raster session's default EOT
			// mode.
			if got := files(t, dir); !slices.Equal(got, []string{"star.json", "star.png", "star.txt"}) {
				t.Fatalf("%s: files %q", prof, got)
			}
			if got := readFile(t, dir, "star.txt"); got != "[IMAGE 576x2]\n" {
				t.Errorf("%s: ticket %q", prof, got)
			}
			continue
		}
		if got := files(t, dir); !slices.Equal(got, []string{"star-2.json", "star-2.png", "star-2.txt", "star.json", "star.png", "star.txt"}) {
			t.Fatalf("%s: files %q", prof, got)
		}
		if got := readFile(t, dir, "star.txt"); got != "[IMAGE 576x1]\nMañana\n" {
			t.Errorf("%s: first ticket %q", prof, got)
		}
		if got := readFile(t, dir, "star-2.txt"); got != "[IMAGE 576x1]\n" {
			t.Errorf("%s: second ticket %q", prof, got)
		}
	}
}
