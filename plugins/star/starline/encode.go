// Package starline speaks Star Micronics' Star Line Mode: it encodes a
// core.Document into the bytes a Star printer in line mode prints (TSP650,
// TSP700, SP700…), encodes a document as Star raster graphics for printers
// that only print raster (TSP100 futurePRNT, command set "stargraphic"), and
// decodes Star automatic status (ASB) replies.
//
// Command references are to Star Micronics, "STAR Line Mode Command
// Specifications" (the line thermal printer edition), by section and command
// name, e.g. "3.3.2 Character Expansion Settings: ESC i n1 n2".
package starline

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

// Control bytes of Star Line Mode.
const (
	nul = 0x00
	bel = 0x07 // external device 1 drive (drawer 1)
	lf  = 0x0a
	sub = 0x1a // external device 2 drive (drawer 2)
	esc = 0x1b
	gs  = 0x1d
	rs  = 0x1e
)

// Settings the encoder uses.
const (
	maxMult       = 6   // ESC i expands up to 6× (n = 0…5)
	maxQRCell     = 8   // ESC GS y S 2 n: cell size 1…8 dots
	defaultQRSize = 6   // a qr block's size when it gives none
	defaultBarH   = 80  // a barcode's height in dots when the block gives none
	defaultBarW   = 3   // a barcode's module width in dots when the block gives none
	tearBarLines  = 4   // lines fed to clear the tear bar on a model with no cutter
	beepOn        = 10  // ESC GS BEL m t1 t2: 10 × 20 ms on
	beepOff       = 10  // and 10 × 20 ms off
	maxFeedLines  = 127 // ESC a n: 1 ≤ n ≤ 127
)

// Encode returns the Star Line Mode bytes that print doc on a printer of
// profile p (command set "starline"). It follows escpos.Encode's layout rules
// so a document looks the same on an Epson and on a Star: text word-wrapped
// to the profile's columns, columns with the price right-aligned, every block
// starting and ending with the default styles, text transcoded with
// escpos.Transcoder into the profile's code pages (Star's ESC GS t numbers),
// control characters printed as a visible '?'. The output is deterministic.
//
// Per block:
//   - text: ESC E/ESC F, ESC - n, ESC 4/ESC 5, ESC i n1 n2 (width and height
//     up to 6×), ESC GS a n, ESC RS F n.
//   - line, columns: as text.
//   - qr: ESC GS y S 0/1/2, ESC GS y D 1, ESC GS y P on profiles with native
//     QR; else a raster image.
//   - barcode: ESC b n1 n2 n3 n4 d… RS for the symbologies the profile lists;
//     else a raster image with the digits printed below when hri is set.
//   - image: Star raster mode (ESC * r A, b n1 n2 d…, ESC * r B), drawn and
//     dithered exactly as escpos.Encode draws it.
//   - feed: ESC a n. cut: ESC d 2/3 (feed to the cutter, full/partial cut),
//     or ESC I n + ESC d 0/1 when the profile sets cut_feed.
//   - drawer: BEL (drawer 1), SUB (drawer 2). beep: ESC GS BEL 1 t1 t2.
//
// A drawer block on a profile without a drawer, and a beep block on a
// profile without a buzzer, print nothing (as in escpos.Encode).
func Encode(doc core.Document, p *core.Profile) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("starline: no printer profile")
	}
	if p.CommandSet != core.CommandSetStarLine {
		return nil, fmt.Errorf("starline: profile %q speaks %s, not Star Line Mode", p.Name, p.CommandSet)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("starline: profile %q: %w", p.Name, err)
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	e := &encoder{p: p, tr: escpos.NewTranscoder(p), out: make([]byte, 0, 1024)}
	e.start()
	for i := range doc {
		if err := e.block(&doc[i]); err != nil {
			return nil, fmt.Errorf("document[%d]: %w", i, err)
		}
		if len(e.out) > escpos.MaxOutput {
			return nil, fmt.Errorf("document[%d]: the document encodes to more than %d bytes: split it into several jobs", i, escpos.MaxOutput)
		}
	}
	return e.out, nil
}

// style is the text state the encoder keeps in force on the printer.
type style struct {
	align     byte // ESC GS a n: 0 left, 1 centre, 2 right
	font      byte // ESC RS F n: 0 font A (12×24), 1 font B (9×24)
	bold      bool // ESC E / ESC F
	underline bool // ESC - n
	invert    bool // ESC 4 / ESC 5
	width     byte // ESC i n1 n2: n2 = width − 1
	height    byte // ESC i n1 n2: n1 = height − 1
}

