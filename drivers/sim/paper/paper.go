// Package paper is the page model of the simulated printer: a roll of thermal
// paper at the printer's resolution, the line buffer a receipt printer fills
// with characters until a line feed prints it, and the records of what was
// printed (a UTF-8 transcript, warnings, cuts, drawer pulses, beeps).
//
// It knows nothing of any command language. An interpreter (ESC/POS in
// drivers/sim, Star Line Mode later) decodes bytes and drives a Roll: it
// puts characters with a Style, moves the print position, prints the line
// and feeds, places blocks (raster images, barcodes, QR codes) and cuts.
//
// Layout follows a real printer in standard mode: characters of different
// sizes and fonts sit on a common bottom line; the line is as tall as its
// tallest character and the paper advances by the line spacing or that
// height, whichever is more; a character that does not fit the print area
// prints the line and starts the next; justification and upside-down
// printing apply to the whole line.
//
// A ticket (everything up to a cut) is at most Config.MaxLength dots long;
// what goes beyond is not drawn, costs no memory, and is reported once as a
// warning. Drawing is clipped to the paper. A ticket's transcript holds at
// most MaxLines lines and a roll at most Config.MaxTickets tickets, so no
// input makes the records grow without bound.
package paper

import (
	"fmt"
	"image"
	"image/color"
	"strings"

	"github.com/comandera/comandera/drivers/sim/font"
)

// DefaultMaxMM is the default cap on a ticket's length: 4 m of paper.
const DefaultMaxMM = 4000

// MaxDots caps the dots of one image whatever the paper's width, so a very
// wide profile cannot make a long image huge: 40 M dots (one byte each).
// 4 m of 80 mm paper is 576 × 31 969 = 18.4 M dots.
const MaxDots = 40 << 20

// maxWarnings bounds the distinct warnings one ticket records.
const maxWarnings = 100

// MaxLines bounds the transcript lines of one ticket. A ticket reaches its
// length cap long before, except with blank lines fed at zero line spacing.
const MaxLines = 10000

// DefaultMaxTickets bounds the tickets of one roll (one job, for the
// device): cuts after that are ignored, with a warning.
const DefaultMaxTickets = 1000

// Palette is the palette of every image: index 0 is paper, 1 is ink.
var Palette = color.Palette{color.White, color.Black}

// Align is a justification (ESC a).
type Align uint8

// Justifications.
const (
	Left Align = iota
	Center
	Right
)

// A Style says how characters look.
type Style struct {
	Face      *font.Face // font.A or font.B; nil means font.A
	Bold      bool       // emphasised or double-strike
	Underline int        // 0, 1 or 2 dots
	Invert    bool       // white on black
	Width     int        // width multiplier 1–8 (0 means 1)
	Height    int        // height multiplier 1–8 (0 means 1)
	Spacing   int        // right-side character spacing in dots, before the width multiplier
	// UpsideDown rotates the line 180°; the line takes the setting in force
	// when its first character is put.
	UpsideDown bool
}

func (s *Style) face() *font.Face {
	if s.Face == nil {
		return font.A
	}
	return s.Face
}

func mul(n int) int {
	if n < 1 {
		return 1
	}
	if n > 8 {
		return 8
	}
	return n
}

// Advance returns the width in dots a character of style s takes, spacing
// included.
func (s *Style) Advance() int {
	cw, _ := s.face().Cell()
	return (cw + s.Spacing) * mul(s.Width)
}

// Config describes a roll.
type Config struct {
	Width int // printable dots per line (Profile.DotsPerLine)
	DPI   int // dots per inch, for lengths in mm
	// MaxLength caps a ticket's length in dots (the whole roll's in Roll
	// mode); 0 means DefaultMaxMM at DPI. It is lowered to MaxDots / Width
	// if need be.
	MaxLength int
	// Render draws the paper. Without it only the transcript, warnings and
	// events are kept: no image memory at all.
	Render bool
	// Roll keeps one image for the whole roll, cuts drawn as dashed lines,
	// instead of one image per ticket.
	Roll bool
	// OnTicket, if set, receives each ticket as it ends (at a cut, or at
	// Finish).
	OnTicket func(*Ticket)
	// MaxTickets bounds the tickets of the roll; 0 means DefaultMaxTickets.
	MaxTickets int
}

