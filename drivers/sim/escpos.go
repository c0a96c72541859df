package sim

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim/font"
	"github.com/comandera/comandera/drivers/sim/paper"
	"github.com/comandera/comandera/escpos"
	"github.com/comandera/comandera/escpos/symbol"
)

func init() {
	registerInterpreter(core.CommandSetESCPOS, newESCPOS)
}

// ESC/POS power-on defaults.
const (
	defaultLineSpacing = 30  // ESC 2: 1/6 inch at 180 dpi, 3.75 mm at 203 dpi
	defaultBarHeight   = 162 // GS h
	defaultBarWidth    = 3   // GS w
	defaultQRSize      = 3   // GS ( k fn 67
	defaultTabChars    = 8   // a tab stop every 8 Font A characters
	// cutterMM is the distance from the print head to the cutter: GS V
	// 65/66 (and 97/98/103/104) feed this far, plus n, before cutting.
	cutterMM = 12
	// maxGraphicsBytes bounds the graphics a printer stores (GS ( L print
	// buffer, NV and download graphics), like a real printer's memory.
	maxGraphicsBytes = 4 << 20
)

// codePageRunes holds byte -> rune tables for every code page core knows.
var codePageRunes = func() map[string]*[256]rune {
	m := map[string]*[256]rune{}
	for _, name := range core.CodePageNames() {
		cm, _ := core.CodePage(name)
		var t [256]rune
		for i := range 256 {
			t[i] = cm.DecodeByte(byte(i))
		}
		m[name] = &t
	}
	return m
}()

// A graphic is a stored raster image (GS ( L), clipped to what the paper
// can show.
type graphic struct {
	w, h   int // dots
	stride int
	sx, sy int
	bits   []byte
}

// escposInterp executes ESC/POS on a paper.Roll.
type escposInterp struct {
	h   *host
	r   *paper.Roll
	dec escpos.Decoder

	st            paper.Style
	bold, dstrike bool
	cp            *[256]rune
	cpName        string
	kanji         bool
	kanjiCodec    encoding.Encoding
	lead          int // pending Kanji lead byte, or -1
	tabs          []int

	barH, barW, hriPos int
	hriFont            *font.Face

	qrSize, qrLevel byte
	qrData          []byte

	buffered *graphic            // GS ( L fn 112, printed by fn 50
	stored   map[string]*graphic // NV (fn 67) and download (fn 83) graphics by key
	storedN  int                 // bytes in buffered + stored

	pageMode bool
}

func newESCPOS(h *host) interpreter {
	e := &escposInterp{h: h, r: h.roll}
	e.dec.MaxCommand = escpos.DefaultMaxCommand
	e.init()
	return e
}

// init is ESC @: the power-on state. The line buffer is emptied.
func (e *escposInterp) init() {
	e.r.Reset()
	e.r.LineSpacing = defaultLineSpacing
	e.st = paper.Style{Face: font.A, Width: 1, Height: 1}
	e.bold, e.dstrike = false, false
	e.setCodePage(e.h.profile.DefaultCodePage)
	e.kanji, e.lead = false, -1
	e.kanjiCodec = simplifiedchinese.GB18030
	e.tabs = e.tabs[:0]
	for i := 1; i <= 32; i++ {
		x := i * defaultTabChars * 12
		if x >= e.r.Width() {
			break
		}
		e.tabs = append(e.tabs, x)
	}
	e.barH, e.barW, e.hriPos, e.hriFont = defaultBarHeight, defaultBarWidth, 0, font.A
	e.qrSize, e.qrLevel, e.qrData = defaultQRSize, '0', nil
	e.buffered = nil
	e.pageMode = false
}

func (e *escposInterp) setCodePage(name string) bool {
	t, ok := codePageRunes[strings.ToUpper(name)]
	if !ok {
		t, name = codePageRunes["PC437"], "PC437"
	}
	e.cp, e.cpName = t, name
	return ok
}

func (e *escposInterp) Write(p []byte) { e.dec.Feed(p, e.exec) }

func (e *escposInterp) End() {
	e.dec.End(e.exec)
	e.lead = -1
}

func (e *escposInterp) warn(format string, args ...any) { e.r.Warn(format, args...) }

