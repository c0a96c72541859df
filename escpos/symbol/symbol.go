// Package symbol computes what a receipt printer draws for its barcode
// commands: the bars and human-readable (HRI) text of GS k (UPC-A, UPC-E,
// EAN-13, EAN-8, CODE39, ITF, CODABAR, CODE93, CODE128) and the module
// matrix of a GS ( k QR code, following Epson's ESC/POS semantics for the
// data as sent in the command.
//
// CODE39, ITF, CODABAR and CODE93 come from github.com/boombuler/barcode;
// the UPC/EAN family and CODE128 are encoded here because the library's
// semantics differ from a printer's (see upcean.go and code128.go). QR codes
// come from github.com/skip2/go-qrcode.
package symbol

import (
	"errors"
	"fmt"
	"strings"

	"github.com/boombuler/barcode"
)

// MaxData is the most data bytes a barcode takes (GS k function B sends the
// length in one byte).
const MaxData = 255

// Symbology names, as Barcode takes them.
const (
	UPCA    = "upca"
	UPCE    = "upce"
	EAN13   = "ean13"
	EAN8    = "ean8"
	Code39  = "code39"
	ITF     = "itf"
	Codabar = "codabar"
	Code93  = "code93"
	Code128 = "code128"
)

// Symbologies lists the names Barcode accepts.
var Symbologies = []string{UPCA, UPCE, EAN13, EAN8, Code39, ITF, Codabar, Code93, Code128}

// ByCommand returns the symbology that GS k selects with m: 0–6 for
// function A (NUL-terminated data) and 65–73 for function B (counted data;
// CODE93 and CODE128 exist only there).
func ByCommand(m byte) (sym string, ok bool) {
	switch {
	case m <= 6:
		return Symbologies[m], true
	case m >= 65 && m <= 73:
		return Symbologies[m-65], true
	}
	return "", false
}

// A Code is a linear barcode as the printer draws it.
type Code struct {
	// Symbology is the symbology's name (one of Symbologies).
	Symbology string
	// HRI is the human-readable text the printer prints with the bars when
	// HRI is on (GS H), as UTF-8.
	HRI string
	// Warning is set when the printer prints the symbol although it will not
	// scan as intended: a check digit sent in the data that does not match
	// the data (a printer does not verify it).
	Warning string
	// Rest is the part of the data after a CODE39 stop character '*' in the
	// middle of the data: the printer ends the barcode there and processes
	// the rest as ordinary print data. Empty for other symbologies.
	Rest []byte

	// bars are element widths, alternating bar and space, starting and
	// ending with a bar: modules for multi-level symbologies, 1 (narrow) or
	// 2 (wide) for binary-level ones.
	bars   []uint8
	binary bool
}

// Binary reports whether the symbology is binary-level (CODE39, ITF,
// CODABAR: narrow and wide elements) rather than multi-level (UPC, EAN,
// CODE93, CODE128: elements of 1–4 modules).
func (c *Code) Binary() bool { return c.binary }

// thick is the wide element width in dots for GS w n = 1..6 on a binary-level
// barcode, from Epson's table (0.282/0.706 mm at n = 2, and so on).
var thick = [...]int{0, 3, 5, 8, 10, 13, 16}

// widths returns the dots of a narrow and of a wide element for GS w n.
func (c *Code) widths(n int) (narrow, wide int) {
	n = max(n, 1)
	if !c.binary {
		return n, 0
	}
	if n < len(thick) {
		return n, thick[n]
	}
	return n, (n*8 + 1) / 3
}

// Width returns the width in dots of the symbol (without quiet zones) at
// GS w n: n dots per module for multi-level symbologies; for binary-level
// ones n dots per narrow element and Epson's wide width (5 dots at n = 2,
// 8 at n = 3, ...).
func (c *Code) Width(n int) int {
	narrow, wide := c.widths(n)
	w := 0
	for _, e := range c.bars {
		if c.binary && e == 2 {
			w += wide
		} else {
			w += int(e) * narrow
		}
	}
	return w
}