// A Pulse is one drawer kick.
type Pulse struct {
	Pin   int `json:"pin"` // connector pin: 2 or 5
	OnMS  int `json:"on_ms"`
	OffMS int `json:"off_ms"`
}

// A Ticket is the paper between two cuts and what happened while it printed.
type Ticket struct {
	// Image is the ticket, 1 bit per dot (Palette), Width × Length dots; nil
	// when not rendering and in Roll mode.
	Image *image.Paletted
	// Lines is the transcript: one line per printed line, barcodes and QR
	// codes as "[EAN13: 4006381333931]" and "[QR: …]", images as
	// "[IMAGE 384x120]". Blank lines at the start and end are dropped.
	Lines []string
	// Warnings are problems met while printing: unknown commands, data a
	// printer would reject, the length cap.
	Warnings []string
	// Cut is "full" or "partial", or "" when the job ended without a cut.
	Cut string
	// Length is the paper used, in dots, at most the cap.
	Length int
	// Clipped reports that the ticket reached the length cap.
	Clipped bool
	Pulses  []Pulse
	Beeps   int
	Width   int // dots
	DPI     int
}

// Text returns the transcript as UTF-8 text, one line per printed line.
func (t *Ticket) Text() string {
	if len(t.Lines) == 0 {
		return ""
	}
	return strings.Join(t.Lines, "\n") + "\n"
}

// LengthMM returns the paper length in millimetres.
func (t *Ticket) LengthMM() float64 {
	if t.DPI <= 0 {
		return 0
	}
	return float64(t.Length) * 25.4 / float64(t.DPI)
}

// item kinds in the line buffer.
const (
	itemGlyph = iota
	itemImage
)

// An item is one thing in the line buffer.
type item struct {
	kind    int
	x, w, h int // position in the line (from the area's left) and footprint
	r       rune
	glyph   []byte // itemGlyph: cell bitmap
	cw, ch  int    // cell size
	sx, sy  int    // scale
	under   int
	invert  bool
	bits    []byte // itemImage: packed rows, MSB first
	stride  int
	label   string // itemImage: transcript text
}

// entry is one transcript line before it is finalised; images that follow
// each other directly with the same width merge into one.
type entry struct {
	text        string
	image       bool
	x, w, h     int
	top, bottom int
}

// A Roll is the paper and the line buffer.
type Roll struct {
	cfg    Config
	width  int
	maxLen int

	// LineSpacing is the feed of one line in dots (ESC 2, ESC 3), used when a
	// full line wraps and by PrintLine.
	LineSpacing int

	margin, area int // print area: [margin, margin+area)
	align        Align

	// Line buffer.
	items      []item
	x          int // print position, from the area's left
	lineAlign  Align
	lineUpside bool
	lineHeight int

	// Current ticket.
	pix     []byte // Render: width × rows, one byte per dot
	y       int    // paper position of the next line, in dots from the ticket (or roll) top
	start   int    // Roll mode: where the current ticket starts
	clipped bool
	entries []entry
	warns   []string
	warnIdx map[string]int
	warnN   []int
	pulses  []Pulse
	beeps   int
	used    bool // anything happened since the last cut

	tickets int
}

// New returns an empty roll.
func New(cfg Config) *Roll {
	if cfg.Width <= 0 {
		cfg.Width = 576
	}
	if cfg.DPI <= 0 {
		cfg.DPI = 203
	}
	r := &Roll{cfg: cfg, width: cfg.Width, maxLen: cfg.MaxLength}
	if r.maxLen <= 0 {
		r.maxLen = DefaultMaxMM * cfg.DPI * 10 / 254
	}
	r.maxLen = min(r.maxLen, MaxDots/cfg.Width)
	r.Reset()
	return r
}

// Reset restores the print area, justification and line spacing a printer
// has after initialisation (ESC @) and clears the line buffer.
func (r *Roll) Reset() {
	r.margin, r.area = 0, r.width
	r.align = Left
	r.LineSpacing = 30
	r.items = r.items[:0]
	r.x = 0
	r.lineHeight = 0
}

// Width returns the dots per line.
func (r *Roll) Width() int { return r.width }

// DPI returns the resolution.
func (r *Roll) DPI() int { return r.cfg.DPI }

