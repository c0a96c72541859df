package escpos

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/comandera/comandera/core"
)

// Limits of the encoder, on top of the document limits in core.
const (
	// MaxOutput bounds the bytes one document may encode to (16 MiB: far
	// more paper than a roll holds). A document that would exceed it is
	// refused, so a request cannot make the encoder allocate without bound.
	MaxOutput = 16 << 20
	// MaxImagePixels bounds width × height of a PNG, read from its header
	// before anything is decoded, so a small file that inflates to gigabytes
	// (a decompression bomb) is refused.
	MaxImagePixels = 8 << 20
)

// Pulse and feed settings the encoder uses.
const (
	drawerOn      = 25  // ESC p t1: 25 × 2 ms = 50 ms on
	drawerOff     = 250 // ESC p t2: 250 × 2 ms = 500 ms off
	beepPattern   = 49  // ESC ( A fn=48 n: the first sound pattern
	beepCycle     = 10  // ESC ( A fn=48 t: one beep every 10 × 100 ms
	tearBarLines  = 4   // lines fed to clear the tear bar on a model with no cutter
	defaultQRSize = 6
	defaultBarH   = 80
	defaultBarW   = 3
)

// Encode returns the ESC/POS bytes that print doc on a printer of profile p.
//
// It validates doc first (core.Document.Validate); what only the encoder can
// check (barcode data per symbology, QR capacity, PNG headers and size) is
// checked as each block is encoded, and the error names the block:
// "document[6]: ean13: check digit is 2, data says 1". A document that would
// encode to more than MaxOutput bytes is refused.
// Profiles whose command set is not escpos get an error naming the quirks
// plugin they need.
//
// The output starts with ESC @ and an explicit ESC t for the profile's
// default code page; ESC t is sent again only when a character needs another
// page, even in the middle of a line. Every block starts and ends with the
// printer's default styles, so no block leaks bold, size, alignment or font
// into the next. Text is transcoded (escpos.Transcoder): control characters
// in it, ESC and GS included, print as a visible '?', so text can never
// inject commands. The output is deterministic: the same document and
// profile always give the same bytes.
//
// Per block:
//   - text: ESC E, ESC -, GS B, GS !, ESC a, ESC M; word-wrapped to
//     Profile.Columns(font) divided by the width multiplier; newlines in the
//     text start new lines (a single trailing newline adds no blank line).
//   - line: the character (default '-') across the full width of the font.
//   - columns: the right text right-aligned on the first line; a long left
//     text wraps onto following lines, within the left column.
//   - qr: GS ( k (model 2) on profiles with native QR, else a raster image of
//     the symbol; the module size shrinks if the symbol would not fit the
//     paper. A line feed follows, for the quiet zone.
//   - barcode: GS h, GS w, GS H, GS f and GS k function B; a symbology the
//     profile lacks is drawn as a raster image, with the human-readable text
//     printed below it when hri is set. The module width shrinks (to 2 dots
//     at least) if the bars would not fit the paper. A line feed follows.
//   - image: a PNG scaled down to the paper, flattened onto white,
//     Floyd–Steinberg dithered and sent with the profile's raster method in
//     bands no taller than Profile.MaxBandHeight.
//   - feed: ESC d n.
//   - cut: GS V 65/66 (feed to the cutter and cut), or ESC J + GS V 0/1 when
//     the profile sets cut_feed; the other kind when the profile lacks the one
//     asked for; on a model without a cutter, a feed that clears the tear bar.
//   - drawer: ESC p m 25 250 (pin 2 for drawer 1, pin 5 for drawer 2).
//   - beep: ESC ( A fn=48 (Epson's buzzer command).
//
// A drawer block on a profile without a drawer, and a beep block on a
// profile without a buzzer, are skipped: they print nothing.
func Encode(doc core.Document, p *core.Profile) ([]byte, error) {
	return encode(doc, p, MaxOutput)
}

