//go:build !libusb

package libusb

import (
	"context"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

// Without the libusb tag the driver is registered but unavailable, and says
// how to build it in.
func TestUnavailableWithoutTag(t *testing.T) {
	d, err := core.Lookup("libusb")
	if err != nil {
		t.Fatal(err)
	}
	err = core.Available(d)
	if err == nil {
		t.Fatal("libusb available without the build tag")
	}
	for _, want := range []string{"-tags libusb", "CGO_ENABLED=1", "libusb-1.0-0-dev"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	_, err = d.Open(context.Background(), &Config{VendorID: "04b8", ProductID: "0e28"})
	if err == nil || !strings.Contains(err.Error(), "-tags libusb") {
		t.Errorf("Open: %v", err)
	}
	if _, err := d.(core.Discoverer).Discover(context.Background()); err == nil {
		t.Error("Discover without libusb returned no error")
	}
}
