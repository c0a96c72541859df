package sim

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim/font"
	"github.com/comandera/comandera/drivers/sim/paper"
	"github.com/comandera/comandera/escpos"
	"github.com/comandera/comandera/escpos/symbol"
)

// Star interpreters: profiles with command set "starline" (TSP650, TSP700)
// get Star Line Mode with its raster mode; "stargraphic" (TSP100
// futurePRNT) gets raster mode only, and text or line mode commands outside
// it are warnings, never printed. Commands are decoded by
// escpos.StarDecoder and executed as the "STAR Line Mode Command
// Specifications" describe them: fonts A (12×24) and B (9×24), expansion
// 1–6×, emphasis, 2-dot underline, white/black inversion, upside-down,
// alignment, tabs, margins, code pages by the profile's ESC GS t numbers,
// feeds (LF at the 4 mm memory switch default, ESC z, ESC 0, ESC a, ESC J
// n/4 mm, ESC I n/8 mm), cuts (ESC d, raster EOT/FF modes), drawers (BEL,
// FS, SUB, EM, ESC BEL, ESC * r D), the buzzer, QR codes (ESC GS y), bar
// codes (ESC b, with Star's data rules), bit images (ESC K, L, k, X) and
// raster rows (b, k, ESC * r Y, margins).
//
// Not simulated, with a warning where the paper would differ: page lengths
// (FF and VT print as LF; ESC * r A prints the pending line rather than
// executing a top of form), reverse feeds and ESC 3 / ESC y (ignored by the
// thermal models), upperline, slash zero, international character sets,
// download characters, logos, Kanji, PDF417, QR data in manual mode
// (ESC GS y D 2), colour. CR is ignored (memory switch default).
//
// ESC ACK SOH, the real-time status request, is answered at once with an
// automatic status (ASB, see starASB) built from the simulated state, even
// when the paper is out; the other status commands (ENQ, EOT, ETB, ESC RS a)
// are recognised but not answered.
func init() {
	registerInterpreter(core.CommandSetStarLine, newStarLine)
	registerInterpreter(core.CommandSetStarGraphic, newStarGraphic)
}

// Star power-on defaults (memory switch defaults where the specification
// says "memory switch setting").
const (
	starSpacingMM   = 4  // line feed amount: 4 mm (ESC z 1)
	starPulseUnitMS = 10 // ESC BEL n1 n2: 10 ms units
	starPulseDef    = 20 // 200 ms on, 200 ms off
	starQRCell      = 3  // ESC GS y S 2 n
	starMaxFeed     = 127
	starHRIGap      = 2 // dots between the bars and the characters under them
	starMinRegionMM = 36
)

// Raster EOT and FF modes (ESC * r E n NUL, ESC * r F n NUL).
var starRasterModes = map[int]bool{0: true, 1: true, 2: true, 3: true, 8: true, 9: true, 12: true, 13: true, 36: true, 37: true}

// starInterp executes Star Line Mode and its raster mode on a paper.Roll.
// With graphic set it is a raster-only printer (Star Graphic Mode, TSP100):
// outside raster mode it prints nothing.
type starInterp struct {
	h       *host
	r       *paper.Roll
	dec     escpos.StarDecoder
	graphic bool

	// Line mode.
	st             paper.Style
	under          bool
	spacing, pitch int // ESC SP n, and the extra dots of ESC P / ESC : / ESC g
	cp             *[256]rune
	cpName         string
	tabs           []int
	pulseOn        int // ms
	pulseOff       int
	qrECC, qrCell  byte
	qrData         []byte

	// Raster mode.
	left, right int // margins in dots
	eot, ff     int // modes
	pageLen     int
	pending     []byte // k n1 n2 data waiting for a row feed
	dirty       bool   // rows since the last FF or EOT mode
	lineMargin  int    // line mode's print area, restored on quitting raster mode
	lineArea    int
	rowBuf      []byte
}

func newStarLine(h *host) interpreter    { return newStar(h, false) }
func newStarGraphic(h *host) interpreter { return newStar(h, true) }

func newStar(h *host, graphic bool) *starInterp {
	s := &starInterp{h: h, r: h.roll, graphic: graphic}
	s.dec.MaxCommand = escpos.DefaultMaxCommand
	s.init()
	s.rasterInit()
	return s
}