// MaxLength returns the length cap in dots.
func (r *Roll) MaxLength() int { return r.maxLen }

// SetMargin sets the left margin (GS L) in dots, keeping the print area
// width unless it no longer fits.
func (r *Roll) SetMargin(m int) {
	r.margin = min(max(m, 0), r.width-1)
	r.area = min(max(r.area, 1), r.width-r.margin)
}

// SetAreaWidth sets the print area width (GS W) in dots.
func (r *Roll) SetAreaWidth(w int) {
	r.area = min(max(w, 1), r.width-r.margin)
}

// Area returns the print area: left margin and width in dots.
func (r *Roll) Area() (margin, width int) { return r.margin, r.area }

// SetAlign sets the justification. Like ESC a it takes effect at the start
// of a line: a line already begun keeps its own.
func (r *Roll) SetAlign(a Align) { r.align = a }

// X returns the print position in dots from the left of the print area.
func (r *Roll) X() int { return r.x }

// SetX moves the print position (HT, ESC $, ESC \). A position outside the
// print area is ignored, as a printer does, and SetX reports false.
func (r *Roll) SetX(x int) bool {
	if x < 0 || x >= r.area {
		return false
	}
	r.x = x
	return true
}

// LineEmpty reports whether the line buffer holds nothing.
func (r *Roll) LineEmpty() bool { return len(r.items) == 0 }

func (r *Roll) beginLine(upside bool) {
	if len(r.items) == 0 {
		r.lineAlign = r.align
		r.lineUpside = upside
		r.lineHeight = 0
	}
}

// Char puts a character into the line buffer. A character that does not fit
// the rest of the print area prints the line first (with LineSpacing) and
// starts the next.
func (r *Roll) Char(ch rune, st *Style) {
	f := st.face()
	cw, chh := f.Cell()
	sx, sy := mul(st.Width), mul(st.Height)
	w := (cw + max(st.Spacing, 0)) * sx
	if r.x+w > r.area && len(r.items) > 0 {
		r.PrintLine(r.LineSpacing)
	}
	r.beginLine(st.UpsideDown)
	it := item{kind: itemGlyph, x: r.x, w: w, h: chh * sy, r: ch, cw: cw, ch: chh, sx: sx, sy: sy,
		under: st.Underline, invert: st.Invert}
	if r.cfg.Render && ch != ' ' {
		it.glyph = f.Glyph(ch, st.Bold)
	}
	r.items = append(r.items, it)
	r.lineHeight = max(r.lineHeight, it.h)
	r.x += w
	r.used = true
}

// Image puts a bit image into the line buffer (ESC *): w × h dots, rows of
// stride bytes, most significant bit first. bits must stay unchanged until
// the line is printed. label is its transcript text; empty means
// "[IMAGE WxH]".
func (r *Roll) Image(bits []byte, stride, w, h int, label string) {
	if w <= 0 || h <= 0 {
		return
	}
	if r.x+w > r.area && len(r.items) > 0 {
		r.PrintLine(r.LineSpacing)
	}
	r.beginLine(false)
	r.items = append(r.items, item{kind: itemImage, x: r.x, w: w, h: h, bits: bits, stride: stride, sx: 1, sy: 1, label: label})
	r.lineHeight = max(r.lineHeight, h)
	r.x += w
	r.used = true
}

// PrintLine prints the line buffer and feeds the paper by feed dots, or by
// the line's height when it is taller (LF). An empty buffer just feeds and
// records a blank transcript line.
func (r *Roll) PrintLine(feed int) {
	r.print(feed, true)
}

// PrintFeed prints the line buffer like PrintLine but an empty buffer adds
// no transcript line (ESC J: a feed in dots, not in lines).
func (r *Roll) PrintFeed(feed int) {
	r.print(feed, false)
}

func (r *Roll) print(feed int, blank bool) {
	feed = max(feed, 0)
	r.used = true
	if len(r.items) == 0 {
		if blank && r.y < r.maxLen {
			r.addEntry(entry{top: r.y, bottom: r.y})
		}
		r.advance(feed)
		r.x = 0
		return
	}
	h := r.lineHeight
	if r.y < r.maxLen {
		if r.cfg.Render {
			r.drawLine(h)
		}
		r.lineEntries(h)
	} else {
		r.clip()
	}
	r.items = r.items[:0]
	r.x = 0
	r.advance(max(feed, h))
}

