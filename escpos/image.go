package escpos

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"golang.org/x/image/draw"

	"github.com/comandera/comandera/core"
)

// bitImage is a 1-bit raster: rows of stride bytes, the leftmost dot in the
// high bit, 1 = black (printed). This is the data layout of GS v 0 and
// GS ( L.
type bitImage struct {
	w, h   int
	stride int
	pix    []byte
}

func newBitImage(w, h int) *bitImage {
	s := (w + 7) / 8
	return &bitImage{w: w, h: h, stride: s, pix: make([]byte, s*h)}
}

func (b *bitImage) set(x, y int) { b.pix[y*b.stride+x/8] |= 0x80 >> (x % 8) }

func (b *bitImage) black(x, y int) bool { return b.pix[y*b.stride+x/8]&(0x80>>(x%8)) != 0 }

// shifted returns a copy of b with off white dots added on the left.
func (b *bitImage) shifted(off int) *bitImage {
	if off <= 0 {
		return b
	}
	out := newBitImage(b.w+off, b.h)
	for y := 0; y < b.h; y++ {
		for x := 0; x < b.w; x++ {
			if b.black(x, y) {
				out.set(x+off, y)
			}
		}
	}
	return out
}

// image prints a PNG block.
func (e *encoder) image(b *core.Block) error {
	img, err := decodePNG(b.Image, e.p.DotsPerLine)
	if err != nil {
		return err
	}
	e.raster(img, alignByte(b.Align))
	return nil
}

// decodePNG checks a PNG's header, decodes it, scales it down to at most
// maxW dots wide and core.MaxImageHeight dots tall (keeping its aspect),
// flattens transparency onto white and dithers it to 1 bit.
func decodePNG(data []byte, maxW int) (*bitImage, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("image: not a readable PNG: %w", err)
	}
	if format != "png" {
		return nil, fmt.Errorf("image: a %s image: want a PNG", format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("image: PNG is %d×%d: it has no pixels", cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > MaxImagePixels {
		return nil, fmt.Errorf("image: PNG is %d×%d (%d pixels), more than the %d pixels an image may have: scale it down to the paper (%d dots wide) first",
			cfg.Width, cfg.Height, px, MaxImagePixels, maxW)
	}
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("image: bad PNG: %w", err)
	}
	w, h := fitSize(cfg.Width, cfg.Height, maxW, core.MaxImageHeight)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range dst.Pix {
		dst.Pix[i] = 0xff
	}
	sb := src.Bounds()
	if sb.Dx() == w && sb.Dy() == h {
		draw.Draw(dst, dst.Bounds(), src, sb.Min, draw.Over)
	} else {
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, sb, draw.Over, nil)
	}
	return dither(dst), nil
}

// fitSize scales w×h down, keeping the aspect ratio, so that it fits in
// maxW×maxH. It never scales up.
func fitSize(w, h, maxW, maxH int) (int, int) {
	if w > maxW {
		h = max(1, int((int64(h)*int64(maxW)+int64(w)/2)/int64(w)))
		w = maxW
	}
	if h > maxH {
		w = max(1, int((int64(w)*int64(maxH)+int64(h)/2)/int64(h)))
		h = maxH
	}
	return w, h
}

// dither converts an opaque image to luminance and to 1 bit with
// Floyd–Steinberg error diffusion, scanning rows in alternate directions.
func dither(img *image.RGBA) *bitImage {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := newBitImage(w, h)
	// Errors are kept in 1/16ths, in rows padded by one on each side.
	cur := make([]int32, w+2)
	next := make([]int32, w+2)
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride:]
		x0, x1, dir := 0, w, 1
		if y%2 == 1 {
			x0, x1, dir = w-1, -1, -1
		}
		for x := x0; x != x1; x += dir {
			p := row[4*x : 4*x+3]
			lum := (299*int32(p[0]) + 587*int32(p[1]) + 114*int32(p[2]) + 500) / 1000
			v := lum*16 + cur[x+1]
			var e int32
			if v < 128*16 {
				out.set(x, y)
				e = v
			} else {
				e = v - 255*16
			}
			cur[x+1+dir] += e * 7 / 16
			next[x+1-dir] += e * 3 / 16
			next[x+1] += e * 5 / 16
			next[x+1+dir] += e / 16
		}
		cur, next = next, cur
		clear(next)
	}
	return out
}