// exec executes one command.
func (e *escposInterp) exec(c escpos.Command) {
	e.h.bytes += int64(len(c.Raw)) + c.Skipped
	if e.h.stopped != nil && c.Op != escpos.OpStatus && e.h.stopped() {
		return // paper out: nothing prints
	}
	switch c.Kind {
	case escpos.KindText:
		e.text(c.Data)
		return
	case escpos.KindControl:
		e.control(byte(c.Op))
		return
	case escpos.KindUnknown:
		e.warn("unknown command %s ignored", c.Op)
		return
	case escpos.KindInvalid:
		e.warn("invalid %s ignored", c.String())
		return
	case escpos.KindTruncated:
		e.warn("the job ended inside a command: %s", c.String())
		return
	}
	if c.Skipped > 0 {
		e.warn("%s declares %d bytes: only the first %d were kept, the rest was discarded", c.Op, int64(len(c.Data))+c.Skipped, len(c.Data))
	}
	e.command(&c)
}

func (e *escposInterp) style() *paper.Style {
	e.st.Bold = e.bold || e.dstrike
	return &e.st
}

// text prints bytes of the current code page (or Kanji pairs).
func (e *escposInterp) text(b []byte) {
	st := e.style()
	if !e.kanji {
		for _, c := range b {
			e.r.Char(e.cp[c], st)
		}
		return
	}
	for _, c := range b {
		if e.lead >= 0 {
			e.kanjiChar(byte(e.lead), c)
			e.lead = -1
			continue
		}
		if c >= 0x80 {
			e.lead = int(c)
			continue
		}
		e.r.Char(e.cp[c], st)
	}
}

// kanjiChar prints a double-byte character: the sim has no Kanji glyphs, so
// it draws a full-width box, and the transcript gets the character.
func (e *escposInterp) kanjiChar(a, b byte) {
	r := utf8.RuneError
	if s, err := e.kanjiCodec.NewDecoder().Bytes([]byte{a, b}); err == nil {
		if d, _ := utf8.DecodeRune(s); d != utf8.RuneError {
			r = d
		}
	}
	e.warn("Kanji mode (FS &) is on: double-byte characters print as boxes (send FS . to print code page characters)")
	st := *e.style()
	st.Width = min(max(st.Width, 1)*2, 8)
	e.r.Char(r, &st)
}

func (e *escposInterp) control(c byte) {
	switch c {
	case escpos.LF:
		e.r.PrintLine(e.r.LineSpacing)
	case escpos.CR, escpos.NUL, escpos.CAN:
		// CR is ignored when auto line feed is off; NUL pads; CAN only
		// acts in page mode.
	case escpos.HT:
		x := e.r.X()
		for _, t := range e.tabs {
			if t > x {
				e.r.SetX(t)
				return
			}
		}
	case escpos.FF:
		e.r.PrintLine(e.r.LineSpacing)
	default:
		e.warn("control byte 0x%02x ignored", c)
	}
}

// on reports whether a mode parameter n turns a mode on (1 or '1').
func on(n byte) bool { return n&1 == 1 }

func le16(b []byte) int { return int(b[0]) | int(b[1])<<8 }

