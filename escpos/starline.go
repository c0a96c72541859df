package escpos

import (
	"fmt"
	"iter"
	"strings"
)

// This file decodes Star Line Mode, the command language of Star Micronics
// printers in Star mode (TSP650, TSP700, SP700…), and its raster mode, the
// only mode of the raster-only models (TSP100 futurePRNT, "Star Graphic
// Mode"). It was written from Star Micronics, "STAR Line Mode Command
// Specifications" (command function list and command details), not from an
// encoder, so that an encoder bug shows up as a difference.
//
// Star Line Mode is modal: after ESC * r A (enter raster mode) the bytes are
// raster commands ("b n1 n2 d…" is a row of dots, not the letter b) until
// ESC * r B (quit raster mode). StarNext takes the mode; StarAll and
// StarDecoder follow it as those two commands go by.

// Control bytes of Star Line Mode that ESC/POS names differently or not at
// all.
const (
	starBEL = 0x07 // external device 1 (drawer 1) drive
	starVT  = 0x0b // vertical tab
	starSO  = 0x0e // double wide on
	starSI  = 0x0f // upside-down on
	starDC2 = 0x12 // upside-down off
	starETB = 0x17 // update ETB status
	starEM  = 0x19 // external device 2 drive, real time
	starSUB = 0x1a // external device 2 drive
	starACK = 0x06
	starSOH = 0x01
	starETX = 0x03
	starDC1 = 0x11
)

// A StarOp identifies a Star Line Mode command by its command bytes, packed
// big-endian: ESC @ is 0x1b40, ESC GS a is 0x1b1d61, ESC * r A is 0x1b2a7241,
// LF is 0x0a and the raster row command b is 0x62. Parameters are not part
// of it.
type StarOp uint32

func starOp(b ...byte) StarOp {
	var o StarOp
	for _, c := range b {
		o = o<<8 | StarOp(c)
	}
	return o
}

// Bytes returns the command bytes of o.
func (o StarOp) Bytes() []byte {
	switch {
	case o > 0xffffff:
		return []byte{byte(o >> 24), byte(o >> 16), byte(o >> 8), byte(o)}
	case o > 0xffff:
		return []byte{byte(o >> 16), byte(o >> 8), byte(o)}
	case o > 0xff:
		return []byte{byte(o >> 8), byte(o)}
	}
	return []byte{byte(o)}
}

// String returns the mnemonic of o as the specification writes it:
// "ESC GS a", "ESC * r A", "ESC RS F", "LF", "b".
func (o StarOp) String() string {
	var sb strings.Builder
	for i, c := range o.Bytes() {
		if i > 0 {
			sb.WriteByte(' ')
		}
		switch {
		case c < 0x20:
			sb.WriteString(decCtlNames[c])
		case c == ' ':
			sb.WriteString("SP")
		case c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, "0x%02x", c)
		}
	}
	return sb.String()
}

