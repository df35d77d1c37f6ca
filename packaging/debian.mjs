// What the .deb holds: every file with its path, mode and content (or the file it is copied
// from). package.mjs writes them into a tree and runs dpkg-deb; the tests read this list too.
import { statSync } from 'node:fs';
import { join } from 'node:path';

const MAINTAINER = 'kube-local-lb maintainers <kube-local-lb@users.noreply.github.com>';
const UNITS = ['kube-local-lb.socket', 'kube-local-lb.service'];

// The executable is the official Node.js build with the application injected: Node.js links its
// own zlib (with its own patches) and is not built as a position-independent executable.
const LINTIAN_OVERRIDES = `# Node.js embeds its own zlib; the executable is the official Node.js 24 build.
kube-local-lb: embedded-library zlib [usr/bin/kube-local-lb]
# The official Node.js build for linux-x64 is not position-independent.
kube-local-lb: hardening-no-pie [usr/bin/kube-local-lb]
`;

/** The Debian changelog date format (RFC 5322), from SOURCE_DATE_EPOCH when set. */
function changelogDate() {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const date = epoch ? new Date(Number(epoch) * 1000) : new Date();
  return date.toUTCString().replace('GMT', '+0000');
}

// The scripts do what dh_installsystemd would write for units that are not enabled at install:
// the configuration needs the apiservers' addresses and a credential first (the guide's steps),
// then `systemctl enable --now kube-local-lb.socket`. An upgrade restarts a running service;
// the socket keeps the listening address meanwhile, so no client is refused.
const postinst = `#!/bin/sh
set -e
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper update-state ${UNITS.join(' ')} >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			deb-systemd-invoke try-restart kube-local-lb.service >/dev/null || true
		fi
	fi
fi
exit 0
`;

const prerm = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	deb-systemd-invoke stop ${UNITS.join(' ')} >/dev/null || true
fi
exit 0
`;

const postrm = `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper purge ${UNITS.join(' ')} >/dev/null || true
	fi
fi
exit 0
`;

const manPage = (version) => `.TH KUBE-LOCAL-LB 1 "" "kube-local-lb ${version}" "User Commands"
.SH NAME
kube-local-lb \\- node-local load balancer for the Kubernetes apiserver
.SH SYNOPSIS
.B kube-local-lb
[\\fIrun\\fR|\\fIstatus\\fR|\\fIcheck-config\\fR|\\fIkubeconfig\\fR|\\fIdoctor\\fR|\\fIdemo\\fR] [\\fIoptions\\fR]
.SH DESCRIPTION
Listens on the node's loopback and passes TCP, TLS untouched, to every apiserver whose /readyz
passes authenticated health checks. kubelet, kube-proxy and CNI agents point their kubeconfigs
at it.
.TP
.B run
the load balancer (the default command); \\fB/etc/kube-local-lb/config.yaml\\fR under systemd
.TP
.B status
the backends and their states, from the admin endpoint
.TP
.B check-config
validates a configuration and prints the effective settings
.TP
.B kubeconfig
points a kubeconfig's server at the proxy and sets tls-server-name
.TP
.B doctor
checks, through the proxy, what a kubeconfig's client meets
.TP
.B demo
three local apiserver imitations behind the proxy, shown live
.PP
Every command explains its flags with \\fB--help\\fR.
.SH FILES
/etc/kube-local-lb/config.yaml, /lib/systemd/system/kube-local-lb.socket,
/lib/systemd/system/kube-local-lb.service
.SH SEE ALSO
/usr/share/doc/kube-local-lb/install-kubeadm.md
`;

const copyright = (nodeVersion) => `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kube-local-lb

Files: *
Copyright: 2025-2026 The kube-local-lb Authors
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
Comment: /usr/bin/kube-local-lb is a Node.js ${nodeVersion} executable (MIT, with the licenses
 of the libraries it embeds: see https://github.com/nodejs/node/blob/main/LICENSE) holding
 kube-local-lb and its runtime dependencies pino, prom-client, yargs and yaml (MIT and ISC).
`;

const changelog = (version) => `kube-local-lb (${version}) unstable; urgency=medium

  * Release ${version}: a single executable with the systemd units.

 -- ${MAINTAINER}  ${changelogDate()}
`;

/**
 * Every file of the package, control files under DEBIAN/. `from` copies a file of the
 * repository (or the executable); `text` is written as is, or gzipped when `gzip`.
 */
export function debianFiles({ version, nodeVersion, root }) {
  const payload = [
    { path: 'usr/bin/kube-local-lb', from: join(root, 'dist-bin', 'kube-local-lb'), mode: 0o755 },
    ...UNITS.map((unit) => ({ path: `lib/systemd/system/${unit}`, from: join(root, 'systemd', unit), mode: 0o644 })),
    { path: 'etc/kube-local-lb/config.yaml', from: join(root, 'static-pod', 'config.yaml'), mode: 0o644 },
    ...['install-kubeadm.md', 'operations.md', 'troubleshooting.md', 'configuration.md'].map((doc) => ({
      path: `usr/share/doc/kube-local-lb/${doc}`, from: join(root, 'docs', doc), mode: 0o644 })),
    { path: 'usr/share/doc/kube-local-lb/copyright', text: copyright(nodeVersion), mode: 0o644 },
    { path: 'usr/share/doc/kube-local-lb/changelog.gz', text: changelog(version), gzip: true, mode: 0o644 },
    { path: 'usr/share/man/man1/kube-local-lb.1.gz', text: manPage(version), gzip: true, mode: 0o644 },
    { path: 'usr/share/lintian/overrides/kube-local-lb', text: LINTIAN_OVERRIDES, mode: 0o644 },
  ];
  const bytes = payload.reduce((sum, f) => sum + (f.from ? statSync(f.from).size : Buffer.byteLength(f.text)), 0);
  const control = `Package: kube-local-lb
Version: ${version}
Architecture: amd64
Maintainer: ${MAINTAINER}
Installed-Size: ${Math.ceil(bytes / 1024)}
Depends: libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 11)
Section: net
Priority: optional
Homepage: https://github.com/kube-local-lb/kube-local-lb
Description: node-local load balancer for the Kubernetes apiserver
 kube-local-lb listens on the node's loopback and passes TCP, TLS untouched, to
 every apiserver whose /readyz passes authenticated health checks, so that
 kubelet, kube-proxy and CNI agents need neither a VIP nor a cloud load
 balancer. Sessions of a dead apiserver are closed at once, new sessions are
 replayed past a blackholed one, and a graceful shutdown drains.
 .
 One executable (Node.js is built in), systemd socket and service units and a
 configuration to edit in /etc/kube-local-lb/config.yaml.
`;
  return [
    ...payload,
    { path: 'DEBIAN/control', text: control, mode: 0o644 },
    { path: 'DEBIAN/conffiles', text: '/etc/kube-local-lb/config.yaml\n', mode: 0o644 },
    { path: 'DEBIAN/postinst', text: postinst, mode: 0o755 },
    { path: 'DEBIAN/prerm', text: prerm, mode: 0o755 },
    { path: 'DEBIAN/postrm', text: postrm, mode: 0o755 },
  ];
}


