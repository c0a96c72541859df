package paper

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/comandera/comandera/drivers/sim/font"
)

func newRoll(cfg Config) (*Roll, *[]*Ticket) {
	var ts []*Ticket
	cfg.OnTicket = func(t *Ticket) { ts = append(ts, t) }
	if cfg.Width == 0 {
		cfg.Width = 96
	}
	return New(cfg), &ts
}

func put(r *Roll, s string, st *Style) {
	for _, c := range s {
		r.Char(c, st)
	}
}

// ink returns the dots of a row as a string of '#' and '.'.
func ink(t *Ticket, y int) string {
	var sb strings.Builder
	for x := 0; x < t.Image.Bounds().Dx(); x++ {
		if t.Image.ColorIndexAt(x, y) == 1 {
			sb.WriteByte('#')
		} else {
			sb.WriteByte('.')
		}
	}
	return sb.String()
}

func TestLineLayout(t *testing.T) {
	r, ts := newRoll(Config{Render: true})
	a := &Style{Face: font.A}
	tall := &Style{Face: font.A, Height: 3}
	put(r, "a", a)
	put(r, "b", tall)
	put(r, "c", &Style{Face: font.B})
	r.PrintLine(30)
	if r.Position() != 72 {
		t.Errorf("a line with a 3x tall character feeds %d, want its height 72", r.Position())
	}
	r.PrintLine(30) // blank
	if r.Position() != 102 {
		t.Errorf("blank line fed to %d", r.Position())
	}
	r.Finish()
	if len(*ts) != 1 || !slices.Equal((*ts)[0].Lines, []string{"abc"}) {
		t.Fatalf("tickets %+v", *ts)
	}
	tk := (*ts)[0]
	// Baseline alignment: the bottom rows of each cell meet at row 71.
	// 'a' (font A) has no ink in its top 48 rows of the line.
	for y := 0; y < 48; y++ {
		if strings.Contains(ink(tk, y)[:12], "#") {
			t.Fatalf("font A 'a' has ink at row %d: it is not bottom-aligned", y)
		}
	}
	if tk.Length != 102 || tk.Image.Bounds().Dy() != 102 {
		t.Errorf("length %d, image %v", tk.Length, tk.Image.Bounds())
	}
}

func TestWrapAndAlign(t *testing.T) {
	r, ts := newRoll(Config{Render: true})
	st := &Style{Face: font.A}
	r.SetAlign(Right)
	put(r, "12345678X", st) // 8 fit in 96 dots
	r.SetAlign(Left)        // takes effect on the next line only
	r.PrintLine(30)
	r.Finish()
	tk := (*ts)[0]
	if !slices.Equal(tk.Lines, []string{"12345678", "X"}) {
		t.Errorf("lines %q", tk.Lines)
	}
	// "X" on the second line is right-aligned: its cell is the last 12 dots.
	found := false
	for y := 30; y < 54; y++ {
		row := ink(tk, y)
		if strings.Contains(row[:84], "#") {
			t.Fatalf("row %d has ink left of the right-aligned X: %s", y, row)
		}
		if strings.Contains(row[84:], "#") {
			found = true
		}
	}
	if !found {
		t.Errorf("no X drawn")
	}
}

func TestUnderlineInvertUpsideDown(t *testing.T) {
	r, ts := newRoll(Config{Render: true})
	r.Char('_', &Style{Face: font.A, Underline: 2})
	r.Char(' ', &Style{Face: font.A, Invert: true})
	r.PrintLine(0)
	r.Char('.', &Style{Face: font.A, UpsideDown: true})
	r.PrintLine(0)
	r.Finish()
	tk := (*ts)[0]
	// Underline: the two bottom rows of the first cell are solid.
	for _, y := range []int{22, 23} {
		if got := ink(tk, y)[:12]; got != strings.Repeat("#", 12) {
			t.Errorf("underline row %d: %s", y, got)
		}
	}
	// Inverted space: its cell is solid black.
	for y := 0; y < 24; y++ {
		if got := ink(tk, y)[12:24]; got != strings.Repeat("#", 12) {
			t.Fatalf("inverted cell row %d: %s", y, got)
		}
	}
	// Upside down: the period (low in its cell, left) ends up high and at
	// the right of the print area.
	top, bottom := -1, -1
	for y := 24; y < 48; y++ {
		row := ink(tk, y)
		if strings.Contains(row, "#") {
			if top < 0 {
				top = y
			}
			bottom = y
			if strings.Contains(row[:84], "#") {
				t.Errorf("row %d: rotated period not at the right: %s", y, row)
			}
		}
	}
	if top < 0 || top-24 > 8 {
		t.Errorf("rotated period spans rows %d–%d, want near the top of the line", top, bottom)
	}
}

