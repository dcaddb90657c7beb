#!/bin/sh
# Writes sandgate(1) to stdout, generated from the CLI's own help (`sandgate --help-all`).
set -eu
BIN=$1
cat <<'HEAD'
.TH SANDGATE 1 "2026-12-03" "sandgate 0.1.0" "User Commands"
.SH NAME
sandgate \- one Sandbox Submission API token per organization
.SH SYNOPSIS
.B sandgate
.I SUBCOMMAND
.RI [ OPTIONS ]
.SH DESCRIPTION
One binary: \fBserve\fR runs the HTTP server (Submission API, JSON API, web portal); every other
subcommand works on the data directory through the same services (same rules, same audit).
Exit status: 0 success, 1 refused or failed, 2 wrong arguments.
.PP
Packaged configuration: \fI/etc/sandgate/sandgate.toml\fR (every key with its default;
\fBsandgate config check\fR prints the effective settings). Data directory:
\fI/var/lib/sandgate\fR. The systemd unit \fBsandgate.service\fR runs
\fBsandgate serve \-\-config /etc/sandgate/sandgate.toml\fR as the user \fBsandgate\fR.
.SH COMMANDS AND OPTIONS
The output of \fBsandgate \-\-help\-all\fR:
.PP
.nf
HEAD
# Escape backslashes and leading dots/quotes; fold lines over 78 columns at a space.
"$BIN" --help-all | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/' -e 's/-/\\-/g' |
  fold -s -w 78
cat <<'TAIL'
.fi
.SH FILES
.TP
.I /etc/sandgate/sandgate.toml
configuration (TOML, top-level keys)
.TP
.I /var/lib/sandgate
data directory: sandgate.db, sandgate.key (keep it apart from backups), sandgate.log
.SH SEE ALSO
.BR systemctl (1),
.BR systemd.exec (5)
TAIL
