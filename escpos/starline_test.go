package escpos

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// starWant is the part of a StarCommand the table tests compare.
type starWant struct {
	Kind Kind
	Op   StarOp
	Args string
	Data string
}

func starGot(c StarCommand) starWant {
	return starWant{c.Kind, c.Op, string(c.Args), string(c.Data)}
}

func starAll(b []byte, raster bool) []starWant {
	var out []starWant
	for c := range StarAll(b, raster) {
		out = append(out, starGot(c))
	}
	return out
}

// Star control bytes for the tests.
const (
	sBEL = 0x07
	sSO  = 0x0e
	sSI  = 0x0f
	sDC2 = 0x12
	sETB = 0x17
	sEM  = 0x19
	sSUB = 0x1a
	sACK = 0x06
)

func TestStarDecodeTable(t *testing.T) {
	cmd := func(o StarOp, args, data string) starWant { return starWant{KindCommand, o, args, data} }
	text := func(s string) starWant { return starWant{Kind: KindText, Data: s} }
	ctl := func(c byte) starWant { return starWant{Kind: KindControl, Op: StarOp(c)} }
	tests := []struct {
		name   string
		raster bool // start in raster mode
		in     []byte
		want   []starWant
	}{
		{"text, LF and high bytes", false, decCat("Ma\xa4ana", LF, 0xd5, "x"), []starWant{text("Ma\xa4ana"), ctl(LF), text("\xd5x")}},
		{"controls", false, decCat(CR, HT, FF, sBEL, FS, sSUB, sEM, CAN, ENQ, EOT, sETB, sSO, DC4, sSI, sDC2, 0x0b, NUL),
			[]starWant{ctl(CR), ctl(HT), ctl(FF), ctl(sBEL), ctl(FS), ctl(sSUB), ctl(sEM), ctl(CAN), ctl(ENQ), ctl(EOT), ctl(sETB),
				ctl(sSO), ctl(DC4), ctl(sSI), ctl(sDC2), ctl(0x0b), ctl(NUL)}},
		{"ESC @ E F 4 5 0", false, decCat(ESC, '@', ESC, 'E', ESC, 'F', ESC, '4', ESC, '5', ESC, '0'),
			[]starWant{cmd(StarOpInit, "", ""), cmd(StarOpBold, "", ""), cmd(StarOpBoldOff, "", ""), cmd(StarOpInvert, "", ""),
				cmd(StarOpInvertOff, "", ""), cmd(StarOpSpacing3mm, "", "")}},
		{"one-parameter commands", false, decCat(ESC, '-', 1, ESC, '_', '1', ESC, 'W', 2, ESC, 'h', '3', ESC, 'a', 4, ESC, 'z', 1,
			ESC, 'J', 8, ESC, 'I', 9, ESC, 'd', 3, ESC, 'R', 0, ESC, '/', 1, ESC, ' ', 2, ESC, 'l', 4, ESC, 'Q', 40, ESC, '3', 24),
			[]starWant{cmd(StarOpUnderline, "\x01", ""), cmd(StarOpUpperline, "1", ""), cmd(StarOpWidth, "\x02", ""), cmd(StarOpHeight, "3", ""),
				cmd(StarOpFeedLines, "\x04", ""), cmd(StarOpLineSpacing, "\x01", ""), cmd(StarOpFeedQuarterMM, "\x08", ""),
				cmd(StarOpFeedEighthMM, "\x09", ""), cmd(StarOpCut, "\x03", ""), cmd(StarOpIntlCharset, "\x00", ""),
				cmd(StarOpSlashZero, "\x01", ""), cmd(StarOpCharSpacing, "\x02", ""), cmd(StarOpLeftMargin, "\x04", ""),
				cmd(StarOpRightMargin, "(", ""), cmd(StarOpSpacing216, "\x18", "")}},
		{"ESC i n1 n2", false, decCat(ESC, 'i', 1, 1, "X", ESC, 'i', '0', '5'), []starWant{cmd(StarOpExpand, "\x01\x01", ""), text("X"), cmd(StarOpExpand, "05", "")}},
		{"ESC SO, ESC DC4", false, decCat(ESC, sSO, ESC, DC4), []starWant{cmd(StarOpDoubleHigh, "", ""), cmd(StarOpHighOff, "", "")}},
		{"ESC RS", false, decCat(ESC, RS, 'F', 1, ESC, RS, 'a', 1, ESC, RS, 'd', 3, ESC, RS, 'r', 0),
			[]starWant{cmd(StarOpFont, "\x01", ""), cmd(StarOpASB, "\x01", ""), cmd(StarOpDensity, "\x03", ""), cmd(StarOpSpeed, "\x00", "")}},
		{"ESC RS unknown", false, decCat(ESC, RS, 'Z', "ab"), []starWant{{KindUnknown, starOp(ESC, RS, 'Z'), "", ""}, text("ab")}},
		{"ESC GS t a A R", false, decCat(ESC, GS, 't', 32, ESC, GS, 'a', 1, ESC, GS, 'A', 0x40, 1, ESC, GS, 'R', 10, 0),
			[]starWant{cmd(StarOpCodePage, " ", ""), cmd(StarOpAlign, "\x01", ""), cmd(StarOpAbsPos, "\x40\x01", ""), cmd(StarOpRelPos, "\x0a\x00", "")}},
		{"ESC GS unknown", false, decCat(ESC, GS, 'Z', "ab"), []starWant{{KindUnknown, starOp(ESC, GS, 'Z'), "", ""}, text("ab")}},
		{"buzzer and drawer", false, decCat(ESC, sBEL, 20, 20, sBEL, ESC, GS, sBEL, 1, 10, 10, ESC, GS, sEM, 0x11, 1, 5, 5, ESC, GS, sEM, 0x12, '1', 2, 0),
			[]starWant{cmd(StarOpPulseWidth, "\x14\x14", ""), ctl(sBEL), cmd(StarOpBuzzer, "\x01\x0a\x0a", ""),
				cmd(StarOpBuzzerSet, "\x01\x05\x05", ""), cmd(StarOpBuzzerRun, "1\x02\x00", "")}},
		{"status", false, decCat(ESC, sACK, 1, ESC, RS, 'E', 0, ESC, GS, 3, 1, 0, 0),
			[]starWant{cmd(StarOpStatus, "\x01", ""), cmd(StarOpETBClear, "\x00", ""), cmd(StarOpStatusETX, "\x01\x00\x00", "")}},
		{"QR", false, decCat(ESC, GS, 'y', 'S', '0', 2, ESC, GS, 'y', 'S', '1', 1, ESC, GS, 'y', 'S', '2', 6,
			ESC, GS, 'y', 'D', '1', 0, 5, 0, "https", ESC, GS, 'y', 'P', ESC, GS, 'y', 'I', LF),
			[]starWant{cmd(StarOpQRSet, "0\x02", ""), cmd(StarOpQRSet, "1\x01", ""), cmd(StarOpQRSet, "2\x06", ""),
				cmd(StarOpQRData, "1\x00\x05\x00", "https"), cmd(StarOpQRPrint, "", ""), cmd(StarOpQRInfo, "", ""), ctl(LF)}},
		{"QR bad setting and manual data", false, decCat(ESC, GS, 'y', 'S', '7', "ab", ESC, GS, 'y', 'D', '2', "c"),
			[]starWant{{KindInvalid, StarOpQRSet, "7", ""}, text("ab"), {KindInvalid, StarOpQRData, "2", ""}, text("c")}},
		{"PDF417", false, decCat(ESC, GS, 'x', 'S', '0', 0, 1, 2, ESC, GS, 'x', 'S', '1', 1, ESC, GS, 'x', 'D', 3, 0, "abc", ESC, GS, 'x', 'P'),
			[]starWant{cmd(StarOpPDF417Set, "0\x00\x01\x02", ""), cmd(StarOpPDF417Set, "1\x01", ""), cmd(StarOpPDF417Data, "\x03\x00", "abc"), cmd(StarOpPDF417Print, "", "")}},
		{"barcode", false, decCat(ESC, 'b', 3, 2, 2, 80, "4006381333931", RS, "x"),
			[]starWant{cmd(StarOpBarcode, "\x03\x02\x02\x50", "4006381333931"), text("x")}},
		{"barcode without RS", false, decCat(ESC, 'b', 6, 1, 1, 40, bytes.Repeat([]byte{'1'}, 300)),
			[]starWant{{KindInvalid, StarOpBarcode, "\x06\x01\x01\x28", ""}, text(strings.Repeat("1", 300))}},
		{"tabs", false, decCat(ESC, 'D', 8, 16, NUL, HT, ESC, 'D', NUL, ESC, 'B', 2, NUL),
			[]starWant{cmd(StarOpTabs, "", "\x08\x10"), ctl(HT), cmd(StarOpTabs, "", ""), cmd(StarOpVTabs, "", "\x02")}},
		{"page length", false, decCat(ESC, 'C', 42, ESC, 'C', NUL, 11), []starWant{cmd(StarOpPageLength, "*", ""), cmd(StarOpPageLength, "\x00\x0b", "")}},
		{"bit images", false, decCat(ESC, 'K', 2, 0, "ab", ESC, 'L', 1, 0, "c", ESC, 'X', 1, 0, "def", ESC, 'k', 1, 0, strings.Repeat("g", 24), "z"),
			[]starWant{cmd(StarOpBitImage, "\x02\x00", "ab"), cmd(StarOpBitImageHi, "\x01\x00", "c"), cmd(StarOpBitImage24, "\x01\x00", "def"),
				cmd(StarOpFineImage, "\x01\x00", strings.Repeat("g", 24)), text("z")}},
		{"logos", false, decCat(ESC, FS, 'q', 1, 1, 0, 1, 0, "12345678", ESC, FS, 'p', 1, 0),
			[]starWant{cmd(StarOpLogoDefine, "\x01", "\x01\x00\x01\x0012345678"), cmd(StarOpLogoPrint, "\x01\x00", "")}},
		{"download characters", false, decCat(ESC, '&', 1, 1, 'A', strings.Repeat("\xff", 48), ESC, '&', '1', '0', 'A', ESC, '%', 1),
			[]starWant{cmd(StarOpDefineChars, "\x01\x01A", strings.Repeat("\xff", 48)), cmd(StarOpDefineChars, "10A", ""), cmd(StarOpUserChars, "\x01", "")}},
		{"reset and memory switch", false, decCat(ESC, '?', LF, NUL, ESC, GS, '#', 'W', '1', '0', '0', '0', '0', LF, NUL),
			[]starWant{cmd(StarOpReset, "\n\x00", ""), cmd(StarOpMemSwitch, "W10000\n\x00", "")}},
		{"unknown ESC", false, decCat(ESC, '~', "ab"), []starWant{{KindUnknown, starOp(ESC, '~'), "", ""}, text("ab")}},
		{"raster session", false, decCat(ESC, '*', 'r', 'A', ESC, '*', 'r', 'P', '0', NUL, ESC, '*', 'r', 'E', '1', NUL,
			'b', 2, 0, 0xf0, 0x0f, 'k', 1, 0, 0xaa, ESC, '*', 'r', 'm', 'l', '2', NUL, ESC, '*', 'r', 'Y', '1', '6', NUL,
			ESC, FF, NUL, ESC, FF, EOT, sBEL, ESC, '*', 'r', 'V', '1', '2', NUL, ESC, '*', 'r', 'B', 'b', LF),
			[]starWant{cmd(StarOpRasterEnter, "", ""), cmd(StarOpRasterPage, "0", ""), cmd(StarOpRasterEOTMode, "1", ""),
				cmd(StarOpRasterRow, "\x02\x00", "\xf0\x0f"), cmd(StarOpRasterDots, "\x01\x00", "\xaa"), cmd(StarOpRasterMargin, "l2", ""),
				cmd(StarOpRasterFeed, "16", ""), cmd(StarOpRasterFF, "", ""), cmd(StarOpRasterEOT, "", ""), ctl(sBEL),
				cmd(StarOpRasterBuzzer, "12", ""), cmd(StarOpRasterQuit, "", ""), text("b"), ctl(LF)}},
		{"raster mode: text is unknown, ESC @ too", true, decCat("Hola", ESC, '@', 'b', 1, 0, 0),
			[]starWant{{KindUnknown, StarOp('H'), "", "Hola"}, {KindUnknown, starOp(ESC, '@'), "", ""}, cmd(StarOpRasterRow, "\x01\x00", "\x00")}},
		{"raster mode: ESC * r A again stays", true, decCat(ESC, '*', 'r', 'A', 'b', 1, 0, 7),
			[]starWant{cmd(StarOpRasterEnter, "", ""), cmd(StarOpRasterRow, "\x01\x00", "\x07")}},
		{"line mode: ESC * r B stays", false, decCat(ESC, '*', 'r', 'B', "b", 1), []starWant{cmd(StarOpRasterQuit, "", ""), text("b"), ctl(1)}},
		{"raster discard", true, decCat(ESC, '*', 'r', 'N', '3', NUL, "xyz", 'b', 1, 0, 1),
			[]starWant{cmd(StarOpRasterDiscard, "3", "xyz"), cmd(StarOpRasterRow, "\x01\x00", "\x01")}},
		{"raster discard: bad count", true, decCat(ESC, '*', 'r', 'N', 'x', NUL, 'b', 1, 0, 1),
			[]starWant{{KindInvalid, StarOpRasterDiscard, "x", ""}, cmd(StarOpRasterRow, "\x01\x00", "\x01")}},
		{"raster parameter too long", false, decCat(ESC, '*', 'r', 'P', strings.Repeat("9", 300), NUL),
			[]starWant{{KindInvalid, StarOpRasterPage, "", ""}, text(strings.Repeat("9", 300)), ctl(NUL)}},
		{"raster margin side", false, decCat(ESC, '*', 'r', 'm', 'x', "1"), []starWant{{KindInvalid, StarOpRasterMargin, "x", ""}, text("1")}},
		{"ESC * r unknown", false, decCat(ESC, '*', 'r', 'Z', "1"), []starWant{{KindUnknown, starOp(ESC, '*', 'r', 'Z'), "", ""}, text("1")}},
		{"truncated ESC", false, decCat("a", ESC), []starWant{text("a"), {KindTruncated, ESC, "", ""}}},
		{"truncated barcode", false, decCat(ESC, 'b', 3, 2, 2, 80, "400"), []starWant{{KindTruncated, StarOpBarcode, "\x03\x02\x02\x50", "400"}}},
		{"truncated QR data", false, decCat(ESC, GS, 'y', 'D', '1', 0, 9, 0, "abc"), []starWant{{KindTruncated, StarOpQRData, "1\x00\x09\x00", "abc"}}},
		{"truncated raster row", true, decCat('b', 9, 0, "ab"), []starWant{{KindTruncated, StarOpRasterRow, "\x09\x00", "ab"}}},
		{"truncated raster parameter", true, decCat(ESC, '*', 'r', 'E', '1'), []starWant{{KindTruncated, StarOpRasterEOTMode, "", "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := starAll(tt.in, tt.raster)
			if !slices.Equal(got, tt.want) {
				t.Errorf("decoded %q\n got  %+v\n want %+v", tt.in, got, tt.want)
			}
			var raw []byte
			for c := range StarAll(tt.in, tt.raster) {
				raw = append(raw, c.Raw...)
			}
			if !bytes.Equal(raw, tt.in) {
				t.Errorf("Raw concatenation differs from input")
			}
		})
	}
}

func TestStarOpString(t *testing.T) {
	for o, want := range map[StarOp]string{
		StarOpInit: "ESC @", StarOpAlign: "ESC GS a", StarOpFont: "ESC RS F", StarOpRasterEnter: "ESC * r A",
		StarOpQRSet: "ESC GS y S", StarOpBuzzerRun: "ESC GS EM DC2", StarOpRasterEOT: "ESC FF EOT", StarOpRasterFF: "ESC FF NUL",
		StarOpRasterRow: "b", StarOpLF: "LF", StarOpCharSpacing: "ESC SP",
	} {
		if got := o.String(); got != want {
			t.Errorf("%#x.String() = %q, want %q", uint32(o), got, want)
		}
	}
	for _, tc := range []struct {
		in     []byte
		raster bool
		want   string
	}{
		{decCat(ESC, GS, 'a', 1), false, "ESC GS a 1"},
		{decCat(ESC, '*', 'r', 'P', '0', NUL), false, `ESC * r P "0"`},
		{decCat('b', 3, 0, "abc"), true, "b 3 0 +3 bytes"},
		{decCat(ESC, 'b', 3, 2), false, "ESC b (truncated)"},
	} {
		c, _ := StarNext(tc.in, true, tc.raster)
		if got := c.String(); got != tc.want {
			t.Errorf("%q: String = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStarNumber(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "13": 13, "0009": 9, strings.Repeat("9", 255): 1e9} {
		if n, ok := StarNumber([]byte(in)); !ok || n != want {
			t.Errorf("StarNumber(%.20q) = %d, %v; want %d", in, n, ok, want)
		}
	}
	for _, in := range []string{"", "1a", "-1", " 1"} {
		if _, ok := StarNumber([]byte(in)); ok {
			t.Errorf("StarNumber(%q) ok", in)
		}
	}
}

func TestStarNextNeedsMore(t *testing.T) {
	for _, tc := range []struct {
		full   []byte
		raster bool
	}{
		{decCat(ESC, GS, 'y', 'D', '1', 0, 3, 0, "abc"), false},
		{decCat(ESC, 'b', 3, 2, 2, 80, "40", RS), false},
		{decCat(ESC, '*', 'r', 'E', '1', '3', NUL), true},
		{decCat('b', 2, 0, "ab"), true},
	} {
		full := tc.full
		for i := 1; i < len(full); i++ {
			if _, n := StarNext(full[:i:i], false, tc.raster); n != 0 {
				t.Errorf("%q: StarNext(%d bytes, !atEOF) consumed %d", full, i, n)
			}
			if c, n := StarNext(full[:i:i], true, tc.raster); n != i || c.Kind != KindTruncated {
				t.Errorf("%q: StarNext(%d bytes, atEOF) = %v, %d", full, i, c.Kind, n)
			}
		}
		if c, n := StarNext(full, false, tc.raster); n != len(full) || c.Kind != KindCommand {
			t.Errorf("%q complete: %v %d", full, c.Kind, n)
		}
	}
}

// starStream has every kind of command and both modes, for chunking tests.
func starStream() []byte {
	return decCat(ESC, '@', ESC, GS, 't', 4, ESC, GS, 'a', 1, ESC, 'i', 1, 1, ESC, 'E', "COCINA", LF, ESC, 'F', ESC, 'i', 0, 0,
		ESC, GS, 'a', 0, ESC, RS, 'F', 1, ESC, '-', 1, "Ma\xa4ana", LF, ESC, '-', 0, ESC, 'D', 8, 16, NUL, HT, "x", LF,
		ESC, GS, 'y', 'S', '0', 2, ESC, GS, 'y', 'D', '1', 0, 5, 0, "https", ESC, GS, 'y', 'P', LF,
		ESC, 'b', 3, 2, 2, 80, "4006381333931", RS, ESC, 'k', 1, 0, strings.Repeat("\x55", 24),
		ESC, '*', 'r', 'A', ESC, '*', 'r', 'P', '0', NUL, ESC, '*', 'r', 'E', '1', NUL, 'b', 3, 0, 0xff, 0, 0x81, 'b', 1, 0, 0,
		ESC, '*', 'r', 'N', '2', NUL, "zz", "garza", ESC, '*', 'r', 'B', ESC, 'a', 2, ESC, 'd', 3, sBEL, ESC, '~', "fin")
}

func starMerge(cs []starWant) []starWant {
	var out []starWant
	for _, c := range cs {
		if n := len(out); n > 0 && c.Kind == out[n-1].Kind {
			// Text runs, and runs of unknown bytes in raster mode, may be
			// split anywhere by chunking.
			run := c.Kind == KindUnknown && c.Data != "" && out[n-1].Data != "" && c.Op < 0x100 && out[n-1].Op < 0x100
			if c.Kind == KindText || run {
				out[n-1].Data += c.Data
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

func starChunked(d *StarDecoder, b []byte, cuts []int) []starWant {
	var out []starWant
	yield := func(c StarCommand) { out = append(out, starGot(c)) }
	prev := 0
	for _, c := range cuts {
		d.Feed(b[prev:c], yield)
		prev = c
	}
	d.Feed(b[prev:], yield)
	d.End(yield)
	return starMerge(out)
}

func TestStarDecoderChunks(t *testing.T) {
	stream := starStream()
	want := starMerge(starAll(stream, false))
	var d StarDecoder
	for i := 0; i <= len(stream); i++ {
		if got := starChunked(&d, stream, []int{i}); !slices.Equal(got, want) {
			t.Fatalf("split at %d:\n got  %+v\n want %+v", i, got, want)
		}
	}
	for i := 0; i <= len(stream); i += 3 {
		for j := i; j <= len(stream); j += 2 {
			if got := starChunked(&d, stream, []int{i, j}); !slices.Equal(got, want) {
				t.Fatalf("split at %d, %d:\n got  %+v\n want %+v", i, j, got, want)
			}
		}
	}
	cuts := make([]int, len(stream))
	for i := range cuts {
		cuts[i] = i
	}
	if got := starChunked(&d, stream, cuts); !slices.Equal(got, want) {
		t.Fatalf("byte by byte:\n got  %+v\n want %+v", got, want)
	}
	// The raster commands in the stream were decoded as such.
	n := 0
	for _, c := range want {
		if c.Op == StarOpRasterRow {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d raster rows decoded, want 2", n)
	}
}

func TestStarDecoderOversize(t *testing.T) {
	// A raster row declaring 60000 bytes with MaxCommand 1000: delivered
	// cut at 1000 bytes, the rest skipped, decoding resumes after it, still
	// in raster mode.
	hdr := decCat('b', 0x60, 0xea)
	body := bytes.Repeat([]byte{0xff}, 60000)
	stream := decCat(ESC, '*', 'r', 'A', hdr, body, 'b', 1, 0, 0x0f, ESC, '*', 'r', 'B', "after", LF)
	for _, chunk := range []int{1, 7, 999, 1000, 4096} {
		d := StarDecoder{MaxCommand: 1000}
		var got []StarCommand
		for i := 0; i < len(stream); i += chunk {
			d.Feed(stream[i:min(i+chunk, len(stream))], func(c StarCommand) {
				c.Args, c.Data, c.Raw = slices.Clone(c.Args), slices.Clone(c.Data), nil
				got = append(got, c)
			})
			if len(d.s.buf) > 1000 {
				t.Fatalf("chunk %d: buffered %d bytes, more than MaxCommand", chunk, len(d.s.buf))
			}
		}
		d.End(func(c StarCommand) { got = append(got, c) })
		if len(got) < 5 || got[1].Op != StarOpRasterRow || len(got[1].Data) != 1000-3 || got[1].Skipped != int64(len(hdr)+len(body)-1000) {
			t.Fatalf("chunk %d: commands %v", chunk, got)
		}
		if got[2].Op != StarOpRasterRow || string(got[2].Data) != "\x0f" || got[3].Op != StarOpRasterQuit {
			t.Fatalf("chunk %d: after the skipped row: %v", chunk, got[2:])
		}
		var text string
		for _, c := range got[4:] {
			if c.Kind == KindText {
				text += string(c.Data)
			}
		}
		if text != "after" {
			t.Errorf("chunk %d: text after raster mode = %q", chunk, text)
		}
	}
}

// TestStarDecodeHostileMemory: StarAll allocates nothing whatever the
// declared lengths, and a StarDecoder holds at most MaxCommand bytes.
func TestStarDecodeHostileMemory(t *testing.T) {
	rows := decCat(ESC, '*', 'r', 'A', bytes.Repeat(decCat('b', 0xff, 0xff), 1000))
	qr := decCat(ESC, GS, 'y', 'D', '1', 0, 0xff, 0xff, bytes.Repeat([]byte{'9'}, 1<<20))
	feeds := bytes.Repeat(decCat(ESC, 'a', 127, ESC, 'J', 255, LF), 100000)
	params := bytes.Repeat(decCat(ESC, '*', 'r', 'Y', strings.Repeat("9", 255)), 1000)
	for name, in := range map[string][]byte{"rows": rows, "qr": qr, "feeds": feeds, "params": params} {
		allocs := testing.AllocsPerRun(3, func() {
			for c := range StarAll(in, false) {
				_ = c
			}
		})
		if allocs > 2 {
			t.Errorf("%s: StarAll allocated %v times per run", name, allocs)
		}
	}
	// Streaming 64 MiB of a logo definition declaring 65535×65535×8 bytes.
	const bound = 2*DefaultMaxCommand + 2<<20
	chunk := bytes.Repeat([]byte{0x55}, 64<<10)
	runtime.GC()
	before := decHeapAlloc()
	var d StarDecoder
	n := 0
	d.Feed(decCat(ESC, FS, 'q', 1, 0xff, 0xff, 0xff, 0xff), func(StarCommand) { n++ })
	for range 1024 {
		d.Feed(chunk, func(StarCommand) { n++ })
	}
	allocated := decHeapAlloc() - before
	if n != 1 {
		t.Errorf("got %d commands, want the one cut short", n)
	}
	if allocated > bound {
		t.Errorf("streaming a huge ESC FS q allocated %d bytes, bound %d", allocated, bound)
	}
}

func FuzzStarDecode(f *testing.F) {
	f.Add(starStream(), uint16(7), false)
	f.Add(decCat('b', 0xff, 0xff, "abc", ESC, '*', 'r', 'N', '9', '9', NUL), uint16(3), true)
	f.Add(decCat(ESC, GS, 'y', 'D', '1', 0, 0xff, 0xff, "abc"), uint16(2), false)
	f.Add(decCat(ESC, 'b', 6, 2, 1, 40, "{Bx"), uint16(1), false)
	f.Add(decCat(ESC, FS, 'q', 2, 1, 0, 1, 0, "12345678", 0xff, 0xff), uint16(5), false)
	f.Add(decCat(ESC, '*', 'r', 'm', 'l', strings.Repeat("1", 40)), uint16(11), true)
	f.Fuzz(func(t *testing.T, in []byte, seed uint16, raster bool) {
		var raw []byte
		var whole []starWant
		for c := range StarAll(in, raster) {
			if len(c.Raw) == 0 {
				t.Fatalf("empty command %v", c)
			}
			raw = append(raw, c.Raw...)
			whole = append(whole, starGot(c))
		}
		if !bytes.Equal(raw, in) {
			t.Fatalf("Raw concatenation differs from input")
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		var cuts []int
		for i := 0; i < len(in); i += 1 + rng.IntN(16) {
			cuts = append(cuts, i)
		}
		d := StarDecoder{Raster: raster}
		if got, want := starChunked(&d, in, cuts), starMerge(whole); !slices.Equal(got, want) {
			t.Fatalf("chunked decoding differs:\n got  %+v\n want %+v", got, want)
		}
		small := StarDecoder{MaxCommand: 300, Raster: raster}
		prev := 0
		for _, c := range append(cuts, len(in)) {
			small.Feed(in[prev:c], func(StarCommand) {})
			prev = c
			if len(small.s.buf) > 300 {
				t.Fatalf("buffered %d > 300", len(small.s.buf))
			}
		}
	})
}

// BenchmarkStarDecode measures decoding a Star Line Mode stream with text,
// QR, barcode and raster rows: go test -bench StarDecode -benchmem ./escpos
func BenchmarkStarDecode(b *testing.B) {
	data := bytes.Repeat(starStream(), 100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var d StarDecoder
	for b.Loop() {
		n := 0
		d.Feed(data, func(StarCommand) { n++ })
		d.End(func(StarCommand) { n++ })
	}
}