func (e *escposInterp) command(c *escpos.Command) {
	a := c.Arg(0)
	switch c.Op {
	case escpos.OpInit:
		if !e.r.LineEmpty() {
			e.warn("ESC @ discarded characters waiting for a line feed")
		}
		e.init()
	case escpos.OpPrintMode:
		e.st.Face = font.A
		if a&1 != 0 {
			e.st.Face = font.B
		}
		e.bold = a&0x08 != 0
		e.st.Height, e.st.Width = 1, 1
		if a&0x10 != 0 {
			e.st.Height = 2
		}
		if a&0x20 != 0 {
			e.st.Width = 2
		}
		e.st.Underline = 0
		if a&0x80 != 0 {
			e.st.Underline = 1
		}
	case escpos.OpCharSize:
		w, h := int(a>>4), int(a&0x0f)
		if w > 7 || h > 7 {
			e.warn("GS ! %d: size out of range, ignored", a)
			return
		}
		e.st.Width, e.st.Height = w+1, h+1
	case escpos.OpEmphasis:
		e.bold = on(a)
	case escpos.OpDoubleStrike:
		e.dstrike = on(a)
	case escpos.OpUnderline:
		switch a {
		case 0, '0':
			e.st.Underline = 0
		case 1, '1':
			e.st.Underline = 1
		case 2, '2':
			e.st.Underline = 2
		}
	case escpos.OpReverse:
		e.st.Invert = on(a)
	case escpos.OpFont:
		switch a {
		case 0, '0':
			e.st.Face = font.A
		case 1, '1':
			e.st.Face = font.B
		default:
			e.warn("ESC M %d: the sim has fonts A and B only; using B", a)
			e.st.Face = font.B
		}
	case escpos.OpAlign:
		switch a {
		case 0, '0':
			e.r.SetAlign(paper.Left)
		case 1, '1':
			e.r.SetAlign(paper.Center)
		case 2, '2':
			e.r.SetAlign(paper.Right)
		}
	case escpos.OpUpsideDown:
		e.st.UpsideDown = on(a)
	case escpos.OpCharSpacing:
		e.st.Spacing = int(a)
	case escpos.OpCodePage:
		name, ok := e.h.profile.CodePageByNumber(int(a))
		if !ok {
			e.warn("ESC t %d: profile %s has no code page %d; keeping %s", a, e.h.profile.Name, a, e.cpName)
			return
		}
		if !e.setCodePage(name) {
			e.warn("ESC t %d: code page %s is not simulated; using PC437", a, name)
		}
	case escpos.OpLineSpacingStd:
		e.r.LineSpacing = defaultLineSpacing
	case escpos.OpLineSpacing:
		e.r.LineSpacing = int(a)
	case escpos.OpFeedLines:
		e.r.PrintLines(int(a))
	case escpos.OpFeedDots:
		e.r.PrintFeed(int(a))
	case escpos.OpReverseDots, escpos.OpReverseLines:
		e.warn("%s (reverse feed) is not simulated", c.Op)
	case escpos.OpAbsPos:
		e.r.SetX(le16(c.Args))
	case escpos.OpRelPos:
		e.r.SetX(e.r.X() + int(int16(le16(c.Args))))
	case escpos.OpTabs:
		e.setTabs(c.Data)
	case escpos.OpLeftMargin:
		e.r.SetMargin(le16(c.Args))
	case escpos.OpAreaWidth:
		e.r.SetAreaWidth(le16(c.Args))
	case escpos.OpCut:
		e.cut(c)
	case escpos.OpCutOnePoint, escpos.OpCutThreePoint:
		e.doCut("partial", 0)
	case escpos.OpPulse:
		pin := 2
		if a&1 == 1 {
			pin = 5
		}
		t1, t2 := int(c.Arg(1)), int(c.Arg(2))
		if t2 < t1 {
			t2 = t1
		}
		e.pulse(paper.Pulse{Pin: pin, OnMS: t1 * 2, OffMS: t2 * 2})
	case escpos.OpRTCommand:
		if a == 1 { // DLE DC4 1 m t: real-time pulse
			pin := 2
			if c.Arg(1)&1 == 1 {
				pin = 5
			}
			t := int(c.Arg(2)) * 100
			e.pulse(paper.Pulse{Pin: pin, OnMS: t, OffMS: t})
		}
	case escpos.OpBeeper:
		n := 1
		if len(c.Data) >= 3 && c.Data[0] == 48 {
			n = int(c.Data[2])
		}
		e.beep(n)
	case escpos.OpBuzzer:
		e.beep(int(a))
	case escpos.OpStatus:
		if a >= 1 && a <= 4 && e.h.reply != nil {
			e.h.reply([]byte{escpos.StatusReply(a, e.h.status())})
		}
	case escpos.OpRaster:
		e.raster(c)
	case escpos.OpBitImage:
		e.bitImage(c)
	case escpos.OpGraphics, escpos.OpGraphicsLong:
		e.graphics(c)
	case escpos.OpBarcode:
		e.barcode(c)
	case escpos.OpBarcodeHeight:
		if a > 0 {
			e.barH = int(a)
		}
	case escpos.OpBarcodeWidth:
		switch {
		case a >= 1 && a <= 6:
			e.barW = int(a)
		case a >= 68 && a <= 76: // TM-T88 "fine" module widths
			e.barW = int(a-68)/2 + 2
		default:
			e.warn("GS w %d: module width out of range, ignored", a)
		}
	case escpos.OpHRIPosition:
		e.hriPos = int(a & 3)
	case escpos.OpHRIFont:
		e.hriFont = font.A
		if a&1 == 1 {
			e.hriFont = font.B
		}
	case escpos.OpSymbol:
		e.symbol(c)
	case escpos.OpKanjiOn:
		e.kanji = true
	case escpos.OpKanjiOff:
		e.kanji, e.lead = false, -1
	case escpos.OpKanjiCode:
		if a == 1 || a == '1' || a == 2 || a == '2' {
			e.kanjiCodec = japanese.ShiftJIS
		} else {
			e.kanjiCodec = japanese.EUCJP // JIS codes; EUC-JP decodes the same pairs with the high bit set
		}
	case escpos.OpPageMode:
		if !e.pageMode {
			e.warn("page mode (ESC L) is not simulated: what follows prints in standard mode")
		}
		e.pageMode = true
	case escpos.OpStandardMode:
		e.pageMode = false
	case escpos.OpPrintPage:
		e.r.PrintLine(e.r.LineSpacing)
	case escpos.OpDefineImage, escpos.OpPrintImage, escpos.OpNVImagePrint, escpos.OpNVImageDefine:
		if c.Op == escpos.OpPrintImage || c.Op == escpos.OpNVImagePrint {
			e.warn("%s (obsolete bit image) is not simulated", c.Op)
		}
	default:
		// Recognised commands with no effect on the paper: FS ( A, FS S,
		// FS C, GS P, ESC c 3/4/5, ESC =, GS a, GS I, GS r, ESC r, ESC R,
		// ESC U, ESC V, ESC T, GS ( E/H/K/C…, ESC %/&/?, ESC u, ESC v,
		// DLE ENQ, GS b, GS E…
	}
}