// mmDots converts millimetres to dots at the profile's resolution.
func (s *starInterp) mmDots(mm float64) int {
	return int(mm*float64(s.h.profile.DPI)/25.4 + 0.5)
}

// init is ESC @: the power-on state of line mode. The line buffer is
// emptied.
func (s *starInterp) init() {
	s.r.Reset()
	s.r.LineSpacing = s.mmDots(starSpacingMM)
	s.st = paper.Style{Face: font.A, Width: 1, Height: 1}
	s.under, s.spacing, s.pitch = false, 0, 0
	s.setCodePage(s.h.profile.DefaultCodePage)
	s.tabs = s.tabs[:0]
	s.pulseOn, s.pulseOff = starPulseDef*starPulseUnitMS, starPulseDef*starPulseUnitMS
	s.qrECC, s.qrCell, s.qrData = 0, starQRCell, s.qrData[:0]
}

func (s *starInterp) setCodePage(name string) bool {
	t, ok := codePageRunes[strings.ToUpper(name)]
	if !ok {
		t, name = codePageRunes["PC437"], "PC437"
	}
	s.cp, s.cpName = t, name
	return ok
}

func (s *starInterp) Write(p []byte) { s.dec.Feed(p, s.exec) }

func (s *starInterp) End() { s.dec.End(s.exec) }

func (s *starInterp) warn(format string, args ...any) { s.r.Warn(format, args...) }

// style returns the character style in force.
func (s *starInterp) style() *paper.Style {
	s.st.Underline = 0
	if s.under {
		// Underlines are two dots, expanded with the characters.
		s.st.Underline = 2 * max(s.st.Height, 1)
	}
	s.st.Spacing = s.spacing + s.pitch
	return &s.st
}

// exec executes one command.
func (s *starInterp) exec(c escpos.StarCommand) {
	s.h.bytes += int64(len(c.Raw)) + c.Skipped
	if c.Kind == escpos.KindCommand && c.Op == escpos.StarOpStatus {
		// Real-time: executed on receipt, also when the printer cannot
		// print.
		s.statusBack(&c)
		return
	}
	if s.h.stopped != nil && s.h.stopped() {
		return // paper out: nothing prints
	}
	raster := s.dec.Raster // the mode c was decoded in
	switch c.Kind {
	case escpos.KindText:
		s.text(c.Data)
		return
	case escpos.KindControl:
		if raster {
			s.rasterControl(byte(c.Op))
		} else {
			s.control(byte(c.Op))
		}
		return
	case escpos.KindUnknown:
		if raster && c.Op < 0x100 {
			s.warn("raster mode: bytes that start no raster command were ignored (text prints only in line mode)")
		} else {
			s.warn("unknown command %s ignored", c.Op)
		}
		return
	case escpos.KindInvalid:
		s.warn("invalid %s ignored", c.String())
		return
	case escpos.KindTruncated:
		s.warn("the job ended inside a command: %s", c.String())
		return
	}
	if c.Skipped > 0 {
		s.warn("%s declares %d bytes: only the first %d were kept, the rest was discarded", c.Op, int64(len(c.Data))+c.Skipped, len(c.Data))
	}
	if s.device(&c) {
		return
	}
	if raster {
		s.rasterCommand(&c)
		return
	}
	if s.graphic && !isRasterOp(c.Op) {
		s.warn("%s is not a Star Graphic Mode command: profile %s prints raster graphics only, so it is ignored", c.Op, s.h.profile.Name)
		return
	}
	s.command(&c)
}

// isRasterOp reports whether o is one of the raster commands, ESC * r x
// or ESC FF NUL / ESC FF EOT.
func isRasterOp(o escpos.StarOp) bool {
	return o&^0xff == escpos.StarOpRasterEnter&^0xff || o == escpos.StarOpRasterFF || o == escpos.StarOpRasterEOT
}

// text prints bytes of the current code page.
func (s *starInterp) text(b []byte) {
	if s.graphic {
		s.warn("text outside raster mode is not printed: profile %s prints raster graphics only (Star Graphic Mode)", s.h.profile.Name)
		return
	}
	st := s.style()
	for _, c := range b {
		s.r.Char(s.cp[c], st)
	}
}