// Dots returns one row of the symbol at GS w n, true = black dot, without
// quiet zones. Dots(1) is the symbol in module units.
func (c *Code) Dots(n int) []bool {
	narrow, wide := c.widths(n)
	out := make([]bool, 0, c.Width(n))
	for i, e := range c.bars {
		w := int(e) * narrow
		if c.binary && e == 2 {
			w = wide
		}
		for range w {
			out = append(out, i%2 == 0)
		}
	}
	return out
}

// Barcode returns the symbol a printer draws for GS k with symbology sym
// (one of Symbologies, case-insensitive) and data as sent in the command:
//
//   - upca: 11 digits (check digit added) or 12 (the 12th is the check digit).
//   - upce: 6 digits (number system 0 and check digit added), 7 (number
//     system '0' first), 8 (plus check digit), or a UPC-A number of 11 or 12
//     digits that can be zero-suppressed; the HRI is the 6-digit short code.
//   - ean13: 12 or 13 digits; ean8: 7 or 8 digits.
//   - code39: 0–9 A–Z space $ % + - . /; start/stop '*' added unless sent;
//     a '*' inside the data stops the barcode (see Code.Rest).
//   - itf: an even number of digits.
//   - codabar: start and stop characters A–D (or a–d) around 0–9 - $ : / . +.
//   - code93: bytes 0–127; start/stop and two check characters added.
//   - code128: bytes 0–127 starting with a code set selector "{A", "{B" or
//     "{C"; "{S" shifts one character between sets A and B, "{1".."{4" are
//     FNC1–FNC4, "{{" is a literal '{'; in set C each byte (0–99) is a digit
//     pair. The check character is added.
//
// A check digit sent in the data is used as sent, as a printer does, and a
// wrong one is reported in Code.Warning. Data a printer rejects returns an
// error and no code.
func Barcode(sym string, data []byte) (*Code, error) {
	sym = strings.ToLower(sym)
	if len(data) == 0 {
		return nil, fmt.Errorf("symbol: %s: no data", sym)
	}
	if len(data) > MaxData {
		return nil, fmt.Errorf("symbol: %s: %d bytes of data, at most %d", sym, len(data), MaxData)
	}
	var (
		c   *Code
		err error
	)
	switch sym {
	case UPCA:
		c, err = upca(data)
	case UPCE:
		c, err = upce(data)
	case EAN13:
		c, err = ean13(data)
	case EAN8:
		c, err = ean8(data)
	case Code39:
		c, err = code39(data)
	case ITF:
		c, err = itf(data)
	case Codabar:
		c, err = codabar(data)
	case Code93:
		c, err = code93(data)
	case Code128:
		c, err = code128(data)
	default:
		return nil, fmt.Errorf("symbol: unknown symbology %q", sym)
	}
	if err != nil {
		return nil, fmt.Errorf("symbol: %s: %w", sym, err)
	}
	c.Symbology = sym
	return c, nil
}

// runs converts a library-drawn 1-D barcode into element widths. With
// binary set, element widths are classified as narrow (1) or wide (2).
func runs(bc barcode.Barcode, binary bool) (*Code, error) {
	b := bc.Bounds()
	var bars []uint8
	last := false
	for x := b.Min.X; x < b.Max.X; x++ {
		r, _, _, _ := bc.At(x, b.Min.Y).RGBA()
		black := r < 0x8000
		if x == b.Min.X {
			if !black {
				return nil, errors.New("internal: symbol starts with a space")
			}
			bars = append(bars, 0)
		} else if black != last {
			bars = append(bars, 0)
		}
		if bars[len(bars)-1] == 255 {
			return nil, errors.New("internal: element too wide")
		}
		bars[len(bars)-1]++
		last = black
	}
	if len(bars)%2 == 0 {
		return nil, errors.New("internal: symbol ends with a space")
	}
	if binary {
		narrow := uint8(255)
		for _, e := range bars {
			narrow = min(narrow, e)
		}
		for i, e := range bars {
			if e > narrow {
				bars[i] = 2
			} else {
				bars[i] = 1
			}
		}
	}
	return &Code{bars: bars, binary: binary}, nil
}