func (e *escposInterp) pulse(p paper.Pulse) {
	if !e.h.profile.Drawer {
		e.warn("drawer kick, but profile %s has no drawer connector", e.h.profile.Name)
	}
	e.r.Pulse(p)
}

func (e *escposInterp) beep(n int) {
	if !e.h.profile.Beep {
		e.warn("beep, but profile %s has no buzzer", e.h.profile.Name)
	}
	e.r.Beep(n)
}

// setTabs is ESC D: positions in characters of the current width.
func (e *escposInterp) setTabs(d []byte) {
	e.tabs = e.tabs[:0]
	adv := e.st.Advance()
	prev := 0
	for _, n := range d {
		if int(n) <= prev {
			break
		}
		prev = int(n)
		e.tabs = append(e.tabs, int(n)*adv)
	}
}

// cut is GS V.
func (e *escposInterp) cut(c *escpos.Command) {
	m := c.Arg(0)
	kind := "full"
	feed := 0
	switch m {
	case 0, '0':
	case 1, '1':
		kind = "partial"
	case 65, 97, 103:
		feed = cutterMM*e.h.profile.DPI*10/254 + int(c.Arg(1))
	case 66, 98, 104:
		kind = "partial"
		feed = cutterMM*e.h.profile.DPI*10/254 + int(c.Arg(1))
	default:
		e.warn("GS V %d: unknown cut, ignored", m)
		return
	}
	e.doCut(kind, feed)
}

func (e *escposInterp) doCut(kind string, feed int) {
	p := e.h.profile
	if len(p.Cuts) == 0 {
		e.warn("cut command, but profile %s has no cutter: the paper is not cut", p.Name)
		if feed > 0 {
			e.r.PrintFeed(feed)
		}
		return
	}
	if !p.HasCut(kind) {
		kind = p.Cuts[0] // the cutter makes the cut it can
	}
	if !e.r.LineEmpty() {
		e.warn("cut in the middle of a line: the line is printed first")
		e.r.PrintLine(e.r.LineSpacing)
	}
	e.r.PrintFeed(feed)
	e.r.Cut(kind)
}

// raster is GS v 0 m xL xH yL yH d….
func (e *escposInterp) raster(c *escpos.Command) {
	m := c.Arg(0)
	stride, h := le16(c.Args[1:3]), le16(c.Args[3:5])
	sx, sy := 1, 1
	if m&1 != 0 {
		sx = 2
	}
	if m&2 != 0 {
		sy = 2
	}
	if stride == 0 || h == 0 {
		return
	}
	if !e.r.LineEmpty() {
		e.warn("GS v 0 with characters in the line buffer: an Epson printer ignores it; the sim prints the line first")
	}
	w := stride * 8
	if w*sx > e.r.Width() {
		e.warn("GS v 0 image is %d dots wide, more than the paper's %d: the right side is cut off", w*sx, e.r.Width())
	}
	g := e.r.Block(w*sx, h*sy, "[IMAGE]")
	g.Bits(0, 0, c.Data, stride, w, h, sx, sy)
}