// Star Line Mode commands the simulator and other users switch on, by the
// names of the specification's command details. Every command StarNext
// recognises has a StarOp; these are the ones with names.
const (
	// Control bytes (KindControl).
	StarOpLF         StarOp = LF      // print and feed one line
	StarOpCR         StarOp = CR      // same as LF when the memory switch enables it; ignored by default
	StarOpHT         StarOp = HT      // move to the next horizontal tab
	StarOpFF         StarOp = FF      // execute top of form
	StarOpVT         StarOp = starVT  // feed to the next vertical tab
	StarOpDoubleWide StarOp = starSO  // SO: double wide on
	StarOpWideOff    StarOp = DC4     // DC4: double wide off
	StarOpUpsideDown StarOp = starSI  // SI: upside-down printing on
	StarOpUpsideOff  StarOp = starDC2 // DC2: upside-down printing off
	StarOpDrawer1    StarOp = starBEL // BEL: external device 1 drive (after printing)
	StarOpDrawer1Now StarOp = FS      // FS: external device 1 drive (real time)
	StarOpDrawer2    StarOp = starSUB // SUB: external device 2 drive
	StarOpDrawer2Now StarOp = starEM  // EM: external device 2 drive (real time)
	StarOpCancel     StarOp = CAN     // CAN: cancel print data and initialise commands
	StarOpENQ        StarOp = ENQ     // ENQ: inquire ENQ status
	StarOpEOT        StarOp = EOT     // EOT: inquire EOT status
	StarOpETB        StarOp = starETB // ETB: update ETB status

	// Font style and character set.
	StarOpFont        StarOp = ESC<<16 | RS<<8 | 'F' // ESC RS F n: select font (0 A 12×24, 1 B 9×24)
	StarOpCodePage    StarOp = ESC<<16 | GS<<8 | 't' // ESC GS t n: code page
	StarOpIntlCharset StarOp = ESC<<8 | 'R'          // ESC R n: international character set
	StarOpSlashZero   StarOp = ESC<<8 | '/'          // ESC / n: slash zero
	StarOpCharSpacing StarOp = ESC<<8 | ' '          // ESC SP n: ANK right space
	StarOpPitch12     StarOp = ESC<<8 | 'M'          // ESC M: ANK 12-dot pitch
	StarOpPitch15     StarOp = ESC<<8 | 'P'          // ESC P: ANK 15-dot pitch
	StarOpPitch16     StarOp = ESC<<8 | ':'          // ESC :: ANK 16-dot pitch
	StarOpPitch14     StarOp = ESC<<8 | 'g'          // ESC g: ANK 14-dot pitch
	StarOpUserChars   StarOp = ESC<<8 | '%'          // ESC % n: download characters on/off
	StarOpDefineChars StarOp = ESC<<8 | '&'          // ESC & 1 1 n d1…d48 / ESC & 1 0 n: define / delete a download character
	StarOpKanjiOn     StarOp = ESC<<8 | 'p'          // ESC p: JIS Kanji mode
	StarOpKanjiOff    StarOp = ESC<<8 | 'q'          // ESC q: cancel JIS Kanji mode
	StarOpKanjiMode   StarOp = ESC<<8 | '$'          // ESC $ n: set/cancel JIS Kanji mode
	StarOpKanjiSpace2 StarOp = ESC<<8 | 's'          // ESC s n1 n2: two-byte Kanji left/right space
	StarOpKanjiSpace1 StarOp = ESC<<8 | 't'          // ESC t n1 n2: one-byte Kanji left/right space
	StarOpExpand      StarOp = ESC<<8 | 'i'          // ESC i n1 n2: height n1+1, width n2+1 (1–6×)
	StarOpWidth       StarOp = ESC<<8 | 'W'          // ESC W n: width n+1
	StarOpHeight      StarOp = ESC<<8 | 'h'          // ESC h n: height n+1
	StarOpDoubleHigh  StarOp = ESC<<8 | starSO       // ESC SO: double high on
	StarOpHighOff     StarOp = ESC<<8 | DC4          // ESC DC4: double high off

	// Print modes.
	StarOpBold      StarOp = ESC<<8 | 'E' // ESC E: emphasised printing
	StarOpBoldOff   StarOp = ESC<<8 | 'F' // ESC F: cancel emphasised printing
	StarOpUnderline StarOp = ESC<<8 | '-' // ESC - n: underline
	StarOpUpperline StarOp = ESC<<8 | '_' // ESC _ n: upperline
	StarOpInvert    StarOp = ESC<<8 | '4' // ESC 4: white/black inverted printing
	StarOpInvertOff StarOp = ESC<<8 | '5' // ESC 5: cancel white/black inversion

	// Line spacing and page control.
	StarOpFeedLines     StarOp = ESC<<8 | 'a' // ESC a n: feed n lines
	StarOpLineSpacing   StarOp = ESC<<8 | 'z' // ESC z n: line feed amount (1: 4 mm)
	StarOpSpacing3mm    StarOp = ESC<<8 | '0' // ESC 0: line feed amount 3 mm
	StarOpSpacing3mmAlt StarOp = ESC<<8 | '1' // ESC 1: line feed amount 3 mm (thermal)
	StarOpSpacing216    StarOp = ESC<<8 | '3' // ESC 3 n: n/216 inch (ignored by thermal printers)
	StarOpSpacing144    StarOp = ESC<<8 | 'y' // ESC y n: n/144 inch (ignored by thermal printers)
	StarOpFeedQuarterMM StarOp = ESC<<8 | 'J' // ESC J n: feed n/4 mm
	StarOpFeedEighthMM  StarOp = ESC<<8 | 'I' // ESC I n: feed n/8 mm
	StarOpReverseFeed   StarOp = ESC<<8 | 'j' // ESC j n: reverse feed (ignored by thermal printers)
	StarOpPageLength    StarOp = ESC<<8 | 'C' // ESC C n / ESC C NUL n: page length in lines / inches
	StarOpVTabs         StarOp = ESC<<8 | 'B' // ESC B n1…nk NUL: vertical tab positions
	StarOpBottomMargin  StarOp = ESC<<8 | 'N' // ESC N n: bottom margin
	StarOpBottomOff     StarOp = ESC<<8 | 'O' // ESC O: cancel bottom margin

	// Horizontal position.
	StarOpLeftMargin  StarOp = ESC<<8 | 'l'          // ESC l n: left margin, n characters
	StarOpRightMargin StarOp = ESC<<8 | 'Q'          // ESC Q n: right margin, n characters from the left edge
	StarOpTabs        StarOp = ESC<<8 | 'D'          // ESC D n1…nk NUL: horizontal tab positions (characters)
	StarOpAbsPos      StarOp = ESC<<16 | GS<<8 | 'A' // ESC GS A n1 n2: absolute position in dots
	StarOpRelPos      StarOp = ESC<<16 | GS<<8 | 'R' // ESC GS R n1 n2: relative position in dots
	StarOpAlign       StarOp = ESC<<16 | GS<<8 | 'a' // ESC GS a n: 0 left, 1 centre, 2 right

	// Bit images and logos.
	StarOpBitImage   StarOp = ESC<<8 | 'K'          // ESC K n1 n2 d…: 8-dot columns, each dot 3×3
	StarOpBitImageHi StarOp = ESC<<8 | 'L'          // ESC L n1 n2 d…: 8-dot columns, each dot 1 wide 3 high
	StarOpFineImage  StarOp = ESC<<8 | 'k'          // ESC k n1 n2 d…: 24 rows of n1+n2×256 bytes
	StarOpBitImage24 StarOp = ESC<<8 | 'X'          // ESC X n1 n2 d…: 24-dot columns (3 bytes each)
	StarOpLogoDefine StarOp = ESC<<16 | FS<<8 | 'q' // ESC FS q n [xL xH yL yH d…]…: define logos
	StarOpLogoPrint  StarOp = ESC<<16 | FS<<8 | 'p' // ESC FS p n m: print a logo

	// Bar codes, cutter, external devices.
	StarOpBarcode       StarOp = ESC<<8 | 'b'                           // ESC b n1 n2 n3 n4 d… RS
	StarOpCut           StarOp = ESC<<8 | 'd'                           // ESC d n: 0/1 full/partial cut here, 2/3 after feeding to the cutter
	StarOpPulseWidth    StarOp = ESC<<8 | starBEL                       // ESC BEL n1 n2: external device 1 pulse (10 ms units)
	StarOpBuzzer        StarOp = ESC<<16 | GS<<8 | starBEL              // ESC GS BEL m t1 t2: ring buzzer
	StarOpBuzzerSet     StarOp = ESC<<24 | GS<<16 | starEM<<8 | starDC1 // ESC GS EM DC1 m n1 n2: buzzer pulse condition
	StarOpBuzzerRun     StarOp = ESC<<24 | GS<<16 | starEM<<8 | starDC2 // ESC GS EM DC2 m n1 n2: ring the buzzer n1+n2×256 times
	StarOpQRSet         StarOp = ESC<<24 | GS<<16 | 'y'<<8 | 'S'        // ESC GS y S a n: QR model (a = 0), ECC (1), cell size (2)
	StarOpQRData        StarOp = ESC<<24 | GS<<16 | 'y'<<8 | 'D'        // ESC GS y D 1 m nL nH d…: QR data, automatic analysis
	StarOpQRPrint       StarOp = ESC<<24 | GS<<16 | 'y'<<8 | 'P'        // ESC GS y P: print the QR code
	StarOpQRInfo        StarOp = ESC<<24 | GS<<16 | 'y'<<8 | 'I'        // ESC GS y I: QR expansion information
	StarOpPDF417Set     StarOp = ESC<<24 | GS<<16 | 'x'<<8 | 'S'        // ESC GS x S a n [p1 p2]: PDF417 settings
	StarOpPDF417Data    StarOp = ESC<<24 | GS<<16 | 'x'<<8 | 'D'        // ESC GS x D nL nH d…: PDF417 data
	StarOpPDF417Print   StarOp = ESC<<24 | GS<<16 | 'x'<<8 | 'P'        // ESC GS x P: print the PDF417 symbol
	StarOpPDF417Info    StarOp = ESC<<24 | GS<<16 | 'x'<<8 | 'I'        // ESC GS x I: PDF417 expansion information
	StarOpASB           StarOp = ESC<<16 | RS<<8 | 'a'                  // ESC RS a n: automatic status back conditions
	StarOpStatus        StarOp = ESC<<8 | starACK                       // ESC ACK SOH: inquire automatic status
	StarOpETBClear      StarOp = ESC<<16 | RS<<8 | 'E'                  // ESC RS E n: clear ETB counter
	StarOpStatusETX     StarOp = ESC<<16 | GS<<8 | starETX              // ESC GS ETX s n1 n2: status transmission
	StarOpPrintArea     StarOp = ESC<<16 | RS<<8 | 'A'                  // ESC RS A n: print region
	StarOpDensity       StarOp = ESC<<16 | RS<<8 | 'd'                  // ESC RS d n: print density
	StarOpSpeed         StarOp = ESC<<16 | RS<<8 | 'r'                  // ESC RS r n: print speed
	StarOpInit          StarOp = ESC<<8 | '@'                           // ESC @: command initialisation
	StarOpReset         StarOp = ESC<<8 | '?'                           // ESC ? LF NUL: reset the printer
	StarOpMemSwitch     StarOp = ESC<<16 | GS<<8 | '#'                  // ESC GS # m N n1 n2 n3 n4 LF NUL: memory switch
	StarOpRasterFF      StarOp = ESC<<16 | FF<<8 | NUL                  // ESC FF NUL: execute FF mode (raster)
	StarOpRasterEOT     StarOp = ESC<<16 | FF<<8 | EOT                  // ESC FF EOT: execute EOT mode (raster)
	StarOpRasterRow     StarOp = 'b'                                    // b n1 n2 d…: raster row, then feed one dot row
	StarOpRasterDots    StarOp = 'k'                                    // k n1 n2 d…: raster data without a line feed
	starOpRaster        StarOp = ESC<<16 | '*'<<8 | 'r'                 // ESC * r x …
	StarOpRasterInit    StarOp = starOpRaster<<8 | 'R'                  // ESC * r R: initialise raster mode
	StarOpRasterEnter   StarOp = starOpRaster<<8 | 'A'                  // ESC * r A: enter raster mode
	StarOpRasterQuit    StarOp = starOpRaster<<8 | 'B'                  // ESC * r B: quit raster mode
	StarOpRasterClear   StarOp = starOpRaster<<8 | 'C'                  // ESC * r C: clear raster data
	StarOpRasterDrawer  StarOp = starOpRaster<<8 | 'D'                  // ESC * r D n NUL: drawer drive
	StarOpRasterEOTMode StarOp = starOpRaster<<8 | 'E'                  // ESC * r E n NUL: EOT mode
	StarOpRasterFFMode  StarOp = starOpRaster<<8 | 'F'                  // ESC * r F n NUL: FF mode
	StarOpRasterPage    StarOp = starOpRaster<<8 | 'P'                  // ESC * r P n NUL: page length (0: continuous)
	StarOpRasterQuality StarOp = starOpRaster<<8 | 'Q'                  // ESC * r Q n NUL: print quality
	StarOpRasterMargin  StarOp = starOpRaster<<8 | 'm'                  // ESC * r m l|r n NUL: left or right margin, n×8 dots
	StarOpRasterTop     StarOp = starOpRaster<<8 | 'T'                  // ESC * r T n NUL: top margin
	StarOpRasterColor   StarOp = starOpRaster<<8 | 'K'                  // ESC * r K n NUL: print colour
	StarOpRasterFeed    StarOp = starOpRaster<<8 | 'Y'                  // ESC * r Y n NUL: feed n dot rows
	StarOpRasterDiscard StarOp = starOpRaster<<8 | 'N'                  // ESC * r N n NUL d1…dn: discard n bytes
	StarOpRasterBuzzer  StarOp = starOpRaster<<8 | 'V'                  // ESC * r V m n NUL: ring buzzer m n times
)

