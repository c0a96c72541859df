package starline

import (
	"fmt"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

// bitmap is a 1-bit image: rows of stride bytes, the leftmost dot in the
// high bit, 1 = black.
type bitmap struct {
	stride, h int
	pix       []byte
}

// escposProxy returns p as an ESC/POS profile that draws rasters with
// GS v 0 in one band, so escpos.Encode can draw images, QR codes and
// barcodes for us exactly as it draws them for Epson printers.
func escposProxy(p *core.Profile, tweak func(*core.Profile)) *core.Profile {
	q := p.Clone()
	q.CommandSet = core.CommandSetESCPOS
	q.Raster = core.RasterGSv0
	q.MaxBandHeight = 65535
	q.Quirks = ""
	if tweak != nil {
		tweak(q)
	}
	return q
}

// rasterOf encodes one block with escpos.Encode for the proxy profile and
// collects the GS v 0 images it drew, one under the other.
func rasterOf(b core.Block, q *core.Profile) (*bitmap, error) {
	b.Align = "" // aligned by the caller
	out, err := escpos.Encode(core.Document{b}, q)
	if err != nil {
		return nil, err
	}
	var bm *bitmap
	for c := range escpos.All(out) {
		if c.Kind != escpos.KindCommand || c.Op != escpos.OpRaster {
			continue
		}
		stride := int(c.Arg(1)) | int(c.Arg(2))<<8
		h := int(c.Arg(3)) | int(c.Arg(4))<<8
		if stride == 0 || h == 0 || len(c.Data) != stride*h {
			return nil, fmt.Errorf("starline: unexpected raster %dx%d with %d bytes", stride, h, len(c.Data))
		}
		if bm == nil {
			bm = &bitmap{stride: stride}
		}
		if stride != bm.stride {
			return nil, fmt.Errorf("starline: raster bands of %d and %d bytes", bm.stride, stride)
		}
		bm.pix = append(bm.pix, c.Data...)
		bm.h += h
	}
	return bm, nil
}

// image prints an image block.
func (e *encoder) image(b *core.Block) error {
	return e.rasterBlock(b, nil)
}

// rasterBlock draws b as escpos.Encode would for a profile changed by tweak
// and prints the drawing with Star raster commands, aligned as b says.
func (e *encoder) rasterBlock(b *core.Block, tweak func(*core.Profile)) error {
	bm, err := rasterOf(*b, escposProxy(e.p, tweak))
	if err != nil {
		return err
	}
	if bm == nil {
		return nil
	}
	e.raster(bm, alignByte(b.Align))
	return nil
}

// raster prints bm in Star raster mode, from the specification's Raster
// Mode command details:
//
//	ESC * r A          Enter raster mode
//	ESC * r P 0 NUL    Set raster page length: 0, continuous print
//	ESC * r E 1 NUL    Set raster EOT mode: 1, no cut feed and no cut
//	b n1 n2 d1…dk      Send raster data (auto line feed), one dot row
//	ESC * r B          Quit raster mode, back to line mode
//
// Each row is placed at the alignment's offset on a row as wide as the
// paper, and its trailing white bytes are not sent.
func (e *encoder) raster(bm *bitmap, align byte) {
	dots := e.p.DotsPerLine
	rowBytes := (dots + 7) / 8
	off := alignOffset(align, bm.stride*8, dots)
	e.out = append(e.out,
		esc, '*', 'r', 'A',
		esc, '*', 'r', 'P', '0', nul,
		esc, '*', 'r', 'E', '1', nul)
	row := make([]byte, rowBytes)
	for y := 0; y < bm.h; y++ {
		placeRow(row, bm.pix[y*bm.stride:(y+1)*bm.stride], off)
		e.out = appendRow(e.out, row)
	}
	e.out = append(e.out, esc, '*', 'r', 'B')
}

// appendRow appends "b n1 n2 d…" for one dot row, without its trailing
// white bytes (at least one byte is sent: k ≥ 1).
func appendRow(out, row []byte) []byte {
	n := len(row)
	for n > 1 && row[n-1] == 0 {
		n--
	}
	out = append(out, 'b', byte(n), byte(n>>8))
	return append(out, row[:n]...)
}

// placeRow clears dst and copies the bits of src into it starting at dot
// off, dropping what falls past the end of dst.
func placeRow(dst, src []byte, off int) {
	clear(dst)
	for i, b := range src {
		if b == 0 {
			continue
		}
		pos := off + 8*i
		k, s := pos/8, uint(pos%8)
		if k >= len(dst) {
			break
		}
		dst[k] |= b >> s
		if s > 0 && k+1 < len(dst) {
			dst[k+1] |= b << (8 - s)
		}
	}
}

// alignOffset returns the dot an image w dots wide starts at, for alignment
// a on paper dots wide.
func alignOffset(a byte, w, dots int) int {
	switch a {
	case 1:
		return max(0, (dots-w)/2)
	case 2:
		return max(0, dots-w)
	}
	return 0
}