// bitImage is ESC * m nL nH d…: columns of 8 or 24 dots, in the line buffer.
func (e *escposInterp) bitImage(c *escpos.Command) {
	m, n := c.Arg(0), le16(c.Args[1:3])
	if n == 0 {
		return
	}
	rowsPer, hx, vx := 1, 2, 3 // bytes per column, horizontal and vertical scale
	switch m {
	case 0:
	case 1:
		hx = 1
	case 32:
		rowsPer, vx = 3, 1
	case 33:
		rowsPer, hx, vx = 3, 1, 1
	}
	dotsH := rowsPer * 8
	w, h := n*hx, dotsH*vx
	// Columns beyond the print area are discarded, as on a printer.
	_, area := e.r.Area()
	if w > area {
		w = area
	}
	stride := (w + 7) / 8
	bits := make([]byte, stride*h)
	for col := 0; col*hx < w; col++ {
		for k := 0; k < rowsPer; k++ {
			i := col*rowsPer + k
			if i >= len(c.Data) {
				break
			}
			b := c.Data[i]
			if b == 0 {
				continue
			}
			for bit := 0; bit < 8; bit++ {
				if b&(0x80>>bit) == 0 {
					continue
				}
				y := (k*8 + bit) * vx
				for dy := 0; dy < vx; dy++ {
					for dx := 0; dx < hx; dx++ {
						x := col*hx + dx
						if x < w {
							bits[(y+dy)*stride+x/8] |= 0x80 >> (x % 8)
						}
					}
				}
			}
		}
	}
	e.r.Image(bits, stride, w, h, "")
}

// graphics is GS ( L and GS 8 L: m fn ….
func (e *escposInterp) graphics(c *escpos.Command) {
	d := c.Data
	if len(d) < 2 {
		e.warn("%s without a function", c.Op)
		return
	}
	fn := d[1]
	switch fn {
	case 112: // store raster graphics in the print buffer: a bx by c xL xH yL yH d…
		if e.buffered != nil {
			e.storedN -= len(e.buffered.bits)
			e.buffered = nil
		}
		if g := e.parseGraphic(c.Op, d[2:]); g != nil {
			e.buffered = g
		}
	case 50, 2: // print the buffered graphics
		if e.buffered == nil {
			e.warn("%s fn 50: no graphics stored to print", c.Op)
			return
		}
		e.printGraphic(e.buffered)
		e.storedN -= len(e.buffered.bits)
		e.buffered = nil
	case 67, 83: // define NV / download graphics: a kc1 kc2 b xL xH yL yH c d…
		if len(d) < 11 {
			e.warn("%s fn %d: too short", c.Op, fn)
			return
		}
		key := fmt.Sprintf("%d:%d:%d", fn, d[3], d[4])
		// Reorder to the fn 112 layout: a bx by c xL xH yL yH d….
		hdr := []byte{d[2], 1, 1, d[10], d[6], d[7], d[8], d[9]}
		g := e.parseGraphic(c.Op, append(hdr, d[11:]...))
		if g != nil {
			if old := e.stored[key]; old != nil {
				e.storedN -= len(old.bits)
			}
			if e.stored == nil {
				e.stored = map[string]*graphic{}
			}
			e.stored[key] = g
		}
	case 69, 85: // print NV / download graphics: kc1 kc2 x y
		if len(d) < 6 {
			e.warn("%s fn %d: too short", c.Op, fn)
			return
		}
		def := byte(67)
		if fn == 85 {
			def = 83
		}
		g := e.stored[fmt.Sprintf("%d:%d:%d", def, d[2], d[3])]
		if g == nil {
			e.warn("%s fn %d: no graphics stored under key %q", c.Op, fn, string(d[2:4]))
			return
		}
		s := *g
		s.sx, s.sy = max(int(d[4]), 1), max(int(d[5]), 1)
		s.sx, s.sy = min(s.sx, 2), min(s.sy, 2)
		e.printGraphic(&s)
	case 65, 66, 82: // delete all NV, one NV (kc1 kc2), all download graphics
		for k, g := range e.stored {
			del := (fn == 65 && strings.HasPrefix(k, "67:")) ||
				(fn == 82 && strings.HasPrefix(k, "83:")) ||
				(fn == 66 && len(d) >= 4 && k == fmt.Sprintf("67:%d:%d", d[2], d[3]))
			if del {
				e.storedN -= len(g.bits)
				delete(e.stored, k)
			}
		}
	default:
		// Capacity queries, density and other settings: no effect on paper.
	}
}