// Limits used while decoding Star Line Mode.
const (
	starMaxParam   = 255  // digits of an ESC * r parameter ("max. 255 digits")
	starMaxBarcode = 255  // ESC b data bytes before the RS
	starMaxTabs    = 32   // ESC D and ESC B positions before the NUL
	starMaxDiscard = 9999 // ESC * r N: at most 4 digits
)

// A StarCommand is one decoded element of a Star Line Mode byte stream.
// Like Command, its slices are sub-slices of the input, never copies sized
// by a length field.
type StarCommand struct {
	Kind Kind
	// Op identifies the command (the control byte for KindControl; zero for
	// text; the first byte for a run of unknown bytes in raster mode).
	Op StarOp
	// Args holds the parameters after the command bytes: n of ESC GS a n;
	// n1 n2 n3 n4 of ESC b; a n of ESC GS y S; 1 m nL nH of ESC GS y D; n1
	// n2 of a raster row; and the text between the command letter and the
	// NUL of the ESC * r commands ("0" of ESC * r P 0 NUL, "l12" of
	// ESC * r m l 12 NUL, "12" of ESC * r V 1 2 NUL).
	Args []byte
	// Data holds the variable part: text, bar code data (without the RS),
	// QR and PDF417 data, bit image and raster row bytes, tab positions,
	// the bytes ESC * r N discards, and the bytes of an unknown run.
	Data []byte
	// Raw is the whole command as it appeared in the input.
	Raw []byte
	// Skipped is, for a command longer than a StarDecoder's MaxCommand, how
	// many declared bytes were discarded after Data.
	Skipped int64
}

