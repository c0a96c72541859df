package symbol

import (
	"errors"
	"fmt"
)

// The UPC/EAN family is encoded here rather than with boombuler/barcode/ean:
// that package refuses a mismatched check digit, which an ESC/POS printer
// prints as sent (Epson: "the modular check character is not checked"), and
// it has no UPC-E. The tables are the standard ones (ISO/IEC 15420).

// digitL holds the element widths (space, bar, space, bar) of each digit in
// odd parity (set A / L). The right-hand set (C / R) has the same widths
// starting with a bar; even parity (set B / G) has them reversed.
var digitL = [10][4]uint8{
	{3, 2, 1, 1}, {2, 2, 2, 1}, {2, 1, 2, 2}, {1, 4, 1, 1}, {1, 1, 3, 2},
	{1, 2, 3, 1}, {1, 1, 1, 4}, {1, 3, 1, 2}, {1, 2, 1, 3}, {3, 1, 1, 2},
}

// ean13Parity is, for each leading digit, the parity of the six left digits
// of an EAN-13 (bit i set = even parity for digit i+1, counting from the left).
var ean13Parity = [10]uint8{
	0b000000, 0b110100, 0b101100, 0b011100, 0b110010,
	0b100110, 0b001110, 0b101010, 0b011010, 0b010110,
}

// upceParity is, for each check digit, the parity of the six digits of a
// UPC-E with number system 0 (bit i set = even parity for digit i+1).
var upceParity = [10]uint8{
	0b000111, 0b001011, 0b010011, 0b100011, 0b001101,
	0b011001, 0b110001, 0b010101, 0b100101, 0b101001,
}

// builder accumulates elements; a new element of the same colour as the last
// one widens it, so guard patterns and digits can be written as they read.
type builder struct {
	bars  []uint8
	black bool // colour of the next element to append
}

func (b *builder) add(black bool, w uint8) {
	if len(b.bars) > 0 && black == b.black {
		b.bars[len(b.bars)-1] += w
		return
	}
	if len(b.bars) == 0 && !black {
		return // leading space: part of the quiet zone
	}
	b.bars = append(b.bars, w)
	b.black = black
}

// pattern appends alternating elements starting with the given colour.
func (b *builder) pattern(black bool, ws ...uint8) {
	for _, w := range ws {
		b.add(black, w)
		black = !black
	}
}

func (b *builder) digit(d byte, set byte) {
	w := digitL[d]
	switch set {
	case 'L':
		b.pattern(false, w[0], w[1], w[2], w[3])
	case 'G':
		b.pattern(false, w[3], w[2], w[1], w[0])
	case 'R':
		b.pattern(true, w[0], w[1], w[2], w[3])
	}
}

// digits converts ASCII digits to values.
func digits(data []byte) ([]byte, error) {
	out := make([]byte, len(data))
	for i, c := range data {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("byte %d is %s, only digits 0-9 are allowed", i+1, show(c))
		}
		out[i] = c - '0'
	}
	return out, nil
}

// checkDigit is the modulo-10 check digit of d (UPC/EAN): weights 3 and 1
// alternating from the rightmost digit.
func checkDigit(d []byte) byte {
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i])
		if i%2 == 0 {
			v *= 3
		}
		sum += v
	}
	return byte((10 - sum%10) % 10)
}

// withCheck splits digits into payload and check digit: with n digits the
// check digit is computed, with n+1 the last one is used as sent.
func withCheck(d []byte, n int) (body []byte, check byte, warning string) {
	want := checkDigit(d[:n])
	if len(d) == n {
		return d, want, ""
	}
	if d[n] != want {
		warning = fmt.Sprintf("check digit %d does not match the data (should be %d): printed as sent, a scanner will reject it", d[n], want)
	}
	return d[:n], d[n], warning
}

func text(d []byte) string {
	b := make([]byte, len(d))
	for i, v := range d {
		b[i] = '0' + v
	}
	return string(b)
}

func lengths(data []byte, ns ...int) error {
	for _, n := range ns {
		if len(data) == n {
			return nil
		}
	}
	return fmt.Errorf("%d digits, want %s", len(data), orList(ns))
}

func orList(ns []int) string {
	s := ""
	for i, n := range ns {
		switch {
		case i == 0:
		case i == len(ns)-1:
			s += " or "
		default:
			s += ", "
		}
		s += fmt.Sprint(n)
	}
	return s
}

// ean13Code draws 13 digits (leading digit, 11 more, check).
func ean13Code(d []byte) []uint8 {
	var b builder
	b.pattern(true, 1, 1, 1)
	for i := 1; i <= 6; i++ {
		set := byte('L')
		if ean13Parity[d[0]]&(1<<(i-1)) != 0 {
			set = 'G'
		}
		b.digit(d[i], set)
	}
	b.pattern(false, 1, 1, 1, 1, 1)
	for i := 7; i <= 12; i++ {
		b.digit(d[i], 'R')
	}
	b.pattern(true, 1, 1, 1)
	return b.bars
}