func TestBlocksAndImages(t *testing.T) {
	r, ts := newRoll(Config{Render: true})
	r.SetAlign(Center)
	g := r.Block(16, 4, "[IMAGE]")
	g.Bits(0, 0, []byte{0xff, 0x00, 0x80, 0x01, 0, 0, 0xaa, 0x55}, 2, 16, 4, 1, 1)
	g = r.Block(16, 4, "[IMAGE]") // merges with the one above
	g.Fill(0, 0, 16, 4)
	r.Block(8, 2, "[QR: x]")
	r.Finish()
	tk := (*ts)[0]
	if !slices.Equal(tk.Lines, []string{"[IMAGE 16x8]", "[QR: x]"}) {
		t.Errorf("lines %q", tk.Lines)
	}
	if got := ink(tk, 0); got != strings.Repeat(".", 40)+strings.Repeat("#", 8)+strings.Repeat(".", 48) {
		t.Errorf("row 0 %s", got)
	}
	if got := ink(tk, 1)[40:56]; got != "#..............#" {
		t.Errorf("row 1 %s", got)
	}
	if got := ink(tk, 3)[40:56]; got != "#.#.#.#..#.#.#.#" {
		t.Errorf("row 3 %s", got)
	}
}

func TestClipping(t *testing.T) {
	r, ts := newRoll(Config{Render: true, MaxLength: 50})
	g := r.Block(200, 100, "[IMAGE]") // wider than the paper, longer than the cap
	g.Fill(-10, -10, 1000, 1000)
	put(r, "after the cap", &Style{})
	r.PrintLine(30)
	r.Finish()
	tk := (*ts)[0]
	if tk.Image.Bounds().Dx() != 96 || tk.Image.Bounds().Dy() != 50 || !tk.Clipped || tk.Length != 50 {
		t.Errorf("image %v clipped %v length %d", tk.Image.Bounds(), tk.Clipped, tk.Length)
	}
	if !slices.Equal(tk.Lines, []string{"[IMAGE 200x100]"}) {
		t.Errorf("lines %q: text beyond the cap is not printed", tk.Lines)
	}
	if len(tk.Warnings) != 1 || !strings.Contains(tk.Warnings[0], "cap reached") {
		t.Errorf("warnings %q", tk.Warnings)
	}
}

func TestCutsAndRollMode(t *testing.T) {
	r, ts := newRoll(Config{Render: true, Roll: true, MaxTickets: 3})
	st := &Style{}
	put(r, "one", st)
	r.PrintLine(30)
	r.Cut("full")
	r.Cut("full") // nothing since the last cut: no ticket
	put(r, "two", st)
	r.PrintLine(30)
	r.Pulse(Pulse{Pin: 2, OnMS: 50, OffMS: 500})
	r.Cut("partial")
	put(r, "three", st)
	r.PrintLine(30)
	r.Cut("full") // the third ticket is the last: this cut is ignored
	put(r, "four", st)
	r.PrintLine(30)
	r.Finish()
	if len(*ts) != 3 {
		t.Fatalf("%d tickets", len(*ts))
	}
	got := [][]string{(*ts)[0].Lines, (*ts)[1].Lines, (*ts)[2].Lines}
	if !slices.Equal(got[2], []string{"three", "four"}) || (*ts)[1].Cut != "partial" || len((*ts)[1].Pulses) != 1 {
		t.Errorf("tickets %q", got)
	}
	if !strings.Contains(strings.Join((*ts)[2].Warnings, ""), "more than 3 tickets") {
		t.Errorf("warnings %q", (*ts)[2].Warnings)
	}
	img := r.RollImage()
	// Two dashed cut lines of 4 rows each between the tickets.
	if img.Bounds().Dy() != 4*30+2*4 {
		t.Errorf("roll %v", img.Bounds())
	}
	if (*ts)[0].Image != nil {
		t.Errorf("roll mode tickets carry no image")
	}
}

