#!/usr/bin/env bash
# install.sh: install Comandera (binary, plugins, systemd unit, udev rules,
# configuration) on a systemd Linux machine such as a Raspberry Pi.
# Run it with --help for what it does. Safe to run again: files that are
# already in place are left alone, and a replaced file is backed up first.
set -euo pipefail

readonly PROG=${0##*/}
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir

# Exit codes.
readonly EX_FAIL=1 EX_USAGE=2 EX_CHECK=3

# Where things go on the target system (under --prefix when given).
readonly BIN_PATH=/usr/bin/comandera
readonly PLUGIN_DIR=/usr/lib/comandera/plugins
readonly UNIT_PATH=/etc/systemd/system/comandera.service
readonly RULES_PATH=/etc/udev/rules.d/99-comandera.rules
readonly CONF_DIR=/etc/comandera
readonly CONF_PATH=/etc/comandera/printers.hcl
readonly ENV_PATH=/etc/comandera/comandera.env
readonly BACKUP_DIR=/var/backups/comandera
readonly SERVICE=comandera.service
readonly USER_NAME=comandera

usage() {
	cat <<EOF
Usage: $PROG [OPTIONS]

Installs Comandera on this machine:
  /usr/bin/comandera                      the binary (--binary)
  /usr/lib/comandera/plugins/comandera-*  the quirks plugins, if any (--plugins)
  /etc/systemd/system/comandera.service   the systemd unit
  /etc/udev/rules.d/99-comandera.rules    udev rules (printers to group lp)
  /etc/comandera/printers.hcl             only if there is none: built from
                                          what \`comandera scan -json\` finds
  /etc/comandera/comandera.env            only if there is none: a random
                                          PRINTER_SECRET (the API token)
and a system user "$USER_NAME" in the groups lp and dialout. Then it reloads
udev, enables and (re)starts the service, optionally sets a static IPv4
address with NetworkManager, and runs \`comandera check\` on the local server.

The new config declares the USB (usblp, libusb), network and known
USB-serial printers the scan finds, and the installed plugins with their
checksums; other serial ports, and a libusb device that is also on usblp,
are written commented out. With no printer found, or a result that does not
validate, it is the example config: one simulated printer, so the service
starts, and commented examples.

A file that is already identical is left alone; a file that is replaced is
first copied to $BACKUP_DIR/<date-time>/<its path>. An existing config
is kept (it only gets root:$USER_NAME 0640, a warning if it does not
validate, and the new checksum of a plugin this script replaces). Running it
twice changes nothing the second time. Run it as root (sudo), except with
--dry-run or --prefix.

Options:
  --binary PATH      comandera binary to install (default: comandera next to
                     this script)
  --plugins DIR      directory with plugin binaries named comandera-*
                     (default: plugins/ next to the binary, when it exists)
  --prefix DIR       install under DIR instead of / (tests, image building).
                     Files get their modes but not their owners, and no user,
                     service, udev, network or check step is carried out: each
                     is printed instead. Does not scan unless --scan is given.
  --dry-run          print every action without doing any
  --listen ADDR      HTTP listen address written into a new config
                     (default 0.0.0.0:3001; 127.0.0.1:3001 for local only)
  --scan             scan for printers even under --prefix
  --no-scan          do not scan; a new config is the example one (a simulated
                     printer and commented examples)
  --scan-json FILE   build the config from a saved \`comandera scan -json\`
                     output instead of scanning
  --new-config       rebuild printers.hcl even if it exists (the old one is
                     backed up)
  --no-enable        install only: do not enable, start or restart the service
                     (and so do not run the check)
  --no-check         do not run \`comandera check\` at the end
  --static-ip CIDR   set this static IPv4 address with NetworkManager (nmcli),
                     e.g. 192.168.1.20/24; needs --gateway
  --gateway IP       IPv4 gateway for --static-ip (inside its subnet)
  --dns IP[,IP...]   DNS servers for --static-ip (default: the gateway)
  --interface NAME   interface for --static-ip (default: the one with the
                     default route, else eth0)
  -h, --help         show this help

Exit status:
  0  installed (and the check passed, or was not run)
  1  installation failed (not root, binary missing or unusable, a step failed)
  2  bad arguments
  3  installed, but \`comandera check\` failed: see journalctl -u comandera

Examples:
  sudo ./install.sh
  sudo ./install.sh --static-ip 192.168.1.20/24 --gateway 192.168.1.1 --dns 1.1.1.1
  ./install.sh --binary dist/comandera --prefix /tmp/root --dry-run
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit "$EX_FAIL"
}
usage_error() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	printf "Run '%s --help' for usage.\n" "$PROG" >&2
	exit "$EX_USAGE"
}

# ---------------------------------------------------------------------------
# Arguments.

binary=""
plugins_dir=""
prefix=/
dry_run=0
listen=0.0.0.0:3001
scan=auto
scan_json=""
new_config=0
enable=1
check=1
static_ip=""
gateway=""
dns=""
iface=""

# need_value OPTION ARGC: the option needs a value after it.
need_value() {
	if (($2 < 2)); then
		usage_error "option $1 needs a value"
	fi
}

while (($# > 0)); do
	opt=$1
	val=""
	has_inline=0
	if [[ $opt == --*=* ]]; then
		val=${opt#*=}
		opt=${opt%%=*}
		has_inline=1
	fi
	case $opt in
	--binary | --plugins | --prefix | --listen | --scan-json | --static-ip | --gateway | --dns | --interface)
		if ((has_inline == 0)); then
			need_value "$opt" $#
			val=$2
			shift
		fi
		[[ -n $val ]] || usage_error "option $opt needs a non-empty value"
		case $opt in
		--binary) binary=$val ;;
		--plugins) plugins_dir=$val ;;
		--prefix) prefix=$val ;;
		--listen) listen=$val ;;
		--scan-json) scan_json=$val ;;
		--static-ip) static_ip=$val ;;
		--gateway) gateway=$val ;;
		--dns) dns=$val ;;
		--interface) iface=$val ;;
		esac
		;;
	--dry-run | --scan | --no-scan | --new-config | --no-enable | --no-check | -h | --help)
		((has_inline == 0)) || usage_error "option $opt takes no value"
		case $opt in
		--dry-run) dry_run=1 ;;
		--scan) scan=yes ;;
		--no-scan) scan=no ;;
		--new-config) new_config=1 ;;
		--no-enable) enable=0 ;;
		--no-check) check=0 ;;
		-h | --help)
			usage
			exit 0
			;;
		esac
		;;
	--)
		shift
		(($# == 0)) || usage_error "unexpected argument: $1"
		break
		;;
	-*) usage_error "unknown option: $opt" ;;
	*) usage_error "unexpected argument: $opt (options start with --)" ;;
	esac
	shift
done

# valid_ipv4 ADDR: four decimal octets 0-255.
valid_ipv4() {
	local IFS=. o
	local -a parts
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	read -r -a parts <<<"$1"
	for o in "${parts[@]}"; do
		((10#$o <= 255)) || return 1
	done
}

# ipv4_int ADDR: the address as a 32-bit number.
ipv4_int() {
	local IFS=.
	local -a p
	read -r -a p <<<"$1"
	echo $(((10#${p[0]} << 24) | (10#${p[1]} << 16) | (10#${p[2]} << 8) | 10#${p[3]}))
}

if [[ $scan == no && -n $scan_json ]]; then
	usage_error "--no-scan and --scan-json contradict each other"
fi
if [[ -n $scan_json && ! -r $scan_json ]]; then
	usage_error "--scan-json: cannot read $scan_json"
fi

# --listen: HOST:PORT, HOST an IPv4 address, [IPv6] or a name (empty = all).
if [[ ! $listen =~ ^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):([0-9]{1,5})$ ]]; then
	usage_error "--listen: \"$listen\" is not HOST:PORT (e.g. 0.0.0.0:3001)"
fi
listen_host=${BASH_REMATCH[1]}
listen_port=${BASH_REMATCH[2]}
if ((10#$listen_port < 1 || 10#$listen_port > 65535)); then
	usage_error "--listen: port $listen_port is not between 1 and 65535"
fi

if [[ -n $static_ip ]]; then
	ip_addr=${static_ip%%/*}
	ip_len=${static_ip#*/}
	if [[ $static_ip != */* || ! $ip_len =~ ^[0-9]{1,2}$ ]] || ! valid_ipv4 "$ip_addr" ||
		((10#$ip_len < 1 || 10#$ip_len > 32)); then
		usage_error "--static-ip: \"$static_ip\" is not an IPv4 address with a prefix length, e.g. 192.168.1.20/24"
	fi
	ip_len=$((10#$ip_len))
	[[ -n $gateway ]] || usage_error "--static-ip needs --gateway (the router's address, e.g. 192.168.1.1)"
	valid_ipv4 "$gateway" || usage_error "--gateway: \"$gateway\" is not an IPv4 address"
	mask=$(((0xFFFFFFFF << (32 - ip_len)) & 0xFFFFFFFF))
	if (($(($(ipv4_int "$ip_addr") & mask)) != $(($(ipv4_int "$gateway") & mask)))); then
		usage_error "--gateway: $gateway is not in the subnet of $static_ip"
	fi
	if [[ $gateway == "$ip_addr" ]]; then
		usage_error "--gateway: $gateway is the static address itself"
	fi
	[[ -n $dns ]] || dns=$gateway
	IFS=, read -r -a dns_list <<<"$dns"
	((${#dns_list[@]} > 0)) || usage_error "--dns: empty list"
	for d in "${dns_list[@]}"; do
		valid_ipv4 "$d" || usage_error "--dns: \"$d\" is not an IPv4 address (give a comma-separated list)"
	done
	if [[ -n $iface && ! $iface =~ ^[A-Za-z0-9_.-]{1,15}$ ]]; then
		usage_error "--interface: \"$iface\" is not an interface name"
	fi
else
	for pair in "--gateway:$gateway" "--dns:$dns" "--interface:$iface"; do
		if [[ -n ${pair#*:} ]]; then
			usage_error "${pair%%:*} is only used with --static-ip"
		fi
	done
fi

# ---------------------------------------------------------------------------
# Where, and what with.

if [[ $prefix != /* ]]; then
	prefix=$PWD/$prefix
fi
if [[ -d $prefix ]]; then
	prefix=$(cd "$prefix" && pwd -P)
elif [[ -e $prefix ]]; then
	usage_error "--prefix: $prefix is not a directory"
fi
root=${prefix%/}  # "" for the live system
live=0
if [[ -z $root ]]; then
	live=1
fi
if [[ $scan == auto ]]; then
	if ((live)); then scan=yes; else scan=no; fi
fi

if ((live && !dry_run && EUID != 0)); then
	die "run as root (sudo $0 …), or use --dry-run or --prefix DIR"
fi

if [[ -z $binary ]]; then
	binary=$script_dir/comandera
	[[ -e $binary ]] || die "no comandera binary next to this script ($binary); pass --binary PATH (\`make build\` writes dist/comandera)"
fi
[[ -f $binary ]] || die "--binary: $binary is not a file"
[[ -x $binary ]] || die "--binary: $binary is not executable"
binary=$(cd "$(dirname "$binary")" && pwd -P)/$(basename "$binary")

# The binary must run here to scan, validate and check. Under --prefix it may
# be for another architecture (building an SD card image): then those steps
# are skipped.
runnable=1
if ! version=$("$binary" version 2>&1); then
	if ((live)); then
		die "cannot run $binary ($version): is it built for this machine's architecture ($(uname -m))?"
	fi
	warn "cannot run $binary here ($version); the config will not be validated"
	runnable=0
	version="(unknown)"
fi

if [[ -z $plugins_dir && -d $(dirname "$binary")/plugins ]]; then
	plugins_dir=$(dirname "$binary")/plugins
fi
plugins=()
if [[ -n $plugins_dir ]]; then
	[[ -d $plugins_dir ]] || die "--plugins: $plugins_dir is not a directory"
	for p in "$plugins_dir"/comandera-*; do
		[[ -f $p && -x $p ]] && plugins+=("$p")
	done
	((${#plugins[@]} > 0)) || warn "no executable comandera-* plugins in $plugins_dir"
fi

for f in comandera.service 99-comandera.rules printers.hcl; do
	[[ -r $script_dir/$f ]] || die "$script_dir/$f is missing: run this script from the release directory or deploy/ in the source tree"
done

if ((live && !dry_run)) && command -v dpkg-query >/dev/null &&
	[[ $(dpkg-query -W -f='${Status}' comandera 2>/dev/null || true) == "install ok installed" ]]; then
	die "comandera is installed as a Debian package here; upgrade it with apt or dpkg -i, or remove the package before using this script"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------------------
# Actions. Each prints what it does; with --dry-run it prints what it would do.

changes=0
backup_stamp=""

# run CMD...: a command that changes something.
run() {
	if ((dry_run)); then
		say "would run: $(printf '%q ' "$@")"
	else
		say "run:       $(printf '%q ' "$@")"
		"$@"
	fi
	changes=$((changes + 1))
}

# system CMD...: a command on the live system (users, services, udev,
# network): only printed under --prefix, where it is not counted as a change
# (the target system is not there to tell whether it would be one).
system() {
	if ((!live)); then
		say "skipped (--prefix): $(printf '%q ' "$@")"
		return 0
	fi
	run "$@"
}

# backup PATH: copy the target's PATH to the backup directory of this run.
backup() {
	if [[ -z $backup_stamp ]]; then
		backup_stamp=$(date +%Y%m%d-%H%M%S)
		local n=2 base=$backup_stamp
		while [[ -e $root$BACKUP_DIR/$backup_stamp ]]; do
			backup_stamp=$base-$n
			n=$((n + 1))
		done
	fi
	local dest=$BACKUP_DIR/$backup_stamp$1
	if ((dry_run)); then
		say "would back up $1 to $dest"
		return
	fi
	mkdir -p "$root$(dirname "$dest")"
	chmod 0700 "$root$BACKUP_DIR"
	cp -p "$root$1" "$root$dest"
	say "backup:    $1 -> $dest"
}

# ensure_dir PATH MODE: create a directory if it is missing.
declare -A dry_dirs=()
ensure_dir() {
	[[ -d $root$1 || -n ${dry_dirs[$1]:-} ]] && return
	if ((dry_run)); then
		dry_dirs[$1]=1
		say "would create $1/"
	else
		mkdir -p "$root$1"
		chmod "$2" "$root$1"
		say "created:   $1/"
	fi
	changes=$((changes + 1))
}

# install_file SRC PATH MODE OWNER:GROUP: put SRC at PATH unless an identical
# file is there, backing up the one it replaces. The owner is set on the live
# system only. Sets installed=1 when it changed anything.
install_file() {
	local src=$1 path=$2 mode=$3 owner=$4
	local dest=$root$path
	installed=0
	if [[ -e $dest ]] && cmp -s "$src" "$dest"; then
		local fix=()
		[[ $(stat -c %a "$dest") == "${mode#0}" ]] || fix+=(chmod "$mode")
		if ((live)) && [[ $(stat -c %U:%G "$dest") != "$owner" ]]; then
			fix+=(chown "$owner")
		fi
		if ((${#fix[@]} == 0)); then
			say "unchanged: $path"
			return
		fi
		installed=1
		changes=$((changes + 1))
		if ((dry_run)); then
			say "would set ${fix[*]} on $path"
			return
		fi
		[[ ${fix[0]} != chmod ]] || chmod "$mode" "$dest"
		((!live)) || chown "$owner" "$dest"
		say "fixed:     $path (${fix[*]})"
		return
	fi
	installed=1
	changes=$((changes + 1))
	ensure_dir "$(dirname "$path")" 0755
	if [[ -e $dest ]]; then
		backup "$path"
	fi
	if ((dry_run)); then
		say "would install $path (mode $mode, owner $owner)"
		return
	fi
	# Copy next to the target and rename over it: atomic, and a running
	# binary is replaced rather than written into ("text file busy").
	local part
	part=$(mktemp "$dest.XXXXXX")
	cp "$src" "$part"
	chmod "$mode" "$part"
	((!live)) || chown "$owner" "$part"
	mv -f "$part" "$dest"
	say "installed: $path"
}

# sha256 FILE
sha256() {
	sha256sum "$1" | cut -d' ' -f1
}

# ---------------------------------------------------------------------------
# Configuration from a scan.

# The scan's JSON is read with awk (Raspberry Pi OS has no jq): every object
# with a "config" member is a device, its "config" the printers.hcl block to
# paste. Printers on usblp, libusb, net and USB serial ports of a known model
# become printer blocks; other serial ports (on-board UARTs, adapters to who
# knows what) are written commented out, and so is a libusb device that is
# also on usblp. Duplicate names get -2, -3... Writes the active blocks to
# stdout, the commented ones to the file in the variable "commented" and the
# scan's "errors" to the file in "errors"; exits 3 on input that is not JSON.
read -r -d '' SCAN_AWK <<'AWK' || true
function fail(msg) { print msg > "/dev/stderr"; exit 3 }
function hexval(h,    i, v) {
	v = 0
	h = tolower(h)
	for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}
function utf8(c) {
	if (c < 1) return "?"
	if (c < 128) return sprintf("%c", c)
	if (c < 2048) return sprintf("%c%c", 192 + int(c / 64), 128 + c % 64)
	if (c < 65536) return sprintf("%c%c%c", 224 + int(c / 4096), 128 + int(c / 64) % 64, 128 + c % 64)
	return sprintf("%c%c%c%c", 240 + int(c / 262144), 128 + int(c / 4096) % 64, 128 + int(c / 64) % 64, 128 + c % 64)
}
# str reads the JSON string starting at s[pos] (the quote) and leaves pos
# after its closing quote.
function str(    out, c, e, h, lo) {
	out = ""
	pos++
	for (;;) {
		c = substr(s, pos, 1)
		if (c == "") fail("unterminated string")
		if (c == "\"") { pos++; return out }
		if (c != "\\") { out = out c; pos++; continue }
		e = substr(s, pos + 1, 1)
		pos += 2
		if (e == "n") out = out "\n"
		else if (e == "t") out = out "\t"
		else if (e == "r") out = out "\r"
		else if (e == "b" || e == "f") out = out " "
		else if (e == "\"" || e == "\\" || e == "/") out = out e
		else if (e == "u") {
			h = substr(s, pos, 4)
			if (h !~ /^[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]$/) fail("bad \\u escape")
			pos += 4
			h = hexval(h)
			if (h >= 55296 && h < 56320 && substr(s, pos, 2) == "\\u") {
				lo = hexval(substr(s, pos + 2, 4))
				if (lo >= 56320 && lo < 57344) { h = 65536 + (h - 55296) * 1024 + (lo - 56320); pos += 6 }
			}
			out = out utf8(h)
		} else fail("bad escape \\" e)
	}
}
# clean makes outside text (USB descriptors) safe for a one-line comment.
function clean(t) { gsub(/[^ -~]/, "?", t); return t }
function value(v) {
	if (isobj[depth] && (key[depth] in want)) F[depth, key[depth]] = v
	else if (!isobj[depth] && pkey[depth] == "errors") print clean(v) > errors
}
# collect keeps the device the object at depth d describes.
function collect(d,    k) {
	if (F[d, "config"] !~ /^printer "[^"]+"/) return
	ndev++
	for (k in want) D[ndev, k] = F[d, k]
}
# usb is a device's USB identity, to find one printer seen by two drivers.
function usb(i) { return D[i, "vendor_id"] ":" D[i, "product_id"] ":" D[i, "serial"] }
# why is empty for a device to use, else why it is written commented out.
function why(i) {
	if (D[i, "driver"] == "serial" && (D[i, "vendor_id"] == "" || D[i, "vendor_id"] == "0" || D[i, "profile"] == ""))
		return "# Not known to be a printer."
	if (D[i, "driver"] == "libusb" && D[i, "vendor_id"] != "" && (usb(i) in usblp))
		return "# The same printer as on usblp above; this is the libusb way to it."
	return ""
}
function emit(i, reason,    cfg, name, base, n, lines, nl, k, about, text) {
	cfg = D[i, "config"]
	name = cfg
	sub(/^printer "/, "", name)
	sub(/".*/, "", name)
	base = name
	for (n = 2; name in seen; n++) name = base "-" n
	seen[name] = 1
	sub(/^printer "[^"]+"/, "printer \"" name "\"", cfg)
	sub(/\n+$/, "", cfg)
	about = "# " clean(D[i, "driver"]) " " clean(D[i, "address"])
	if (D[i, "manufacturer"] D[i, "model"] != "") about = about ": " clean(D[i, "manufacturer"] " " D[i, "model"])
	if (D[i, "serial"] != "") about = about " (serial " clean(D[i, "serial"]) ")"
	if (reason == "") {
		print ""
		print about
		print cfg
		return
	}
	nl = split(cfg, lines, "\n")
	text = "\n" about "\n" reason
	for (k = 1; k <= nl; k++) text = text "\n# " lines[k]
	print text > commented
}
BEGIN {
	split("config driver vendor_id profile address manufacturer model serial", w, " ")
	for (i in w) want[w[i]] = 1
}
{ s = s $0 "\n" }
END {
	n = length(s); pos = 1; depth = 0
	while (pos <= n) {
		c = substr(s, pos, 1)
		if (c == " " || c == "\t" || c == "\n" || c == "\r") { pos++; continue }
		if (c == "{" || c == "[") {
			depth++
			pkey[depth] = (depth > 1 && isobj[depth - 1]) ? key[depth - 1] : ""
			isobj[depth] = (c == "{")
			expectkey[depth] = isobj[depth]
			key[depth] = ""
			for (k in want) delete F[depth, k]
			pos++
			continue
		}
		if (c == "}" || c == "]") {
			if (depth < 1 || isobj[depth] != (c == "}")) fail("unbalanced " c)
			if (isobj[depth] && F[depth, "config"] != "") collect(depth)
			depth--
			pos++
			continue
		}
		if (c == ":") { if (!isobj[depth]) fail("unexpected :"); expectkey[depth] = 0; pos++; continue }
		if (c == ",") { if (isobj[depth]) expectkey[depth] = 1; pos++; continue }
		if (c == "\"") {
			v = str()
			if (isobj[depth] && expectkey[depth]) key[depth] = v
			else value(v)
			continue
		}
		lit = substr(s, pos)
		if (!match(lit, /^[-+0-9.eEa-z]+/)) fail("unexpected character " c)
		value(substr(lit, 1, RLENGTH))
		pos += RLENGTH
	}
	if (depth != 0) fail("unexpected end of input")
	for (i = 1; i <= ndev; i++) if (D[i, "driver"] == "usblp" && D[i, "vendor_id"] != "") usblp[usb(i)] = 1
	# The printers to use first, so that they keep the names scan gave them.
	for (i = 1; i <= ndev; i++) if (why(i) == "") emit(i, "")
	for (i = 1; i <= ndev; i++) if (why(i) != "") emit(i, why(i))
}
AWK

# scan_devices: the scan's JSON on stdout, or nothing (with a message on
# stderr) when there is none to use.
scan_devices() {
	if [[ -n $scan_json ]]; then
		cat -- "$scan_json"
		return
	fi
	if [[ $scan != yes ]]; then
		if ((!live)); then
			say "not scanning under --prefix (this machine's printers are not those of $prefix; --scan to scan anyway)" >&2
		else
			say "not scanning (--no-scan)" >&2
		fi
		return
	fi
	if ((!runnable)); then
		say "cannot scan: the binary does not run here" >&2
		return
	fi
	say "scanning for printers: comandera scan -json" >&2
	local rc=0
	timeout 120 "$binary" scan -json >"$tmp/scan.json" 2>"$tmp/scan.err" || rc=$?
	if grep -q 'unknown command "scan"' "$tmp/scan.err"; then
		say "this comandera ($version) has no scan command" >&2
		return
	fi
	# A driver that fails makes scan exit 1, but the others' devices are
	# still listed: use them.
	if ((rc != 0)); then
		say "comandera scan exited $rc$([[ -s $tmp/scan.json ]] && echo "; using the devices it listed"):" >&2
		sed 's/^/  /' "$tmp/scan.err" | head -n 20 >&2
	fi
	cat "$tmp/scan.json"
}

# plugin_blocks: a plugin block, with its checksum, for each installed plugin.
plugin_blocks() {
	local p name
	for p in "${plugins[@]}"; do
		name=$(basename "$p")
		say ""
		say "plugin \"${name#comandera-}\" {"
		say "  path   = \"$PLUGIN_DIR/$name\""
		say "  sha256 = \"$(sha256 "$p")\""
		say "}"
	done
}

# validate FILE: comandera validate, with a stand-in secret (the config reads
# it from the environment). Run beside the file so that diagnostics name it
# printers.hcl, not a temporary path.
validate() {
	((runnable)) || return 0
	(cd "$(dirname "$1")" && PRINTER_SECRET=stand-in-for-validation "$binary" validate "$(basename "$1")") >"$tmp/validate.out" 2>&1
}

# write_example FILE: the example config, with the --listen address and the
# installed plugins' blocks commented out at the end.
write_example() {
	sed -E 's|^(  listen = )"[^"]*"|\1"'"$listen"'"|' "$script_dir/printers.hcl" >"$1"
	if ((${#plugins[@]} > 0)); then
		{
			say ""
			say "# The plugins installed in $PLUGIN_DIR, with their checksums:"
			plugin_blocks | sed 's/^./# &/; s/^$/#/'
		} >>"$1"
	fi
}

# build_config FILE: write a new printers.hcl to FILE.
build_config() {
	local out=$1 json active=0 ncommented=0
	: >"$tmp/commented.hcl"
	json=$(scan_devices)
	if [[ -n $json ]]; then
		if printf '%s\n' "$json" | LC_ALL=C awk -v commented="$tmp/commented.hcl" -v errors="$tmp/scan-errors.txt" \
			"$SCAN_AWK" >"$tmp/active.hcl" 2>"$tmp/awk.err"; then
			if [[ -s $tmp/scan-errors.txt ]]; then
				say "the scan reported:"
				sed 's/^/  /' "$tmp/scan-errors.txt"
			fi
			active=$(grep -c '^printer "' "$tmp/active.hcl" || true)
			ncommented=$(grep -c '^# printer "' "$tmp/commented.hcl" || true)
			say "scan found $active printer(s) and $ncommented other device(s)"
		else
			say "could not read the scan output ($(cat "$tmp/awk.err")); writing the example config"
			: >"$tmp/commented.hcl"
		fi
	fi
	if ((active == 0)); then
		say "no printer found: writing the example config (a simulated printer \"kitchen\" and commented examples)"
		write_example "$out"
	else
		cat >"$out" <<EOF
# /etc/comandera/printers.hcl: Comandera's configuration on this machine,
# written by install.sh from what \`comandera scan\` found.
#
# Check it after an edit, then restart the service:
#   sudo sh -c 'set -a; . $ENV_PATH; comandera validate $CONF_PATH'
#   sudo systemctl restart comandera
#
# Every option is documented in the printers.hcl of the source tree.
# Secrets live in $ENV_PATH (the service's environment).

server {
  # Where the API listens (0.0.0.0: every interface, so POS terminals on
  # the LAN reach it). A non-loopback address requires the token.
  listen = "$listen"

  # The bearer token: PRINTER_SECRET from $ENV_PATH.
  token = env("PRINTER_SECRET")

  # The job queue, in the service's StateDirectory.
  data_dir = "/var/lib/comandera"
}

# Printers found by \`comandera scan\`. The first one is the default printer
# for POST /print; names are yours to change (the API uses them).
EOF
		cat "$tmp/active.hcl" >>"$out"
		plugin_blocks >>"$out"
	fi
	if [[ -s $tmp/commented.hcl ]]; then
		{
			say ""
			say "# Also found, but not used: serial ports not known to have a printer,"
			say "# and printers already declared above through another driver. To use"
			say "# one, uncomment its block; on a serial port, set the line settings the"
			say "# printer's self-test page shows (baud, flow_control)."
			cat "$tmp/commented.hcl"
		} >>"$out"
	fi
	if ! validate "$out"; then
		say "the config built from the scan is not valid:"
		sed 's/^/  /' "$tmp/validate.out"
		say "writing the example config instead; \`comandera scan\` shows what was found"
		write_example "$out"
		validate "$out" || die "the example config does not validate: $(cat "$tmp/validate.out")"
	fi
}

# ---------------------------------------------------------------------------
# Do it.

say "Comandera installer: $version from $binary"
if ((!live)); then
	say "prefix: $prefix (no owners, users, services, udev, network or check; each is printed)"
fi
((dry_run)) && say "dry run: nothing is changed"
if ((!dry_run)); then
	mkdir -p "$prefix"
fi

# 1. The user, before the files it owns.
for g in lp dialout; do
	if ((live)) && ! getent group "$g" >/dev/null; then
		run groupadd --system "$g"
	fi
done
if ((live)) && getent passwd "$USER_NAME" >/dev/null; then
	for g in lp dialout; do
		if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$g"; then
			run usermod -a -G "$g" "$USER_NAME"
		fi
	done
else
	system useradd --system --user-group --home-dir /var/lib/comandera --no-create-home \
		--shell /usr/sbin/nologin --comment "Comandera print server" --groups lp,dialout "$USER_NAME"
fi

# 2. Binary and plugins. A changed plugin whose old checksum the config pins
# gets the new checksum there (the config trusted what this script installed).
restart=0
install_file "$binary" "$BIN_PATH" 0755 root:root
((installed == 0)) || restart=1
declare -A pin_update=()
for p in "${plugins[@]}"; do
	dest=$PLUGIN_DIR/$(basename "$p")
	old=""
	[[ ! -f $root$dest ]] || old=$(sha256 "$root$dest")
	install_file "$p" "$dest" 0755 root:root
	if ((installed)); then
		restart=1
		new=$(sha256 "$p")
		[[ -z $old || $old == "$new" ]] || pin_update[$old]=$new
	fi
done

# 3. Unit and udev rules.
install_file "$script_dir/comandera.service" "$UNIT_PATH" 0644 root:root
unit_changed=$installed
((installed == 0)) || restart=1
install_file "$script_dir/99-comandera.rules" "$RULES_PATH" 0644 root:root
rules_changed=$installed

# 4. Configuration and secret.
ensure_dir "$CONF_DIR" 0755
if [[ -e $root$CONF_PATH && $new_config == 0 ]]; then
	say "kept:      $CONF_PATH (it exists; --new-config rebuilds it from a scan)"
	if ((${#pin_update[@]} > 0)); then
		cp "$root$CONF_PATH" "$tmp/printers.hcl"
		for old in "${!pin_update[@]}"; do
			if grep -qF "$old" "$tmp/printers.hcl"; then
				say "updating the sha256 of a replaced plugin in $CONF_PATH: $old -> ${pin_update[$old]}"
				sed -i "s/$old/${pin_update[$old]}/g" "$tmp/printers.hcl"
			fi
		done
		install_file "$tmp/printers.hcl" "$CONF_PATH" 0640 root:$USER_NAME
		((installed == 0)) || restart=1
	fi
	# The service reads it as $USER_NAME: keep it root:$USER_NAME 0640.
	install_file "$root$CONF_PATH" "$CONF_PATH" 0640 root:$USER_NAME
	((installed == 0)) || restart=1
	if ! validate "$root$CONF_PATH"; then
		warn "$CONF_PATH is not valid; the service will not start until it is fixed:"
		sed 's/^/  /' "$tmp/validate.out" >&2
	fi
	active_conf=$(grep -v '^[[:space:]]*#' "$root$CONF_PATH" || true)
	for p in "${plugins[@]}"; do
		sum=$(sha256 "$p")
		if ((!dry_run)) && grep -qF "\"$PLUGIN_DIR/$(basename "$p")\"" <<<"$active_conf" && ! grep -qF "$sum" <<<"$active_conf"; then
			warn "$CONF_PATH declares $(basename "$p") with a sha256 other than the installed one ($sum): the server will refuse that plugin"
		fi
	done
else
	build_config "$tmp/printers.hcl"
	install_file "$tmp/printers.hcl" "$CONF_PATH" 0640 root:$USER_NAME
	((installed == 0)) || restart=1
fi

check_host=$listen_host
case $check_host in
"" | 0.0.0.0) check_host=127.0.0.1 ;;
"[::]") check_host=::1 ;;
\[*)
	check_host=${check_host#[}
	check_host=${check_host%]}
	;;
esac
if [[ -e $root$ENV_PATH ]]; then
	say "kept:      $ENV_PATH (it exists)"
	# It holds the API token: never readable by others.
	if (((8#$(stat -c %a "$root$ENV_PATH")) & 8#007)); then
		changes=$((changes + 1))
		if ((dry_run)); then
			say "would run chmod o-rwx on $ENV_PATH (it holds the API token)"
		else
			chmod o-rwx "$root$ENV_PATH"
			say "fixed:     $ENV_PATH (chmod o-rwx: it holds the API token)"
		fi
	fi
else
	secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	[[ ${#secret} == 64 ]] || die "could not read 32 random bytes from /dev/urandom"
	cat >"$tmp/comandera.env" <<EOF
# Environment of the comandera service (systemd EnvironmentFile=), written by
# install.sh. Keep it secret: mode 0640, root:$USER_NAME.

# The bearer token API clients send (Authorization: Bearer <PRINTER_SECRET>);
# printers.hcl reads it with env("PRINTER_SECRET").
PRINTER_SECRET=$secret

# Where \`comandera check\` finds the local server.
RPI4_HTTP_HOST=$check_host
RPI4_HTTP_PORT=$listen_port
EOF
	install_file "$tmp/comandera.env" "$ENV_PATH" 0640 root:$USER_NAME
	restart=1
fi

# 5. udev and systemd.
if ((rules_changed)); then
	if ((live)) && [[ ! -d /run/udev ]]; then
		warn "udev is not running here: the rules apply from the next boot"
	else
		system udevadm control --reload-rules
		system udevadm trigger --subsystem-match=usbmisc --subsystem-match=usb --subsystem-match=tty
	fi
fi
service_up=0
if ((live)) && [[ ! -d /run/systemd/system ]]; then
	warn "systemd is not running here: start the service yourself (comandera serve -config $CONF_PATH)"
else
	((unit_changed == 0)) || system systemctl daemon-reload
	if ((enable)); then
		if ((!live)) || ! systemctl -q is-enabled "$SERVICE" 2>/dev/null; then
			system systemctl enable "$SERVICE"
		fi
		if ((live)) && systemctl -q is-active "$SERVICE"; then
			((restart == 0)) || run systemctl restart "$SERVICE"
		else
			system systemctl start "$SERVICE"
		fi
		service_up=1
	else
		say "not enabling or starting $SERVICE (--no-enable)"
	fi
fi

# 6. Static address.
if [[ -n $static_ip ]]; then
	dns_nm=${dns//,/ }
	if ((!live)); then
		system nmcli connection modify "<connection of ${iface:-the default interface}>" ipv4.method manual \
			ipv4.addresses "$static_ip" ipv4.gateway "$gateway" ipv4.dns "$dns_nm"
		system nmcli connection up "<connection of ${iface:-the default interface}>"
	else
		command -v nmcli >/dev/null || die "--static-ip needs NetworkManager (nmcli), which is not installed; set the address in your network configuration instead"
		[[ $(nmcli -t -f RUNNING general 2>/dev/null) == running ]] || die "--static-ip: NetworkManager is not running"
		if [[ -z $iface ]]; then
			iface=$(ip -4 route show default 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
			iface=${iface:-eth0}
		fi
		con=$(nmcli -g GENERAL.CONNECTION device show "$iface" 2>/dev/null || true)
		[[ -n $con ]] || die "--static-ip: no NetworkManager connection is active on $iface (see nmcli device; choose one with --interface)"
		current=$(nmcli -g ipv4.method,ipv4.addresses,ipv4.gateway,ipv4.dns connection show "$con" | tr '\n' '|')
		want="manual|$static_ip|$gateway|${dns}|"
		if [[ $current == "$want" ]]; then
			say "unchanged: $iface ($con) already has $static_ip via $gateway, DNS $dns"
		else
			if ((!dry_run)); then
				backup_file=$BACKUP_DIR/network-$(date +%Y%m%d-%H%M%S)-${iface}.txt
				mkdir -p "$BACKUP_DIR"
				chmod 0700 "$BACKUP_DIR"
				nmcli connection show "$con" >"$backup_file"
				say "backup:    settings of connection \"$con\" -> $backup_file"
			fi
			warn "changing the address of $iface to ${static_ip%/*}: a session through it (SSH) will drop; reconnect to the new address"
			run nmcli connection modify "$con" ipv4.method manual ipv4.addresses "$static_ip" \
				ipv4.gateway "$gateway" ipv4.dns "$dns_nm"
			run nmcli connection up "$con"
		fi
	fi
fi

# 7. Check the running server.
status=0
if ((check == 0)); then
	say "not running comandera check (--no-check)"
elif ((service_up == 0)); then
	say "not running comandera check: the service was not started"
elif ((!live || dry_run)); then
	if ((!live)); then
		say "skipped (--prefix): comandera check"
	else
		say "would run: comandera check"
	fi
else
	rc=0
	out=""
	for attempt in 1 2 3 4 5; do
		rc=0
		# The service's environment (its token, MQTT credentials…) and its
		# configuration tell check where the server listens, with which
		# token, and which TLS certificate it presents.
		out=$(
			set -a
			# shellcheck source=/dev/null
			. "$ENV_PATH"
			set +a
			"$BIN_PATH" check -config "$CONF_PATH" 2>&1
		) || rc=$?
		((rc != 0)) || break
		[[ $out != *'unknown command "check"'* ]] || break
		((attempt == 5)) || sleep 2
	done
	if ((rc == 0)); then
		say "comandera check passed:"
		say "$out" | sed 's/^/  /'
	elif [[ $out == *'unknown command "check"'* ]]; then
		warn "this comandera ($version) has no check command; check the service with: systemctl status comandera"
	else
		say "$out" | sed 's/^/  /' >&2
		printf '%s: installed, but comandera check failed (exit %s); see: journalctl -u comandera -n 50\n' "$PROG" "$rc" >&2
		status=$EX_CHECK
	fi
fi

if ((dry_run)); then
	say "dry run done: $changes change(s) would be made"
elif ((changes == 0)); then
	say "done: no changes (everything was already in place)"
else
	say "done: $changes change(s)"
fi
exit "$status"