// Arg returns the i-th parameter, or 0 when there is none.
func (c *StarCommand) Arg(i int) byte {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return 0
}

// String describes c for logs and warnings: `ESC GS a 1`,
// `ESC * r P "0"`, `b 72 0 +72 bytes`, `text "abc"`.
func (c StarCommand) String() string {
	switch c.Kind {
	case KindText:
		s := string(c.Data)
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return fmt.Sprintf("text %q", s)
	case KindControl:
		return c.Op.String()
	}
	var sb strings.Builder
	sb.WriteString(c.Op.String())
	switch {
	case c.Op>>8 == starOpRaster && len(c.Args) > 0:
		fmt.Fprintf(&sb, " %q", c.Args)
	case len(c.Args) <= 4:
		for _, a := range c.Args {
			fmt.Fprintf(&sb, " %d", a)
		}
	default:
		fmt.Fprintf(&sb, " (%d parameter bytes)", len(c.Args))
	}
	if len(c.Data) > 0 {
		fmt.Fprintf(&sb, " +%d bytes", len(c.Data))
	}
	if c.Skipped > 0 {
		fmt.Fprintf(&sb, " (+%d skipped)", c.Skipped)
	}
	switch c.Kind {
	case KindUnknown:
		sb.WriteString(" (unknown)")
	case KindInvalid:
		sb.WriteString(" (invalid)")
	case KindTruncated:
		sb.WriteString(" (truncated)")
	}
	return sb.String()
}

