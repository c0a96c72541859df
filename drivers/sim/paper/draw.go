package paper

import "encoding/binary"

// ensure makes rows [0, rows) of the canvas exist, up to the length cap. It
// reports whether any row of the request is drawable.
func (r *Roll) ensure(rows int) bool {
	rows = min(rows, r.maxLen)
	if rows <= 0 {
		return false
	}
	need := rows * r.width
	if need <= len(r.pix) {
		return true
	}
	if need <= cap(r.pix) {
		r.pix = r.pix[:need]
		return true
	}
	// Grow by doubling from room for a long receipt (2048 dots, 25 cm),
	// never past the cap.
	c := max(2*cap(r.pix), need, 2048*r.width)
	c = min(c, r.maxLen*r.width)
	nb := make([]byte, need, c)
	copy(nb, r.pix)
	r.pix = nb
	return true
}

// rows returns how many canvas rows exist.
func (r *Roll) rows() int { return len(r.pix) / r.width }

// fill paints the rectangle with colour v, clipped.
func (r *Roll) fill(x, y, w, h int, v byte) {
	x0, y0 := max(x, 0), max(y, 0)
	x1, y1 := min(x+w, r.width), min(y+h, r.rows())
	if x0 >= x1 || y0 >= y1 {
		return
	}
	for yy := y0; yy < y1; yy++ {
		row := r.pix[yy*r.width+x0 : yy*r.width+x1]
		for i := range row {
			row[i] = v
		}
	}
}

// glyph draws a cell bitmap (cw × ch bytes, 1 = ink) scaled sx × sy at x, y;
// ink dots get colour 1 when ink is set, 0 otherwise (inverted text).
func (r *Roll) glyph(x, y int, g []byte, cw, ch, sx, sy int, ink bool) {
	rows := r.rows()
	if x >= r.width || y >= rows || x+cw*sx <= 0 {
		return
	}
	if sx == 1 && x >= 0 && x+cw <= r.width {
		// The common case: unscaled across, inside the paper. Canvas and
		// glyph dots are both 0 or 1, so a row is OR-ed (or cleared) in
		// machine words.
		for gy := 0; gy < ch; gy++ {
			src := g[gy*cw : gy*cw+cw]
			for k := 0; k < sy; k++ {
				yy := y + gy*sy + k
				if yy < 0 {
					continue
				}
				if yy >= rows {
					return
				}
				dst := r.pix[yy*r.width+x : yy*r.width+x+cw]
				if ink {
					orRow(dst, src)
				} else {
					clearRow(dst, src)
				}
			}
		}
		return
	}
	var v byte
	if ink {
		v = 1
	}
	for gy := 0; gy < ch; gy++ {
		src := g[gy*cw : gy*cw+cw]
		for k := 0; k < sy; k++ {
			yy := y + gy*sy + k
			if yy < 0 {
				continue
			}
			if yy >= rows {
				return
			}
			row := r.pix[yy*r.width : yy*r.width+r.width]
			for gx, b := range src {
				if b == 0 {
					continue
				}
				x0 := max(x+gx*sx, 0)
				x1 := min(x+gx*sx+sx, r.width)
				for xx := x0; xx < x1; xx++ {
					row[xx] = v
				}
			}
		}
	}
}

// orRow sets dst[i] |= src[i], eight bytes at a time.
func orRow(dst, src []byte) {
	i := 0
	for ; i+8 <= len(src); i += 8 {
		d := binary.LittleEndian.Uint64(dst[i:])
		binary.LittleEndian.PutUint64(dst[i:], d|binary.LittleEndian.Uint64(src[i:]))
	}
	for ; i < len(src); i++ {
		dst[i] |= src[i]
	}
}

// clearRow sets dst[i] &^= src[i], eight bytes at a time.
func clearRow(dst, src []byte) {
	i := 0
	for ; i+8 <= len(src); i += 8 {
		d := binary.LittleEndian.Uint64(dst[i:])
		binary.LittleEndian.PutUint64(dst[i:], d&^binary.LittleEndian.Uint64(src[i:]))
	}
	for ; i < len(src); i++ {
		dst[i] &^= src[i]
	}
}

// bits draws a packed 1-bit image (rows of stride bytes, MSB first) of
// w × h dots scaled sx × sy at x, y. Missing data is blank.
func (r *Roll) bits(x, y int, bits []byte, stride, w, h, sx, sy int) {
	rows := r.rows()
	sx, sy = max(sx, 1), max(sy, 1)
	// Visible columns of the source: [c0, c1).
	c0 := 0
	if x < 0 {
		c0 = -x / sx // the first column with a dot on the paper
	}
	c1 := w
	if x+w*sx > r.width {
		c1 = (r.width - x + sx - 1) / sx
	}
	c1 = min(c1, stride*8)
	if c0 >= c1 {
		return
	}
	// Fast path: unscaled across, starting on the paper: each source byte
	// becomes eight canvas dots in one 64-bit OR.
	fast := sx == 1 && x >= 0 && c0 == 0
	for sy0 := 0; sy0 < h; sy0++ {
		yy0 := y + sy0*sy
		if yy0 >= rows {
			return
		}
		off := sy0 * stride
		if off >= len(bits) {
			return
		}
		src := bits[off:min(off+stride, len(bits))]
		for k := 0; k < sy; k++ {
			yy := yy0 + k
			if yy < 0 {
				continue
			}
			if yy >= rows {
				return
			}
			row := r.pix[yy*r.width : yy*r.width+r.width]
			if fast {
				full := min(c1/8, len(src))
				for bi := 0; bi < full; bi++ {
					if b := src[bi]; b != 0 {
						d := row[x+bi*8 : x+bi*8+8]
						binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(d)|expand[b])
					}
				}
				for c := full * 8; c < c1 && c/8 < len(src); c++ {
					if src[c/8]&(0x80>>(c&7)) != 0 {
						row[x+c] = 1
					}
				}
				continue
			}
			for c := c0; c < c1; {
				bi := c >> 3
				if bi >= len(src) {
					break
				}
				b := src[bi]
				if b == 0 {
					c = (bi + 1) << 3
					continue
				}
				if b&(0x80>>(c&7)) != 0 {
					xx := x + c*sx
					for j := 0; j < sx; j++ {
						if p := xx + j; p >= 0 && p < r.width {
							row[p] = 1
						}
					}
				}
				c++
			}
		}
	}
}

// expand maps a byte of packed dots (MSB first) to eight canvas bytes of 0
// or 1, as a little-endian uint64.
var expand = func() (t [256]uint64) {
	for b := range 256 {
		for bit := 0; bit < 8; bit++ {
			if b&(0x80>>bit) != 0 {
				t[b] |= 1 << (8 * bit)
			}
		}
	}
	return t
}()

// rotate turns the rectangle 180° in place (upside-down printing).
func (r *Roll) rotate(x, y, w, h int) {
	x0, y0 := max(x, 0), max(y, 0)
	x1, y1 := min(x+w, r.width), min(y+h, r.rows())
	if x0 >= x1 || y0 >= y1 {
		return
	}
	W := r.width
	for top, bot := y0, y1-1; top <= bot; top, bot = top+1, bot-1 {
		a := r.pix[top*W+x0 : top*W+x1]
		b := r.pix[bot*W+x0 : bot*W+x1]
		if top == bot {
			for i, j := 0, len(a)-1; i < j; i, j = i+1, j-1 {
				a[i], a[j] = a[j], a[i]
			}
			break
		}
		n := len(a)
		for i := 0; i < n; i++ {
			a[i], b[n-1-i] = b[n-1-i], a[i]
		}
	}
}
