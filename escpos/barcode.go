package escpos

import (
	"fmt"
	"strings"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos/symbol"
)

// gsK is the GS k function B (m = 65…73) number of each symbology.
var gsK = map[string]byte{
	"upca": 65, "upce": 66, "ean13": 67, "ean8": 68, "code39": 69,
	"itf": 70, "codabar": 71, "code93": 72, "code128": 73,
}

const (
	code39Chars  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -.$/+%"
	codabarChars = "0123456789-$:/.+"
	minModule    = 2 // the narrowest module GS w accepts on every model
)

// ValidateBarcode reports whether data can be printed as a barcode of the
// symbology sym (upca, upce, ean13, ean8, code39, itf, codabar, code93,
// code128), with an error that says what is wrong, such as
// "ean13: check digit is 2, data says 1". A server can call it when a job
// is submitted rather than learn of bad data when the job prints.
func ValidateBarcode(sym, data string) error {
	_, err := barcodeData(sym, data)
	return err
}

// barcodeData validates data for sym and returns what GS k sends: the data
// itself, with a check digit verified, code39's start/stop '*', codabar's
// start/stop characters, code128's code set prefix ("{C" and the digits
// packed two to a byte, 0 to 99, for an even number of digits; else "{B"
// and the text with '{' escaped as "{{"); UPC-E as its 11-digit UPC-A
// form, which every ESC/POS model accepts.
func barcodeData(sym, data string) (string, error) {
	if data == "" {
		return "", fmt.Errorf("%s: data is empty", sym)
	}
	digits := func(lengths ...int) error {
		for i := 0; i < len(data); i++ {
			if data[i] < '0' || data[i] > '9' {
				return fmt.Errorf("%s: %q has %q at %d: want digits only", sym, data, rune(data[i]), i+1)
			}
		}
		for _, n := range lengths {
			if len(data) == n {
				return nil
			}
		}
		if lengths == nil {
			return nil
		}
		want := make([]string, len(lengths))
		for i, n := range lengths {
			want[i] = fmt.Sprint(n)
		}
		return fmt.Errorf("%s: %d digits: want %s", sym, len(data), strings.Join(want, " or "))
	}
	var payload string
	switch sym {
	case "upca":
		if err := digits(11, 12); err != nil {
			return "", err
		}
		if err := checkDigit(sym, data, 12); err != nil {
			return "", err
		}
		payload = data
	case "ean13":
		if err := digits(12, 13); err != nil {
			return "", err
		}
		if err := checkDigit(sym, data, 13); err != nil {
			return "", err
		}
		payload = data
	case "ean8":
		if err := digits(7, 8); err != nil {
			return "", err
		}
		if err := checkDigit(sym, data, 8); err != nil {
			return "", err
		}
		payload = data
	case "upce":
		if err := digits(6, 7, 8, 11, 12); err != nil {
			return "", err
		}
		a, err := upceToUPCA(data)
		if err != nil {
			return "", err
		}
		payload = a
	case "itf":
		if err := digits(); err != nil {
			return "", err
		}
		if len(data)%2 != 0 {
			return "", fmt.Errorf("itf: %d digits: want an even number (add a leading 0)", len(data))
		}
		payload = data
	case "code39":
		d := data
		if len(d) >= 2 && d[0] == '*' && d[len(d)-1] == '*' {
			d = d[1 : len(d)-1]
		}
		if d == "" {
			return "", fmt.Errorf("code39: no data between the start and stop characters")
		}
		for _, r := range d {
			if !strings.ContainsRune(code39Chars, r) {
				return "", fmt.Errorf("code39: %q is not in Code 39's character set (0-9, A-Z, space and - . $ / + %%)", r)
			}
		}
		payload = "*" + d + "*"
	case "codabar":
		d := strings.ToUpper(data)
		isSS := func(c byte) bool { return c >= 'A' && c <= 'D' }
		if isSS(d[0]) || isSS(d[len(d)-1]) {
			if len(d) < 2 || !isSS(d[0]) || !isSS(d[len(d)-1]) {
				return "", fmt.Errorf("codabar: %q: start and stop characters (A-D) go at both ends or at neither", data)
			}
		} else {
			d = "A" + d + "A"
		}
		for _, r := range d[1 : len(d)-1] {
			if !strings.ContainsRune(codabarChars, r) {
				return "", fmt.Errorf("codabar: %q is not in Codabar's character set (0-9 and - $ : / . +)", r)
			}
		}
		payload = d
	case "code93":
		for _, r := range data {
			if r > 127 {
				return "", fmt.Errorf("code93: %q is not ASCII", r)
			}
		}
		payload = data
	case "code128":
		allDigits := len(data)%2 == 0
		for _, r := range data {
			if r < ' ' || r > '~' {
				return "", fmt.Errorf("code128: %q cannot be encoded: want printable ASCII", r)
			}
			if r < '0' || r > '9' {
				allDigits = false
			}
		}
		if allDigits {
			// Code set C: each pair of digits is one byte, 0 to 99.
			c := []byte("{C")
			for i := 0; i < len(data); i += 2 {
				c = append(c, (data[i]-'0')*10+data[i+1]-'0')
			}
			payload = string(c)
		} else {
			payload = "{B" + strings.ReplaceAll(data, "{", "{{")
		}
	default:
		return "", fmt.Errorf("unknown barcode type %q (want one of %s)", sym, strings.Join(core.Symbologies, ", "))
	}
	if len(payload) > 255 {
		return "", fmt.Errorf("%s: %d bytes to send, more than the 255 a barcode command holds", sym, len(payload))
	}
	return payload, nil
}