// StarNumber parses the ASCII decimal parameter of an ESC * r command
// ("max. 255 digits"). It reports false for an empty string or a non-digit;
// values beyond 1e9 are capped there.
func StarNumber(s []byte) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1e9 {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, 1e9), true
}

// StarNext decodes the Star Line Mode command at the start of b, in raster
// mode when raster is set, and returns it with its length n, in the manner
// of Next: n is 0 when b holds only the start of a command and atEOF is
// false; at EOF an incomplete command is KindTruncated with n = len(b). It
// never reads past b and never allocates. The caller follows the mode:
// after a KindCommand ESC * r A in line mode the next command is decoded in
// raster mode, after ESC * r B in raster mode in line mode (StarMode).
func StarNext(b []byte, atEOF, raster bool) (cmd StarCommand, n int) {
	r := starSplit(b, raster)
	if r.n > 0 {
		return r.cmd, r.n
	}
	if len(b) == 0 || !atEOF {
		return StarCommand{}, 0
	}
	return starTruncated(b, r), len(b)
}

// StarMode returns the mode after c, for a command decoded in raster mode
// when raster is set: ESC * r A enters raster mode, ESC * r B quits it.
func StarMode(c *StarCommand, raster bool) bool {
	if c.Kind == KindCommand {
		switch c.Op {
		case StarOpRasterEnter:
			return true
		case StarOpRasterQuit:
			return false
		}
	}
	return raster
}

// StarAll decodes the whole of b, which is taken to be complete, starting in
// raster mode when raster is set and following the mode changes; an
// incomplete command at the end is yielded as KindTruncated.
func StarAll(b []byte, raster bool) iter.Seq[StarCommand] {
	return func(yield func(StarCommand) bool) {
		for len(b) > 0 {
			cmd, n := StarNext(b, true, raster)
			if !yield(cmd) {
				return
			}
			raster = StarMode(&cmd, raster)
			b = b[n:]
		}
	}
}

func starTruncated(b []byte, r starResult) StarCommand {
	c := r.cmd
	c.Kind = KindTruncated
	c.Raw = b
	if r.hdr > 0 && r.hdr <= len(b) {
		c.Data = b[r.hdr:]
		return c
	}
	c.Args, c.Data = nil, nil
	if c.Op == 0 {
		switch {
		case len(b) >= 2:
			c.Op = starOp(b[0], b[1])
		case len(b) == 1:
			c.Op = StarOp(b[0])
		}
	}
	return c
}

// starResult is the outcome of starSplit, as decResult is of decSplit.
type starResult = splitResult[StarCommand]

// starFixedESC, starFixedGS and starFixedRS give the number of fixed
// parameter bytes of ESC x, ESC GS x and ESC RS x in line mode; -1 means
// unknown and -2 a command decoded specially.
var starFixedESC, starFixedGS, starFixedRS [256]int8

func init() {
	for i := range 256 {
		starFixedESC[i], starFixedGS[i], starFixedRS[i] = -1, -1, -1
	}
	for c, n := range map[byte]int8{
		'@': 0, 'E': 0, 'F': 0, '4': 0, '5': 0, '0': 0, '1': 0, 'M': 0, 'P': 0, ':': 0, 'g': 0,
		'O': 0, 'p': 0, 'q': 0, starSO: 0, DC4: 0,
		'-': 1, '_': 1, 'W': 1, 'h': 1, 'R': 1, '/': 1, ' ': 1, 'a': 1, 'z': 1, '3': 1, 'y': 1,
		'J': 1, 'j': 1, 'I': 1, 'l': 1, 'Q': 1, 'N': 1, 'd': 1, '%': 1, '$': 1, starACK: 1,
		'i': 2, 's': 2, 't': 2, starBEL: 2,
		RS: -2, GS: -2, FS: -2, '*': -2, 'b': -2, 'D': -2, 'B': -2, 'C': -2, 'K': -2, 'L': -2,
		'k': -2, 'X': -2, '&': -2, '?': -2, FF: -2,
	} {
		starFixedESC[c] = n
	}
	for c, n := range map[byte]int8{
		't': 1, 'a': 1, 'A': 2, 'R': 2, starBEL: 3, starETX: 3, '#': 8,
		starEM: -2, 'y': -2, 'x': -2,
	} {
		starFixedGS[c] = n
	}
	for _, c := range []byte{'F', 'a', 'E', 'A', 'd', 'r', 'c', 'C', 'i'} {
		starFixedRS[c] = 1
	}
}

