package symbol

import (
	"errors"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxQRData is the most data bytes GS ( k stores for a QR code (Epson: 7089,
// the numeric capacity of version 40-L). Byte data fits up to 2953 bytes.
const MaxQRData = 7089

// QR returns the module matrix of a QR code (model 2) for data, true = dark,
// indexed [y][x], without the quiet zone. level is the error correction
// level: 'L', 'M', 'Q' or 'H' (lower case too), or GS ( k's n = 48–51
// ('0'–'3'). The version is the smallest that holds the data, as a printer
// chooses it; the data is encoded as bytes, with numeric and alphanumeric
// runs packed tighter, without ECI.
func QR(data []byte, level byte) (m [][]bool, err error) {
	q, err := newQR(data, level)
	if err != nil {
		return nil, err
	}
	defer recoverQR(&err)
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// QRSize returns the width in modules (without the quiet zone) of the QR
// code QR would draw, without drawing it: choosing the mask, which drawing
// needs, is most of the work.
func QRSize(data []byte, level byte) (int, error) {
	q, err := newQR(data, level)
	if err != nil {
		return 0, err
	}
	return 17 + 4*q.VersionNumber, nil
}

func newQR(data []byte, level byte) (q *qrcode.QRCode, err error) {
	var lv qrcode.RecoveryLevel
	switch level {
	case 'L', 'l', '0':
		lv = qrcode.Low
	case 'M', 'm', '1':
		lv = qrcode.Medium
	case 'Q', 'q', '2':
		lv = qrcode.High
	case 'H', 'h', '3':
		lv = qrcode.Highest
	default:
		return nil, fmt.Errorf("symbol: qr: error correction level %s, want L, M, Q or H", show(level))
	}
	if len(data) == 0 {
		return nil, errors.New("symbol: qr: no data")
	}
	if len(data) > MaxQRData {
		return nil, fmt.Errorf("symbol: qr: %d bytes of data, at most %d", len(data), MaxQRData)
	}
	defer recoverQR(&err)
	q, err = qrcode.New(string(data), lv)
	if err != nil {
		return nil, fmt.Errorf("symbol: qr: %d bytes do not fit a QR code at level %c: %v", len(data), "LMQH"[lv], err)
	}
	return q, nil
}

// recoverQR turns go-qrcode's log.Panic on internal inconsistencies into an
// error: data from outside must never crash the encoder or the simulator.
func recoverQR(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("symbol: qr: encoder failure: %v", r)
	}
}
