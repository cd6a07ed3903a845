#!/usr/bin/env bash
# A loopback OpenSSH server for the demo and the tests: its own host key, an authorized client
# key, a known_hosts file naming the host key, all under DIR. Idempotent (keys are made once).
#   scripts/loopback-sshd.sh setup DIR PORT   -> writes DIR/sshd_config and the keys; prints nothing
#   then run: /usr/sbin/sshd -D -e -f DIR/sshd_config
# Files: DIR/client_ed25519 (Onwatch's key), DIR/known_hosts, DIR/host_ed25519(.pub).
set -euo pipefail
[ "${1:-}" = setup ] || { echo "usage: $0 setup DIR PORT" >&2; exit 2; }
DIR=$2 PORT=$3
SSHD=${SSHD:-/usr/sbin/sshd}
[ -x "$SSHD" ] || { echo "no $SSHD: install openssh-server (scripts/bootstrap.sh does)" >&2; exit 3; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[ -f "$DIR/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C onwatch-loopback-host -f "$DIR/host_ed25519"
[ -f "$DIR/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C onwatch-loopback-client -f "$DIR/client_ed25519"
cp "$DIR/client_ed25519.pub" "$DIR/authorized_keys"
chmod 600 "$DIR/host_ed25519" "$DIR/client_ed25519" "$DIR/authorized_keys"
# The host's key for [127.0.0.1]:PORT, as `ssh-keyscan` would write it.
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$DIR/host_ed25519.pub")" > "$DIR/known_hosts"
cat > "$DIR/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $DIR/host_ed25519
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
LogLevel INFO
CONF
# sshd running as root needs its privilege-separation directory (a tmpfs: gone after a reboot).
if [ "$(id -u)" = 0 ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
"$SSHD" -t -f "$DIR/sshd_config"