// starRasterESC lists the ESC x that raster mode knows, besides ESC * r
// and ESC FF: the external device, status and setting commands that the
// Star Graphic Mode specification lists beside the raster commands.
var starRasterESC = [256]bool{starBEL: true, starACK: true, RS: true, GS: true, '?': true, '*': true, FF: true}

// starSplit decodes the first command of b.
func starSplit(b []byte, raster bool) starResult {
	if len(b) == 0 {
		return starResult{need: 1}
	}
	c := b[0]
	if raster {
		switch {
		case c == 'b' || c == 'k':
			// b n1 n2 d1…dk, k n1 n2 d1…dk: k = n1 + n2×256.
			if len(b) < 3 {
				return starResult{need: 3}
			}
			return starPayload(b, StarOp(c), 1, 3, int64(decLE16(b[1:])))
		case c == ESC:
			if len(b) < 2 {
				return starResult{need: 2}
			}
			if !starRasterESC[b[1]] {
				return starUnknown(b, 2)
			}
		case c < 0x20:
			return starResult{cmd: StarCommand{Kind: KindControl, Op: StarOp(c), Raw: b[:1]}, n: 1}
		default:
			// Bytes that start no raster command, such as text sent in
			// raster mode: one unknown run, up to the next byte that
			// could start a command.
			i := 1
			for i < len(b) && b[i] >= 0x20 && b[i] != 'b' && b[i] != 'k' {
				i++
			}
			return starResult{cmd: StarCommand{Kind: KindUnknown, Op: StarOp(c), Data: b[:i], Raw: b[:i]}, n: i}
		}
	} else {
		if c >= 0x20 {
			i := 1
			for i < len(b) && b[i] >= 0x20 {
				i++
			}
			return starResult{cmd: StarCommand{Kind: KindText, Data: b[:i], Raw: b[:i]}, n: i}
		}
		if c != ESC {
			return starResult{cmd: StarCommand{Kind: KindControl, Op: StarOp(c), Raw: b[:1]}, n: 1}
		}
		if len(b) < 2 {
			return starResult{need: 2}
		}
	}
	x := b[1]
	if f := starFixedESC[x]; f >= 0 {
		return starFixed(b, starOp(ESC, x), 2, int(f))
	}
	switch x {
	case RS:
		if len(b) < 3 {
			return starResult{need: 3}
		}
		if starFixedRS[b[2]] > 0 {
			return starFixed(b, starOp(ESC, RS, b[2]), 3, 1)
		}
		return starUnknown(b, 3)
	case GS:
		return starGS(b)
	case FS:
		if len(b) < 3 {
			return starResult{need: 3}
		}
		switch b[2] {
		case 'p':
			return starFixed(b, StarOpLogoPrint, 3, 2)
		case 'q':
			return starLogos(b)
		}
		return starUnknown(b, 3)
	case '*':
		return starRasterParam(b)
	case FF:
		if len(b) < 3 {
			return starResult{need: 3}
		}
		if b[2] == NUL || b[2] == EOT {
			return starFixed(b, starOp(ESC, FF, b[2]), 3, 0)
		}
		return starUnknown(b, 2)
	case '?':
		// ESC ? LF NUL
		if len(b) < 4 {
			return starResult{need: 4}
		}
		if b[2] != LF || b[3] != NUL {
			return starInvalid(b, StarOpReset, 2, 2)
		}
		return starFixed(b, StarOpReset, 2, 2)
	case 'b':
		return starBarcode(b)
	case 'D', 'B':
		return starTabs(b, starOp(ESC, x))
	case 'C':
		// ESC C n (lines) or ESC C NUL n (inches).
		if len(b) < 3 {
			return starResult{need: 3}
		}
		if b[2] == NUL {
			return starFixed(b, StarOpPageLength, 2, 2)
		}
		return starFixed(b, StarOpPageLength, 2, 1)
	case 'K', 'L':
		if len(b) < 4 {
			return starResult{need: 4}
		}
		return starPayload(b, starOp(ESC, x), 2, 4, int64(decLE16(b[2:])))
	case 'k':
		if len(b) < 4 {
			return starResult{need: 4}
		}
		return starPayload(b, StarOpFineImage, 2, 4, int64(decLE16(b[2:]))*24)
	case 'X':
		if len(b) < 4 {
			return starResult{need: 4}
		}
		return starPayload(b, StarOpBitImage24, 2, 4, int64(decLE16(b[2:]))*3)
	case '&':
		// ESC & 1 1 n d1…d48 defines a download character, ESC & 1 0 n
		// deletes one.
		if len(b) < 5 {
			return starResult{need: 5}
		}
		if b[2] != 1 && b[2] != '1' {
			return starInvalid(b, StarOpDefineChars, 2, 3)
		}
		switch b[3] {
		case 1, '1':
			return starPayload(b, StarOpDefineChars, 2, 5, 48)
		case 0, '0':
			return starFixed(b, StarOpDefineChars, 2, 3)
		}
		return starInvalid(b, StarOpDefineChars, 2, 4)
	}
	return starUnknown(b, 2)
}