// PrintLines prints the line buffer and feeds n lines of LineSpacing, the
// lines after the first blank (ESC d n). It stops early at the length cap.
func (r *Roll) PrintLines(n int) {
	r.PrintLine(r.LineSpacing)
	for i := 1; i < n && r.y < r.maxLen; i++ {
		r.PrintLine(r.LineSpacing)
	}
}

// addEntry records a transcript line, merging an image with the image just
// above it when they have the same position and width (an image sent in
// bands reads as one), up to MaxLines lines.
func (r *Roll) addEntry(e entry) {
	if n := len(r.entries); n > 0 && e.image && e.text == "" {
		if p := &r.entries[n-1]; p.image && p.text == "" && p.bottom == e.top && p.w == e.w && p.x == e.x {
			p.h += e.h
			p.bottom = e.bottom
			return
		}
	}
	if len(r.entries) >= MaxLines {
		r.Warn("the transcript stops at %d lines", MaxLines)
		return
	}
	r.entries = append(r.entries, e)
}

// extent returns the right edge of the line's content.
func (r *Roll) extent() int {
	e := 0
	for i := range r.items {
		e = max(e, r.items[i].x+r.items[i].w)
	}
	return e
}

func (r *Roll) alignOffset(a Align, w int) int {
	switch a {
	case Center:
		return max((r.area-w)/2, 0)
	case Right:
		return max(r.area-w, 0)
	}
	return 0
}

// drawLine draws the line buffer with its bottom at r.y+h.
func (r *Roll) drawLine(h int) {
	top := r.y
	if !r.ensure(top + h) {
		return
	}
	off := r.margin + r.alignOffset(r.lineAlign, r.extent())
	bottom := top + h
	for i := range r.items {
		it := &r.items[i]
		x0 := off + it.x
		y0 := bottom - it.h
		switch it.kind {
		case itemGlyph:
			if it.invert {
				r.fill(x0, y0, it.w, it.h, 1)
			}
			if it.glyph != nil {
				r.glyph(x0, y0, it.glyph, it.cw, it.ch, it.sx, it.sy, !it.invert)
			}
			if it.under > 0 && !it.invert {
				r.fill(x0, bottom-it.under, it.w, it.under, 1)
			}
		case itemImage:
			r.bits(x0, y0, it.bits, it.stride, it.w, it.h, 1, 1)
		}
	}
	if r.lineUpside {
		r.rotate(r.margin, top, r.area, h)
	}
}

// lineEntries adds the transcript of the line buffer.
func (r *Roll) lineEntries(h int) {
	var sb strings.Builder
	right := 0
	var img *item
	for i := range r.items {
		it := &r.items[i]
		if it.kind == itemImage {
			if img == nil {
				img = it
			}
			continue
		}
		if it.x > right && sb.Len() > 0 {
			n := (it.x - right + it.w/2) / max(it.w, 1)
			sb.WriteString(strings.Repeat(" ", max(n, 1)))
		}
		sb.WriteRune(it.r)
		right = it.x + it.w
	}
	text := strings.TrimRight(sb.String(), " ")
	if img != nil && text == "" {
		// A line of bit images: one image entry, mergeable with the stripes
		// around it.
		w := r.extent()
		r.addEntry(entry{image: true, text: img.label, x: r.alignOffset(r.lineAlign, w), w: w, h: h, top: r.y, bottom: r.y + h})
		return
	}
	if img != nil {
		text += " [IMAGE]"
	}
	r.addEntry(entry{text: text, top: r.y, bottom: r.y + h})
}

// advance moves the paper by n dots, up to the cap.
func (r *Roll) advance(n int) {
	if n <= 0 {
		return
	}
	limit := r.maxLen
	if r.y+n > limit {
		r.clip()
		r.y = limit
		return
	}
	r.y += n
}

func (r *Roll) clip() {
	if !r.clipped {
		r.clipped = true
		what := "ticket"
		if r.cfg.Roll {
			what = "roll"
		}
		r.Warn("paper length cap reached (%d dots, %.0f mm): the rest of the %s is not printed", r.maxLen, float64(r.maxLen)*25.4/float64(r.cfg.DPI), what)
	}
}