// raster sends a 1-bit image with the profile's raster method, aligned as
// asked, in bands no taller than the profile's MaxBandHeight.
func (e *encoder) raster(img *bitImage, align byte) {
	if img.w == 0 || img.h == 0 {
		return
	}
	switch e.p.Raster {
	case core.RasterGS8L:
		e.rasterGS8L(img.shifted(alignOffset(align, img.w, e.p.DotsPerLine)))
	case core.RasterESCStar:
		e.rasterESCStar(img.shifted(alignOffset(align, img.w, e.p.DotsPerLine)))
	default: // core.RasterGSv0; checkProfile refuses the others
		e.setStyle(style{align: align})
		e.rasterGSv0(img)
		e.setStyle(style{})
	}
}

// alignOffset returns how many dots from the left edge an image w dots wide
// starts at, for ESC a alignment a on paper dots wide.
func alignOffset(a byte, w, dots int) int {
	switch a {
	case 1:
		return max(0, (dots-w)/2)
	case 2:
		return max(0, dots-w)
	}
	return 0
}

func (e *encoder) band() int { return max(1, e.p.MaxBandHeight) }

// rasterGSv0 sends GS v 0 m xL xH yL yH d1…dk per band.
func (e *encoder) rasterGSv0(img *bitImage) {
	for y := 0; y < img.h; y += e.band() {
		bh := min(e.band(), img.h-y)
		e.out = append(e.out, GS, 'v', '0', 0,
			byte(img.stride), byte(img.stride>>8), byte(bh), byte(bh>>8))
		e.out = append(e.out, img.pix[y*img.stride:(y+bh)*img.stride]...)
	}
}

// rasterGS8L stores each band with GS ( L fn=112 (GS 8 L when the band is
// larger than GS ( L can say) and prints it with GS ( L fn=50.
func (e *encoder) rasterGS8L(img *bitImage) {
	for y := 0; y < img.h; y += e.band() {
		bh := min(e.band(), img.h-y)
		n := 10 + img.stride*bh
		if n <= 0xffff {
			e.out = append(e.out, GS, '(', 'L', byte(n), byte(n>>8))
		} else {
			e.out = append(e.out, GS, '8', 'L', byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
		}
		e.out = append(e.out, 48, 112, 48, 1, 1, 49,
			byte(img.w), byte(img.w>>8), byte(bh), byte(bh>>8))
		e.out = append(e.out, img.pix[y*img.stride:(y+bh)*img.stride]...)
		e.out = append(e.out, GS, '(', 'L', 2, 0, 48, 50)
	}
}

// rasterESCStar sends 24-dot stripes with ESC * 33, at a line spacing of 24
// dots so the stripes touch, and restores the default spacing after.
func (e *encoder) rasterESCStar(img *bitImage) {
	e.out = append(e.out, ESC, '3', 24)
	for y := 0; y < img.h; y += 24 {
		e.out = append(e.out, ESC, '*', 33, byte(img.w), byte(img.w>>8))
		for x := 0; x < img.w; x++ {
			for k := 0; k < 3; k++ {
				var c byte
				for bit := 0; bit < 8; bit++ {
					if yy := y + 8*k + bit; yy < img.h && img.black(x, yy) {
						c |= 0x80 >> bit
					}
				}
				e.out = append(e.out, c)
			}
		}
		e.out = append(e.out, LF)
	}
	e.out = append(e.out, ESC, '2')
}