// starGS decodes ESC GS x.
func starGS(b []byte) starResult {
	if len(b) < 3 {
		return starResult{need: 3}
	}
	x := b[2]
	if f := starFixedGS[x]; f >= 0 {
		return starFixed(b, starOp(ESC, GS, x), 3, int(f))
	}
	if x != starEM && x != 'y' && x != 'x' {
		return starUnknown(b, 3)
	}
	if len(b) < 4 {
		return starResult{need: 4}
	}
	y := b[3]
	switch x {
	case starEM:
		if y == starDC1 || y == starDC2 {
			return starFixed(b, starOp(ESC, GS, starEM, y), 4, 3)
		}
	case 'y':
		switch y {
		case 'S':
			// ESC GS y S 0 n (model), 1 n (ECC), 2 n (cell size).
			if len(b) < 5 {
				return starResult{need: 5}
			}
			switch b[4] {
			case '0', '1', '2', 0, 1, 2:
				return starFixed(b, StarOpQRSet, 4, 2)
			}
			return starInvalid(b, StarOpQRSet, 4, 5)
		case 'D':
			// ESC GS y D 1 m nL nH d1…dk: data with automatic analysis.
			// (D 2, the manual setting, is not decoded.)
			if len(b) < 5 {
				return starResult{need: 5}
			}
			if b[4] != '1' && b[4] != 1 {
				return starInvalid(b, StarOpQRData, 4, 5)
			}
			if len(b) < 8 {
				return starResult{need: 8}
			}
			return starPayload(b, StarOpQRData, 4, 8, int64(decLE16(b[6:])))
		case 'P', 'I':
			return starFixed(b, starOp(ESC, GS, 'y', y), 4, 0)
		}
	case 'x':
		switch y {
		case 'S':
			// ESC GS x S 0 n p1 p2 (size), S 1 n (ECC), S 2 n (module
			// width), S 3 n (aspect ratio).
			if len(b) < 5 {
				return starResult{need: 5}
			}
			switch b[4] {
			case '0', 0:
				return starFixed(b, StarOpPDF417Set, 4, 4)
			case '1', '2', '3', 1, 2, 3:
				return starFixed(b, StarOpPDF417Set, 4, 2)
			}
			return starInvalid(b, StarOpPDF417Set, 4, 5)
		case 'D':
			if len(b) < 6 {
				return starResult{need: 6}
			}
			return starPayload(b, StarOpPDF417Data, 4, 6, int64(decLE16(b[4:])))
		case 'P', 'I':
			return starFixed(b, starOp(ESC, GS, 'x', y), 4, 0)
		}
	}
	return starUnknown(b, 4)
}

// starRasterParam decodes ESC * r x [n NUL]: the raster commands, whose
// parameter is a decimal number in ASCII ended by NUL.
func starRasterParam(b []byte) starResult {
	if len(b) < 3 {
		return starResult{need: 3}
	}
	if b[2] != 'r' {
		return starUnknown(b, 2)
	}
	if len(b) < 4 {
		return starResult{need: 4}
	}
	o := starOpRaster<<8 | StarOp(b[3])
	switch b[3] {
	case 'A', 'B', 'C', 'R':
		return starFixed(b, o, 4, 0)
	case 'D', 'E', 'F', 'P', 'Q', 'T', 'K', 'Y', 'V', 'm', 'N':
	default:
		return starUnknown(b, 4)
	}
	if b[3] == 'm' {
		if len(b) < 5 {
			return starResult{need: 5}
		}
		if b[4] != 'l' && b[4] != 'r' {
			return starInvalid(b, o, 4, 5)
		}
	}
	// The parameter runs to the NUL.
	const s = 4
	for i := s; i < len(b); i++ {
		if b[i] == NUL {
			r := starResult{cmd: StarCommand{Kind: KindCommand, Op: o, Args: b[s:i], Raw: b[:i+1]}, n: i + 1}
			if o != StarOpRasterDiscard {
				return r
			}
			// ESC * r N n NUL d1…dn: the n bytes after it are discarded.
			k, ok := StarNumber(b[s:i])
			if !ok || k > starMaxDiscard {
				r.cmd.Kind = KindInvalid
				return r
			}
			p := starPayload(b, o, s, i+1, int64(k))
			p.cmd.Args = b[s:i]
			return p
		}
		if i-s >= starMaxParam {
			return starInvalid(b, o, 4, 4)
		}
	}
	return starResult{need: int64(len(b)) + 1, hdr: s, cmd: StarCommand{Kind: KindCommand, Op: o}}
}

