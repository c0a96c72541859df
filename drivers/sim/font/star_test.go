package font

import (
	"bytes"
	"testing"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"
)

// TestStarB checks Star's 9×24 Font B as the tests above check A and B: its
// cell, a real glyph with ink for every printable byte of the supported code
// pages, accents that survive thresholding, and outlines inside the cell.
func TestStarB(t *testing.T) {
	f := StarB
	if w, h := f.Cell(); w != 9 || h != 24 || f.Name() != "B" {
		t.Fatalf("StarB: %s %d×%d, want B 9×24", f.Name(), w, h)
	}
	for _, page := range pages {
		_, rs := printable(t, page)
		for _, r := range rs {
			if !f.Has(r) {
				t.Errorf("StarB: %s %U %q has no glyph", page, r, r)
			}
			if r != ' ' && r != 0xA0 && ink(f.Glyph(r, false)) == 0 {
				t.Errorf("StarB: %s %U %q has no ink", page, r, r)
			}
			d := []rune(norm.NFD.String(string(r)))
			if len(d) >= 2 && unicode.IsLetter(d[0]) && bytes.Equal(f.Glyph(r, false), f.Glyph(d[0], false)) {
				t.Errorf("StarB: %q renders the same as %q", r, d[0])
			}
		}
	}
	upem := fixed.I(2048)
	for _, ttf := range [][]byte{gomono.TTF, gomonobold.TTF} {
		fnt, err := sfnt.Parse(ttf)
		if err != nil {
			t.Fatal(err)
		}
		var b sfnt.Buffer
		for _, page := range pages {
			_, rs := printable(t, page)
			for _, r := range rs {
				if r >= 0x2500 && r <= 0x259F {
					continue
				}
				x, _ := fnt.GlyphIndex(&b, r)
				bd, _, err := fnt.GlyphBounds(&b, x, upem, font.HintingNone)
				if err != nil {
					t.Fatal(err)
				}
				x0, x1 := f.ox+float32(bd.Min.X)/64*f.sx, f.ox+float32(bd.Max.X)/64*f.sx
				y0, y1 := f.base+float32(bd.Min.Y)/64*f.sy, f.base+float32(bd.Max.Y)/64*f.sy
				if x0 < -0.5 || y0 < -0.5 || x1 > float32(f.w)+0.5 || y1 > float32(f.h)+0.5 {
					t.Errorf("StarB %U %q: outline (%.1f,%.1f)-(%.1f,%.1f) leaves the cell", r, r, x0, y0, x1, y1)
				}
			}
		}
	}
}
