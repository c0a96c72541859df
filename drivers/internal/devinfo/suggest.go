package devinfo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// SuggestProfile returns the name of the profile in ps that best fits a
// device: the one listing its vendor:product USB ID, else the one with the
// longest model name contained in any of names (IEEE 1284 MDL, USB product
// string), compared case-insensitively and ignoring punctuation. "" when
// nothing fits.
func SuggestProfile(ps core.Profiles, vendorID, productID uint16, names ...string) string {
	if vendorID != 0 || productID != 0 {
		usb := fmt.Sprintf("%04x:%04x", vendorID, productID)
		for _, name := range ps.Names() {
			for _, id := range ps[name].USBIDs {
				if strings.EqualFold(id, usb) {
					return name
				}
			}
		}
	}
	var hay []string
	for _, n := range names {
		if n = fold(n); n != "" {
			hay = append(hay, n)
		}
	}
	best, bestLen := "", 0
	for _, name := range ps.Names() { // sorted: ties go to the first name
		for _, m := range ps[name].Models {
			m = fold(m)
			if len(m) <= bestLen {
				continue
			}
			for _, h := range hay {
				if strings.Contains(h, m) {
					best, bestLen = name, len(m)
					break
				}
			}
		}
	}
	return best
}

// fold upper-cases s and keeps only letters and digits.
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// HexID formats a USB vendor or product ID the way printers.hcl takes it.
func HexID(id uint16) string { return fmt.Sprintf("%04x", id) }

// ParseHexID parses a USB vendor or product ID written as 1 to 4 hex digits,
// with or without 0x ("04b8", "0x04B8").
func ParseHexID(s string) (uint16, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	if t == "" || len(t) > 4 {
		return 0, fmt.Errorf("%q is not a USB ID: want 1 to 4 hex digits like \"04b8\"", s)
	}
	v, err := strconv.ParseUint(t, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a USB ID: want 1 to 4 hex digits like \"04b8\"", s)
	}
	return uint16(v), nil
}

// Name makes a printer name for a suggested block from the first non-empty
// part: lower case letters, digits and dashes ("TM-T20III" -> "tm-t20iii").
func Name(parts ...string) string {
	for _, p := range parts {
		var b strings.Builder
		dash := false
		for _, r := range strings.ToLower(p) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				if dash && b.Len() > 0 {
					b.WriteByte('-')
				}
				b.WriteRune(r)
				dash = false
			} else {
				dash = true
			}
			if b.Len() >= 40 {
				break
			}
		}
		if b.Len() > 0 {
			return b.String()
		}
	}
	return "printer"
}

// An Attr is one attribute of a suggested driver block; Value is a string,
// an int or a bool.
type Attr struct {
	Name  string
	Value any
}

// Block renders the printers.hcl block that uses a discovered printer:
//
//	printer "NAME" {
//	  profile = "PROFILE"
//	  DRIVER {
//	    ATTR = VALUE
//	  }
//	}
//
// profile is left out when empty.
func Block(name, profile, driver string, attrs ...Attr) string {
	f := hclwrite.NewEmptyFile()
	p := f.Body().AppendNewBlock("printer", []string{name}).Body()
	if profile != "" {
		p.SetAttributeValue("profile", cty.StringVal(profile))
	}
	d := p.AppendNewBlock(driver, nil).Body()
	for _, a := range attrs {
		switch v := a.Value.(type) {
		case string:
			d.SetAttributeValue(a.Name, cty.StringVal(v))
		case int:
			d.SetAttributeValue(a.Name, cty.NumberIntVal(int64(v)))
		case bool:
			d.SetAttributeValue(a.Name, cty.BoolVal(v))
		default:
			panic(fmt.Sprintf("devinfo: attribute %s has unsupported type %T", a.Name, v))
		}
	}
	return string(hclwrite.Format(f.Bytes()))
}