type encoder struct {
	p    *core.Profile
	tr   *escpos.Transcoder
	out  []byte
	page int // the ESC GS t number in force
	st   style
}

// start initialises the printer (ESC @, "Initialization")
// and selects the profile's default code page (Font Style and
// Character Set: ESC GS t n, "Specify code page").
func (e *encoder) start() {
	_, n := e.tr.Current()
	e.page = n
	e.out = append(e.out, esc, '@', esc, gs, 't', byte(n))
	e.st = style{}
}

func (e *encoder) block(b *core.Block) error {
	switch b.Kind {
	case core.KindText:
		e.text(b)
	case core.KindLine:
		e.rule(b)
	case core.KindColumns:
		e.columns(b)
	case core.KindQR:
		return e.qr(b)
	case core.KindBarcode:
		return e.barcode(b)
	case core.KindImage:
		return e.image(b)
	case core.KindFeed:
		e.feed(b.N)
	case core.KindCut:
		e.cut(b.Cut)
	case core.KindDrawer:
		// External Device Drive: BEL drives external device 1, SUB
		// external device 2, with the pulse set by ESC BEL n1 n2 (memory
		// switch default).
		if e.p.Drawer {
			if b.N == 2 {
				e.out = append(e.out, sub)
			} else {
				e.out = append(e.out, bel)
			}
		}
	case core.KindBeep:
		// External buzzer: ESC GS BEL m t1 t2, "Ring buzzer", once per beep.
		// Only on profiles with a buzzer: on a drawer terminal it damages
		// the drawer, as the specification warns.
		if e.p.Beep {
			for range b.N {
				e.out = append(e.out, esc, gs, bel, 1, beepOn, beepOff)
			}
		}
	default:
		return fmt.Errorf("unknown block kind %q", b.Kind)
	}
	return nil
}

// setStyle sends the commands that change the printer's styles to s.
func (e *encoder) setStyle(s style) {
	if s.align != e.st.align {
		// Horizontal Direction Printing Position: ESC GS a n,
		// "Specify position alignment".
		e.out = append(e.out, esc, gs, 'a', s.align)
	}
	if s.font != e.st.font {
		// Font Style and Character Set: ESC RS F n, "Select font".
		e.out = append(e.out, esc, rs, 'F', s.font)
	}
	if s.bold != e.st.bold {
		// Print Mode: ESC E "Select emphasized printing", ESC F
		// "Cancel emphasized printing".
		if s.bold {
			e.out = append(e.out, esc, 'E')
		} else {
			e.out = append(e.out, esc, 'F')
		}
	}
	if s.underline != e.st.underline {
		// Print Mode: ESC - n, "Select/cancel underline mode".
		e.out = append(e.out, esc, '-', b2i(s.underline))
	}
	if s.invert != e.st.invert {
		// Print Mode: ESC 4 "Select white/black inverted printing",
		// ESC 5 "Cancel white/black inverted printing".
		if s.invert {
			e.out = append(e.out, esc, '4')
		} else {
			e.out = append(e.out, esc, '5')
		}
	}
	if s.width != e.st.width || s.height != e.st.height {
		// 3.3.2 Character Expansion Settings: ESC i n1 n2, "Set/cancel the
		// double wide/high": n1 is the height, n2 the width, 0…5 for 1×…6×.
		e.out = append(e.out, esc, 'i', s.height, s.width)
	}
	e.st = s
}