// encode is Encode with the output bound as a parameter, for tests.
func encode(doc core.Document, p *core.Profile, limit int) ([]byte, error) {
	if err := checkProfile(p); err != nil {
		return nil, err
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	e := newEncoder(p)
	e.start()
	for i := range doc {
		if err := e.block(&doc[i]); err != nil {
			return nil, fmt.Errorf("document[%d]: %w", i, err)
		}
		if len(e.out) > limit {
			return nil, fmt.Errorf("document[%d]: the document encodes to more than %d bytes: split it into several jobs", i, limit)
		}
	}
	return e.out, nil
}

// EncodeText returns the bytes that print plain text, as the old API's
// `content` field sends it: lines split on newlines, word-wrapped, transcoded
// to the profile's code pages. It is Encode(TextDocument(text), p).
func EncodeText(text string, p *core.Profile) ([]byte, error) {
	return Encode(TextDocument(text), p)
}

// TextDocument turns plain text into a document of text blocks: newlines are
// kept, invalid UTF-8 becomes a visible '?', and long text is split at line
// ends into blocks no longer than core.MaxTextLen. Empty text gives one blank
// line. A caller that wants a cut appends a cut block.
func TextDocument(text string) core.Document {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var doc core.Document
	for {
		if len(text) <= core.MaxTextLen {
			return append(doc, core.Block{Kind: core.KindText, Text: text})
		}
		cut := strings.LastIndexByte(text[:core.MaxTextLen+1], '\n')
		next := cut + 1
		if cut < 0 { // one very long line: split at a rune boundary
			cut = core.MaxTextLen
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
			next = cut
		}
		doc = append(doc, core.Block{Kind: core.KindText, Text: text[:cut]})
		text = text[next:]
	}
}

// ReprintText is the text of the banner that marks a reprinted job.
const ReprintText = "*** REPRINT ***"

// ReprintBlock returns the banner block that marks a reprint: ReprintText,
// centred, bold, inverted, double size. A server can put it first in a
// document it prints again; MarkReprint does the same for bytes.
func ReprintBlock() core.Block {
	return core.Block{Kind: core.KindText, Text: ReprintText, Align: "center",
		Bold: true, Invert: true, Width: 2, Height: 2}
}

// MarkReprint returns job (raw ESC/POS bytes, or the output of Encode) with a
// visible REPRINT banner line printed before it. The banner starts with ESC @
// and ends with ESC @, so the job begins in the printer's default state as
// it would have without the banner.
func MarkReprint(job []byte, p *core.Profile) ([]byte, error) {
	if err := checkProfile(p); err != nil {
		return nil, err
	}
	e := newEncoder(p)
	e.start()
	b := ReprintBlock()
	if err := e.block(&b); err != nil {
		return nil, err
	}
	e.out = append(e.out, ESC, '@')
	return append(e.out, job...), nil
}

// checkProfile refuses profiles this package cannot encode for.
func checkProfile(p *core.Profile) error {
	if p == nil {
		return fmt.Errorf("escpos: no printer profile")
	}
	if p.CommandSet != core.CommandSetESCPOS {
		plugin := fmt.Sprintf("a quirks plugin that encodes %s", p.CommandSet)
		if p.Quirks != "" {
			plugin = fmt.Sprintf("the %q quirks plugin", p.Quirks)
		}
		return fmt.Errorf("escpos: profile %q speaks %s, not ESC/POS: its documents are encoded by %s", p.Name, p.CommandSet, plugin)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("escpos: profile %q: %w", p.Name, err)
	}
	if p.Raster == core.RasterESCStar && p.MaxBandHeight < 24 {
		return fmt.Errorf("escpos: profile %q: raster %s prints 24-dot stripes but max_band_height is %d", p.Name, p.Raster, p.MaxBandHeight)
	}
	if p.Raster == core.RasterStar {
		return fmt.Errorf("escpos: profile %q: raster %s is a Star command, not ESC/POS", p.Name, p.Raster)
	}
	return nil
}

// style is the text state the encoder keeps in force on the printer.
type style struct {
	align     byte // ESC a: 0 left, 1 centre, 2 right
	font      byte // ESC M: 0 font A, 1 font B
	bold      bool // ESC E
	underline bool // ESC -
	invert    bool // GS B
	size      byte // GS !: (width-1)<<4 | (height-1)
}

// encoder holds the state of one encoding: the bytes so far, the code page
// and the styles in force on the printer.
type encoder struct {
	p    *core.Profile
	tr   *Transcoder
	out  []byte
	page int   // the ESC t number in force
	st   style // the styles in force
}

func newEncoder(p *core.Profile) *encoder {
	return &encoder{p: p, tr: NewTranscoder(p), out: make([]byte, 0, 1024)}
}

// start initialises the printer and selects the transcoder's code page.
func (e *encoder) start() {
	_, n := e.tr.Current()
	e.page = n
	e.out = append(e.out, ESC, '@', ESC, 't', byte(n))
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
		if b.N > 0 {
			e.out = append(e.out, ESC, 'd', byte(b.N))
		}
	case core.KindCut:
		e.cut(b.Cut)
	case core.KindDrawer:
		if e.p.Drawer {
			e.out = append(e.out, ESC, 'p', byte(b.N-1), drawerOn, drawerOff)
		}
	case core.KindBeep:
		if e.p.Beep {
			e.out = append(e.out, ESC, '(', 'A', 4, 0, 48, beepPattern, byte(b.N), beepCycle)
		}
	default:
		return fmt.Errorf("unknown block kind %q", b.Kind)
	}
	return nil
}

