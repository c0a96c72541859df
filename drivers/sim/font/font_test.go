package font

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"

	"github.com/comandera/comandera/core"
)

var update = flag.Bool("update", false, "rewrite the golden PNG sheets in testdata/")

// pages are the code pages the simulated printer must print (issue 2).
var pages = []string{"PC437", "PC850", "PC852", "PC858", "PC860", "PC863", "PC865", "PC866", "WPC1252"}

var faces = []*Face{A, B}

// printable lists the runes of bytes 0x20..0xFF of a code page, apart from
// control characters and bytes the code page leaves undefined.
func printable(t testing.TB, page string) (bs []byte, rs []rune) {
	t.Helper()
	cm, ok := core.CodePage(page)
	if !ok {
		t.Fatalf("core.CodePage(%q) not found", page)
	}
	for b := 0x20; b <= 0xFF; b++ {
		r := cm.DecodeByte(byte(b))
		if unicode.IsControl(r) || r == utf8.RuneError {
			continue
		}
		bs, rs = append(bs, byte(b)), append(rs, r)
	}
	return bs, rs
}

func ink(g []byte) int {
	n := 0
	for _, v := range g {
		n += int(v)
	}
	return n
}

func TestCell(t *testing.T) {
	for _, f := range faces {
		w, h := f.Cell()
		want := map[string][2]int{"A": {12, 24}, "B": {9, 17}}[f.Name()]
		if w != want[0] || h != want[1] {
			t.Errorf("font %s: Cell() = %d×%d, want %d×%d", f.Name(), w, h, want[0], want[1])
		}
	}
}

// TestCodePageCoverage: every printable byte of every supported code page
// decodes to a rune both faces really have, in both weights, with ink unless
// it is a space.
func TestCodePageCoverage(t *testing.T) {
	for _, page := range pages {
		bs, rs := printable(t, page)
		if len(rs) < 200 {
			t.Errorf("%s: only %d printable bytes, want the upper half too", page, len(rs))
		}
		for i, r := range rs {
			for _, f := range faces {
				if !f.Has(r) {
					t.Errorf("%s 0x%02X %U %q: font %s has no glyph", page, bs[i], r, r, f.Name())
					continue
				}
				for _, bold := range []bool{false, true} {
					g := f.Glyph(r, bold)
					w, h := f.Cell()
					if len(g) != w*h {
						t.Fatalf("font %s %U: glyph has %d dots, want %d", f.Name(), r, len(g), w*h)
					}
					if bytes.Equal(g, f.Glyph(0x4E00, bold)) {
						t.Errorf("%s 0x%02X %U: font %s draws the missing box", page, bs[i], r, f.Name())
					}
					if n := ink(g); unicode.IsSpace(r) != (n == 0) {
						t.Errorf("%s 0x%02X %U %q: font %s bold=%v has %d black dots", page, bs[i], r, r, f.Name(), bold, n)
					}
				}
			}
		}
	}
}

// TestAccentsSurvive: a letter with a diacritic never renders like its base
// letter (the accent is not lost to thresholding, even in Font B).
func TestAccentsSurvive(t *testing.T) {
	seen := map[rune]bool{}
	for _, page := range pages {
		_, rs := printable(t, page)
		for _, r := range rs {
			d := []rune(norm.NFD.String(string(r)))
			if seen[r] || len(d) < 2 || !unicode.IsLetter(d[0]) {
				continue
			}
			seen[r] = true
			for _, f := range faces {
				for _, bold := range []bool{false, true} {
					if bytes.Equal(f.Glyph(r, bold), f.Glyph(d[0], bold)) {
						t.Errorf("font %s bold=%v: %q renders the same as %q", f.Name(), bold, r, d[0])
					}
				}
			}
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d accented letters checked", len(seen))
	}
}

// TestGlyphsFitCell: the outline of every glyph of the supported code pages,
// placed as the face places it, lies inside the cell (at most half a dot of
// antialiasing outside), so accents on capitals and descenders are not cut.
func TestGlyphsFitCell(t *testing.T) {
	for _, ttf := range [][]byte{gomono.TTF, gomonobold.TTF} {
		fitCell(t, ttf)
	}
}

func fitCell(t *testing.T, ttf []byte) {
	fnt, err := sfnt.Parse(ttf)
	if err != nil {
		t.Fatal(err)
	}
	var b sfnt.Buffer
	upem := fixed.I(int(fnt.UnitsPerEm()))
	for _, page := range pages {
		_, rs := printable(t, page)
		for _, r := range rs {
			if r >= 0x2500 && r <= 0x259F {
				continue // box drawing fills the cell by design
			}
			x, _ := fnt.GlyphIndex(&b, r)
			bd, _, err := fnt.GlyphBounds(&b, x, upem, font.HintingNone)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range faces {
				x0 := f.ox + float32(bd.Min.X)/64*f.sx
				x1 := f.ox + float32(bd.Max.X)/64*f.sx
				y0 := f.base + float32(bd.Min.Y)/64*f.sy
				y1 := f.base + float32(bd.Max.Y)/64*f.sy
				if x0 < -0.5 || y0 < -0.5 || x1 > float32(f.w)+0.5 || y1 > float32(f.h)+0.5 {
					t.Errorf("font %s %U %q: outline (%.1f,%.1f)-(%.1f,%.1f) leaves the %d×%d cell", f.Name(), r, r, x0, y0, x1, y1, f.w, f.h)
				}
			}
		}
	}
}

func TestMissingGlyph(t *testing.T) {
	for _, f := range faces {
		for _, r := range []rune{0x4E00, 0x05D0, -1, 0x10FFFF, 0x7FFFFFFF} {
			if f.Has(r) {
				t.Errorf("font %s: Has(%U) = true", f.Name(), r)
			}
			for _, bold := range []bool{false, true} {
				g := f.Glyph(r, bold)
				if ink(g) == 0 {
					t.Errorf("font %s: missing glyph for %U is empty", f.Name(), r)
				}
				if bytes.Equal(g, f.Glyph('□', bold)) || bytes.Equal(g, f.Glyph('■', bold)) {
					t.Errorf("font %s: missing glyph looks like □ or ■", f.Name())
				}
			}
		}
		if bytes.Equal(f.Glyph('A', false), f.Glyph('A', true)) {
			t.Errorf("font %s: bold A equals regular A", f.Name())
		}
	}
}

// TestBoxDrawingJoins: horizontal and vertical box-drawing lines reach the
// cell edges so frames print unbroken.
func TestBoxDrawingJoins(t *testing.T) {
	for _, f := range faces {
		w, h := f.Cell()
		g := f.Glyph('─', false)
		row := -1
		for y := 0; y < h && row < 0; y++ {
			if g[y*w] == 1 && g[y*w+w-1] == 1 {
				row = y
			}
		}
		if row < 0 {
			t.Errorf("font %s: ─ does not reach both side edges", f.Name())
		}
		g = f.Glyph('│', false)
		col := -1
		for x := 0; x < w && col < 0; x++ {
			if g[x] == 1 && g[(h-1)*w+x] == 1 {
				col = x
			}
		}
		if col < 0 {
			t.Errorf("font %s: │ does not reach top and bottom edges", f.Name())
		}
		if n := ink(f.Glyph('█', false)); n != w*h {
			t.Errorf("font %s: █ has %d black dots, want %d", f.Name(), n, w*h)
		}
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	f := &Face{name: "A", w: A.w, h: A.h, sx: A.sx, sy: A.sy, ox: A.ox, base: A.base, snapX: A.snapX, threshold: A.threshold}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ink(f.Glyph('Ñ', i%2 == 0)) == 0 {
				t.Error("empty Ñ")
			}
		}()
	}
	wg.Wait()
}

