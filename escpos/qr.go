package escpos

import (
	"fmt"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos/symbol"
)

// qrLevels maps a document's error correction level to the GS ( k fn=69
// parameter.
var qrLevels = map[string]byte{"l": 48, "m": 49, "q": 50, "h": 51}

// qrQuietZone is the light margin, in modules, around a raster QR code.
const qrQuietZone = 4

// qr prints a QR code block: natively with GS ( k on profiles that have it,
// else as a raster image of the symbol a printer would draw (package symbol). In both cases the module
// size shrinks if the symbol would not fit the paper.
func (e *encoder) qr(b *core.Block) error {
	lv := b.Level
	if lv == "" {
		lv = "m"
	}
	level, ok := qrLevels[lv]
	if !ok {
		return fmt.Errorf("qr: level %q: want l, m, q or h", b.Level)
	}
	size := b.Size
	if size <= 0 {
		size = defaultQRSize
	}
	align := alignByte(b.Align)
	if !e.p.QR {
		m, err := symbol.QR([]byte(b.Text), level)
		if err != nil {
			return fmt.Errorf("qr: %d bytes do not fit in a QR code at level %s: %v", len(b.Text), lv, err)
		}
		return e.rasterQR(m, size, align)
	}
	modules, err := symbol.QRSize([]byte(b.Text), level)
	if err != nil {
		return fmt.Errorf("qr: %d bytes do not fit in a QR code at level %s: %v", len(b.Text), lv, err)
	}
	if modules*size > e.p.DotsPerLine {
		size = e.p.DotsPerLine / modules
		if size < 1 {
			return fmt.Errorf("qr: the symbol is %d modules wide, more than the %d dots of the paper", modules, e.p.DotsPerLine)
		}
	}
	n := len(b.Text) + 3
	e.setStyle(style{align: align})
	e.out = append(e.out,
		GS, '(', 'k', 4, 0, 49, 65, 50, 0, // fn=65: model 2
		GS, '(', 'k', 3, 0, 49, 67, byte(size), // fn=67: module size
		GS, '(', 'k', 3, 0, 49, 69, level, // fn=69: error correction
		GS, '(', 'k', byte(n), byte(n>>8), 49, 80, 48) // fn=80: store
	e.out = append(e.out, b.Text...)
	e.out = append(e.out, GS, '(', 'k', 3, 0, 49, 81, 48, LF) // fn=81: print
	e.setStyle(style{})
	return nil
}

// rasterQR draws the symbol m, with its quiet zone, size dots per module.
func (e *encoder) rasterQR(m [][]bool, size int, align byte) error {
	n := len(m) + 2*qrQuietZone
	if n*size > e.p.DotsPerLine {
		size = e.p.DotsPerLine / n
		if size < 1 {
			return fmt.Errorf("qr: the symbol is %d modules wide with its quiet zone, more than the %d dots of the paper", n, e.p.DotsPerLine)
		}
	}
	img := newBitImage(n*size, n*size)
	for y, row := range m {
		for x, on := range row {
			if !on {
				continue
			}
			x0, y0 := (x+qrQuietZone)*size, (y+qrQuietZone)*size
			for dy := 0; dy < size; dy++ {
				for dx := 0; dx < size; dx++ {
					img.set(x0+dx, y0+dy)
				}
			}
		}
	}
	e.raster(img, align)
	e.out = append(e.out, LF)
	return nil
}
