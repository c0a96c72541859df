package escpos

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/comandera/comandera/core"
)

// qrLevels maps a document's error correction level to the GS ( k fn=69
// parameter and to go-qrcode's level.
var qrLevels = map[string]struct {
	n     byte
	level qrcode.RecoveryLevel
}{
	"l": {48, qrcode.Low},
	"m": {49, qrcode.Medium},
	"q": {50, qrcode.High},
	"h": {51, qrcode.Highest},
}

// qr prints a QR code block: natively with GS ( k on profiles that have it,
// else as a raster image of go-qrcode's symbol. In both cases the module
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
	q, err := qrcode.New(b.Text, level.level)
	if err != nil {
		return fmt.Errorf("qr: %d bytes do not fit in a QR code at level %s: %v", len(b.Text), lv, err)
	}
	align := alignByte(b.Align)
	if !e.p.QR {
		return e.rasterQR(q, size, align)
	}
	modules := 17 + 4*q.VersionNumber
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
		GS, '(', 'k', 3, 0, 49, 69, level.n, // fn=69: error correction
		GS, '(', 'k', byte(n), byte(n>>8), 49, 80, 48) // fn=80: store
	e.out = append(e.out, b.Text...)
	e.out = append(e.out, GS, '(', 'k', 3, 0, 49, 81, 48, LF) // fn=81: print
	e.setStyle(style{})
	return nil
}

// rasterQR draws the symbol, with its quiet zone, size dots per module.
func (e *encoder) rasterQR(q *qrcode.QRCode, size int, align byte) error {
	bm := q.Bitmap() // includes the 4-module quiet zone
	n := len(bm)
	if n*size > e.p.DotsPerLine {
		size = e.p.DotsPerLine / n
		if size < 1 {
			return fmt.Errorf("qr: the symbol is %d modules wide with its quiet zone, more than the %d dots of the paper", n, e.p.DotsPerLine)
		}
	}
	img := newBitImage(n*size, n*size)
	for y, row := range bm {
		for x, on := range row {
			if !on {
				continue
			}
			for dy := 0; dy < size; dy++ {
				for dx := 0; dx < size; dx++ {
					img.set(x*size+dx, y*size+dy)
				}
			}
		}
	}
	e.raster(img, align)
	e.out = append(e.out, LF)
	return nil
}