func b2i(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func alignByte(a string) byte {
	switch a {
	case "center":
		return 1
	case "right":
		return 2
	}
	return 0
}

func fontByte(f string) byte {
	if f == "b" {
		return 1
	}
	return 0
}

// mult returns a width or height multiplier, 0 meaning 1, at most 6 (the
// largest ESC i can set; 7× and 8× print as 6×).
func mult(n int) int {
	if n < 1 {
		return 1
	}
	return min(n, maxMult)
}

func blockStyle(b *core.Block) style {
	return style{
		align:     alignByte(b.Align),
		font:      fontByte(b.Font),
		bold:      b.Bold,
		underline: b.Underline,
		invert:    b.Invert,
		width:     byte(mult(b.Width) - 1),
		height:    byte(mult(b.Height) - 1),
	}
}

// cols returns the characters per line in font f at width multiplier w.
func (e *encoder) cols(f string, w int) int {
	n := e.p.Columns(f)
	if n <= 0 {
		div := 12
		if f == "b" {
			div = 9
		}
		n = e.p.DotsPerLine / div
	}
	return max(1, n/mult(w))
}

// write transcodes s and appends it, selecting code pages with ESC GS t n
// as needed, even in the middle of a line.
func (e *encoder) write(s []rune) {
	runs, _ := e.tr.Transcode(string(s))
	for _, r := range runs {
		if r.Number != e.page {
			e.out = append(e.out, esc, gs, 't', byte(r.Number))
			e.page = r.Number
		}
		for _, c := range r.Text {
			if c < 0x20 || c == 0x7f { // never a control byte, whatever the code page
				c = escpos.Replacement
			}
			e.out = append(e.out, c)
		}
	}
}

func (e *encoder) writeLine(s []rune) {
	e.write(s)
	e.out = append(e.out, lf)
}

func (e *encoder) text(b *core.Block) {
	e.setStyle(blockStyle(b))
	for _, l := range escpos.TextLines(b.Text, e.cols(b.Font, b.Width)) {
		e.writeLine(l)
	}
	e.setStyle(style{})
}

func (e *encoder) rule(b *core.Block) {
	e.setStyle(style{font: fontByte(b.Font), bold: b.Bold})
	e.writeLine(escpos.RuleLine(b.Text, e.cols(b.Font, 1)))
	e.setStyle(style{})
}

// columns prints an item and a price, laid out as escpos.ColumnLines does.
func (e *encoder) columns(b *core.Block) {
	st := blockStyle(b)
	st.align = 0
	e.setStyle(st)
	for _, l := range escpos.ColumnLines(b.Columns, e.cols(b.Font, b.Width)) {
		e.writeLine(l)
	}
	e.setStyle(style{})
}

// feed feeds n lines: Line Spacing: ESC a n, "Feed paper n lines".
func (e *encoder) feed(n int) {
	for n > 0 {
		k := min(n, maxFeedLines)
		e.out = append(e.out, esc, 'a', byte(k))
		n -= k
	}
}

// feedDots feeds n dots: Line Spacing: ESC I n, "n/8 mm line feed"
// (one dot at 8 dots/mm).
func (e *encoder) feedDots(n int) {
	for n > 0 {
		k := min(n, 255)
		e.out = append(e.out, esc, 'I', byte(k))
		n -= k
	}
}

// cut follows 3.3.11 Cutter Control: ESC d n. n = 2 and 3 feed the paper to
// the cutting position and make a full or partial cut; n = 0 and 1 cut at
// the current position, used after the profile's own cut_feed. The kind
// asked for is used if the cutter makes it, else the kind it makes; with no
// cutter the last line is fed past the tear bar.
func (e *encoder) cut(kind string) {
	if kind == "" {
		kind = "full"
	}
	if !e.p.HasCut(kind) {
		switch {
		case e.p.HasCut("partial"):
			kind = "partial"
		case e.p.HasCut("full"):
			kind = "full"
		default:
			kind = ""
		}
	}
	switch {
	case kind == "" && e.p.CutFeed > 0:
		e.feedDots(e.p.CutFeed)
	case kind == "":
		e.feed(tearBarLines)
	case e.p.CutFeed > 0:
		e.feedDots(e.p.CutFeed)
		e.out = append(e.out, esc, 'd', map[string]byte{"full": 0, "partial": 1}[kind])
	default:
		e.out = append(e.out, esc, 'd', map[string]byte{"full": 2, "partial": 3}[kind])
	}
}

// qrECC maps a document's level to ESC GS y S 1 n and go-qrcode's level.
var qrECC = map[string]struct {
	n     byte
	level qrcode.RecoveryLevel
}{
	"l": {0, qrcode.Low},
	"m": {1, qrcode.Medium},
	"q": {2, qrcode.High},
	"h": {3, qrcode.Highest},
}

// qr prints a QR code block. Natively it uses the QR Code commands of the
// specification ("QR Code" command group): ESC GS y S 0 n (model 2),
// ESC GS y S 1 n (error correction), ESC GS y S 2 n (cell size, at most 8
// dots), ESC GS y D 1 m nL nH d… (data, m = 0: automatic analysis) and
// ESC GS y P (print). The cell size shrinks if the symbol would not fit the
// paper. Profiles without native QR get a raster image.
func (e *encoder) qr(b *core.Block) error {
	lv := b.Level
	if lv == "" {
		lv = "m"
	}
	ecc, ok := qrECC[lv]
	if !ok {
		return fmt.Errorf("qr: level %q: want l, m, q or h", b.Level)
	}
	if !e.p.QR {
		return e.rasterBlock(b, func(p *core.Profile) { p.QR = false })
	}
	q, err := qrcode.New(b.Text, ecc.level)
	if err != nil {
		return fmt.Errorf("qr: %d bytes do not fit in a QR code at level %s: %v", len(b.Text), lv, err)
	}
	size := b.Size
	if size <= 0 {
		size = defaultQRSize
	}
	size = min(size, maxQRCell)
	modules := 17 + 4*q.VersionNumber
	if modules*size > e.p.DotsPerLine {
		size = e.p.DotsPerLine / modules
		if size < 1 {
			return fmt.Errorf("qr: the symbol is %d modules wide, more than the %d dots of the paper", modules, e.p.DotsPerLine)
		}
	}
	n := len(b.Text)
	e.setStyle(style{align: alignByte(b.Align)})
	e.out = append(e.out,
		esc, gs, 'y', 'S', '0', 2, // model 2
		esc, gs, 'y', 'S', '1', ecc.n, // error correction level
		esc, gs, 'y', 'S', '2', byte(size), // cell size
		esc, gs, 'y', 'D', '1', 0, byte(n), byte(n>>8)) // data, automatic analysis
	e.out = append(e.out, b.Text...)
	e.out = append(e.out, esc, gs, 'y', 'P', lf) // print, then a line for the quiet zone
	e.setStyle(style{})
	return nil
}

// starBarcode is ESC b's n1 for each symbology.
var starBarcode = map[string]byte{
	"upce": 0, "upca": 1, "ean8": 2, "ean13": 3, "code39": 4,
	"itf": 5, "code128": 6, "code93": 7, "codabar": 8,
}

// barcode prints a barcode block with Bar Code: ESC b n1 n2 n3 n4
// d1…dk RS. n1 is the symbology, n2 = 2 prints the digits under the bars
// (1: no digits), both followed by a line feed, n3 the module width mode and
// n4 the height in dots. Data that ESC b cannot carry natively (a symbology
// the profile lacks, UPC-E in its short form, control characters) is drawn
// as a raster image instead.
func (e *encoder) barcode(b *core.Block) error {
	if err := escpos.ValidateBarcode(b.Symbology, b.Text); err != nil {
		return err
	}
	data, ok := starBarcodeData(b.Symbology, b.Text)
	if !ok || !e.p.HasBarcode(b.Symbology) {
		if err := e.rasterBlock(&core.Block{Kind: core.KindBarcode, Text: b.Text, Symbology: b.Symbology,
			BarHeight: b.BarHeight, ModuleWidth: b.ModuleWidth, Align: b.Align},
			func(p *core.Profile) { p.Barcodes = nil }); err != nil {
			return err
		}
		if b.HRI {
			e.setStyle(style{align: alignByte(b.Align)})
			e.writeLine([]rune(b.Text))
			e.setStyle(style{})
		}
		return nil
	}
	h := b.BarHeight
	if h <= 0 {
		h = defaultBarH
	}
	w := b.ModuleWidth
	if w <= 0 {
		w = defaultBarW
	}
	hri := byte(1)
	if b.HRI {
		hri = 2
	}
	e.setStyle(style{align: alignByte(b.Align)})
	e.out = append(e.out, esc, 'b', starBarcode[b.Symbology], hri, barcodeMode(b.Symbology, w), byte(h))
	e.out = append(e.out, data...)
	e.out = append(e.out, rs)
	e.setStyle(style{})
	return nil
}

// barcodeMode maps a module width in dots (2–6) to ESC b's n3: for the
// EAN/UPC family, Code 128 and Code 93, modes 1–3 are 2, 3 and 4 dots; for
// Code 39 and NW-7, 1–3 are narrow:wide 2:6, 3:9 and 4:12; for ITF, 2:5,
// 4:10 and 6:15.
func barcodeMode(sym string, w int) byte {
	if sym == "itf" {
		switch {
		case w <= 2:
			return 1
		case w <= 4:
			return 2
		}
		return 3
	}
	return byte(min(max(w-1, 1), 3))
}

// starBarcodeData returns what ESC b sends for data already checked by
// escpos.ValidateBarcode, or false when ESC b cannot carry it.
func starBarcodeData(sym, data string) (string, bool) {
	for i := 0; i < len(data); i++ {
		if data[i] < 0x20 || data[i] > 0x7e { // RS ends the command
			return "", false
		}
	}
	switch sym {
	case "upce":
		// ESC b takes UPC-E in its 11–12 digit UPC-A form only.
		return data, len(data) == 11 || len(data) == 12
	case "code39":
		// The printer adds the start and stop characters.
		return strings.TrimSuffix(strings.TrimPrefix(data, "*"), "*"), true
	case "codabar":
		d := strings.ToUpper(data)
		if c := d[0]; c < 'A' || c > 'D' {
			d = "A" + d + "A"
		}
		return d, true
	}
	return data, true
}