// starBarcode decodes ESC b n1 n2 n3 n4 d1…dk RS.
func starBarcode(b []byte) starResult {
	const hdr = 6
	if len(b) < hdr {
		return starResult{need: hdr}
	}
	for i := hdr; i < len(b); i++ {
		if b[i] == RS {
			return starResult{cmd: StarCommand{Kind: KindCommand, Op: StarOpBarcode, Args: b[2:hdr], Data: b[hdr:i], Raw: b[:i+1]}, n: i + 1}
		}
		if i-hdr >= starMaxBarcode {
			return starInvalid(b, StarOpBarcode, 2, hdr)
		}
	}
	return starResult{need: int64(len(b)) + 1, hdr: hdr, cmd: StarCommand{Kind: KindCommand, Op: StarOpBarcode, Args: b[2:hdr]}}
}

// starTabs decodes ESC D n1…nk NUL and ESC B n1…nk NUL. After starMaxTabs
// positions the command ends even without a NUL.
func starTabs(b []byte, o StarOp) starResult {
	for i := 2; i < len(b) && i < 2+starMaxTabs; i++ {
		if b[i] == NUL {
			return starResult{cmd: StarCommand{Kind: KindCommand, Op: o, Data: b[2:i], Raw: b[:i+1]}, n: i + 1}
		}
	}
	end := 2 + starMaxTabs
	if len(b) <= end {
		return starResult{need: int64(len(b)) + 1, hdr: 2, cmd: StarCommand{Kind: KindCommand, Op: o}}
	}
	n := end
	if b[end] == NUL {
		n++
	}
	return starResult{cmd: StarCommand{Kind: KindCommand, Op: o, Data: b[2:end], Raw: b[:n]}, n: n}
}

// starLogos decodes ESC FS q n [xL xH yL yH d1…d(x×y×8)]…, n logos.
func starLogos(b []byte) starResult {
	if len(b) < 4 {
		return starResult{need: 4}
	}
	hdr := StarCommand{Kind: KindCommand, Op: StarOpLogoDefine, Args: b[3:4]}
	pos := int64(4)
	for range int(b[3]) {
		if int64(len(b)) < pos+4 {
			return starResult{cmd: hdr, need: pos + 4, hdr: 4}
		}
		p := int(pos)
		pos += 4 + int64(decLE16(b[p:]))*int64(decLE16(b[p+2:]))*8
	}
	return starPayload(b, StarOpLogoDefine, 3, 4, pos-4)
}

// starFixed decodes a command of opLen command bytes and nargs parameters.
func starFixed(b []byte, o StarOp, opLen, nargs int) starResult {
	n := opLen + nargs
	if len(b) < n {
		return starResult{need: int64(n)}
	}
	return starResult{cmd: StarCommand{Kind: KindCommand, Op: o, Args: b[opLen:n], Raw: b[:n]}, n: n}
}

// starPayload decodes a command whose header (command bytes and Args) is
// hdr bytes long and is followed by k data bytes.
func starPayload(b []byte, o StarOp, opLen, hdr int, k int64) starResult {
	cmd := StarCommand{Kind: KindCommand, Op: o, Args: b[opLen:hdr]}
	total := int64(hdr) + k
	if int64(len(b)) < total {
		return starResult{cmd: cmd, need: total, hdr: hdr}
	}
	n := int(total)
	cmd.Data, cmd.Raw = b[hdr:n], b[:n]
	return starResult{cmd: cmd, n: n}
}

// starUnknown decodes n bytes of an unrecognised command.
func starUnknown(b []byte, n int) starResult {
	if len(b) < n {
		return starResult{need: int64(n)}
	}
	return starResult{cmd: StarCommand{Kind: KindUnknown, Op: starOp(b[:n]...), Raw: b[:n]}, n: n}
}

// starInvalid decodes a recognised command's first n bytes as KindInvalid:
// what follows is decoded as new input.
func starInvalid(b []byte, o StarOp, opLen, n int) starResult {
	if len(b) < n {
		return starResult{need: int64(n)}
	}
	return starResult{cmd: StarCommand{Kind: KindInvalid, Op: o, Args: b[opLen:n], Raw: b[:n]}, n: n}
}