// checkDigit verifies the GS1 check digit when data has full length n.
func checkDigit(sym, data string, n int) error {
	if len(data) != n {
		return nil
	}
	want := gs1Check(data[:n-1])
	if got := data[n-1]; got != want {
		return fmt.Errorf("%s: check digit is %c, data says %c", sym, want, got)
	}
	return nil
}

// gs1Check returns the GS1 (mod 10) check digit of digits: weights 3 and 1
// from the right.
func gs1Check(digits string) byte {
	sum := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 0 {
			sum += 3 * d
		} else {
			sum += d
		}
	}
	return byte('0' + (10-sum%10)%10)
}

// upceToUPCA validates UPC-E data in any of its forms (6 digits; 7 with the
// number system; 8 with the check digit; 11 or 12 as the UPC-A code it
// compresses) and returns the 11-digit UPC-A form without check digit.
func upceToUPCA(data string) (string, error) {
	var a string
	switch len(data) {
	case 6:
		a = upceExpand("0" + data)
	case 7, 8:
		if data[0] != '0' {
			return "", fmt.Errorf("upce: number system %c: ESC/POS printers print UPC-E with number system 0 only", data[0])
		}
		a = upceExpand(data[:7])
		if len(data) == 8 {
			if want := gs1Check(a); data[7] != want {
				return "", fmt.Errorf("upce: check digit is %c, data says %c", want, data[7])
			}
		}
	case 11, 12:
		if data[0] != '0' {
			return "", fmt.Errorf("upce: number system %c: ESC/POS printers print UPC-E with number system 0 only", data[0])
		}
		if err := checkDigit("upce", data, 12); err != nil {
			return "", err
		}
		a = data[:11]
		if _, ok := upceCompress(a); !ok {
			return "", fmt.Errorf("upce: UPC-A %s cannot be compressed to UPC-E (print it as upca)", a)
		}
	}
	return a, nil
}

// upceExpand turns number system + 6 UPC-E digits into the 11-digit UPC-A
// form (without check digit).
func upceExpand(e string) string {
	ns, d := e[:1], e[1:7]
	switch d[5] {
	case '0', '1', '2':
		return ns + d[0:2] + d[5:6] + "0000" + d[2:5]
	case '3':
		return ns + d[0:3] + "00000" + d[3:5]
	case '4':
		return ns + d[0:4] + "00000" + d[4:5]
	default:
		return ns + d[0:5] + "0000" + d[5:6]
	}
}

// upceCompress returns the 6 UPC-E digits of an 11-digit UPC-A code, if it
// has a UPC-E form.
func upceCompress(a string) (string, bool) {
	m, p := a[1:6], a[6:11]
	var e string
	switch {
	case m[2:] == "000" || m[2:] == "100" || m[2:] == "200":
		e = m[0:2] + p[2:5] + m[2:3]
	case m[3:] == "00":
		e = m[0:3] + p[3:5] + "3"
	case m[4:] == "0":
		e = m[0:4] + p[4:5] + "4"
	default:
		e = m + p[4:5]
	}
	return e, upceExpand(a[:1]+e) == a
}

// barcode prints a barcode block, natively when the profile has the
// symbology, else as a raster image.
func (e *encoder) barcode(b *core.Block) error {
	sym := b.Symbology
	payload, err := barcodeData(sym, b.Text)
	if err != nil {
		return err
	}
	h := b.BarHeight
	if h <= 0 {
		h = defaultBarH
	}
	mw := b.ModuleWidth
	if mw <= 0 {
		mw = defaultBarW
	}
	align := alignByte(b.Align)
	code, err := symbol.Barcode(sym, []byte(payload))
	if err != nil {
		return fmt.Errorf("%s: %q: %v", sym, b.Text, err)
	}
	if mw, err = e.fitModule(code, sym, b.Text, mw); err != nil {
		return err
	}
	if !e.p.HasBarcode(sym) {
		return e.rasterBarcode(code, h, mw, b.HRI, align)
	}
	hri := byte(0)
	if b.HRI {
		hri = 2 // below the bars
	}
	e.setStyle(style{align: align})
	e.out = append(e.out,
		GS, 'h', byte(h),
		GS, 'w', byte(mw),
		GS, 'H', hri,
		GS, 'f', 0,
		GS, 'k', gsK[sym], byte(len(payload)))
	e.out = append(e.out, payload...)
	e.out = append(e.out, LF)
	e.setStyle(style{})
	return nil
}

// fitModule returns the module width, reduced if the symbol at mw dots a
// module would be wider than the paper; an error if even the narrowest
// module does not fit.
func (e *encoder) fitModule(code *symbol.Code, sym, data string, mw int) (int, error) {
	for ; mw > minModule && code.Width(mw) > e.p.DotsPerLine; mw-- {
	}
	if w := code.Width(mw); w > e.p.DotsPerLine {
		return 0, fmt.Errorf("%s: %q is %d dots wide at %d dots a module, wider than the paper (%d dots)",
			sym, data, w, mw, e.p.DotsPerLine)
	}
	return mw, nil
}

// rasterBarcode draws a barcode the printer cannot print natively, exactly
// as a printer draws it for GS k (package symbol), with the human-readable
// text below it as printer text when hri is set.
func (e *encoder) rasterBarcode(code *symbol.Code, h, mw int, hri bool, align byte) error {
	bars := code.Dots(mw)
	img := newBitImage(len(bars), h)
	for x, on := range bars {
		if !on {
			continue
		}
		for y := 0; y < h; y++ {
			img.set(x, y)
		}
	}
	e.raster(img, align)
	if hri {
		e.setStyle(style{align: align})
		e.writeLine([]rune(code.HRI))
		e.setStyle(style{})
	}
	e.out = append(e.out, LF)
	return nil
}