// Feed feeds blank paper by n dots without printing (the line buffer is
// kept).
func (r *Roll) Feed(n int) {
	r.used = true
	r.advance(n)
}

// A Region is a block of paper reserved for a raster image, a barcode or a
// QR code. Coordinates given to its methods are relative to its top-left
// corner; drawing is clipped to the paper and the length cap.
type Region struct {
	r    *Roll
	X, Y int // top-left corner on the paper
	W, H int
}

// Block prints the line buffer if it holds anything, then reserves a block
// w × h dots placed by the justification in force, advances the paper past
// it and records label in the transcript (see Ticket.Lines). An image label
// "[IMAGE]" is completed with the size and merged with the image block just
// above when they have the same position and width, so an image sent in
// bands reads as one. The Region is valid until the next call on r.
func (r *Roll) Block(w, h int, label string) Region {
	if len(r.items) > 0 {
		r.PrintLine(r.LineSpacing)
	}
	w, h = max(w, 0), max(h, 0)
	r.used = true
	x := r.margin + r.alignOffset(r.align, w)
	g := Region{r: r, X: x, Y: r.y, W: w, H: h}
	if r.cfg.Render {
		r.ensure(r.y + h)
	}
	switch {
	case r.y >= r.maxLen:
		r.clip()
	case label == "[IMAGE]":
		r.addEntry(entry{image: true, x: x, w: w, h: h, top: r.y, bottom: r.y + h})
	default:
		r.addEntry(entry{text: label, top: r.y, bottom: r.y + h})
	}
	r.advance(h)
	return g
}

// Fill paints a w × h rectangle black.
func (g Region) Fill(x, y, w, h int) {
	if g.r.cfg.Render {
		g.r.fill(g.X+x, g.Y+y, w, h, 1)
	}
}

// Modules draws a matrix of square modules (a QR code), cell dots a side,
// true = black, indexed [y][x]; runs of black modules are filled at once.
func (g Region) Modules(mods [][]bool, cell int) {
	if !g.r.cfg.Render {
		return
	}
	for y, row := range mods {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			j := x
			for j < len(row) && row[j] {
				j++
			}
			g.Fill(x*cell, y*cell, (j-x)*cell, cell)
			x = j
		}
	}
}

// Bits draws a 1-bit image of w × h dots whose rows are stride bytes, most
// significant bit first (the layout of GS v 0 data), each dot scaled to
// sx × sy. Rows missing from bits are left blank.
func (g Region) Bits(x, y int, bits []byte, stride, w, h, sx, sy int) {
	if g.r.cfg.Render {
		g.r.bits(g.X+x, g.Y+y, bits, stride, w, h, sx, sy)
	}
}

// Text draws s in face f (HRI characters), starting at x, y.
func (g Region) Text(x, y int, s string, f *font.Face) {
	if !g.r.cfg.Render {
		return
	}
	cw, ch := f.Cell()
	for _, c := range s {
		if c != ' ' {
			g.r.glyph(g.X+x, g.Y+y, f.Glyph(c, false), cw, ch, 1, 1, true)
		}
		x += cw
	}
}

// Cut ends the ticket with a "full" or "partial" cut. The line buffer is
// kept: a real printer prints it with the next line. A cut with no paper
// used since the last one cuts nothing and makes no ticket; after MaxTickets
// tickets, cuts are ignored with a warning.
func (r *Roll) Cut(kind string) {
	if r.y == r.start && len(r.entries) == 0 && len(r.pulses) == 0 && r.beeps == 0 {
		return
	}
	if r.tickets >= r.maxTickets()-1 {
		r.Warn("more than %d tickets: the cuts after that are ignored", r.maxTickets())
		return
	}
	r.endTicket(kind)
}

func (r *Roll) maxTickets() int {
	if r.cfg.MaxTickets > 0 {
		return r.cfg.MaxTickets
	}
	return DefaultMaxTickets
}

// Finish ends the job: a ticket with anything on it is delivered without a
// cut. Characters left in the line buffer are not printed (a printer waits
// for a line feed); a warning says so.
func (r *Roll) Finish() {
	if len(r.items) > 0 {
		r.Warn("%d characters at the end of the job were never printed: no line feed followed them", len(r.items))
		r.items = r.items[:0]
		r.x = 0
	}
	if r.used {
		r.endTicket("")
	}
}