func TestGlyphAllocs(t *testing.T) {
	A.Glyph('x', false)
	allocs := testing.AllocsPerRun(100, func() {
		for _, r := range "Ñandú ☺ €" {
			A.Glyph(r, true)
			B.Glyph(r, false)
		}
	})
	if allocs != 0 {
		t.Errorf("Glyph allocates %.1f times per run", allocs)
	}
}

// sheet draws the upper half (0x80..0xFF) of each code page in a 16×8 grid,
// regular on the left and bold on the right, under a label line.
func sheet(f *Face) *image.Gray {
	w, h := f.Cell()
	const cols = 16*2 + 1
	rows := len(pages) * 10
	img := image.NewGray(image.Rect(0, 0, cols*w, rows*h))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	put := func(col, row int, r rune, bold bool) {
		g := f.Glyph(r, bold)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if g[y*w+x] == 1 {
					img.Pix[(row*h+y)*img.Stride+col*w+x] = 0
				}
			}
		}
	}
	for p, page := range pages {
		cm, _ := core.CodePage(page)
		top := p * 10
		for i, r := range fmt.Sprintf("%s 0x80-0xFF  regular | bold", page) {
			put(i, top, r, true)
		}
		for b := 0x80; b <= 0xFF; b++ {
			r := cm.DecodeByte(byte(b))
			if unicode.IsControl(r) {
				continue
			}
			col, row := (b-0x80)%16, top+1+(b-0x80)/16
			put(col, row, r, false)
			put(col+17, row, r, true)
		}
	}
	return img
}

// TestGoldenSheets compares each face's code page sheet with
// testdata/font-{a,b}.png; run with -update to rewrite them after a
// deliberate change, then look at them.
func TestGoldenSheets(t *testing.T) {
	for _, f := range faces {
		img := sheet(f)
		path := filepath.Join("testdata", "font-"+map[string]string{"A": "a", "B": "b"}[f.Name()]+".png")
		if *update {
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		want, err := png.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !want.Bounds().Eq(img.Bounds()) {
			t.Fatalf("%s: golden is %v, rendered %v", path, want.Bounds(), img.Bounds())
		}
		diff := 0
		for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
			for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
				r, _, _, _ := want.At(x, y).RGBA()
				if (r < 0x8000) != (img.GrayAt(x, y).Y < 0x80) {
					diff++
				}
			}
		}
		if diff > 0 {
			t.Errorf("%s: %d dots differ from the golden sheet (go test -update to accept)", path, diff)
		}
	}
}

func BenchmarkGlyph(b *testing.B) {
	line := []rune("2x Tortilla española ....... 17,00 € ÁÉÍÓÚ ñ ¿¡")
	A.Glyph(' ', false)
	B.Glyph(' ', false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r := line[i%len(line)]
		_ = A.Glyph(r, i&1 == 0)
	}
}

// BenchmarkLoad measures the one-time rasterisation of a face (both weights).
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		f := &Face{name: "A", w: A.w, h: A.h, sx: A.sx, sy: A.sy, ox: A.ox, base: A.base, snapX: A.snapX, threshold: A.threshold}
		f.Glyph('A', false)
	}
}
