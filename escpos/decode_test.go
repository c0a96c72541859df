package escpos

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// decWant is the part of a Command the table tests compare.
type decWant struct {
	Kind Kind
	Op   Op
	Args string
	Data string
}

func decGot(c Command) decWant {
	return decWant{c.Kind, c.Op, string(c.Args), string(c.Data)}
}

func decAll(b []byte) []decWant {
	var out []decWant
	for c := range All(b) {
		out = append(out, decGot(c))
	}
	return out
}

func decCat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		case byte:
			b = append(b, v)
		case int:
			b = append(b, byte(v))
		case rune:
			b = append(b, byte(v))
		default:
			panic(fmt.Sprintf("cat: %T", p))
		}
	}
	return b
}

func TestDecodeTable(t *testing.T) {
	cmd := func(o Op, args, data string) decWant { return decWant{KindCommand, o, args, data} }
	text := func(s string) decWant { return decWant{Kind: KindText, Data: s} }
	ctl := func(c byte) decWant { return decWant{Kind: KindControl, Op: Op(c)} }
	tests := []struct {
		name string
		in   []byte
		want []decWant
	}{
		{"text and LF", decCat("Hola ñ", LF, "x"), []decWant{text("Hola ñ"), ctl(LF), text("x")}},
		{"high bytes are text", decCat(0xa4, 0xd5, 0x7f), []decWant{text("\xa4\xd5\x7f")}},
		{"controls", decCat(HT, CR, FF, CAN, NUL, 0x07), []decWant{ctl(HT), ctl(CR), ctl(FF), ctl(CAN), ctl(NUL), ctl(7)}},
		{"ESC @", decCat(ESC, '@'), []decWant{cmd(OpInit, "", "")}},
		{"ESC ! n", decCat(ESC, '!', 0x38, "A"), []decWant{cmd(OpPrintMode, "\x38", ""), text("A")}},
		{"ESC $", decCat(ESC, '$', 10, 1), []decWant{cmd(OpAbsPos, "\x0a\x01", "")}},
		{"ESC SP", decCat(ESC, ' ', 3), []decWant{cmd(OpCharSpacing, "\x03", "")}},
		{"ESC - E G M a t { d J 3 2", decCat(ESC, '-', 2, ESC, 'E', 1, ESC, 'G', 1, ESC, 'M', 1, ESC, 'a', 1, ESC, 't', 19, ESC, '{', 1, ESC, 'd', 3, ESC, 'J', 40, ESC, '3', 24, ESC, '2'),
			[]decWant{cmd(OpUnderline, "\x02", ""), cmd(OpEmphasis, "\x01", ""), cmd(OpDoubleStrike, "\x01", ""), cmd(OpFont, "\x01", ""),
				cmd(OpAlign, "\x01", ""), cmd(OpCodePage, "\x13", ""), cmd(OpUpsideDown, "\x01", ""), cmd(OpFeedLines, "\x03", ""),
				cmd(OpFeedDots, "\x28", ""), cmd(OpLineSpacing, "\x18", ""), cmd(OpLineSpacingStd, "", "")}},
		{"ESC \\", decCat(ESC, '\\', 0xf6, 0xff), []decWant{cmd(OpRelPos, "\xf6\xff", "")}},
		{"ESC D tabs", decCat(ESC, 'D', 8, 16, 24, NUL, "x"), []decWant{cmd(OpTabs, "", "\x08\x10\x18"), text("x")}},
		{"ESC D no tabs", decCat(ESC, 'D', NUL), []decWant{cmd(OpTabs, "", "")}},
		{"ESC D 32 without NUL", decCat(ESC, 'D', bytes.Repeat([]byte{1}, 32), 'x'), []decWant{cmd(OpTabs, "", string(bytes.Repeat([]byte{1}, 32))), text("x")}},
		{"ESC D 32 with NUL", decCat(ESC, 'D', bytes.Repeat([]byte{1}, 32), NUL, 'x'), []decWant{cmd(OpTabs, "", string(bytes.Repeat([]byte{1}, 32))), text("x")}},
		{"ESC p", decCat(ESC, 'p', 0, 25, 250), []decWant{cmd(OpPulse, "\x00\x19\xfa", "")}},
		{"ESC * 24-dot", decCat(ESC, '*', 33, 2, 0, "abcdef"), []decWant{cmd(OpBitImage, "\x21\x02\x00", "abcdef")}},
		{"ESC * 8-dot", decCat(ESC, '*', 0, 3, 0, "abcd"), []decWant{cmd(OpBitImage, "\x00\x03\x00", "abc"), text("d")}},
		{"ESC * bad mode", decCat(ESC, '*', 7, 1, 0, "a"), []decWant{{KindInvalid, OpBitImage, "\x07\x01\x00", ""}, text("a")}},
		{"ESC c 5", decCat(ESC, 'c', '5', 0), []decWant{cmd(OpPanelButtons, "\x00", "")}},
		{"ESC c 3 4", decCat(ESC, 'c', '3', 0, ESC, 'c', '4', 0), []decWant{cmd(OpSensorPaperOut, "\x00", ""), cmd(OpSensorStop, "\x00", "")}},
		{"ESC ( A beeper", decCat(ESC, '(', 'A', 4, 0, 48, 55, 3, 10), []decWant{cmd(OpBeeper, "\x04\x00", "\x30\x37\x03\x0a")}},
		{"ESC & user chars", decCat(ESC, '&', 3, 65, 66, 1, "abc", 2, "defghi", "z"), []decWant{cmd(OpUserCharsDefine, "\x03\x41\x42", "\x01abc\x02defghi"), text("z")}},
		{"ESC B buzzer", decCat(ESC, 'B', 2, 3), []decWant{cmd(OpBuzzer, "\x02\x03", "")}},
		{"ESC = ? % R U V T r u v", decCat(ESC, '=', 1, ESC, '?', 65, ESC, '%', 0, ESC, 'R', 7, ESC, 'U', 0, ESC, 'V', 1, ESC, 'T', 0, ESC, 'r', 0, ESC, 'u', 0, ESC, 'v'),
			[]decWant{cmd(OpPeripheral, "\x01", ""), cmd(OpUserCharsCancel, "A", ""), cmd(OpUserCharsSelect, "\x00", ""), cmd(OpIntlCharset, "\x07", ""),
				cmd(OpUnidirectional, "\x00", ""), cmd(OpRotate90, "\x01", ""), cmd(OpPageDirection, "\x00", ""), cmd(OpColor, "\x00", ""),
				cmd(OpDrawerStatus, "\x00", ""), cmd(OpPaperStatus, "", "")}},
		{"unknown ESC", decCat(ESC, 'y', "ab"), []decWant{{KindUnknown, Op(ESC)<<8 | 'y', "", ""}, text("ab")}},
		{"GS !", decCat(GS, '!', 0x11), []decWant{cmd(OpCharSize, "\x11", "")}},
		{"GS B L W H h w f", decCat(GS, 'B', 1, GS, 'L', 8, 0, GS, 'W', 0, 2, GS, 'H', 2, GS, 'h', 80, GS, 'w', 3, GS, 'f', 1),
			[]decWant{cmd(OpReverse, "\x01", ""), cmd(OpLeftMargin, "\x08\x00", ""), cmd(OpAreaWidth, "\x00\x02", ""), cmd(OpHRIPosition, "\x02", ""),
				cmd(OpBarcodeHeight, "\x50", ""), cmd(OpBarcodeWidth, "\x03", ""), cmd(OpHRIFont, "\x01", "")}},
		{"GS V forms", decCat(GS, 'V', 0, GS, 'V', 49, GS, 'V', 66, 10, GS, 'V', 65, 0, GS, 'V', 104, 3),
			[]decWant{cmd(OpCut, "\x00", ""), cmd(OpCut, "\x31", ""), cmd(OpCut, "\x42\x0a", ""), cmd(OpCut, "\x41\x00", ""), cmd(OpCut, "\x68\x03", "")}},
		{"GS v 0", decCat(GS, 'v', '0', 0, 2, 0, 2, 0, "abcd", "z"), []decWant{cmd(OpRaster, "\x00\x02\x00\x02\x00", "abcd"), text("z")}},
		{"GS v 1 unknown", decCat(GS, 'v', '1', "z"), []decWant{{KindUnknown, OpRaster&^0xff | '1', "", ""}, text("z")}},
		{"GS ( k QR store", decCat(GS, '(', 'k', 6, 0, 49, 80, 48, "abc"), []decWant{cmd(OpSymbol, "\x06\x00", "\x31\x50\x30abc")}},
		{"GS ( L", decCat(GS, '(', 'L', 2, 0, 48, 50), []decWant{cmd(OpGraphics, "\x02\x00", "\x30\x32")}},
		{"GS 8 L", decCat(GS, '8', 'L', 3, 0, 0, 0, 48, 50, 9), []decWant{cmd(OpGraphicsLong, "\x03\x00\x00\x00", "\x30\x32\x09")}},
		{"GS ( unknown keeps its length", decCat(GS, '(', 'Z', 2, 0, "ab", "c"), []decWant{{KindUnknown, Op(GS)<<16 | '('<<8 | 'Z', "\x02\x00", "ab"}, text("c")}},
		{"GS k function A", decCat(GS, 'k', 2, "4006381333931", NUL, "x"), []decWant{cmd(OpBarcode, "\x02", "4006381333931"), text("x")}},
		{"GS k function B", decCat(GS, 'k', 73, 4, "{B12"), []decWant{cmd(OpBarcode, "\x49\x04", "{B12")}},
		{"GS k bad m", decCat(GS, 'k', 30, "12"), []decWant{{KindInvalid, OpBarcode, "\x1e", ""}, text("12")}},
		{"GS k A without NUL", decCat(GS, 'k', 4, bytes.Repeat([]byte{'1'}, 300)), []decWant{{KindInvalid, OpBarcode, "\x04", ""}, text(string(bytes.Repeat([]byte{'1'}, 300)))}},
		{"GS * and /", decCat(GS, '*', 1, 1, "12345678", GS, '/', 0), []decWant{cmd(OpDefineImage, "\x01\x01", "12345678"), cmd(OpPrintImage, "\x00", "")}},
		{"GS P a I r z g", decCat(GS, 'P', 203, 203, GS, 'a', 0, GS, 'I', 1, GS, 'r', 1, GS, 'z', '0', 1, 2, GS, 'g', '0', 0, 20, 0),
			[]decWant{cmd(OpMotionUnits, "\xcb\xcb", ""), cmd(OpASB, "\x00", ""), cmd(OpPrinterID, "\x01", ""), cmd(OpTransmitStatus, "\x01", ""),
				cmd(OpOnlineRecovery, "0\x01\x02", ""), cmd(OpMaintenance, "0\x00\x14\x00", "")}},
		{"FS", decCat(FS, '.', FS, '&', FS, 'C', 0, FS, 'S', 0, 0, FS, '!', 0, FS, '-', 0, FS, 'W', 0, FS, 'p', 1, 0),
			[]decWant{cmd(OpKanjiOff, "", ""), cmd(OpKanjiOn, "", ""), cmd(OpKanjiCode, "\x00", ""), cmd(OpKanjiSpacing, "\x00\x00", ""),
				cmd(OpKanjiMode, "\x00", ""), cmd(OpKanjiUnderline, "\x00", ""), cmd(OpKanjiQuad, "\x00", ""), cmd(OpNVImagePrint, "\x01\x00", "")}},
		{"FS ( A", decCat(FS, '(', 'A', 2, 0, 48, 0), []decWant{cmd(OpFSFuncA, "\x02\x00", "\x30\x00")}},
		{"FS q", decCat(FS, 'q', 1, 1, 0, 1, 0, "12345678", "z"), []decWant{cmd(OpNVImageDefine, "\x01", "\x01\x00\x01\x0012345678"), text("z")}},
		{"DLE EOT", decCat(DLE, EOT, 1, DLE, EOT, 4, DLE, EOT, 7, 1), []decWant{cmd(OpStatus, "\x01", ""), cmd(OpStatus, "\x04", ""), cmd(OpStatus, "\x07\x01", "")}},
		{"DLE ENQ DC4", decCat(DLE, ENQ, 2, DLE, DC4, 1, 0, 1, DLE, DC4, 8, 1, 3, 20, 1, 6, 2, 8), []decWant{cmd(OpRTRequest, "\x02", ""), cmd(OpRTCommand, "\x01\x00\x01", ""), cmd(OpRTCommand, "\x08\x01\x03\x14\x01\x06\x02\x08", "")}},
		{"lone DLE", decCat(DLE, "A"), []decWant{{KindUnknown, DLE, "", ""}, text("A")}},
		{"truncated ESC", decCat("a", ESC), []decWant{text("a"), {KindTruncated, ESC, "", ""}}},
		{"truncated GS v 0 header", decCat(GS, 'v', '0', 0, 1), []decWant{{Kind: KindTruncated, Op: Op(GS)<<8 | 'v'}}},
		{"truncated GS v 0 data", decCat(GS, 'v', '0', 0, 1, 0, 3, 0, "ab"), []decWant{{KindTruncated, OpRaster, "\x00\x01\x00\x03\x00", "ab"}}},
		{"truncated GS k A", decCat(GS, 'k', 2, "123"), []decWant{{KindTruncated, OpBarcode, "\x02", "123"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decAll(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Errorf("decoded %q\n got  %+v\n want %+v", tt.in, got, tt.want)
			}
			// Raw covers the input exactly, in order.
			var raw []byte
			for c := range All(tt.in) {
				raw = append(raw, c.Raw...)
			}
			if !bytes.Equal(raw, tt.in) {
				t.Errorf("Raw concatenation differs from input")
			}
		})
	}
}

func TestOpString(t *testing.T) {
	for o, want := range map[Op]string{
		OpInit: "ESC @", OpSymbol: "GS ( k", OpRaster: "GS v 0", OpStatus: "DLE EOT", OpLF: "LF",
		OpCharSpacing: "ESC SP", OpGraphicsLong: "GS 8 L", OpPanelButtons: "ESC c 5",
	} {
		if got := o.String(); got != want {
			t.Errorf("%#x.String() = %q, want %q", uint32(o), got, want)
		}
	}
	c, _ := Next(decCat(ESC, '!', 8), true)
	if got := c.String(); got != "ESC ! 8" {
		t.Errorf("Command.String = %q", got)
	}
}

func TestNextNeedsMore(t *testing.T) {
	full := decCat(GS, 'v', '0', 0, 1, 0, 2, 0, "ab")
	for i := 1; i < len(full); i++ {
		if _, n := Next(full[:i:i], false); n != 0 {
			t.Errorf("Next(%d of %d bytes, !atEOF) consumed %d", i, len(full), n)
		}
		if c, n := Next(full[:i:i], true); n != i || c.Kind != KindTruncated {
			t.Errorf("Next(%d bytes, atEOF) = %v, %d", i, c.Kind, n)
		}
	}
	if c, n := Next(full, false); n != len(full) || c.Kind != KindCommand {
		t.Errorf("complete: %v %d", c.Kind, n)
	}
}

// decStream is a stream with every kind of command, for chunking tests.
func decStream() []byte {
	return decCat(ESC, '@', ESC, 't', 19, "Ma\xa4ana ", ESC, '!', 0x38, "GRANDE", LF,
		GS, 'v', '0', 0, 2, 0, 3, 0, "abcdef", ESC, 'D', 4, 8, NUL, HT, "x", LF,
		GS, '(', 'k', 8, 0, 49, 80, 48, "https", GS, 'k', 2, "4006381333931", NUL,
		GS, 'k', 73, 3, "{A1", ESC, '*', 33, 1, 0, "xyz", ESC, '&', 3, 65, 65, 1, "abc",
		FS, 'q', 1, 1, 0, 1, 0, "12345678", GS, '8', 'L', 2, 0, 0, 0, 48, 50,
		DLE, EOT, 1, ESC, 'y', GS, 'V', 66, 3, "fin")
}

// decMerge joins adjacent text runs, which a chunked decoder may split.
func decMerge(cs []decWant) []decWant {
	var out []decWant
	for _, c := range cs {
		if c.Kind == KindText && len(out) > 0 && out[len(out)-1].Kind == KindText {
			out[len(out)-1].Data += c.Data
			continue
		}
		out = append(out, c)
	}
	return out
}

func decChunked(d *Decoder, b []byte, cuts []int) []decWant {
	var out []decWant
	yield := func(c Command) { out = append(out, decGot(c)) }
	prev := 0
	for _, c := range cuts {
		d.Feed(b[prev:c], yield)
		prev = c
	}
	d.Feed(b[prev:], yield)
	d.End(yield)
	return decMerge(out)
}

func TestDecoderChunks(t *testing.T) {
	stream := decStream()
	want := decMerge(decAll(stream))
	var d Decoder
	// Every single split point, then every pair.
	for i := 0; i <= len(stream); i++ {
		if got := decChunked(&d, stream, []int{i}); !slices.Equal(got, want) {
			t.Fatalf("split at %d:\n got  %+v\n want %+v", i, got, want)
		}
	}
	for i := 0; i <= len(stream); i++ {
		for j := i; j <= len(stream); j++ {
			if got := decChunked(&d, stream, []int{i, j}); !slices.Equal(got, want) {
				t.Fatalf("split at %d, %d:\n got  %+v\n want %+v", i, j, got, want)
			}
		}
	}
	// Byte by byte.
	cuts := make([]int, len(stream))
	for i := range cuts {
		cuts[i] = i
	}
	if got := decChunked(&d, stream, cuts); !slices.Equal(got, want) {
		t.Fatalf("byte by byte:\n got  %+v\n want %+v", got, want)
	}
}

func TestDecoderOversize(t *testing.T) {
	// A GS v 0 declaring 100×100 bytes with MaxCommand 1000: delivered cut
	// at 1000 bytes, the rest skipped, and decoding resumes after it.
	hdr := decCat(GS, 'v', '0', 0, 100, 0, 100, 0)
	body := bytes.Repeat([]byte{0xff}, 100*100)
	stream := decCat(hdr, body, "after", LF)
	for _, chunk := range []int{1, 7, 999, 1000, 4096, len(stream)} {
		d := Decoder{MaxCommand: 1000}
		var got []Command
		for i := 0; i < len(stream); i += chunk {
			d.Feed(stream[i:min(i+chunk, len(stream))], func(c Command) {
				c.Data, c.Raw = slices.Clone(c.Data), nil
				got = append(got, c)
			})
			if d.Pending() > 1000+int64(len(body)) {
				t.Fatalf("pending %d", d.Pending())
			}
			if len(d.s.buf) > 1000 {
				t.Fatalf("chunk %d: buffered %d bytes, more than MaxCommand", chunk, len(d.s.buf))
			}
		}
		d.End(func(c Command) { got = append(got, c) })
		if chunk == len(stream) {
			// A command complete in one Feed is delivered whole: it is
			// already in memory and nothing is buffered.
			if len(got) != 3 || len(got[0].Data) != len(body) || got[0].Skipped != 0 {
				t.Fatalf("whole stream: first command %v", got[0])
			}
			continue
		}
		if len(got) < 3 || got[0].Op != OpRaster || len(got[0].Data) != 1000-len(hdr) || got[0].Skipped != int64(len(hdr)+len(body)-1000) {
			t.Fatalf("chunk %d: first command %v (data %d, skipped %d)", chunk, got[0], len(got[0].Data), got[0].Skipped)
		}
		var text string
		for _, c := range got[1:] {
			if c.Kind == KindText {
				text += string(c.Data)
			}
		}
		if text != "after" {
			t.Errorf("chunk %d: text after the skipped command = %q", chunk, text)
		}
	}
}

// heapAlloc returns the bytes allocated so far (cumulative).
func decHeapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// TestDecodeHostileMemory feeds hostile streams and checks what the decoder
// allocates: All allocates nothing, and a streaming Decoder holds at most
// MaxCommand bytes however large the declared length.
func TestDecodeHostileMemory(t *testing.T) {
	// Endless feed and a 65535×65535 raster header: All never allocates.
	feeds := bytes.Repeat(decCat(ESC, 'd', 255, ESC, 'J', 255, LF), 100000)
	raster := decCat(GS, 'v', '0', 0, 0xff, 0xff, 0xff, 0xff, bytes.Repeat([]byte{0xaa}, 1<<20))
	gs8 := decCat(GS, '8', 'L', 0xff, 0xff, 0xff, 0xff, 48, 112, bytes.Repeat([]byte{0x55}, 1<<20))
	paren := decCat(GS, '(', 'L', 0xff, 0xff, 48, 112, bytes.Repeat([]byte{0x55}, 1000))
	for name, in := range map[string][]byte{"feeds": feeds, "raster": raster, "gs8": gs8, "paren": paren} {
		allocs := testing.AllocsPerRun(3, func() {
			for c := range All(in) {
				_ = c
			}
		})
		if allocs > 2 { // the iterator closure
			t.Errorf("%s: All allocated %v times per run", name, allocs)
		}
	}

	// Streaming: a GS 8 L declaring 4 GB, fed 64 MiB in 64 KiB chunks. The
	// decoder holds at most MaxCommand (4 MiB) and skips the rest.
	const bound = 2*DefaultMaxCommand + 2<<20 // held ≤ MaxCommand; grown by doubling
	chunk := bytes.Repeat([]byte{0x55}, 64<<10)
	runtime.GC()
	before := decHeapAlloc()
	var d Decoder
	var first Command
	n := 0
	d.Feed(decCat(GS, '8', 'L', 0xff, 0xff, 0xff, 0xff, 48, 112, 48, 1, 1, 49), func(c Command) { n++ })
	for range 1024 {
		d.Feed(chunk, func(c Command) {
			if n == 0 {
				first = c
				first.Data, first.Raw = nil, nil
			}
			n++
		})
	}
	allocated := decHeapAlloc() - before
	if n != 1 || first.Op != OpGraphicsLong || first.Skipped != 0xffffffff+7-DefaultMaxCommand {
		t.Errorf("got %d commands, first %v skipped %d", n, first, first.Skipped)
	}
	if allocated > bound {
		t.Errorf("streaming a 4 GB GS 8 L allocated %d bytes, bound %d", allocated, bound)
	}
	t.Logf("streaming 64 MiB of a 4 GB GS 8 L allocated %.1f MiB (bound %.1f MiB)", float64(allocated)/(1<<20), float64(bound)/(1<<20))
}

func FuzzDecode(f *testing.F) {
	f.Add(decStream(), uint16(7))
	f.Add(decCat(GS, 'v', '0', 0, 0xff, 0xff, 0xff, 0xff, "abc"), uint16(3))
	f.Add(decCat(GS, '8', 'L', 0xff, 0xff, 0xff, 0xff, 48, 112), uint16(1))
	f.Add(decCat(ESC, '&', 3, 32, 126, 12), uint16(2))
	f.Add(decCat(FS, 'q', 2, 1, 0, 1, 0, "12345678", 0xff, 0xff), uint16(5))
	f.Add(decCat(ESC, 'D', bytes.Repeat([]byte{9}, 40)), uint16(11))
	f.Fuzz(func(t *testing.T, in []byte, seed uint16) {
		// Whole-input decoding covers the input exactly.
		var raw []byte
		var whole []decWant
		for c := range All(in) {
			if len(c.Raw) == 0 {
				t.Fatalf("empty command %v", c)
			}
			raw = append(raw, c.Raw...)
			whole = append(whole, decGot(c))
		}
		if !bytes.Equal(raw, in) {
			t.Fatalf("Raw concatenation differs from input")
		}
		// Chunked decoding gives the same commands.
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		var cuts []int
		for i := 0; i < len(in); i += 1 + rng.IntN(16) {
			cuts = append(cuts, i)
		}
		var d Decoder
		if got, want := decChunked(&d, in, cuts), decMerge(whole); !slices.Equal(got, want) {
			t.Fatalf("chunked decoding differs:\n got  %+v\n want %+v", got, want)
		}
		// A small MaxCommand never buffers more than it says.
		small := Decoder{MaxCommand: 64}
		prev := 0
		for _, c := range append(cuts, len(in)) {
			small.Feed(in[prev:c], func(Command) {})
			prev = c
			if len(small.s.buf) > 64 {
				t.Fatalf("buffered %d > 64", len(small.s.buf))
			}
		}
	})
}