// control executes a control byte in line mode.
func (s *starInterp) control(c byte) {
	switch escpos.StarOp(c) {
	case escpos.StarOpDrawer1, escpos.StarOpDrawer1Now:
		s.drawer(1)
		return
	case escpos.StarOpDrawer2, escpos.StarOpDrawer2Now:
		s.drawer(2)
		return
	case escpos.StarOpENQ, escpos.StarOpEOT, escpos.StarOpETB:
		return // status inquiries: no paper effect
	}
	if c == escpos.NUL {
		return
	}
	if s.graphic {
		s.warn("control byte %s is not a Star Graphic Mode command: ignored", escpos.StarOp(c))
		return
	}
	switch escpos.StarOp(c) {
	case escpos.StarOpLF:
		s.r.PrintLine(s.r.LineSpacing)
	case escpos.StarOpCR:
		// Ignored: the memory switch default leaves CR disabled.
	case escpos.StarOpHT:
		x := s.r.X()
		for _, t := range s.tabs {
			if t > x {
				s.r.SetX(t)
				return
			}
		}
	case escpos.StarOpFF:
		s.warn("FF (top of form) is simulated as a line feed: page lengths are not simulated")
		s.r.PrintLine(s.r.LineSpacing)
	case escpos.StarOpVT:
		s.warn("VT (vertical tab) is simulated as a line feed: vertical tabs are not simulated")
		s.r.PrintLine(s.r.LineSpacing)
	case escpos.StarOpDoubleWide:
		s.st.Width = 2
	case escpos.StarOpWideOff:
		s.st.Width = 1
	case escpos.StarOpUpsideDown:
		s.st.UpsideDown = true
	case escpos.StarOpUpsideOff:
		s.st.UpsideDown = false
	case escpos.StarOpCancel:
		s.init() // cancel print data and initialise commands
	default:
		s.warn("control byte 0x%02x ignored", c)
	}
}

// n01 maps a parameter given as 0–9 or "0"–"9" to its value, or -1.
func n01(b byte) int {
	switch {
	case b <= 9:
		return int(b)
	case b >= '0' && b <= '9':
		return int(b - '0')
	}
	return -1
}

// device executes the commands both modes and both kinds of printer know:
// external devices, status and print settings. It reports whether c was
// one of them.
func (s *starInterp) device(c *escpos.StarCommand) bool {
	switch c.Op {
	case escpos.StarOpPulseWidth:
		n1, n2 := int(c.Arg(0)), int(c.Arg(1))
		if n1 == 0 || n2 == 0 {
			s.warn("ESC BEL %d %d: a zero pulse time is ignored", n1, n2)
			return true
		}
		s.pulseOn, s.pulseOff = min(n1, 128)*starPulseUnitMS, min(n2, 128)*starPulseUnitMS
	case escpos.StarOpBuzzer:
		if m := n01(c.Arg(0)); m != 1 && m != 2 {
			s.warn("ESC GS BEL %d: buzzer terminal out of range, ignored", c.Arg(0))
			return true
		}
		s.beep(1)
	case escpos.StarOpBuzzerRun:
		n := int(c.Arg(1)) + int(c.Arg(2))<<8
		if m := n01(c.Arg(0)); (m != 1 && m != 2) || n < 1 || n > 20 {
			s.warn("ESC GS EM DC2 %d %d %d: out of range, ignored", c.Arg(0), c.Arg(1), c.Arg(2))
			return true
		}
		s.beep(n)
	case escpos.StarOpBuzzerSet, escpos.StarOpASB, escpos.StarOpETBClear, escpos.StarOpStatusETX,
		escpos.StarOpPrintArea, escpos.StarOpDensity, escpos.StarOpSpeed, escpos.StarOpMemSwitch:
		// Settings and status requests with no effect on the paper.
	case escpos.StarOpReset:
		if !s.r.LineEmpty() {
			s.warn("ESC ? (reset) discarded characters waiting for a line feed")
		}
		s.init()
		s.rasterInit()
	default:
		return false
	}
	return true
}

// statusBack answers ESC ACK SOH with the automatic status of the
// simulated state.
func (s *starInterp) statusBack(c *escpos.StarCommand) {
	if c.Arg(0) != 0x01 { // SOH
		s.warn("ESC ACK %d: only ESC ACK SOH (status request) is defined; ignored", c.Arg(0))
		return
	}
	if s.h.reply == nil || s.h.status == nil {
		return // rendering bytes: nobody to answer
	}
	s.h.reply(starASB(s.h.status()))
}