// parseGraphic reads a bx by c xL xH yL yH d… (fn 112 layout) and keeps a
// clipped copy of the image.
func (e *escposInterp) parseGraphic(o escpos.Op, d []byte) *graphic {
	if len(d) < 8 {
		e.warn("%s: graphics header too short", o)
		return nil
	}
	tone, bx, by, col := d[0], int(d[1]), int(d[2]), d[3]
	w, h := le16(d[4:6]), le16(d[6:8])
	data := d[8:]
	if tone != 48 && tone != 52 {
		e.warn("%s: graphics tone %d unknown", o, tone)
		return nil
	}
	if tone == 52 {
		e.warn("%s: multi-tone graphics print as one tone", o)
	}
	if col != 49 && col != '1' {
		return nil // a second colour plane: a one-colour printer skips it
	}
	if w == 0 || h == 0 {
		return nil
	}
	stride := (w + 7) / 8
	if len(data) < stride*h {
		e.warn("%s: graphics data is %d bytes, %d×%d dots need %d", o, len(data), w, h, stride*h)
	}
	// Keep what can show: width up to the paper, height up to the cap.
	cw := min(w, e.r.Width())
	ch := min(h, e.r.MaxLength())
	cs := (cw + 7) / 8
	n := cs * ch
	if e.storedN+n > maxGraphicsBytes {
		e.warn("%s: graphics memory full (%d bytes): image not stored", o, maxGraphicsBytes)
		return nil
	}
	bits := make([]byte, n)
	for y := 0; y < ch; y++ {
		off := y * stride
		if off >= len(data) {
			break
		}
		copy(bits[y*cs:y*cs+cs], data[off:min(off+cs, len(data))])
	}
	if cw%8 != 0 {
		// Clear the dots beyond the clipped width.
		mask := byte(0xff << (8 - cw%8))
		for y := 0; y < ch; y++ {
			bits[y*cs+cs-1] &= mask
		}
	}
	e.storedN += n
	return &graphic{w: cw, h: ch, stride: cs, sx: min(max(bx, 1), 2), sy: min(max(by, 1), 2), bits: bits}
}

func (e *escposInterp) printGraphic(g *graphic) {
	if !e.r.LineEmpty() {
		e.warn("graphics printed with characters in the line buffer: the line is printed first")
	}
	r := e.r.Block(g.w*g.sx, g.h*g.sy, "[IMAGE]")
	r.Bits(0, 0, g.bits, g.stride, g.w, g.h, g.sx, g.sy)
}

// symbolNames are the transcript names of the GS k symbologies.
var symbolNames = map[string]string{
	symbol.UPCA: "UPCA", symbol.UPCE: "UPCE", symbol.EAN13: "EAN13", symbol.EAN8: "EAN8",
	symbol.Code39: "CODE39", symbol.ITF: "ITF", symbol.Codabar: "CODABAR", symbol.Code93: "CODE93", symbol.Code128: "CODE128",
}

