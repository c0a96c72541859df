package escpos

import (
	"fmt"
	"iter"
	"strings"
)

// Kind classifies a decoded Command.
type Kind uint8

// The kinds of Command.
const (
	// KindText is a run of printable bytes (0x20–0xFF) in Data, still in the
	// printer's code page.
	KindText Kind = iota + 1
	// KindControl is one control byte (LF, CR, HT, FF, CAN, NUL…); Op is the byte.
	KindControl
	// KindCommand is a recognised ESC, GS, FS or DLE command.
	KindCommand
	// KindUnknown is a command this decoder does not know. It spans the
	// prefix and the next byte, or for the GS ( x family the declared length.
	KindUnknown
	// KindInvalid is a recognised command whose parameters are out of range
	// (GS k function A without NUL within 255 bytes, an undefined GS k m). It
	// spans the command bytes and its fixed parameters; what follows is
	// decoded as new input, as a printer would.
	KindInvalid
	// KindTruncated is the end of input inside a command. Op, Args and the
	// part of Data that arrived are set when the header was complete.
	KindTruncated
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindControl:
		return "control"
	case KindCommand:
		return "command"
	case KindUnknown:
		return "unknown"
	case KindInvalid:
		return "invalid"
	case KindTruncated:
		return "truncated"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// An Op identifies a command by its command bytes, packed big-endian: ESC @ is
// 0x1b40, GS ( k is 0x1d286b, LF is 0x0a. Parameters are not part of the Op.
type Op uint32

// op packs command bytes into an Op.
func decOp(b ...byte) Op {
	var o Op
	for _, c := range b {
		o = o<<8 | Op(c)
	}
	return o
}

// Bytes returns the command bytes of o.
func (o Op) Bytes() []byte {
	switch {
	case o > 0xffff:
		return []byte{byte(o >> 16), byte(o >> 8), byte(o)}
	case o > 0xff:
		return []byte{byte(o >> 8), byte(o)}
	}
	return []byte{byte(o)}
}

var decCtlNames = [32]string{
	"NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR", "SO", "SI",
	"DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US",
}

// String returns the mnemonic of o as the manuals write it: "ESC @",
// "GS ( k", "GS v 0", "DLE EOT", "LF".
func (o Op) String() string {
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

// Commands the sim and other users switch on. Every command the decoder
// recognises has an Op; these are the ones with names.
const (
	OpHT  Op = HT
	OpLF  Op = LF
	OpFF  Op = FF
	OpCR  Op = CR
	OpCAN Op = CAN

	OpStatus    Op = DLE<<8 | EOT // DLE EOT n: real-time status transmission
	OpRTRequest Op = DLE<<8 | ENQ // DLE ENQ n: real-time request (recover, clear buffer)
	OpRTCommand Op = DLE<<8 | DC4 // DLE DC4 fn …: real-time pulse, power off, clear buffer…

	OpPrintPage       Op = ESC<<8 | FF   // ESC FF: print data in page mode
	OpCharSpacing     Op = ESC<<8 | ' '  // ESC SP n: right-side character spacing
	OpPrintMode       Op = ESC<<8 | '!'  // ESC ! n: font, emphasis, double height/width, underline
	OpAbsPos          Op = ESC<<8 | '$'  // ESC $ nL nH: absolute print position
	OpUserCharsSelect Op = ESC<<8 | '%'  // ESC % n: user-defined character set on/off
	OpUserCharsDefine Op = ESC<<8 | '&'  // ESC & y c1 c2 …: define user-defined characters
	OpBitImage        Op = ESC<<8 | '*'  // ESC * m nL nH d…: bit image (8/24-dot columns)
	OpUnderline       Op = ESC<<8 | '-'  // ESC - n: underline 0, 1 or 2 dots
	OpLineSpacingStd  Op = ESC<<8 | '2'  // ESC 2: default line spacing
	OpLineSpacing     Op = ESC<<8 | '3'  // ESC 3 n: line spacing n dots
	OpReturnHome      Op = ESC<<8 | '<'  // ESC <: return home
	OpPeripheral      Op = ESC<<8 | '='  // ESC = n: select peripheral device
	OpUserCharsCancel Op = ESC<<8 | '?'  // ESC ? n: cancel a user-defined character
	OpInit            Op = ESC<<8 | '@'  // ESC @: initialise
	OpBuzzer          Op = ESC<<8 | 'B'  // ESC B n t: buzzer (clones, TM-U220)
	OpTabs            Op = ESC<<8 | 'D'  // ESC D n… NUL: horizontal tab positions
	OpEmphasis        Op = ESC<<8 | 'E'  // ESC E n: emphasised (bold)
	OpDoubleStrike    Op = ESC<<8 | 'G'  // ESC G n: double-strike
	OpFeedDots        Op = ESC<<8 | 'J'  // ESC J n: print and feed n dots
	OpReverseDots     Op = ESC<<8 | 'K'  // ESC K n: print and reverse feed n dots
	OpPageMode        Op = ESC<<8 | 'L'  // ESC L: select page mode
	OpFont            Op = ESC<<8 | 'M'  // ESC M n: font A, B (C…)
	OpIntlCharset     Op = ESC<<8 | 'R'  // ESC R n: international character set
	OpStandardMode    Op = ESC<<8 | 'S'  // ESC S: select standard mode
	OpPageDirection   Op = ESC<<8 | 'T'  // ESC T n: print direction in page mode
	OpUnidirectional  Op = ESC<<8 | 'U'  // ESC U n: unidirectional printing
	OpRotate90        Op = ESC<<8 | 'V'  // ESC V n: 90° clockwise rotation
	OpPageArea        Op = ESC<<8 | 'W'  // ESC W …: print area in page mode
	OpRelPos          Op = ESC<<8 | '\\' // ESC \ nL nH: relative print position
	OpAlign           Op = ESC<<8 | 'a'  // ESC a n: justification
	OpFeedLines       Op = ESC<<8 | 'd'  // ESC d n: print and feed n lines
	OpReverseLines    Op = ESC<<8 | 'e'  // ESC e n: print and reverse feed n lines
	OpCutOnePoint     Op = ESC<<8 | 'i'  // ESC i: partial cut (obsolete)
	OpCutThreePoint   Op = ESC<<8 | 'm'  // ESC m: partial cut (obsolete)
	OpPulse           Op = ESC<<8 | 'p'  // ESC p m t1 t2: drawer kick pulse
	OpColor           Op = ESC<<8 | 'r'  // ESC r n: print colour
	OpCodePage        Op = ESC<<8 | 't'  // ESC t n: character code table
	OpDrawerStatus    Op = ESC<<8 | 'u'  // ESC u n: transmit peripheral status
	OpPaperStatus     Op = ESC<<8 | 'v'  // ESC v: transmit paper sensor status
	OpUpsideDown      Op = ESC<<8 | '{'  // ESC { n: upside-down printing
	OpSensorCut       Op = ESC<<16 | 'c'<<8 | '0'
	OpSensorPaperOut  Op = ESC<<16 | 'c'<<8 | '3' // ESC c 3 n: paper sensors that signal paper end
	OpSensorStop      Op = ESC<<16 | 'c'<<8 | '4' // ESC c 4 n: paper sensors that stop printing
	OpPanelButtons    Op = ESC<<16 | 'c'<<8 | '5' // ESC c 5 n: panel buttons on/off
	OpBeeper          Op = ESC<<16 | '('<<8 | 'A' // ESC ( A …: beeper (TM-m30, TM-T88VI)

	OpKanjiMode      Op = FS<<8 | '!'           // FS ! n: Kanji print mode
	OpKanjiOn        Op = FS<<8 | '&'           // FS &: select Kanji character mode
	OpKanjiUnderline Op = FS<<8 | '-'           // FS - n: Kanji underline
	OpKanjiOff       Op = FS<<8 | '.'           // FS .: cancel Kanji character mode
	OpKanjiDefine    Op = FS<<8 | '2'           // FS 2 c1 c2 d1…d72: define user Kanji
	OpKanjiCode      Op = FS<<8 | 'C'           // FS C n: Kanji code system
	OpKanjiSpacing   Op = FS<<8 | 'S'           // FS S n1 n2: Kanji character spacing
	OpKanjiQuad      Op = FS<<8 | 'W'           // FS W n: Kanji quadruple size
	OpNVImagePrint   Op = FS<<8 | 'p'           // FS p n m: print NV bit image (obsolete)
	OpNVImageDefine  Op = FS<<8 | 'q'           // FS q n …: define NV bit images (obsolete)
	OpFSFuncA        Op = FS<<16 | '('<<8 | 'A' // FS ( A: Kanji character style

	OpCharSize       Op = GS<<8 | '!'           // GS ! n: character width and height 1–8
	OpAbsVertPos     Op = GS<<8 | '$'           // GS $ nL nH: absolute vertical position (page mode)
	OpDefineImage    Op = GS<<8 | '*'           // GS * x y d…: define downloaded bit image
	OpPrintImage     Op = GS<<8 | '/'           // GS / m: print downloaded bit image
	OpMacro          Op = GS<<8 | ':'           // GS :: start/end macro definition
	OpReverse        Op = GS<<8 | 'B'           // GS B n: white/black reverse
	OpHeadControl    Op = GS<<8 | 'E'           // GS E n: print speed/density (some)
	OpHRIPosition    Op = GS<<8 | 'H'           // GS H n: HRI position
	OpPrinterID      Op = GS<<8 | 'I'           // GS I n: transmit printer ID
	OpLeftMargin     Op = GS<<8 | 'L'           // GS L nL nH: left margin
	OpMotionUnits    Op = GS<<8 | 'P'           // GS P x y: motion units
	OpLineStart      Op = GS<<8 | 'T'           // GS T n: print position to the beginning of the line
	OpCut            Op = GS<<8 | 'V'           // GS V m [n]: cut
	OpAreaWidth      Op = GS<<8 | 'W'           // GS W nL nH: print area width
	OpRelVertPos     Op = GS<<8 | '\\'          // GS \ nL nH: relative vertical position (page mode)
	OpMacroExec      Op = GS<<8 | '^'           // GS ^ r t m: execute macro
	OpASB            Op = GS<<8 | 'a'           // GS a n: automatic status back
	OpSmoothing      Op = GS<<8 | 'b'           // GS b n: smoothing
	OpPrintCounter   Op = GS<<8 | 'c'           // GS c: print counter
	OpHRIFont        Op = GS<<8 | 'f'           // GS f n: HRI font
	OpMaintenance    Op = GS<<8 | 'g'           // GS g 0|2 m nL nH: maintenance counter
	OpBarcodeHeight  Op = GS<<8 | 'h'           // GS h n: barcode height
	OpBarcode        Op = GS<<8 | 'k'           // GS k m …: print barcode (function A: NUL-terminated; B: length)
	OpTransmitStatus Op = GS<<8 | 'r'           // GS r n: transmit status
	OpBarcodeWidth   Op = GS<<8 | 'w'           // GS w n: barcode module width
	OpOnlineRecovery Op = GS<<8 | 'z'           // GS z 0 t1 t2: online recovery wait time
	OpRaster         Op = GS<<16 | 'v'<<8 | '0' // GS v 0 m xL xH yL yH d…: raster bit image
	OpGraphicsLong   Op = GS<<16 | '8'<<8 | 'L' // GS 8 L p1 p2 p3 p4 m fn …: graphics (32-bit length)
	OpTestPrint      Op = GS<<16 | '('<<8 | 'A' // GS ( A: test print
	OpNVDelete       Op = GS<<16 | '('<<8 | 'C' // GS ( C: NV user memory
	OpRTEnable       Op = GS<<16 | '('<<8 | 'D' // GS ( D: enable/disable real-time commands
	OpUserSetup      Op = GS<<16 | '('<<8 | 'E' // GS ( E: user setup
	OpResponse       Op = GS<<16 | '('<<8 | 'H' // GS ( H: request transmission of response
	OpPrintControl   Op = GS<<16 | '('<<8 | 'K' // GS ( K: print control (density, speed)
	OpGraphics       Op = GS<<16 | '('<<8 | 'L' // GS ( L: graphics store and print
	OpCustomize      Op = GS<<16 | '('<<8 | 'M' // GS ( M: customise setting values
	OpCharEffects    Op = GS<<16 | '('<<8 | 'N' // GS ( N: character effects
	OpPageControl    Op = GS<<16 | '('<<8 | 'P' // GS ( P: page mode control
	OpDrawGraphics   Op = GS<<16 | '('<<8 | 'Q' // GS ( Q: draw lines and rectangles
	OpSymbol         Op = GS<<16 | '('<<8 | 'k' // GS ( k: 2D symbols (QR, PDF417…)
)

// Arg limits used while decoding.
const (
	decMaxNULScan = 255 // GS k function A: data bytes before the NUL
	decMaxTabs    = 32  // ESC D: tab positions before the NUL
)

// A Command is one decoded element of an ESC/POS byte stream. Its slices are
// sub-slices of the input (never copies sized by a length field), so a hostile
// length cannot make the decoder allocate.
type Command struct {
	Kind Kind
	// Op identifies the command (the control byte for KindControl; zero for
	// text).
	Op Op
	// Args holds the fixed parameters after the command bytes: n of ESC ! n;
	// m xL xH yL yH of GS v 0; pL pH of GS ( k; p1…p4 of GS 8 L; m (and n)
	// of GS k.
	Args []byte
	// Data holds the variable part: the text of a run, the image bytes of
	// GS v 0 and ESC *, everything after pL pH in the ( family, the bar code
	// data of GS k (without the NUL), the tab stops of ESC D.
	Data []byte
	// Raw is the whole command as it appeared in the input.
	Raw []byte
	// Skipped is, for a command longer than a Decoder's MaxCommand, how many
	// declared bytes were discarded after Data.
	Skipped int64
}

// Arg returns the i-th fixed parameter, or 0 when there is none.
func (c *Command) Arg(i int) byte {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return 0
}

// String describes c for logs and warnings: `ESC ! 8`, `GS v 0 (5 args, 12 bytes)`,
// `text "abc"`.
func (c Command) String() string {
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
	if len(c.Args) <= 4 {
		for _, a := range c.Args {
			fmt.Fprintf(&sb, " %d", a)
		}
	} else {
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

// Next decodes the command at the start of b and returns it with its length
// n, in the manner of bufio.SplitFunc. When b holds only the start of a
// command and atEOF is false, n is 0: call again with more bytes. When atEOF
// is true, an incomplete command is returned as KindTruncated with n =
// len(b). Next returns n = 0 only for an empty b or an incomplete command; it
// never reads past b and never allocates.
func Next(b []byte, atEOF bool) (cmd Command, n int) {
	r := decSplit(b)
	if r.n > 0 {
		return r.cmd, r.n
	}
	if len(b) == 0 || !atEOF {
		return Command{}, 0
	}
	return decTruncated(b, r), len(b)
}

// All decodes the whole of b, which is taken to be complete: an incomplete
// command at its end is yielded as KindTruncated.
func All(b []byte) iter.Seq[Command] {
	return func(yield func(Command) bool) {
		for len(b) > 0 {
			cmd, n := Next(b, true)
			if !yield(cmd) {
				return
			}
			b = b[n:]
		}
	}
}

func decTruncated(b []byte, r decResult) Command {
	c := r.cmd
	c.Kind = KindTruncated
	c.Raw = b
	if r.hdr > 0 && r.hdr <= len(b) {
		c.Data = b[r.hdr:]
	} else {
		c.Op, c.Args, c.Data = 0, nil, nil
		// Name what we can: the prefix and its code if present.
		if len(b) >= 2 {
			c.Op = decOp(b[0], b[1])
		} else if len(b) == 1 {
			c.Op = Op(b[0])
		}
	}
	return c
}

// decResult is the outcome of decSplit (see splitResult).
type decResult = splitResult[Command]

// decFixedESC, decFixedGS and decFixedFS give the number of fixed parameter bytes of
// ESC x, GS x and FS x; -1 means unknown and -2 a command decoded specially.
var decFixedESC, decFixedGS, decFixedFS [256]int8

func init() {
	for i := range 256 {
		decFixedESC[i], decFixedGS[i], decFixedFS[i] = -1, -1, -1
	}
	for c, n := range map[byte]int8{
		FF: 0, ' ': 1, '!': 1, '$': 2, '%': 1, '-': 1, '2': 0, '3': 1, '<': 0, '=': 1, '?': 1,
		'@': 0, 'B': 2, 'E': 1, 'G': 1, 'J': 1, 'K': 1, 'L': 0, 'M': 1, 'R': 1, 'S': 0, 'T': 1,
		'U': 1, 'V': 1, 'W': 8, '\\': 2, 'a': 1, 'd': 1, 'e': 1, 'i': 0, 'm': 0, 'p': 3, 'r': 1,
		't': 1, 'u': 1, 'v': 0, '{': 1,
		'&': -2, '(': -2, '*': -2, 'D': -2, 'c': -2,
	} {
		decFixedESC[c] = n
	}
	for c, n := range map[byte]int8{
		'!': 1, '$': 2, '/': 1, ':': 0, 'B': 1, 'E': 1, 'H': 1, 'I': 1, 'L': 2, 'P': 2, 'T': 1,
		'W': 2, '\\': 2, '^': 3, 'a': 1, 'b': 1, 'c': 0, 'f': 1, 'g': 4, 'h': 1, 'r': 1, 'w': 1, 'z': 3,
		'(': -2, '*': -2, '8': -2, 'V': -2, 'k': -2, 'v': -2,
	} {
		decFixedGS[c] = n
	}
	for c, n := range map[byte]int8{
		'!': 1, '&': 0, '-': 1, '.': 0, '2': 74, 'C': 1, 'S': 2, 'W': 1, 'p': 2,
		'(': -2, 'q': -2,
	} {
		decFixedFS[c] = n
	}
}

// known ( family functions; others decode by their length but are KindUnknown.
var decKnownParen = map[Op]bool{
	OpBeeper: true, decOp(ESC, '(', 'Y'): true,
	OpFSFuncA: true, decOp(FS, '(', 'C'): true, decOp(FS, '(', 'E'): true, decOp(FS, '(', 'L'): true, decOp(FS, '(', 'e'): true,
	OpTestPrint: true, OpNVDelete: true, OpRTEnable: true, OpUserSetup: true, OpResponse: true,
	OpPrintControl: true, OpGraphics: true, OpCustomize: true, OpCharEffects: true, OpPageControl: true,
	OpDrawGraphics: true, OpSymbol: true,
}

// split decodes the first command of b.
func decSplit(b []byte) decResult {
	if len(b) == 0 {
		return decResult{need: 1}
	}
	c := b[0]
	if c >= 0x20 {
		i := 1
		for i < len(b) && b[i] >= 0x20 {
			i++
		}
		return decResult{cmd: Command{Kind: KindText, Data: b[:i], Raw: b[:i]}, n: i}
	}
	switch c {
	case ESC, GS, FS, DLE:
	default:
		return decResult{cmd: Command{Kind: KindControl, Op: Op(c), Raw: b[:1]}, n: 1}
	}
	if len(b) < 2 {
		return decResult{need: 2}
	}
	x := b[1]
	switch c {
	case DLE:
		return decDLE(b)
	case ESC:
		if f := decFixedESC[x]; f >= 0 {
			return decFixed(b, decOp(ESC, x), 2, int(f))
		}
		switch x {
		case '(':
			return decParen(b)
		case '&':
			return decUserChars(b)
		case '*':
			return decBitImage(b)
		case 'D':
			return decTabs(b)
		case 'c':
			if len(b) < 3 {
				return decResult{need: 3}
			}
			switch b[2] {
			case '0', '1', '3', '4', '5':
				return decFixed(b, decOp(ESC, 'c', b[2]), 3, 1)
			}
		}
		return decUnknown(b, 2)
	case GS:
		if f := decFixedGS[x]; f >= 0 {
			return decFixed(b, decOp(GS, x), 2, int(f))
		}
		switch x {
		case '(':
			return decParen(b)
		case '8':
			return decGS8(b)
		case '*':
			// GS * x y d1…d(x*y*8)
			if len(b) < 4 {
				return decResult{need: 4}
			}
			return decPayload(b, decOp(GS, '*'), 2, 4, int64(b[2])*int64(b[3])*8)
		case 'V':
			if len(b) < 3 {
				return decResult{need: 3}
			}
			switch b[2] {
			case 65, 66, 97, 98, 103, 104:
				return decFixed(b, OpCut, 2, 2)
			}
			return decFixed(b, OpCut, 2, 1)
		case 'k':
			return decBarcode(b)
		case 'v':
			if len(b) < 3 {
				return decResult{need: 3}
			}
			if b[2] != '0' {
				return decUnknown(b, 3)
			}
			// GS v 0 m xL xH yL yH d1…dk, k = (xL + xH×256) × (yL + yH×256)
			if len(b) < 8 {
				return decResult{need: 8}
			}
			k := int64(decLE16(b[4:])) * int64(decLE16(b[6:]))
			return decPayload(b, OpRaster, 3, 8, k)
		}
		return decUnknown(b, 2)
	default: // FS
		if f := decFixedFS[x]; f >= 0 {
			return decFixed(b, decOp(FS, x), 2, int(f))
		}
		switch x {
		case '(':
			return decParen(b)
		case 'q':
			return decNVImages(b)
		}
		return decUnknown(b, 2)
	}
}

func decLE16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

// fixed decodes a command of opLen command bytes and nargs parameters.
func decFixed(b []byte, o Op, opLen, nargs int) decResult {
	n := opLen + nargs
	if len(b) < n {
		return decResult{need: int64(n)}
	}
	return decResult{cmd: Command{Kind: KindCommand, Op: o, Args: b[opLen:n], Raw: b[:n]}, n: n}
}

// payload decodes a command whose header (command bytes and Args) is hdr
// bytes long and is followed by k data bytes.
func decPayload(b []byte, o Op, opLen, hdr int, k int64) decResult {
	cmd := Command{Kind: KindCommand, Op: o, Args: b[opLen:hdr]}
	total := int64(hdr) + k
	if int64(len(b)) < total {
		return decResult{cmd: cmd, need: total, hdr: hdr}
	}
	n := int(total)
	cmd.Data, cmd.Raw = b[hdr:n], b[:n]
	return decResult{cmd: cmd, n: n}
}

// unknown decodes n bytes of an unrecognised command.
func decUnknown(b []byte, n int) decResult {
	if len(b) < n {
		return decResult{need: int64(n)}
	}
	return decResult{cmd: Command{Kind: KindUnknown, Op: decOp(b[:n]...), Raw: b[:n]}, n: n}
}

// invalid decodes a recognised command's n header bytes as KindInvalid.
func decInvalid(b []byte, o Op, opLen, n int) decResult {
	return decResult{cmd: Command{Kind: KindInvalid, Op: o, Args: b[opLen:n], Raw: b[:n]}, n: n}
}

// paren decodes the ( family: ESC|GS|FS ( x pL pH d1…d(pL+pH×256).
func decParen(b []byte) decResult {
	if len(b) < 5 {
		return decResult{need: 5}
	}
	o := decOp(b[0], '(', b[2])
	r := decPayload(b, o, 3, 5, int64(decLE16(b[3:])))
	if !decKnownParen[o] {
		r.cmd.Kind = KindUnknown
	}
	return r
}

// splitGS8 decodes GS 8 L p1 p2 p3 p4 d…, the 32-bit-length form of GS ( L.
func decGS8(b []byte) decResult {
	if len(b) < 3 {
		return decResult{need: 3}
	}
	if b[2] != 'L' {
		return decUnknown(b, 3)
	}
	if len(b) < 7 {
		return decResult{need: 7}
	}
	k := int64(b[3]) | int64(b[4])<<8 | int64(b[5])<<16 | int64(b[6])<<24
	return decPayload(b, OpGraphicsLong, 3, 7, k)
}

// splitDLE decodes the real-time commands DLE EOT, DLE ENQ and DLE DC4.
func decDLE(b []byte) decResult {
	switch b[1] {
	case EOT:
		if len(b) < 3 {
			return decResult{need: 3}
		}
		if b[2] == 7 || b[2] == 8 {
			return decFixed(b, OpStatus, 2, 2)
		}
		return decFixed(b, OpStatus, 2, 1)
	case ENQ:
		return decFixed(b, OpRTRequest, 2, 1)
	case DC4:
		if len(b) < 3 {
			return decResult{need: 3}
		}
		switch b[2] {
		case 1, 2, 3:
			return decFixed(b, OpRTCommand, 2, 3)
		case 7:
			return decFixed(b, OpRTCommand, 2, 2)
		case 8:
			return decFixed(b, OpRTCommand, 2, 8)
		}
		return decFixed(b, OpRTCommand, 2, 1)
	}
	// A lone DLE is not a command; the next byte is decoded afresh.
	return decResult{cmd: Command{Kind: KindUnknown, Op: DLE, Raw: b[:1]}, n: 1}
}

// splitBitImage decodes ESC * m nL nH d…: k = n for 8-dot modes (m = 0, 1)
// and 3n for 24-dot modes (m = 32, 33).
func decBitImage(b []byte) decResult {
	if len(b) < 5 {
		return decResult{need: 5}
	}
	n := int64(decLE16(b[3:]))
	switch b[2] {
	case 0, 1:
	case 32, 33:
		n *= 3
	default:
		return decInvalid(b, OpBitImage, 2, 5)
	}
	return decPayload(b, OpBitImage, 2, 5, n)
}

// splitTabs decodes ESC D n1…nk NUL (k ≤ 32). After 32 positions the command
// ends even without a NUL, as on Epson printers.
func decTabs(b []byte) decResult {
	for i := 2; i < len(b) && i < 2+decMaxTabs; i++ {
		if b[i] == NUL {
			return decResult{cmd: Command{Kind: KindCommand, Op: OpTabs, Data: b[2:i], Raw: b[:i+1]}, n: i + 1}
		}
	}
	end := 2 + decMaxTabs
	if len(b) <= end {
		return decResult{need: int64(len(b)) + 1, hdr: 2, cmd: Command{Kind: KindCommand, Op: OpTabs}}
	}
	n := end
	if b[end] == NUL {
		n++
	}
	return decResult{cmd: Command{Kind: KindCommand, Op: OpTabs, Data: b[2:end], Raw: b[:n]}, n: n}
}

// splitBarcode decodes GS k: function A (m = 0–6) is NUL-terminated, function
// B (m = 65–79) carries a length byte.
func decBarcode(b []byte) decResult {
	if len(b) < 3 {
		return decResult{need: 3}
	}
	m := b[2]
	switch {
	case m <= 6:
		for i := 3; i < len(b); i++ {
			if b[i] == NUL {
				return decResult{cmd: Command{Kind: KindCommand, Op: OpBarcode, Args: b[2:3], Data: b[3:i], Raw: b[:i+1]}, n: i + 1}
			}
			if i-3 >= decMaxNULScan {
				return decInvalid(b, OpBarcode, 2, 3)
			}
		}
		return decResult{need: int64(len(b)) + 1, hdr: 3, cmd: Command{Kind: KindCommand, Op: OpBarcode, Args: b[2:3]}}
	case m >= 65 && m <= 79:
		if len(b) < 4 {
			return decResult{need: 4}
		}
		return decPayload(b, OpBarcode, 2, 4, int64(b[3]))
	}
	return decInvalid(b, OpBarcode, 2, 3)
}

// splitUserChars decodes ESC & y c1 c2 [x d1…d(y×x)]… for c1…c2.
func decUserChars(b []byte) decResult {
	if len(b) < 5 {
		return decResult{need: 5}
	}
	y, c1, c2 := int64(b[2]), b[3], b[4]
	if c2 < c1 {
		return decInvalid(b, OpUserCharsDefine, 2, 5)
	}
	hdr := Command{Kind: KindCommand, Op: OpUserCharsDefine, Args: b[2:5]}
	pos := int64(5)
	for range int(c2) - int(c1) + 1 {
		if int64(len(b)) < pos+1 {
			return decResult{cmd: hdr, need: pos + 1, hdr: 5}
		}
		pos += 1 + y*int64(b[pos])
	}
	return decPayload(b, OpUserCharsDefine, 2, 5, pos-5)
}

// splitNVImages decodes FS q n [xL xH yL yH d1…d(x×y×8)]…, n images.
func decNVImages(b []byte) decResult {
	if len(b) < 3 {
		return decResult{need: 3}
	}
	hdr := Command{Kind: KindCommand, Op: OpNVImageDefine, Args: b[2:3]}
	pos := int64(3)
	for range int(b[2]) {
		if int64(len(b)) < pos+4 {
			return decResult{cmd: hdr, need: pos + 4, hdr: 3}
		}
		p := int(pos)
		pos += 4 + int64(decLE16(b[p:]))*int64(decLE16(b[p+2:]))*8
	}
	return decPayload(b, OpNVImageDefine, 2, 3, pos-3)
}