// starASB returns the automatic status (ASB) a Star printer in state st
// sends, as the "Automatic Status" appendix of the STAR Line Mode Command
// Specifications lays it out: version 3, nine bytes, without the extended
// data of LAN interfaces (header 2 bit 7 clear).
//
//	header 1  0x23: bit 0 fixed 1; bits 1-3 and 5 the length, 9
//	header 2  0x06: bits 1-3 and 5 the version, 3
//	status 1  bit 3 offline, bit 5 cover open
//	status 2  bit 5 non-recoverable error
//	status 3  (head up, presenter jam…: not simulated)
//	status 4  bit 2 paper near end (inner sensor), bit 3 paper end
//	status 5-7  (presenter, slip, ETB counter: not simulated)
//
// A printer that cannot print (paper out, cover open, error) is offline.
func starASB(st core.Status) []byte {
	a := []byte{0x23, 0x06, 0, 0, 0, 0, 0, 0, 0}
	if !st.Online || st.PaperOut || st.CoverOpen || st.Error {
		a[2] |= 0x08
	}
	if st.CoverOpen {
		a[2] |= 0x20
	}
	if st.Error {
		a[3] |= 0x20
	}
	if st.PaperLow || st.PaperOut {
		a[5] |= 0x04 // a roll that ran out passed the near-end mark first
	}
	if st.PaperOut {
		a[5] |= 0x08
	}
	return a
}

func (s *starInterp) drawer(n int) {
	if !s.h.profile.Drawer {
		s.warn("drawer kick, but profile %s has no drawer connector", s.h.profile.Name)
	}
	pin := 2
	if n == 2 {
		pin = 5
	}
	s.r.Pulse(paper.Pulse{Pin: pin, OnMS: s.pulseOn, OffMS: s.pulseOff})
}

func (s *starInterp) beep(n int) {
	if !s.h.profile.Beep {
		s.warn("beep, but profile %s has no buzzer", s.h.profile.Name)
	}
	s.r.Beep(n)
}

// expand maps ESC W / ESC h / ESC i's n (0–5, "0"–"5") to a multiplier.
func expand(n byte) int {
	if v := n01(n); v >= 0 && v <= 5 {
		return v + 1
	}
	return 0
}