func ean13(data []byte) (*Code, error) {
	if err := lengths(data, 12, 13); err != nil {
		return nil, err
	}
	d, err := digits(data)
	if err != nil {
		return nil, err
	}
	body, check, warn := withCheck(d, 12)
	all := append(body[:12:12], check)
	return &Code{bars: ean13Code(all), HRI: text(all), Warning: warn}, nil
}

// upca is an EAN-13 with leading digit 0; the HRI keeps the 12 UPC digits.
func upca(data []byte) (*Code, error) {
	if err := lengths(data, 11, 12); err != nil {
		return nil, err
	}
	d, err := digits(data)
	if err != nil {
		return nil, err
	}
	body, check, warn := withCheck(d, 11)
	all := append(append([]byte{0}, body[:11]...), check)
	return &Code{bars: ean13Code(all), HRI: text(all[1:]), Warning: warn}, nil
}

func ean8(data []byte) (*Code, error) {
	if err := lengths(data, 7, 8); err != nil {
		return nil, err
	}
	d, err := digits(data)
	if err != nil {
		return nil, err
	}
	body, check, warn := withCheck(d, 7)
	all := append(body[:7:7], check)
	var b builder
	b.pattern(true, 1, 1, 1)
	for i := range 4 {
		b.digit(all[i], 'L')
	}
	b.pattern(false, 1, 1, 1, 1, 1)
	for i := 4; i < 8; i++ {
		b.digit(all[i], 'R')
	}
	b.pattern(true, 1, 1, 1)
	return &Code{bars: b.bars, HRI: text(all), Warning: warn}, nil
}

// upceExpand returns the 10 UPC-A digits (after number system 0, before the
// check digit) that the 6-digit UPC-E code e stands for.
func upceExpand(e []byte) []byte {
	switch last := e[5]; {
	case last <= 2:
		return []byte{e[0], e[1], last, 0, 0, 0, 0, e[2], e[3], e[4]}
	case last == 3:
		return []byte{e[0], e[1], e[2], 0, 0, 0, 0, 0, e[3], e[4]}
	case last == 4:
		return []byte{e[0], e[1], e[2], e[3], 0, 0, 0, 0, 0, e[4]}
	default:
		return []byte{e[0], e[1], e[2], e[3], e[4], 0, 0, 0, 0, last}
	}
}

// upceCompress zero-suppresses the 10 UPC-A digits a (manufacturer and
// product, after number system 0) into a 6-digit UPC-E code.
func upceCompress(a []byte) ([]byte, error) {
	zero := func(s []byte) bool {
		for _, v := range s {
			if v != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case a[2] <= 2 && zero(a[3:7]):
		return []byte{a[0], a[1], a[7], a[8], a[9], a[2]}, nil
	case zero(a[3:8]):
		return []byte{a[0], a[1], a[2], a[8], a[9], 3}, nil
	case zero(a[4:9]):
		return []byte{a[0], a[1], a[2], a[3], a[9], 4}, nil
	case zero(a[5:9]) && a[9] >= 5:
		return []byte{a[0], a[1], a[2], a[3], a[4], a[9]}, nil
	}
	return nil, errors.New("the UPC-A number cannot be zero-suppressed to UPC-E")
}

// upce follows Epson's GS k UPC-E rules: 6 digits are the short code
// (number system 0 added); with 7, 8, 11 or 12 the first digit is the number
// system and must be 0; 8 and 12 end with the check digit (used unchecked);
// 11 and 12 are UPC-A numbers to zero-suppress.
func upce(data []byte) (*Code, error) {
	if err := lengths(data, 6, 7, 8, 11, 12); err != nil {
		return nil, err
	}
	d, err := digits(data)
	if err != nil {
		return nil, err
	}
	if len(d) > 6 && d[0] != 0 {
		return nil, fmt.Errorf("number system %d, the printer supports only 0", d[0])
	}
	var short []byte
	var warn string
	var check byte
	switch len(d) {
	case 6, 7, 8:
		short = d[len(d)-6:]
		if len(d) == 8 {
			short = d[1:7]
		}
		body := append([]byte{0}, upceExpand(short)...)
		if len(d) == 8 {
			_, check, warn = withCheck(append(body, d[7]), 11)
		} else {
			check = checkDigit(body)
		}
	case 11, 12:
		short, err = upceCompress(d[1:11])
		if err != nil {
			return nil, err
		}
		_, check, warn = withCheck(d, 11)
	}
	var b builder
	b.pattern(true, 1, 1, 1)
	for i, v := range short {
		set := byte('L')
		if upceParity[check]&(1<<i) != 0 {
			set = 'G'
		}
		b.digit(v, set)
	}
	b.pattern(false, 1, 1, 1, 1, 1, 1)
	return &Code{bars: b.bars, HRI: text(short), Warning: warn}, nil
}

// show names a byte for an error message.
func show(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return fmt.Sprintf("%q (0x%02X)", rune(c), c)
	}
	return fmt.Sprintf("0x%02X", c)
}