// Warn records a warning on the current ticket. Repeats are counted, not
// repeated. A job whose only trace is a warning still makes a ticket, so the
// warning is seen.
func (r *Roll) Warn(format string, args ...any) {
	r.used = true
	msg := fmt.Sprintf(format, args...)
	if r.warnIdx == nil {
		r.warnIdx = map[string]int{}
	}
	if i, ok := r.warnIdx[msg]; ok {
		r.warnN[i]++
		return
	}
	if len(r.warns) >= maxWarnings {
		msg = "more warnings not recorded"
		if i, ok := r.warnIdx[msg]; ok {
			r.warnN[i]++
			return
		}
	}
	r.warnIdx[msg] = len(r.warns)
	r.warns = append(r.warns, msg)
	r.warnN = append(r.warnN, 1)
}

// Pulse records a drawer kick.
func (r *Roll) Pulse(p Pulse) {
	if len(r.pulses) < 1000 {
		r.pulses = append(r.pulses, p)
	}
	r.used = true
}

// Beep records n beeps.
func (r *Roll) Beep(n int) {
	r.beeps = min(r.beeps+max(n, 0), 1<<20)
	r.used = true
}

// Length returns the paper used by the current ticket so far, in dots.
func (r *Roll) Length() int { return r.y - r.start }

// Position returns the paper position in dots from the start of the image
// (the ticket in ticket mode, the roll in Roll mode).
func (r *Roll) Position() int { return r.y }

// Tickets returns how many tickets have ended.
func (r *Roll) Tickets() int { return r.tickets }

func (r *Roll) endTicket(cut string) {
	t := &Ticket{
		Cut:     cut,
		Length:  r.y - r.start,
		Clipped: r.clipped,
		Pulses:  r.pulses,
		Beeps:   r.beeps,
		Width:   r.width,
		DPI:     r.cfg.DPI,
		Lines:   finishEntries(r.entries),
	}
	for i, w := range r.warns {
		if r.warnN[i] > 1 {
			w = fmt.Sprintf("%s (×%d)", w, r.warnN[i])
		}
		t.Warnings = append(t.Warnings, w)
	}
	r.entries = r.entries[:0]
	r.warns, r.warnN, r.pulses, r.beeps = nil, nil, nil, 0
	clear(r.warnIdx)
	r.used = false
	r.tickets++
	if r.cfg.Roll {
		if cut != "" {
			r.cutLine()
		}
		r.start = r.y
	} else {
		if r.cfg.Render {
			t.Image = r.image(max(r.y, 1))
			r.pix = nil
		}
		r.y, r.start = 0, 0
		r.clipped = false
	}
	if r.cfg.OnTicket != nil {
		r.cfg.OnTicket(t)
	}
}

// cutLine draws the dashed line that marks a cut in Roll mode.
func (r *Roll) cutLine() {
	if r.y+4 > r.maxLen {
		return
	}
	if r.cfg.Render && r.ensure(r.y+4) {
		for x := 0; x < r.width; x += 12 {
			r.fill(x, r.y+1, 6, 2, 1)
		}
	}
	r.y += 4
}

// RollImage returns the image of the whole roll (Roll mode) or of the
// ticket in progress; nil when not rendering.
func (r *Roll) RollImage() *image.Paletted {
	if !r.cfg.Render {
		return nil
	}
	return r.image(max(r.y, 1))
}

func (r *Roll) image(rows int) *image.Paletted {
	r.ensure(rows)
	rows = min(rows, len(r.pix)/r.width)
	return &image.Paletted{Pix: r.pix[: rows*r.width : rows*r.width], Stride: r.width,
		Rect: image.Rect(0, 0, r.width, rows), Palette: Palette}
}

// finishEntries turns a ticket's entries into transcript lines.
func finishEntries(es []entry) []string {
	lines := make([]string, 0, len(es))
	for _, e := range es {
		if e.image && e.text == "" {
			lines = append(lines, fmt.Sprintf("[IMAGE %dx%d]", e.w, e.h))
		} else {
			lines = append(lines, e.text)
		}
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	return lines
}