// command executes a line mode command.
func (s *starInterp) command(c *escpos.StarCommand) {
	a := c.Arg(0)
	switch c.Op {
	case escpos.StarOpInit:
		if !s.r.LineEmpty() {
			s.warn("ESC @ discarded characters waiting for a line feed")
		}
		s.init()
	case escpos.StarOpBold:
		s.st.Bold = true
	case escpos.StarOpBoldOff:
		s.st.Bold = false
	case escpos.StarOpUnderline:
		s.under = on(a)
	case escpos.StarOpUpperline:
		if on(a) {
			s.warn("upperline (ESC _) is not simulated")
		}
	case escpos.StarOpInvert:
		s.st.Invert = true
	case escpos.StarOpInvertOff:
		s.st.Invert = false
	case escpos.StarOpExpand:
		h, w := expand(c.Arg(0)), expand(c.Arg(1))
		if h == 0 || w == 0 {
			s.warn("ESC i %d %d: expansion out of range, ignored", c.Arg(0), c.Arg(1))
			return
		}
		s.st.Height, s.st.Width = h, w
	case escpos.StarOpWidth, escpos.StarOpHeight:
		m := expand(a)
		if m == 0 {
			s.warn("%s %d: expansion out of range, ignored", c.Op, a)
			return
		}
		if c.Op == escpos.StarOpWidth {
			s.st.Width = m
		} else {
			s.st.Height = m
		}
	case escpos.StarOpDoubleHigh:
		s.st.Height = 2
	case escpos.StarOpHighOff:
		s.st.Height = 1
	case escpos.StarOpFont:
		switch a {
		case 0, '0':
			s.st.Face = font.A
		case 1, '1':
			s.st.Face = font.StarB
		default:
			s.warn("ESC RS F %d: the sim has fonts A (12×24) and B (9×24) only; using B", a)
			s.st.Face = font.StarB
		}
	case escpos.StarOpCodePage:
		name, ok := s.h.profile.CodePageByNumber(int(a))
		if !ok {
			s.warn("ESC GS t %d: profile %s has no code page %d; keeping %s", a, s.h.profile.Name, a, s.cpName)
			return
		}
		if !s.setCodePage(name) {
			s.warn("ESC GS t %d: code page %s is not simulated; using PC437", a, name)
		}
	case escpos.StarOpIntlCharset:
		if a != 0 && a != '0' {
			s.warn("ESC R %d: international character sets are not simulated", a)
		}
	case escpos.StarOpSlashZero:
		if on(a) {
			s.warn("slash zero (ESC /) is not simulated")
		}
	case escpos.StarOpCharSpacing:
		s.spacing = int(a)
	case escpos.StarOpPitch12:
		s.pitch = 0
	case escpos.StarOpPitch15, escpos.StarOpPitch16, escpos.StarOpPitch14:
		// Pitches of Font A's 12-dot cell.
		s.pitch = map[escpos.StarOp]int{escpos.StarOpPitch15: 3, escpos.StarOpPitch16: 4, escpos.StarOpPitch14: 2}[c.Op]
	case escpos.StarOpUserChars:
		if on(a) {
			s.warn("download characters (ESC %%) are not simulated")
		}
	case escpos.StarOpKanjiOn, escpos.StarOpKanjiMode:
		if c.Op == escpos.StarOpKanjiOn || on(a) {
			s.warn("Kanji mode (%s) is not simulated: bytes print as code page characters", c.Op)
		}
	case escpos.StarOpFeedLines:
		if a < 1 || a > starMaxFeed {
			s.warn("ESC a %d: out of range (1 to 127), ignored", a)
			return
		}
		s.r.PrintLines(int(a))
	case escpos.StarOpLineSpacing:
		if a != 1 && a != '1' {
			s.warn("ESC z %d: only n = 1 (4 mm) is defined for thermal printers, ignored", a)
			return
		}
		s.r.LineSpacing = s.mmDots(4)
	case escpos.StarOpSpacing3mm, escpos.StarOpSpacing3mmAlt:
		s.r.LineSpacing = s.mmDots(3)
	case escpos.StarOpSpacing216, escpos.StarOpSpacing144, escpos.StarOpReverseFeed:
		s.warn("%s is ignored by Star thermal printers", c.Op)
	case escpos.StarOpFeedQuarterMM:
		s.r.PrintFeed(s.mmDots(float64(a) / 4))
	case escpos.StarOpFeedEighthMM:
		s.r.PrintFeed(s.mmDots(float64(a) / 8))
	case escpos.StarOpLeftMargin:
		s.r.SetMargin(int(a) * s.style().Advance())
	case escpos.StarOpRightMargin:
		edge := int(a) * s.style().Advance()
		m, _ := s.r.Area()
		if edge-m < s.mmDots(starMinRegionMM) {
			s.warn("ESC Q %d: a print region under %d mm is ignored", a, starMinRegionMM)
			return
		}
		s.r.SetAreaWidth(edge - m)
	case escpos.StarOpTabs:
		s.tabs = s.tabs[:0]
		adv, prev := s.style().Advance(), 0
		for _, n := range c.Data {
			if int(n) <= prev {
				break
			}
			prev = int(n)
			s.tabs = append(s.tabs, int(n)*adv)
		}
	case escpos.StarOpAbsPos:
		s.r.SetX(le16(c.Args))
	case escpos.StarOpRelPos:
		s.r.SetX(s.r.X() + le16(c.Args))
	case escpos.StarOpAlign:
		switch a {
		case 0, '0':
			s.r.SetAlign(paper.Left)
		case 1, '1':
			s.r.SetAlign(paper.Center)
		case 2, '2':
			s.r.SetAlign(paper.Right)
		default:
			s.warn("ESC GS a %d: alignment out of range, ignored", a)
		}
	case escpos.StarOpBitImage, escpos.StarOpBitImageHi, escpos.StarOpFineImage, escpos.StarOpBitImage24:
		s.bitImage(c)
	case escpos.StarOpLogoPrint:
		s.warn("logos (ESC FS p) are not simulated: nothing printed")
	case escpos.StarOpBarcode:
		s.barcode(c)
	case escpos.StarOpCut:
		s.cut(a)
	case escpos.StarOpQRSet:
		s.qrSet(c.Arg(0), c.Arg(1))
	case escpos.StarOpQRData:
		if len(c.Data) == 0 || len(c.Data) > symbol.MaxQRData {
			s.warn("ESC GS y D: %d bytes of QR data, want 1 to %d: data cleared", len(c.Data), symbol.MaxQRData)
			s.qrData = s.qrData[:0]
			return
		}
		s.qrData = append(s.qrData[:0], c.Data...)
	case escpos.StarOpQRPrint:
		s.printQR()
	case escpos.StarOpPDF417Print:
		s.warn("PDF417 symbols are not simulated: nothing printed")
	case escpos.StarOpRasterEnter:
		s.enterRaster()
	case escpos.StarOpRasterInit:
		s.rasterInit()
	case escpos.StarOpRasterQuit:
		// Not in raster mode: nothing to quit.
	case escpos.StarOpRasterEOTMode, escpos.StarOpRasterFFMode, escpos.StarOpRasterPage, escpos.StarOpRasterQuality,
		escpos.StarOpRasterMargin, escpos.StarOpRasterTop, escpos.StarOpRasterColor:
		s.rasterSetting(c) // stored, though entering raster mode initialises them again
	case escpos.StarOpRasterRow, escpos.StarOpRasterDots, escpos.StarOpRasterClear, escpos.StarOpRasterDrawer,
		escpos.StarOpRasterFeed, escpos.StarOpRasterDiscard, escpos.StarOpRasterBuzzer, escpos.StarOpRasterFF, escpos.StarOpRasterEOT:
		s.warn("%s is a raster mode command: ignored in line mode (send ESC * r A first)", c.Op)
	default:
		// Recognised commands with no effect on the paper: ESC GS y I,
		// ESC GS x S/D/I, ESC & (download characters), ESC FS q (logo
		// definitions), ESC C, ESC N, ESC O, ESC B (page control), ESC s,
		// ESC t, ESC q (Kanji settings).
	}
}