// barcode is GS k.
func (e *escposInterp) barcode(c *escpos.Command) {
	m := c.Arg(0)
	sym, ok := symbol.ByCommand(m)
	if !ok {
		e.warn("GS k %d: unknown barcode system, ignored", m)
		return
	}
	if !e.h.profile.HasBarcode(sym) {
		e.warn("GS k: profile %s does not list %s", e.h.profile.Name, sym)
	}
	if !e.r.LineEmpty() {
		e.warn("GS k with characters in the line buffer: an Epson printer ignores it; the sim prints the line first")
	}
	code, err := symbol.Barcode(sym, c.Data)
	if err != nil {
		e.warn("GS k %s %q: %v: nothing printed", symbolNames[sym], c.Data, err)
		return
	}
	if code.Warning != "" {
		e.warn("GS k %s %q: %s", symbolNames[sym], c.Data, code.Warning)
	}
	bars := code.Dots(e.barW)
	_, area := e.r.Area()
	if len(bars) > area {
		e.warn("GS k %s %q: %d dots wide at GS w %d, more than the print area (%d): not printed", symbolNames[sym], c.Data, len(bars), e.barW, area)
		return
	}
	hri := code.HRI
	cw, ch := e.hriFont.Cell()
	hriW := utf8.RuneCountInString(hri) * cw
	above, below := e.hriPos&1 != 0, e.hriPos&2 != 0
	const gap = 2 // dots between the bars and the HRI characters
	top := 0
	if above {
		top = ch + gap
	}
	h := top + e.barH
	if below {
		h += gap + ch
	}
	w := max(len(bars), hriW)
	label := hri
	switch sym {
	case symbol.Code39:
		label = strings.Trim(hri, "*")
	case symbol.Code93:
		label = strings.Trim(hri, "□")
	}
	g := e.r.Block(w, h, "["+symbolNames[sym]+": "+label+"]")
	bx := (w - len(bars)) / 2
	for i := 0; i < len(bars); {
		if !bars[i] {
			i++
			continue
		}
		j := i
		for j < len(bars) && bars[j] {
			j++
		}
		g.Fill(bx+i, top, j-i, e.barH)
		i = j
	}
	tx := (w - hriW) / 2
	if above {
		g.Text(tx, 0, hri, e.hriFont)
	}
	if below {
		g.Text(tx, top+e.barH+gap, hri, e.hriFont)
	}
	if len(code.Rest) > 0 {
		e.text(code.Rest)
	}
}

// symbol is GS ( k: cn fn ….
func (e *escposInterp) symbol(c *escpos.Command) {
	d := c.Data
	if len(d) < 2 {
		e.warn("GS ( k without a function")
		return
	}
	cn, fn := d[0], d[1]
	if cn != 49 {
		names := map[byte]string{48: "PDF417", 50: "MaxiCode", 51: "GS1 DataBar", 52: "composite symbol", 53: "Aztec", 54: "DataMatrix"}
		name := names[cn]
		if name == "" {
			name = fmt.Sprintf("cn %d", cn)
		}
		if fn == 81 || fn == 'Q' {
			e.warn("GS ( k: %s symbols are not simulated: nothing printed", name)
		}
		return
	}
	switch fn {
	case 65: // model: n1 n2
		if len(d) >= 3 && d[2] != 50 {
			e.warn("GS ( k: QR model %d is simulated as model 2", d[2])
		}
	case 67: // module size
		if len(d) >= 3 && d[2] >= 1 && d[2] <= 16 {
			e.qrSize = d[2]
		} else {
			e.warn("GS ( k: QR module size out of range, ignored")
		}
	case 69: // error correction level
		if len(d) >= 3 && d[2] >= 48 && d[2] <= 51 {
			e.qrLevel = d[2]
		} else {
			e.warn("GS ( k: QR error correction level out of range, ignored")
		}
	case 80: // store: m d…
		if len(d) < 3 {
			return
		}
		if len(d)-3 > symbol.MaxQRData {
			e.warn("GS ( k: %d bytes of QR data, more than %d: not stored", len(d)-3, symbol.MaxQRData)
			e.qrData = e.qrData[:0]
			return
		}
		e.qrData = append(e.qrData[:0], d[3:]...)
	case 81: // print
		e.printQR()
	default:
		// fn 82 (transmit size) and others: no paper effect.
	}
}

func (e *escposInterp) printQR() {
	if len(e.qrData) == 0 {
		e.warn("GS ( k: print QR with no data stored: nothing printed")
		return
	}
	mods, err := symbol.QR(e.qrData, e.qrLevel)
	if err != nil {
		e.warn("GS ( k: %v: nothing printed", err)
		return
	}
	if !e.r.LineEmpty() {
		e.warn("QR code printed with characters in the line buffer: the line is printed first")
	}
	n := len(mods)
	s := int(e.qrSize)
	_, area := e.r.Area()
	if n*s > area {
		e.warn("GS ( k: QR code is %d dots wide at module size %d, more than the print area (%d): not printed", n*s, s, area)
		return
	}
	g := e.r.Block(n*s, n*s, "[QR: "+strings.ToValidUTF8(string(e.qrData), "\uFFFD")+"]")
	g.Modules(mods, s)
}
