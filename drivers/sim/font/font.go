// Package font provides the character cells of the simulated printer: Font A
// (12×24 dots) and Font B (9×17 dots), rasterised from the Go Mono fonts
// (regular and bold) and thresholded to one bit per dot.
//
// The Go fonts cover WGL4 (Latin-1, Latin Extended-A, Greek, Cyrillic, box
// drawing and block elements), so every character of the code pages a
// receipt printer offers (PC437, PC850, PC852, PC858, PC860, PC863, PC865,
// PC866, WPC1252 and more) has a real glyph. Glyphs are rasterised once, on
// first use of a face, and Glyph is then a lookup without allocation, safe
// for concurrent use.
package font

import (
	"image"
	"sync"

	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// Go Mono design metrics, in font units (2048 per em), shared by the regular
// and bold faces: every glyph advances 1229 units; the ascent (top of Á) is
// 1935 units above the baseline and the descent 432 below it.
const (
	advance   = 1229
	ascent    = 1935
	descent   = 432
	capHeight = 1480
)

// A Face is one printer font: a fixed cell and its glyphs in normal and bold
// weight. The zero value is not usable; use A or B.
type Face struct {
	name string
	w, h int

	// Text glyphs: x = ox + u*sx, y = base + v*sy (u, v in font units, v down).
	sx, sy, ox, base float32
	snapX            bool    // round x coordinates to whole dots (crisper stems)
	threshold        float32 // coverage from which a dot is black

	once  sync.Once
	index []uint16        // rune -> slot, for runes below len(index); 0 = missing
	more  map[rune]uint16 // rune -> slot for the rest
	bits  [2][]byte       // [regular, bold]: slot*w*h .. (slot+1)*w*h
}

var (
	// A is Font A: a 12×24 dot cell. Capitals are 15 dots tall on a baseline
	// at row 20, leaving room above for accents (Á, Ñ, even Ů in bold) and 4
	// rows below for descenders.
	A = &Face{name: "A", w: 12, h: 24,
		sx: 11.0 / advance, sy: 14.6 / capHeight, ox: 0.5, base: 20,
		snapX: true, threshold: 0.5}

	// B is Font B: a 9×17 dot cell. Capitals are 10 dots tall on a baseline
	// at row 14.
	B = &Face{name: "B", w: 9, h: 17,
		sx: 8.0 / advance, sy: 10.0 / capHeight, ox: 0.5, base: 14,
		threshold: 0.5}
)

// Name returns "A" or "B".
func (f *Face) Name() string { return f.name }

// Cell returns the width and height of the character cell in dots.
func (f *Face) Cell() (w, h int) { return f.w, f.h }

// Baseline returns the y of the baseline in the cell: letters stand on it
// (rows above it), descenders hang below it. 20 for Font A, 14 for Font B.
func (f *Face) Baseline() int { return int(f.base) }

// Glyph returns the cell bitmap of r in normal or bold weight: w*h bytes,
// row-major, 1 = black dot. A rune the font lacks gets the font's visible
// "missing glyph" box, never an empty cell; space characters are empty.
// The returned slice is shared by all callers and must not be modified.
func (f *Face) Glyph(r rune, bold bool) []byte {
	f.once.Do(f.load)
	n := f.w * f.h
	off := int(f.slot(r)) * n
	w := 0
	if bold {
		w = 1
	}
	return f.bits[w][off : off+n : off+n]
}

// Has reports whether the font has a real glyph for r (not the missing box).
func (f *Face) Has(r rune) bool {
	f.once.Do(f.load)
	return f.slot(r) != 0
}

func (f *Face) slot(r rune) uint16 {
	if r >= 0 && int(r) < len(f.index) {
		return f.index[r]
	}
	return f.more[r]
}

// denseLimit bounds the rune -> slot array; runes above it (a few symbols
// and U+FFFD) go through a map.
const denseLimit = 0x2600

// load rasterises every glyph the font maps (about 700 runes) in both weights.
func (f *Face) load() {
	reg, err := sfnt.Parse(gomono.TTF)
	if err != nil {
		panic("font: embedded Go Mono font: " + err.Error()) // the embedded font is fixed data
	}
	bold, err := sfnt.Parse(gomonobold.TTF)
	if err != nil {
		panic("font: embedded Go Mono Bold font: " + err.Error())
	}
	var (
		rb, bb sfnt.Buffer
		runes  []rune
		ri, bi []sfnt.GlyphIndex
	)
	for r := rune(0); r < 0x10000; r++ {
		x, err := reg.GlyphIndex(&rb, r)
		if err != nil || x == 0 {
			continue
		}
		y, _ := bold.GlyphIndex(&bb, r)
		runes, ri, bi = append(runes, r), append(ri, x), append(bi, y)
	}

	n := f.w * f.h
	f.index = make([]uint16, denseLimit)
	f.more = make(map[rune]uint16)
	for w := range f.bits {
		f.bits[w] = make([]byte, (len(runes)+1)*n)
	}
	z := &raster{face: f}
	// Slot 0: the missing glyph, drawn from the font's own .notdef box.
	z.draw(f.bits[0][:n], reg, &rb, 0, false)
	z.draw(f.bits[1][:n], bold, &bb, 0, false)
	for i, r := range runes {
		s := uint16(i + 1)
		if r < denseLimit {
			f.index[r] = s
		} else {
			f.more[r] = s
		}
		dst := [2][]byte{f.bits[0][int(s)*n : int(s+1)*n], f.bits[1][int(s)*n : int(s+1)*n]}
		if shade(dst[0], f.w, f.h, r) {
			copy(dst[1], dst[0])
			continue
		}
		cell := r >= 0x2500 && r <= 0x259F // box drawing and blocks fill the cell so they join
		z.draw(dst[0], reg, &rb, ri[i], cell)
		if bi[i] != 0 {
			z.draw(dst[1], bold, &bb, bi[i], cell)
		} else {
			embolden(dst[1], dst[0], f.w)
		}
	}
}

// raster draws glyph outlines into cells; it reuses its buffers.
type raster struct {
	face *Face
	z    vector.Rasterizer
	mask *image.Alpha
}

// draw rasterises glyph x of fnt into dst (w*h bytes). With cell set, the
// glyph's full advance and ascent..descent span map onto the whole cell, so
// box-drawing lines and blocks meet their neighbours.
func (r *raster) draw(dst []byte, fnt *sfnt.Font, b *sfnt.Buffer, x sfnt.GlyphIndex, cell bool) {
	f := r.face
	segs, err := fnt.LoadGlyph(b, x, fixed.I(int(fnt.UnitsPerEm())), nil)
	if err != nil {
		return
	}
	sx, sy, ox, base, snap := f.sx, f.sy, f.ox, f.base, f.snapX
	if cell {
		sx = float32(f.w) / advance
		sy = float32(f.h) / (ascent + descent)
		ox, base, snap = 0, ascent*sy, false
	}
	pt := func(p fixed.Point26_6) (float32, float32) {
		px := ox + float32(p.X)/64*sx
		if snap {
			px = float32(int(px + 0.5))
		}
		return px, base + float32(p.Y)/64*sy
	}
	if r.mask == nil {
		r.mask = image.NewAlpha(image.Rect(0, 0, f.w, f.h))
	}
	clear(r.mask.Pix)
	r.z.Reset(f.w, f.h)
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			r.z.MoveTo(pt(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			r.z.LineTo(pt(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			x1, y1 := pt(s.Args[0])
			x2, y2 := pt(s.Args[1])
			r.z.QuadTo(x1, y1, x2, y2)
		case sfnt.SegmentOpCubeTo:
			x1, y1 := pt(s.Args[0])
			x2, y2 := pt(s.Args[1])
			x3, y3 := pt(s.Args[2])
			r.z.CubeTo(x1, y1, x2, y2, x3, y3)
		}
	}
	r.z.ClosePath()
	r.z.Draw(r.mask, r.mask.Bounds(), image.Opaque, image.Point{})
	t := uint8(f.threshold * 255)
	for i, a := range r.mask.Pix {
		if a >= t && a > 0 {
			dst[i] = 1
		}
	}
}

// shade draws the shade characters ░ ▒ ▓ as regular dot patterns, as a
// printer's ROM font does; the outline font's tiny squares do not survive
// thresholding at this size.
func shade(dst []byte, w, h int, r rune) bool {
	light := func(x, y int) bool { return x%4 == 2*(y%2) } // one dot in four, staggered
	var on func(x, y int) bool
	switch r {
	case '░': // 25%
		on = light
	case '▒': // 50%
		on = func(x, y int) bool { return (x+y)%2 == 0 }
	case '▓': // 75%
		on = func(x, y int) bool { return !light(x, y) }
	default:
		return false
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if on(x, y) {
				dst[y*w+x] = 1
			}
		}
	}
	return true
}

// embolden makes a bold cell from a regular one by widening every stroke one
// dot to the right (a fallback; the bold face maps the same runes).
func embolden(dst, src []byte, w int) {
	for i, v := range src {
		if v == 1 || (i%w > 0 && src[i-1] == 1) {
			dst[i] = 1
		}
	}
}