// cut is ESC d n: 0 full and 1 partial cut at the current position, 2 and
// 3 after feeding the paper to the cutter. Data in the line buffer is
// printed first.
func (s *starInterp) cut(n byte) {
	v := n01(n)
	if v < 0 || v > 3 {
		s.warn("ESC d %d: unknown cut, ignored", n)
		return
	}
	if !s.r.LineEmpty() {
		s.r.PrintLine(s.r.LineSpacing)
	}
	if v >= 2 {
		s.r.PrintFeed(s.mmDots(cutterMM))
	}
	s.doCut(map[int]string{0: "full", 1: "partial", 2: "full", 3: "partial"}[v])
}

// doCut cuts the paper, making the cut the cutter can.
func (s *starInterp) doCut(kind string) {
	p := s.h.profile
	if len(p.Cuts) == 0 {
		s.warn("cut command, but profile %s has no cutter: the paper is not cut", p.Name)
		return
	}
	if !p.HasCut(kind) {
		kind = p.Cuts[0]
	}
	s.r.Cut(kind)
}

// bitImage is ESC K, ESC L, ESC k and ESC X: bit images in the line buffer.
func (s *starInterp) bitImage(c *escpos.StarCommand) {
	n := le16(c.Args)
	if n == 0 {
		return
	}
	var w, h int
	var dot func(x, y int) bool
	d := c.Data
	bit := func(i, b int) bool { return i < len(d) && d[i]&(0x80>>b) != 0 }
	switch c.Op {
	case escpos.StarOpBitImage: // 8-dot columns, each dot 3×3
		w, h = 3*n, 24
		dot = func(x, y int) bool { return bit(x/3, y/3) }
	case escpos.StarOpBitImageHi: // 8-dot columns, each dot 1 wide 3 high
		w, h = n, 24
		dot = func(x, y int) bool { return bit(x, y/3) }
	case escpos.StarOpFineImage: // 24 rows of n bytes
		w, h = 8*n, 24
		dot = func(x, y int) bool { return bit(y*n+x/8, x%8) }
	default: // ESC X: 24-dot columns of 3 bytes
		w, h = n, 24
		dot = func(x, y int) bool { return bit(3*x+y/8, y%8) }
	}
	// Data beyond the print area is discarded, as on the printer.
	_, area := s.r.Area()
	w = min(w, area)
	stride := (w + 7) / 8
	bits := make([]byte, stride*h)
	for y := range h {
		for x := range w {
			if dot(x, y) {
				bits[y*stride+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	s.r.Image(bits, stride, w, h, "")
}

// starSymbology maps ESC b's n1 to a symbology.
var starSymbology = []string{symbol.UPCE, symbol.UPCA, symbol.EAN8, symbol.EAN13, symbol.Code39, symbol.ITF, symbol.Code128, symbol.Code93, symbol.Codabar}

// starWide gives ESC b's n3 = 1–9 as narrow and wide element widths for
// Code 39 and NW-7, and for ITF.
var starWide = map[string][9][2]int{
	symbol.Code39:  {{2, 6}, {3, 9}, {4, 12}, {2, 5}, {3, 8}, {4, 10}, {2, 4}, {3, 6}, {4, 8}},
	symbol.Codabar: {{2, 6}, {3, 9}, {4, 12}, {2, 5}, {3, 8}, {4, 10}, {2, 4}, {3, 6}, {4, 8}},
	symbol.ITF:     {{2, 5}, {4, 10}, {6, 15}, {2, 4}, {4, 8}, {6, 12}, {2, 6}, {3, 9}, {4, 12}},
}

// barcode is ESC b n1 n2 n3 n4 d… RS: n1 the symbology, n2 the characters
// under the bars and the line feed after (1: no characters, 2: characters,
// each with a line feed; 3, 4 the same without), n3 the module width mode,
// n4 the height in dots.
func (s *starInterp) barcode(c *escpos.StarCommand) {
	n1, n2, n3, n4 := n01(c.Arg(0)), n01(c.Arg(1)), n01(c.Arg(2)), int(c.Arg(3))
	if n1 < 0 || n1 >= len(starSymbology) {
		s.warn("ESC b %d: unknown bar code type, ignored", c.Arg(0))
		return
	}
	sym := starSymbology[n1]
	name := symbolNames[sym]
	if n2 < 1 || n2 > 4 || n4 == 0 {
		s.warn("ESC b %s: n2 = %d or n4 = %d out of range, ignored", name, c.Arg(1), n4)
		return
	}
	if !s.h.profile.HasBarcode(sym) {
		s.warn("ESC b: profile %s does not list %s", s.h.profile.Name, sym)
	}
	hri := n2 == 2 || n2 == 4
	if n2 > 2 {
		s.warn("ESC b %s: n2 = %d (no line feed after the bar code) is printed with one", name, n2)
	}
	data, err := starBarcodeData(sym, c.Data)
	if err != nil {
		s.warn("ESC b %s %q: %v: nothing printed", name, c.Data, err)
		return
	}
	code, err := symbol.Barcode(sym, data)
	if err != nil {
		s.warn("ESC b %s %q: %v: nothing printed", name, c.Data, err)
		return
	}
	var bars []bool
	if wide, ok := starWide[sym]; ok {
		if n3 < 1 || n3 > 9 {
			s.warn("ESC b %s: mode %d out of range (1 to 9), ignored", name, c.Arg(2))
			return
		}
		bars = binaryBars(code, wide[n3-1][0], wide[n3-1][1])
	} else {
		if n3 < 1 || n3 > 3 {
			s.warn("ESC b %s: mode %d out of range (1 to 3), ignored", name, c.Arg(2))
			return
		}
		bars = code.Dots(n3 + 1)
	}
	_, area := s.r.Area()
	if len(bars) > area {
		s.warn("ESC b %s %q: %d dots wide at mode %d, more than the print area (%d): not printed", name, c.Data, len(bars), n3, area)
		return
	}
	f := font.A
	cw, ch := f.Cell()
	label := code.HRI
	hriW := utf8.RuneCountInString(label) * cw
	h := n4
	if hri {
		h += starHRIGap + ch
	}
	w := max(len(bars), hriW)
	switch sym {
	case symbol.Code39:
		label = strings.Trim(label, "*")
	case symbol.Code93:
		label = strings.Trim(label, "□")
	}
	g := s.r.Block(w, h, "["+name+": "+label+"]")
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
		g.Fill(bx+i, 0, j-i, n4)
		i = j
	}
	if hri {
		g.Text((w-hriW)/2, n4+starHRIGap, code.HRI, f)
	}
}

// binaryBars draws a binary-level symbol (narrow and wide elements) with
// the given element widths.
func binaryBars(code *symbol.Code, narrow, wide int) []bool {
	unit := code.Dots(1) // narrow elements 1 dot, wide ones more
	out := make([]bool, 0, len(unit)*wide)
	for i := 0; i < len(unit); {
		j := i
		for j < len(unit) && unit[j] == unit[i] {
			j++
		}
		w := narrow
		if j-i > 1 {
			w = wide
		}
		for range w {
			out = append(out, unit[i])
		}
		i = j
	}
	return out
}

// starBarcodeData turns ESC b data into what symbol.Barcode takes, following
// Star's rules: UPC and EAN check digits are always computed by the printer
// (a check digit sent is ignored), ITF gets a leading 0 when the count is
// odd, and CODE128 data is plain ASCII whose code sets the printer chooses.
func starBarcodeData(sym string, d []byte) ([]byte, error) {
	digits := func(lo, hi int) ([]byte, error) {
		if len(d) < lo || len(d) > hi {
			return nil, fmt.Errorf("%d digits, want %d or %d", len(d), lo, hi)
		}
		for _, c := range d {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("%q is not a digit", c)
			}
		}
		return d[:lo], nil
	}
	switch sym {
	case symbol.UPCE, symbol.UPCA:
		return digits(11, 12)
	case symbol.EAN8:
		return digits(7, 8)
	case symbol.EAN13:
		return digits(12, 13)
	case symbol.ITF:
		if len(d)%2 == 1 {
			return append([]byte{'0'}, d...), nil
		}
	case symbol.Code128:
		return code128Auto(d)
	}
	return d, nil
}

// code128Auto writes plain ASCII data in the "{A"/"{B"/"{C" notation of
// symbol.Barcode, choosing the code sets as the printer does: set C for an
// even run of digits only, else B, switching to A around control
// characters.
func code128Auto(d []byte) ([]byte, error) {
	if len(d) == 0 {
		return nil, fmt.Errorf("no data")
	}
	digits := len(d)%2 == 0
	for _, c := range d {
		if c > 0x7f {
			return nil, fmt.Errorf("byte 0x%02x is not ASCII", c)
		}
		if c < '0' || c > '9' {
			digits = false
		}
	}
	if digits {
		out := []byte("{C")
		for i := 0; i < len(d); i += 2 {
			out = append(out, (d[i]-'0')*10+d[i+1]-'0')
		}
		return out, nil
	}
	out := make([]byte, 0, len(d)+8)
	set := byte(0)
	for _, c := range d {
		need := set
		switch {
		case c < 0x20:
			need = 'A'
		case c >= 0x60:
			need = 'B'
		case set == 0:
			need = 'B'
		}
		if need != set {
			out = append(out, '{', need)
			set = need
		}
		if c == '{' {
			out = append(out, '{')
		}
		out = append(out, c)
	}
	return out, nil
}

// qrSet is ESC GS y S a n.
func (s *starInterp) qrSet(a, n byte) {
	switch n01(a) {
	case 0:
		if v := n01(n); v != 2 {
			s.warn("ESC GS y S 0 %d: QR model %d is simulated as model 2", n, v)
		}
	case 1:
		if v := n01(n); v >= 0 && v <= 3 {
			s.qrECC = byte(v)
		} else {
			s.warn("ESC GS y S 1 %d: error correction level out of range, ignored", n)
		}
	case 2:
		if n >= 1 && n <= 8 {
			s.qrCell = n
		} else {
			s.warn("ESC GS y S 2 %d: cell size out of range (1 to 8), ignored", n)
		}
	}
}

// printQR is ESC GS y P: the line buffer is printed, then the QR code at the
// alignment in force.
func (s *starInterp) printQR() {
	if len(s.qrData) == 0 {
		s.warn("ESC GS y P: no QR data set: nothing printed")
		return
	}
	mods, err := symbol.QR(s.qrData, "LMQH"[s.qrECC])
	if err != nil {
		s.warn("ESC GS y P: %v: nothing printed", err)
		return
	}
	n, c := len(mods), int(s.qrCell)
	_, area := s.r.Area()
	if n*c > area {
		s.warn("ESC GS y P: QR code is %d dots wide at cell size %d, more than the print area (%d): not printed", n*c, c, area)
		return
	}
	g := s.r.Block(n*c, n*c, "[QR: "+strings.ToValidUTF8(string(s.qrData), "\uFFFD")+"]")
	g.Modules(mods, c)
}