func TestNoRender(t *testing.T) {
	r, ts := newRoll(Config{})
	put(r, "text", &Style{})
	r.PrintLine(30)
	r.Block(50, 50, "[IMAGE]").Fill(0, 0, 50, 50)
	r.Finish()
	tk := (*ts)[0]
	if tk.Image != nil || tk.Length != 80 || !slices.Equal(tk.Lines, []string{"text", "[IMAGE 50x50]"}) {
		t.Errorf("%+v", tk)
	}
	if r.pix != nil {
		t.Errorf("a roll that does not render allocated a canvas")
	}
}

func TestWarningsCounted(t *testing.T) {
	r, ts := newRoll(Config{})
	for range 5 {
		r.Warn("same %d", 1)
	}
	for i := range maxWarnings + 10 {
		r.Warn("w%d", i)
	}
	r.Finish()
	w := (*ts)[0].Warnings
	if w[0] != "same 1 (×5)" || len(w) != maxWarnings+1 || !strings.HasPrefix(w[maxWarnings], "more warnings not recorded") {
		t.Errorf("warnings %q … %q (%d)", w[0], w[len(w)-1], len(w))
	}
}

// TestBitsReference compares the raster blit with a dot-by-dot reference at
// offsets and scales that clip at both edges.
func TestBitsReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 500; i++ {
		w, h := 1+rng.IntN(40), 1+rng.IntN(6)
		stride := (w+7)/8 + rng.IntN(2)
		bits := make([]byte, stride*h-rng.IntN(2)) // sometimes a byte short
		for j := range bits {
			bits[j] = byte(rng.IntN(256))
		}
		x, y := rng.IntN(140)-30, rng.IntN(8)-2
		sx, sy := 1+rng.IntN(3), 1+rng.IntN(2)
		r := New(Config{Width: 96, Render: true, MaxLength: 20})
		r.ensure(20)
		r.bits(x, y, bits, stride, w, h, sx, sy)
		want := make([]byte, 96*20)
		for yy := 0; yy < h; yy++ {
			for xx := 0; xx < w; xx++ {
				k := yy*stride + xx/8
				if k >= len(bits) || bits[k]&(0x80>>(xx%8)) == 0 {
					continue
				}
				for a := 0; a < sy; a++ {
					for b := 0; b < sx; b++ {
						px, py := x+xx*sx+b, y+yy*sy+a
						if px >= 0 && px < 96 && py >= 0 && py < 20 {
							want[py*96+px] = 1
						}
					}
				}
			}
		}
		if !slices.Equal(r.pix, want) {
			t.Fatalf("w %d h %d stride %d len %d at %d,%d scale %dx%d: blit differs from the reference", w, h, stride, len(bits), x, y, sx, sy)
		}
	}
}

// TestGlyphReference compares glyph drawing (ink and inverted) with a
// dot-by-dot reference, at scales and offsets that clip.
func TestGlyphReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 500; i++ {
		cw, ch := 1+rng.IntN(13), 1+rng.IntN(6)
		g := make([]byte, cw*ch)
		for j := range g {
			g[j] = byte(rng.IntN(2))
		}
		x, y := rng.IntN(120)-20, rng.IntN(8)-2
		sx, sy := 1+rng.IntN(3), 1+rng.IntN(2)
		ink := rng.IntN(2) == 0
		r := New(Config{Width: 96, Render: true, MaxLength: 20})
		r.ensure(20)
		base := byte(0)
		if !ink {
			base = 1
			for k := range r.pix {
				r.pix[k] = 1
			}
		}
		want := make([]byte, len(r.pix))
		for k := range want {
			want[k] = base
		}
		r.glyph(x, y, g, cw, ch, sx, sy, ink)
		for gy := 0; gy < ch; gy++ {
			for gx := 0; gx < cw; gx++ {
				if g[gy*cw+gx] == 0 {
					continue
				}
				for a := 0; a < sy; a++ {
					for b := 0; b < sx; b++ {
						px, py := x+gx*sx+b, y+gy*sy+a
						if px >= 0 && px < 96 && py >= 0 && py < 20 {
							want[py*96+px] = 1 - base
						}
					}
				}
			}
		}
		if !slices.Equal(r.pix, want) {
			t.Fatalf("cell %dx%d at %d,%d scale %dx%d ink %v: glyph differs from the reference", cw, ch, x, y, sx, sy, ink)
		}
	}
}
