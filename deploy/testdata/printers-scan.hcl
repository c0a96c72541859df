# /etc/comandera/printers.hcl: Comandera's configuration on this machine,
# written by install.sh from what `comandera scan` found.
#
# Check it after an edit, then restart the service:
#   sudo sh -c 'set -a; . /etc/comandera/comandera.env; comandera validate /etc/comandera/printers.hcl'
#   sudo systemctl restart comandera
#
# Every option is documented in the printers.hcl of the source tree.
# Secrets live in /etc/comandera/comandera.env (the service's environment).

server {
  # Where the API listens (0.0.0.0: every interface, so POS terminals on
  # the LAN reach it). A non-loopback address requires the token.
  listen = "0.0.0.0:3001"

  # The bearer token: PRINTER_SECRET from /etc/comandera/comandera.env.
  token = env("PRINTER_SECRET")

  # The job queue, in the service's StateDirectory.
  data_dir = "/var/lib/comandera"
}

# Printers found by `comandera scan`. The first one is the default printer
# for POST /print; names are yours to change (the API uses them).

# usblp /dev/usb/lp0: EPSON TM-T20III (serial X5ZG012345)
printer "tm-t20iii" {
  profile = "epson-tm-t20iii"
  usblp {
    vendor_id  = "04b8"
    product_id = "0e28"
    serial     = "X5ZG012345"
  }
}

# usblp /dev/usb/lp1: EPSON TM-T20III <bar>?second line (serial Q"7\9)
printer "tm-t20iii-2" {
  profile = "epson-tm-t20iii"
  usblp {
    vendor_id  = "04b8"
    product_id = "0e28"
    serial     = "Q\"7\\9"
  }
}

# usblp /dev/usb/lp2: Printer POS-80
printer "pos-80" {
  profile = "generic-80mm"
  usblp {
    device = "/dev/usb/lp2"
  }
}

# serial /dev/ttyACM0: Star Micronics TSP143IIIU
printer "tsp143iiiu" {
  profile = "star-tsp100"
  serial {
    port         = "/dev/serial/by-id/usb-Star_Micronics_TSP143IIIU-if00"
    baud         = 9600
    flow_control = "none"
  }
}

plugin "clone" {
  path   = "/usr/lib/comandera/plugins/comandera-clone"
  sha256 = "d9c48d7ad117bab3d134893ae4ae63925c3a50f11e81eb68c45908fee60ff37d"
}

plugin "star" {
  path   = "/usr/lib/comandera/plugins/comandera-star"
  sha256 = "527c8fb9406e18d9c03fa9a2ba150d702c9ae3898b188b3cde66d1166dfca818"
}

# Also found, but not used: serial ports not known to have a printer,
# and printers already declared above through another driver. To use
# one, uncomment its block; on a serial port, set the line settings the
# printer's self-test page shows (baud, flow_control).

# libusb usb:1-1.2: EPSON TM-T20III (serial X5ZG012345)
# The same printer as on usblp above; this is the libusb way to it.
# printer "tm-t20iii-3" {
#   profile = "epson-tm-t20iii"
#   libusb {
#     vendor_id  = "04b8"
#     product_id = "0e28"
#     serial     = "X5ZG012345"
#   }
# }

# serial /dev/ttyS0
# Not known to be a printer.
# printer "ttys0" {
#   serial {
#     port         = "/dev/ttyS0"
#     baud         = 9600
#     flow_control = "none"
#   }
# }

# serial /dev/ttyUSB0: FTDI FT232R USB UART (serial A50285BI)
# Not known to be a printer.
# printer "ft232r-usb-uart" {
#   serial {
#     port         = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
#     baud         = 9600
#     flow_control = "none"
#   }
# }