// setStyle sends the commands that change the printer's styles to s.
func (e *encoder) setStyle(s style) {
	if s.align != e.st.align {
		e.out = append(e.out, ESC, 'a', s.align)
	}
	if s.font != e.st.font {
		e.out = append(e.out, ESC, 'M', s.font)
	}
	if s.bold != e.st.bold {
		e.out = append(e.out, ESC, 'E', b2i(s.bold))
	}
	if s.underline != e.st.underline {
		e.out = append(e.out, ESC, '-', b2i(s.underline))
	}
	if s.invert != e.st.invert {
		e.out = append(e.out, GS, 'B', b2i(s.invert))
	}
	if s.size != e.st.size {
		e.out = append(e.out, GS, '!', s.size)
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

// mult returns a width or height multiplier, 0 meaning 1.
func mult(n int) int {
	if n < 1 {
		return 1
	}
	return min(n, 8)
}

func blockStyle(b *core.Block) style {
	return style{
		align:     alignByte(b.Align),
		font:      fontByte(b.Font),
		bold:      b.Bold,
		underline: b.Underline,
		invert:    b.Invert,
		size:      byte((mult(b.Width)-1)<<4 | (mult(b.Height) - 1)),
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

// write transcodes s and appends it, selecting code pages as needed. s must
// hold no newline; the Transcoder turns control characters into '?'.
func (e *encoder) write(s []rune) {
	runs, _ := e.tr.Transcode(string(s))
	for _, r := range runs {
		if r.Number != e.page {
			e.out = append(e.out, ESC, 't', byte(r.Number))
			e.page = r.Number
		}
		for _, c := range r.Text {
			if c < 0x20 || c == 0x7f { // never a control byte, whatever the code page
				c = Replacement
			}
			e.out = append(e.out, c)
		}
	}
}

// writeLine writes s and ends the line.
func (e *encoder) writeLine(s []rune) {
	e.write(s)
	e.out = append(e.out, LF)
}

func (e *encoder) text(b *core.Block) {
	e.setStyle(blockStyle(b))
	for _, l := range TextLines(b.Text, e.cols(b.Font, b.Width)) {
		e.writeLine(l)
	}
	e.setStyle(style{})
}

// rule prints a separator line.
func (e *encoder) rule(b *core.Block) {
	e.setStyle(style{font: fontByte(b.Font), bold: b.Bold})
	e.writeLine(RuleLine(b.Text, e.cols(b.Font, 1)))
	e.setStyle(style{})
}

// columns prints an item and a price (ColumnLines).
func (e *encoder) columns(b *core.Block) {
	st := blockStyle(b)
	st.align = 0
	e.setStyle(st)
	for _, l := range ColumnLines(b.Columns, e.cols(b.Font, b.Width)) {
		e.writeLine(l)
	}
	e.setStyle(style{})
}

// cut feeds the paper to the cutter and cuts, with the kind asked for if
// the cutter makes it, else the kind it makes; with no cutter it feeds the
// last line past the tear bar.
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
	if kind == "" {
		if e.p.CutFeed > 0 {
			e.feedDots(e.p.CutFeed)
		} else {
			e.out = append(e.out, ESC, 'd', tearBarLines)
		}
		return
	}
	if e.p.CutFeed > 0 {
		e.feedDots(e.p.CutFeed)
		if kind == "partial" {
			e.out = append(e.out, GS, 'V', 1)
		} else {
			e.out = append(e.out, GS, 'V', 0)
		}
		return
	}
	if kind == "partial" {
		e.out = append(e.out, GS, 'V', 66, 0)
	} else {
		e.out = append(e.out, GS, 'V', 65, 0)
	}
}

// feedDots feeds n dots with ESC J, 255 at most per command.
func (e *encoder) feedDots(n int) {
	for n > 0 {
		k := min(n, 255)
		e.out = append(e.out, ESC, 'J', byte(k))
		n -= k
	}
}
