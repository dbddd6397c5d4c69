# shellcheck shell=bash disable=SC2016
# (SC2016: the single-quoted snippets are scripts for an inner or remote shell)
# Shared code of the f7tproxy local testbed: sourced by up, down, status and ssh-as.
#
# The testbed is a single-machine HPC site: an OpenSSH daemon that trusts a user CA, a
# Slurm cluster with accounting (munge, MariaDB, slurmdbd, slurmctld, slurmd) and an
# S3-compatible store (moto); for replicas of f7tproxy, a Redis for their shared state
# and an HAProxy load balancer in front of two replica ports (the replicas themselves
# are started by tests and the demo). Every daemon is started directly by these scripts with its
# own configuration, pid file and log under the state directory; no system service is
# used or touched, and everything listens on 127.0.0.1 only.

export LC_ALL=C # stable number formatting ($EPOCHREALTIME, awk) and tool output

TESTBED_SRC=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
STATE=${F7T_TESTBED_DIR:-/var/lib/f7tproxy-testbed}

# ---------------------------------------------------------------- fixed contract values
LOOPBACK=127.0.0.1
SSH_PORT=2222
S3_PORT=9000
DB_PORT=3307
SLURMCTLD_PORT=6817
SLURMD_PORT=6818
SLURMDBD_PORT=6819
REDIS_PORT=6380 # not 6379: a Redis of the machine's own may be there
LB_PORT=8080
LB_REPLICA_PORTS=(8101 8102) # where HAProxy looks for the two f7tproxy replicas
S3_ACCESS_KEY=testbed-access
S3_SECRET_KEY=testbed-secret
S3_REGION=us-east-1
CLUSTER=testbed
TB_USERS=(fireuser firesrv fireuser2)
# Slurm accounts: user -> "account[,account...]" (the first one is the default account)
declare -A TB_USER_ACCOUNTS=([fireuser]="proj1,proj2" [fireuser2]="proj2" [firesrv]="proj1")
TB_ACCOUNTS=(proj1 proj2)
# All parts, in start (dependency) order; `down` walks this list backwards.
ALL_PARTS=(sshd munge mariadb slurmdbd slurmctld slurmd s3 redis lb)
# Parts that must answer before a part can start. `up PART` does not start them on its
# own: tests stop and start single parts and must get exactly what they asked for.
declare -A PART_DEPS=([slurmdbd]="munge mariadb" [slurmctld]="munge" [slurmd]="munge slurmctld")
# Debian packages `up` installs on a fresh machine (python3/python3-venv only if missing).
DEB_PACKAGES=(slurm-wlm slurmdbd munge openssh-server mariadb-server redis-server haproxy)

# Slurm names the node after the short host name (what slurmd matches by default).
NODE=$(uname -n)
NODE=${NODE%%.*}

# ---------------------------------------------------------------- paths in the state dir
SSH_DIR=$STATE/ssh
SSHD_CONFIG=$SSH_DIR/sshd_config
HOST_KEY=$SSH_DIR/ssh_host_ed25519_key
WRONG_HOST_KEY=$SSH_DIR/wrong_host_ed25519_key
KNOWN_HOSTS=$SSH_DIR/known_hosts
WRONG_KNOWN_HOSTS=$SSH_DIR/wrong_known_hosts
CA_DIR=$STATE/ca
CA_KEY=$CA_DIR/user_ca
KEYS_DIR=$STATE/keys
MUNGE_DIR=$STATE/munge
# A private munge socket: ours never collides with a system munged (e.g. one that apt's
# postinst started), and `down munge` can only ever stop ours. Slurm finds it through
# AuthInfo=socket=... and AccountingStoragePass=... (see write_configs).
MUNGE_SOCKET=$MUNGE_DIR/munge.socket.2
MUNGE_KEY=$MUNGE_DIR/munge.key
DB_DIR=$STATE/mariadb
DB_CNF=$DB_DIR/my.cnf
DB_SOCKET=$DB_DIR/mariadbd.sock
DB_PASS_FILE=$DB_DIR/slurmdbd.password
SLURM_DIR=$STATE/slurm
S3_DIR=$STATE/s3
VENV=$STATE/venv-s3
REDIS_DIR=$STATE/redis
REDIS_CONF=$REDIS_DIR/redis.conf
LB_DIR=$STATE/lb
LB_CONF=$LB_DIR/haproxy.cfg
LB_SOCKET=$LB_DIR/admin.sock # HAProxy's runtime API (show servers state, disable server...)
ENV_FILE=$STATE/testbed.env
TMP_DIR=$STATE/tmp # private scratch for our own temporary files (mode 0700)

# Clients run by these scripts (sacctmgr, scontrol, sbatch...) and the daemons use our
# slurm.conf; slurmdbd reads slurmdbd.conf from the same directory.
export SLURM_CONF=$SLURM_DIR/slurm.conf

# Every daemon is started with this variable in its environment; `down` uses it to find
# processes of ours whose pid file is gone (and slurmstepd processes, which have none).
tag_of() { printf 'F7T_TESTBED_TAG=%s:%s' "$STATE" "$1"; }

# ---------------------------------------------------------------- output helpers
say() { printf '%s\n' "$*"; }
warn() { printf 'testbed: WARNING: %s\n' "$*" >&2; }
die() {
	printf 'testbed: ERROR: %s\n' "$*" >&2
	exit 1
}
# Seconds elapsed since $1 (an $EPOCHREALTIME value), one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# The comment block at the top of the calling script.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

require_root() { [[ $EUID -eq 0 ]] || die "run me as root"; }

check_state_path() {
	# The path ends up unquoted in sshd/slurm/mariadb configs: keep it simple.
	[[ $STATE =~ ^/[A-Za-z0-9._/-]+$ ]] || die "F7T_TESTBED_DIR must be an absolute path of [A-Za-z0-9._/-] (got '$STATE')"
	case $STATE/ in /tmp/* | /var/tmp/* | /dev/shm/*)
		warn "state dir $STATE is under a world-writable directory: munged and sshd may refuse it" ;;
	esac
}

# Print the end of a log file to stderr, framed: the lines since our last "starting"
# banner (see up_part), at most $2 (default 40).
log_tail() {
	local f=$1 n=${2:-40}
	if [[ -s $f ]]; then
		printf -- '----- end of %s -----\n' "$f" >&2
		awk '/^===== .* starting / { delete l; c = 0 } { l[++c] = $0 } END { for (i = 1; i <= c; i++) print l[i] }' "$f" |
			tail -n "$n" >&2
		printf -- '----- (%s) -----\n' "$f" >&2
	else
		printf -- '(log %s is empty or missing)\n' "$f" >&2
	fi
}

# Turn the arguments into a list of part names in dependency order (all if none given).
# Sets the global array PARTS.
select_parts() {
	local p q ok
	PARTS=()
	if (($# == 0)); then
		PARTS=("${ALL_PARTS[@]}")
		return
	fi
	for p in "$@"; do
		ok=0
		for q in "${ALL_PARTS[@]}"; do
			if [[ $p == "$q" ]]; then ok=1; fi
		done
		((ok)) || die "unknown part '$p' (parts: ${ALL_PARTS[*]})"
	done
	for q in "${ALL_PARTS[@]}"; do
		for p in "$@"; do
			if [[ $p == "$q" ]]; then
				PARTS+=("$q")
				break
			fi
		done
	done
}

# Serialise up/down (tests may call them concurrently). The lock fd (9) must never leak
# into a daemon: a daemon holding it would block every later `up`/`down`; every launch
# below closes it with 9>&-.
take_lock() {
	exec 9>>"$STATE/.lock"
	flock -w 900 9 || die "another up/down has held $STATE/.lock for 15 minutes"
}

# ---------------------------------------------------------------- probes
# True if process $1 has a socket listening on 127.0.0.1:$2. Read from /proc rather than
# by connecting: Slurm daemons log an error for every connection that sends nothing.
listens_on() {
	local pid=$1 inode fds
	inode=$(awk -v a="$(printf '0100007F:%04X' "$2")" '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp)
	[[ -n $inode ]] || return 1
	fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
	[[ $fds == *"socket:[$inode]"* ]]
}

# True if any process listens on TCP port $1 (any address, IPv4 or IPv6).
port_in_use() {
	local tables=() t
	for t in /proc/net/tcp /proc/net/tcp6; do
		if [[ -r $t ]]; then tables+=("$t"); fi # no tcp6 without IPv6
	done
	awk -v h="$(printf ':%04X' "$1")" 'substr($2, length($2) - 4) == h && $4 == "0A" { found = 1 }
		END { exit !found }' "${tables[@]}"
}

# First line a TCP server on 127.0.0.1:$1 sends after receiving $2 (may be empty), CR
# stripped; bounded. Plain bash: a fresh Debian has no curl.
first_line() {
	local line
	line=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "%b" "$2" >&3
		IFS= read -r -t 2 l <&3 && printf "%s" "$l"' "$LOOPBACK" "$1" "${2:-}" 2>/dev/null) || return 1
	printf '%s\n' "${line%$'\r'}"
}

# Pids of live processes whose environment carries our tag for part $1.
tagged_pids() {
	local f pid
	while IFS= read -r f; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		alive "$pid" && echo "$pid"
	done < <(grep -lzxF -- "$(tag_of "$1")" /proc/[0-9]*/environ 2>/dev/null)
	return 0
}

# All descendants of the given pids (not the pids themselves).
descendants() {
	(($#)) || return 0
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(roots, queue, " ")
			for (i = 1; i <= n; i++) {
				m = split(kids[queue[i]], k, " ")
				for (j = 1; j <= m; j++) if (!(k[j] in seen)) { seen[k[j]] = 1; queue[++n] = k[j]; print k[j] }
			}
		}'
}

alive() { readlink "/proc/$1/exe" >/dev/null 2>&1; } # false for gone and zombie processes

pidfile_of() {
	case $1 in
	sshd) echo "$SSH_DIR/sshd.pid" ;;
	munge) echo "$MUNGE_DIR/munged.pid" ;;
	mariadb) echo "$DB_DIR/mariadbd.pid" ;;
	slurmdbd | slurmctld | slurmd) echo "$SLURM_DIR/run/$1.pid" ;;
	s3) echo "$S3_DIR/moto.pid" ;;
	redis) echo "$REDIS_DIR/redis.pid" ;;
	lb) echo "$LB_DIR/haproxy.pid" ;;
	esac
}

logfile_of() {
	case $1 in
	sshd) echo "$SSH_DIR/sshd.log" ;;
	munge) echo "$MUNGE_DIR/munged.log" ;;
	mariadb) echo "$DB_DIR/mariadbd.log" ;;
	slurmdbd | slurmctld | slurmd) echo "$SLURM_DIR/log/$1.log" ;;
	s3) echo "$S3_DIR/moto.log" ;;
	redis) echo "$REDIS_DIR/redis.log" ;;
	lb) echo "$LB_DIR/haproxy.log" ;;
	esac
}

port_of() {
	case $1 in
	sshd) echo "$SSH_PORT" ;;
	mariadb) echo "$DB_PORT" ;;
	slurmdbd) echo "$SLURMDBD_PORT" ;;
	slurmctld) echo "$SLURMCTLD_PORT" ;;
	slurmd) echo "$SLURMD_PORT" ;;
	s3) echo "$S3_PORT" ;;
	redis) echo "$REDIS_PORT" ;;
	lb) echo "$LB_PORT" ;;
	*) echo "" ;;
	esac
}

# The pid recorded in the part's pid file, if that process is alive and is the right
# program (guards against stale pid files and recycled pids).
part_pid() {
	local f pid exe
	f=$(pidfile_of "$1")
	[[ -s $f ]] || return 1
	read -r pid <"$f" || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	exe=${exe##*/}
	exe=${exe% (deleted)}
	case $1 in
	sshd) [[ $exe == sshd ]] ;;
	munge) [[ $exe == munged ]] ;;
	mariadb) [[ $exe == mariadbd || $exe == mysqld ]] ;;
	slurmdbd) [[ $exe == slurmdbd ]] ;;
	slurmctld) [[ $exe == slurmctld* ]] ;;
	slurmd) [[ $exe == slurmd || $exe == slurmd-* ]] ;;
	s3) [[ $exe == python* && $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"$VENV/bin/moto_server "* ]] ;;
	redis) [[ $exe == redis-server || $exe == redis-check-rdb ]] ;;
	lb) [[ $exe == haproxy ]] ;;
	esac || return 1
	echo "$pid"
}

# Liveness probes used by `status` (and as the first step of readiness): our process is
# alive and its own endpoint is there. Each depends only on the part itself, so that
# stopping one part does not make `status` report its neighbours as down.
probe() {
	local part=$1 pid line
	pid=$(part_pid "$part") || return 1
	case $part in
	munge)
		# a credential encoded and decoded through our socket
		timeout 5 munge -n -S "$MUNGE_SOCKET" 2>/dev/null | timeout 5 unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1
		;;
	mariadb)
		timeout 5 mariadb-admin --no-defaults --socket="$DB_SOCKET" --user=root --connect-timeout=3 ping >/dev/null 2>&1
		;;
	sshd | slurmdbd | slurmctld | slurmd | lb) listens_on "$pid" "$(port_of "$part")" ;;
	redis)
		line=$(first_line "$REDIS_PORT" 'PING\r\n') || return 1
		[[ $line == +PONG ]]
		;;
	s3)
		line=$(first_line "$S3_PORT" 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n') || return 1
		[[ $line == "HTTP/1."?" 200"* ]]
		;;
	esac
}

# State of our node as slurmctld sees it, e.g. IDLE, MIXED, IDLE+DRAIN, DOWN+NOT_RESPONDING.
node_state() {
	local out
	out=$(timeout 10 scontrol -o show node "$NODE" 2>/dev/null) || return 1
	out=${out#*State=}
	echo "${out%% *}"
}

# The node is registered and responding (drained or not: that is an admin decision).
node_responding() {
	local st
	st=$(node_state) || return 1
	[[ $st != *NOT_RESPONDING* && $st != DOWN* && $st != UNKNOWN* && $st != FUTURE* ]]
}

# Readiness used by `up`: liveness plus a real request through the part's clients.
ready() {
	local part=$1 out
	probe "$part" || return 1
	case $part in
	sshd)
		out=$(first_line "$SSH_PORT") || return 1 # the server's greeting
		[[ $out == SSH-2.0-* ]]
		;;
	slurmdbd)
		timeout 15 sacctmgr -n -P show cluster format=cluster >/dev/null 2>&1
		;;
	slurmctld)
		out=$(timeout 10 scontrol ping 2>/dev/null) || return 1
		[[ $out == *"is UP"* ]] || return 1
		# After a restart slurmctld schedules nothing until slurmd has registered again
		# (a few seconds): with slurmd running, "up" means "runs jobs".
		if probe slurmd; then node_responding; fi
		;;
	slurmd)
		# slurmd answers itself, and slurmctld has seen it register
		timeout 10 scontrol show slurmd >/dev/null 2>&1 && node_responding
		;;
	*) return 0 ;;
	esac
}

# ---------------------------------------------------------------- packages and venv
deb_installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]; }

ensure_packages() {
	local missing=() p t
	for p in "${DEB_PACKAGES[@]}"; do deb_installed "$p" || missing+=("$p"); done
	if ! command -v python3 >/dev/null; then
		missing+=(python3 python3-venv)
	elif ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
		missing+=(python3-venv) # Debian splits venv/ensurepip out of python3
	fi
	((${#missing[@]})) || return 0
	t=$EPOCHREALTIME
	say "packages: installing ${missing[*]}"
	(
		# Without systemd, the postinst scripts would start the packages' own daemons
		# (system munged, mariadbd, an sshd on 0.0.0.0:22). A policy-rc.d that says
		# "no" (exit 101) for the duration of the install prevents that; we remove it
		# afterwards, and leave an existing one alone.
		policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d}
		if [[ ! -e $policy ]]; then
			printf '#!/bin/sh\n# temporary, from f7tproxy tests/testbed/up\nexit 101\n' >"$policy"
			chmod 0755 "$policy"
			trap 'rm -f "$policy"' EXIT
		fi
		export DEBIAN_FRONTEND=noninteractive
		timeout 900 apt-get -q -o DPkg::Lock::Timeout=300 update
		timeout 1800 apt-get -q -y -o DPkg::Lock::Timeout=300 install "${missing[@]}"
	) || die "apt-get install ${missing[*]} failed"
	say "packages: installed in $(since "$t") s"
}

# Python venv with moto[server] (+ boto3, which moto pulls in) for the S3 part and its
# self-test. A marker file is written only after a complete install, so an interrupted
# install is redone from scratch.
ensure_s3_venv() {
	local t
	if [[ -f $VENV/.testbed-complete && -x $VENV/bin/moto_server ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
		return 0
	fi
	t=$EPOCHREALTIME
	say "s3 venv: creating $VENV and installing moto[server] (takes about a minute)"
	rm -rf -- "$VENV"
	timeout 300 python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
	# pip's chatter goes to a log, shown only on failure
	if ! timeout 1200 "$VENV/bin/python" -m pip install --disable-pip-version-check 'moto[server]' \
		>"$S3_DIR/pip-install.log" 2>&1; then
		log_tail "$S3_DIR/pip-install.log" 30
		die "pip install 'moto[server]' into $VENV failed"
	fi
	"$VENV/bin/python" -c 'import boto3, moto' || die "moto/boto3 not importable in $VENV"
	touch "$VENV/.testbed-complete"
	say "s3 venv: ready in $(since "$t") s"
}

# ---------------------------------------------------------------- base setup
# Write stdin to $1 with mode $2 and owner $3, only if the content differs (so that a
# config of a running daemon is not rewritten needlessly). Records changed files.
CHANGED_FILES=()
put_file() {
	local path=$1 mode=$2 owner=$3 tmp
	tmp=$(mktemp "$path.XXXXXX")
	cat >"$tmp"
	chmod "$mode" "$tmp"
	chown "$owner" "$tmp"
	if [[ -f $path ]] && cmp -s "$tmp" "$path"; then
		rm -f -- "$tmp"
		chmod "$mode" "$path"
		chown "$owner" "$path"
		return 0
	fi
	mv -f -- "$tmp" "$path"
	CHANGED_FILES+=("$path")
}

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

ensure_dirs() {
	install -d -m 0755 -o root -g root "$STATE" "$SSH_DIR" "$CA_DIR" "$KEYS_DIR" "$S3_DIR" \
		"$SLURM_DIR" "$SLURM_DIR/log" "$SLURM_DIR/run" "$SLURM_DIR/spool"
	install -d -m 0700 -o root -g root "$SLURM_DIR/state" "$TMP_DIR"
	# munged insists that its key, socket, log, pid and seed live in directories that
	# only munge (or root) can write; clients (the users' sbatch) must reach the socket.
	install -d -m 0755 -o munge -g munge "$MUNGE_DIR"
	install -d -m 0750 -o mysql -g mysql "$DB_DIR"
	install -d -m 0750 -o redis -g redis "$REDIS_DIR" "$REDIS_DIR/data"
	install -d -m 0750 -o root -g root "$LB_DIR"
	# sshd's privilege separation directory (compiled-in path).
	install -d -m 0755 -o root -g root /run/sshd
}

ensure_users() {
	local u home group pw
	for u in "${TB_USERS[@]}"; do
		if ! getent passwd "$u" >/dev/null; then
			useradd -m -d "/home/$u" -s /bin/bash -U "$u"
		fi
		# With UsePAM no, sshd refuses accounts whose password is locked ('!', what
		# useradd sets), certificates included; '*' means "no password" but unlocked.
		pw=$(getent shadow "$u" | cut -d: -f2)
		[[ $pw == '!'* ]] && usermod -p '*' "$u"
		home=$(getent passwd "$u" | cut -d: -f6)
		group=$(id -gn "$u")
		chmod 0700 "$home"
		install -d -m 0700 -o "$u" -g "$group" "$home/.ssh"
		# static key (keep any other keys a test may have added)
		if [[ ! -f $KEYS_DIR/$u ]]; then
			rm -f -- "$KEYS_DIR/$u.pub"
			ssh-keygen -q -t ed25519 -N '' -C "$u@f7tproxy-testbed" -f "$KEYS_DIR/$u"
		fi
		chmod 0600 "$KEYS_DIR/$u" "$KEYS_DIR/$u.pub"
		touch "$home/.ssh/authorized_keys"
		grep -qxF -- "$(cat "$KEYS_DIR/$u.pub")" "$home/.ssh/authorized_keys" ||
			cat "$KEYS_DIR/$u.pub" >>"$home/.ssh/authorized_keys"
		chown "$u:$group" "$home/.ssh/authorized_keys"
		chmod 0600 "$home/.ssh/authorized_keys"
	done
	# shared scratch tree
	install -d -m 0755 -o root -g root /scratch
	install -d -m 1777 -o root -g root /scratch/shared
	for u in "${TB_USERS[@]}"; do
		install -d -m 0700 -o "$u" -g "$(id -gn "$u")" "/scratch/$u"
	done
}

ensure_keys() {
	local type key
	# user CA: f7tproxy signs short-lived user certificates with it
	if [[ ! -f $CA_KEY ]]; then
		rm -f -- "$CA_KEY.pub"
		ssh-keygen -q -t ed25519 -N '' -C "f7tproxy-testbed-user-ca" -f "$CA_KEY"
	fi
	chmod 0600 "$CA_KEY"
	chmod 0644 "$CA_KEY.pub"
	# host key of the testbed sshd, and a second one for "wrong host key" tests
	[[ -f $HOST_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C "f7tproxy-testbed-host" -f "$HOST_KEY"
	[[ -f $WRONG_HOST_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C "f7tproxy-testbed-wrong-host" -f "$WRONG_HOST_KEY"
	chmod 0600 "$HOST_KEY" "$WRONG_HOST_KEY"
	read -r type key _ <"$HOST_KEY.pub"
	printf '[%s]:%s %s %s\n' "$LOOPBACK" "$SSH_PORT" "$type" "$key" | put_file "$KNOWN_HOSTS" 0644 root:root
	read -r type key _ <"$WRONG_HOST_KEY.pub"
	printf '[%s]:%s %s %s\n' "$LOOPBACK" "$SSH_PORT" "$type" "$key" | put_file "$WRONG_KNOWN_HOSTS" 0644 root:root
	# munge key (ours, not /etc/munge/munge.key)
	if [[ ! -f $MUNGE_KEY ]]; then
		mungekey --create --keyfile="$MUNGE_KEY" >/dev/null
	fi
	chown munge:munge "$MUNGE_KEY"
	chmod 0600 "$MUNGE_KEY"
	# password of the MariaDB account slurmdbd uses
	if [[ ! -s $DB_PASS_FILE ]]; then
		(umask 077 && random_hex 16 >"$DB_PASS_FILE")
	fi
	chmod 0600 "$DB_PASS_FILE"
}

write_configs() {
	local cpus mem_mb db_pass
	cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
	# 90% of the RAM: slurmd drains a node whose real memory is below the configured one.
	mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
	db_pass=$(cat "$DB_PASS_FILE")

	put_file "$SSHD_CONFIG" 0644 root:root <<EOF
# f7tproxy testbed sshd. Generated by tests/testbed/up; edits are overwritten.
Port $SSH_PORT
ListenAddress $LOOPBACK
HostKey $HOST_KEY
PidFile $SSH_DIR/sshd.pid
LogLevel VERBOSE
# certificates signed by the user CA (principal = user name) ...
TrustedUserCAKeys $CA_KEY.pub
# ... and the static keys in ~/.ssh/authorized_keys
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PermitRootLogin no
AllowUsers ${TB_USERS[*]}
# f7tproxy multiplexes many channels per connection and opens many connections at once
MaxSessions 64
MaxStartups 200:30:400
# Slurm clients run over ssh must find the testbed's slurm.conf
SetEnv SLURM_CONF=$SLURM_CONF
Subsystem sftp internal-sftp
X11Forwarding no
PrintMotd no
EOF

	put_file "$SLURM_CONF" 0644 root:root <<EOF
# f7tproxy testbed: single-node Slurm cluster. Generated by tests/testbed/up.
ClusterName=$CLUSTER
SlurmctldHost=$NODE($LOOPBACK)
SlurmctldPort=$SLURMCTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
# munge through the testbed's private socket
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
# bind daemons (and srun) to the address the host name resolves to (127.0.0.1)
# instead of INADDR_ANY
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/run/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/run/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups needed (or available) on a test machine
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$LOOPBACK
AccountingStoragePort=$SLURMDBD_PORT
# for accounting_storage/slurmdbd this is where the munge socket is given
AccountingStoragePass=$MUNGE_SOCKET
# jobs need a valid user/account association (fireuser2 cannot charge proj1)
AccountingStorageEnforce=associations
# keep job comments in accounting: f7tproxy's idempotency markers outlive MinJobAge there
AccountingStoreFlags=job_comment
NodeName=$NODE NodeAddr=$LOOPBACK NodeHostname=$NODE CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=normal Nodes=ALL Default=YES MaxTime=1-00:00:00 State=UP
PartitionName=debug Nodes=ALL MaxTime=00:30:00 State=UP
# a hidden partition (listed by /status/.../partitions only with show_hidden); without nodes,
# so the node's partition list and where jobs run stay as they were
PartitionName=hidden Hidden=YES MaxTime=00:30:00 State=UP
EOF

	# slurmdbd insists on mode 600, owned by SlurmUser
	put_file "$SLURM_DIR/slurmdbd.conf" 0600 root:root <<EOF
# f7tproxy testbed slurmdbd. Generated by tests/testbed/up.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=$NODE
DbdAddr=$LOOPBACK
DbdPort=$SLURMDBD_PORT
# bind to what the host name resolves to (127.0.0.1) instead of INADDR_ANY; not in the
# 22.05 man page, but slurmdbd reads it into the same setting the other daemons use
CommunicationParameters=NoInAddrAny
SlurmUser=root
PidFile=$SLURM_DIR/run/slurmdbd.pid
LogFile=$SLURM_DIR/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=$LOOPBACK
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$db_pass
StorageLoc=slurm_acct_db
EOF

	put_file "$DB_CNF" 0644 root:root <<EOF
# f7tproxy testbed MariaDB (used by slurmdbd only). Generated by tests/testbed/up.
[mysqld]
user=mysql
datadir=$DB_DIR/data
socket=$DB_SOCKET
pid-file=$DB_DIR/mariadbd.pid
bind-address=$LOOPBACK
port=$DB_PORT
skip-name-resolve
# slurmdbd logs an error below half of its recommended 1 GiB (allocated lazily anyway)
innodb_buffer_pool_size=512M
innodb_log_file_size=64M
innodb_lock_wait_timeout=900
max_allowed_packet=16M
EOF

	put_file "$REDIS_CONF" 0640 root:redis <<EOF
# f7tproxy testbed Redis: the replicas' shared state. Generated by tests/testbed/up.
bind $LOOPBACK
port $REDIS_PORT
protected-mode yes
daemonize no
pidfile $REDIS_DIR/redis.pid
logfile ""
dir $REDIS_DIR/data
# rate-limit buckets and recent submits are short-lived: no persistence
save ""
appendonly no
maxmemory 256mb
maxmemory-policy volatile-ttl
EOF
	local servers="" i
	for i in "${!LB_REPLICA_PORTS[@]}"; do
		servers+="    server replica$((i + 1)) $LOOPBACK:${LB_REPLICA_PORTS[i]} check"$'\n'
	done
	put_file "$LB_CONF" 0644 root:root <<EOF
# f7tproxy testbed load balancer: HAProxy in front of two f7tproxy replicas (started by the
# tests or scripts/demo --replicas on ${LB_REPLICA_PORTS[*]}). Generated by tests/testbed/up.
# The settings that matter for rolling restarts are explained in conf/haproxy.cfg.
global
    log stderr format raw local0 notice
    stats socket $LB_SOCKET mode 600 level admin
    user haproxy
    group haproxy

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 10s
    timeout check 2s
    retries 3
    option redispatch 1
    # one request per backend connection: a replica closing its listener never races a reused one
    option http-server-close
    # a request that never reached a replica (refused, reset while connecting) goes to another;
    # a GET whose replica died before answering is sent again; nothing else is repeated
    retry-on conn-failure empty-response

frontend f7tproxy
    bind $LOOPBACK:$LB_PORT
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /status/liveness/
    http-check expect status 200
    http-request disable-l7-retry if !METH_GET !METH_HEAD
    default-server inter 500ms fall 2 rise 2
$servers
EOF
	put_file "$ENV_FILE" 0644 root:root <<EOF
# f7tproxy testbed settings; source me (the variables are exported).
export F7T_TESTBED_DIR=$STATE
export SLURM_CONF=$SLURM_CONF
export F7T_SSH_HOST=$LOOPBACK
export F7T_SSH_PORT=$SSH_PORT
export F7T_SSH_KNOWN_HOSTS=$KNOWN_HOSTS
export F7T_SSH_WRONG_KNOWN_HOSTS=$WRONG_KNOWN_HOSTS
export F7T_SSH_USER_CA_KEY=$CA_KEY
export F7T_SSH_KEYS_DIR=$KEYS_DIR
export F7T_TEST_USERS="${TB_USERS[*]}"
export F7T_SLURM_CLUSTER=$CLUSTER
export F7T_SLURM_NODE=$NODE
export F7T_MUNGE_SOCKET=$MUNGE_SOCKET
export F7T_S3_URL=http://$LOOPBACK:$S3_PORT
export F7T_S3_ACCESS_KEY=$S3_ACCESS_KEY
export F7T_S3_SECRET_KEY=$S3_SECRET_KEY
export F7T_S3_REGION=$S3_REGION
export F7T_S3_PYTHON=$VENV/bin/python
export F7T_REDIS_URL=redis://$LOOPBACK:$REDIS_PORT/0
export F7T_LB_URL=http://$LOOPBACK:$LB_PORT
export F7T_LB_REPLICA_PORTS="${LB_REPLICA_PORTS[*]}"
export F7T_LB_SOCKET=$LB_SOCKET
EOF
}

# Slurm's NoInAddrAny/NoCtldInAddrAny (the only way to keep slurmd, slurmdbd and srun
# off INADDR_ANY) bind to the address that gethostname() resolves to, and slurmctld
# reaches slurmd at NodeAddr=127.0.0.1: the host name must resolve to 127.0.0.1 first.
# It does on many machines; Debian installs map it to 127.0.1.1 and Docker to the
# container's address. Then we put "127.0.0.1 <name>" at the top of /etc/hosts (in
# place: /etc/hosts may be a bind mount), marked so that it can be recognised.
HOSTS_MARK="# added by f7tproxy tests/testbed: Slurm binds to what the host name resolves to"
first_ipv4() { getent ahostsv4 "$1" 2>/dev/null | awk 'NR == 1 { print $1 }' || true; }
ensure_hostname_loopback() {
	local name names=() tmp
	for name in "$(uname -n)" "$NODE"; do
		if [[ $(first_ipv4 "$name") != "$LOOPBACK" && " ${names[*]} " != *" $name "* ]]; then names+=("$name"); fi
	done
	((${#names[@]})) || return 0
	say "testbed: ${names[*]} resolves to '$(first_ipv4 "${names[0]}")', not $LOOPBACK: adding it to /etc/hosts"
	tmp=$(mktemp "$TMP_DIR/hosts.XXXXXX")
	{
		printf '%s %s %s\n' "$LOOPBACK" "${names[*]}" "$HOSTS_MARK"
		cat /etc/hosts
	} >"$tmp"
	cat "$tmp" >/etc/hosts
	rm -f -- "$tmp"
	for name in "${names[@]}"; do
		[[ $(first_ipv4 "$name") == "$LOOPBACK" ]] ||
			die "host name $name still resolves to '$(first_ipv4 "$name")', not $LOOPBACK (check /etc/nsswitch.conf)"
	done
}

ensure_base() {
	check_state_path
	ensure_dirs
	ensure_hostname_loopback
	ensure_users
	ensure_keys
	write_configs
}

# ---------------------------------------------------------------- starting parts
# Each start_* launches the daemon and returns; readiness is waited for by up_part.
# stdin/stdout/stderr go to the log (a caller capturing our output must not wait for
# the daemons), and every other descriptor is closed (`without_fds`): our lock (fd 9), and a
# caller's, such as the one `flock FILE tests/testbed/up` holds, would otherwise live on in
# the daemon and block every later user of that lock. Daemons that fork into the background are
# launched under `timeout` (bounded even if one hangs before forking; the daemon itself
# leaves timeout's process group with setsid and is not affected).

start_sshd() {
	local log=$1
	timeout 30 /usr/sbin/sshd -t -f "$SSHD_CONFIG" >>"$log" 2>&1 9>&- || return 1
	# absolute path: sshd re-executes itself for every connection
	# shellcheck disable=SC2094 # -E and the redirection both only append to the log
	(without_fds timeout 60 env "$(tag_of sshd)" /usr/sbin/sshd -f "$SSHD_CONFIG" -E "$log" </dev/null >>"$log" 2>&1)
}

start_munge() {
	local log=$1
	# munged refuses a log file that is not its own
	touch "$log"
	chown munge:munge "$log"
	chmod 0640 "$log"
	# munged does not drop privileges itself; it runs as the munge user from the start
	# and forks into the background once it listens.
	(without_fds timeout 60 setpriv --reuid=munge --regid=munge --init-groups \
		env "$(tag_of munge)" munged --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
		--log-file="$log" --pid-file="$(pidfile_of munge)" --seed-file="$MUNGE_DIR/munged.seed" \
		--origin="$LOOPBACK" </dev/null >>"$log" 2>&1)
}

start_mariadb() {
	local log=$1
	if [[ ! -d $DB_DIR/data/mysql ]]; then
		say "mariadb: initialising $DB_DIR/data"
		rm -rf -- "$DB_DIR/data"
		timeout 180 mariadb-install-db --defaults-file="$DB_CNF" --user=mysql --datadir="$DB_DIR/data" \
			--auth-root-authentication-method=socket --skip-test-db >>"$log" 2>&1 9>&- || return 1
	fi
	# mariadbd stays in the foreground: put it in its own session, in the background.
	without_fds setsid env "$(tag_of mariadb)" mariadbd --defaults-file="$DB_CNF" </dev/null >>"$log" 2>&1 &
	LAUNCHED_PID=$!
}

start_slurm_daemon() { # slurmdbd | slurmctld | slurmd (they daemonize themselves)
	local part=$1 log=$2 extra=()
	[[ $part == slurmd ]] && extra=(-N "$NODE")
	(without_fds timeout 60 env "$(tag_of "$part")" "$part" "${extra[@]}" </dev/null >>"$log" 2>&1)
}

start_s3() {
	local log=$1
	without_fds setsid env "$(tag_of s3)" "$VENV/bin/moto_server" -H "$LOOPBACK" -p "$S3_PORT" </dev/null >>"$log" 2>&1 &
	LAUNCHED_PID=$!
	echo "$LAUNCHED_PID" >"$(pidfile_of s3)"
}

# Run "$@" (in the background: `without_fds cmd... &`) with no file descriptor open but
# stdin, stdout and stderr. Not only our lock (fd 9): a caller's lock too, such as the one
# `flock FILE tests/testbed/up ...` holds for its command, must not live on in a daemon,
# which would hold it (and block every other user of that lock) until it stops.
without_fds() {
	local fd
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
	done
	exec "$@"
}
start_redis() {
	local log=$1
	without_fds setsid env "$(tag_of redis)" setpriv --reuid=redis --regid=redis --init-groups \
		redis-server "$REDIS_CONF" </dev/null >>"$log" 2>&1 &
	LAUNCHED_PID=$!
}
start_lb() {
	local log=$1
	timeout 30 haproxy -c -f "$LB_CONF" >>"$log" 2>&1 9>&- || return 1
	# -db: in the foreground (in its own session), logging to our log file
	without_fds setsid env "$(tag_of lb)" haproxy -db -f "$LB_CONF" </dev/null >>"$log" 2>&1 &
	LAUNCHED_PID=$!
	echo "$LAUNCHED_PID" >"$(pidfile_of lb)"
}
start_part() {
	local part=$1 log
	log=$(logfile_of "$part")
	case $part in
	sshd) start_sshd "$log" ;;
	munge) start_munge "$log" ;;
	mariadb) start_mariadb "$log" ;;
	slurmdbd | slurmctld | slurmd) start_slurm_daemon "$part" "$log" ;;
	s3) start_s3 "$log" ;;
	redis) start_redis "$log" ;;
	lb) start_lb "$log" ;;
	esac
}

# MariaDB database and account for slurmdbd (idempotent).
ensure_db_grants() {
	local pass
	pass=$(cat "$DB_PASS_FILE")
	timeout 30 mariadb --no-defaults --socket="$DB_SOCKET" --user=root --batch <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'$LOOPBACK' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'$LOOPBACK' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'$LOOPBACK';
EOF
}

# Cluster, accounts and user associations in slurmdbd (idempotent; needs slurmdbd up).
# Two queries when everything exists already: `up` stays quick.
ensure_accounting() {
	local assocs users u a accts def
	assocs=$(timeout 30 sacctmgr -n -P show assoc cluster="$CLUSTER" format=account,user) || return 1
	if ! grep -qxF "root|" <<<"$assocs"; then # every cluster has the root account
		timeout 30 sacctmgr -i add cluster "$CLUSTER" >/dev/null || return 1
	fi
	for a in "${TB_ACCOUNTS[@]}"; do
		if ! grep -qxF "$a|" <<<"$assocs"; then
			timeout 30 sacctmgr -i add account "$a" cluster="$CLUSTER" \
				description="f7tproxy testbed $a" organization=testbed >/dev/null || return 1
		fi
	done
	for u in "${!TB_USER_ACCOUNTS[@]}"; do
		accts=${TB_USER_ACCOUNTS[$u]}
		for a in ${accts//,/ }; do
			if ! grep -qxF "$a|$u" <<<"$assocs"; then
				timeout 30 sacctmgr -i add user "$u" account="$a" defaultaccount="${accts%%,*}" \
					cluster="$CLUSTER" >/dev/null || return 1
			fi
		done
	done
	users=$(timeout 30 sacctmgr -n -P show user format=user,defaultaccount) || return 1
	for u in "${!TB_USER_ACCOUNTS[@]}"; do
		def=${TB_USER_ACCOUNTS[$u]%%,*}
		if ! grep -qxF "$u|$def" <<<"$users"; then
			timeout 30 sacctmgr -i modify user "$u" set defaultaccount="$def" >/dev/null || return 1
		fi
	done
}

ready_timeout_of() {
	case $1 in
	mariadb | slurmdbd | slurmctld | slurmd) echo 90 ;; # first start creates databases
	*) echo 30 ;;
	esac
}

# Start one part unless it is already up; wait (bounded) until it answers.
up_part() {
	local part=$1 t pid dep port log limit deadline
	t=$EPOCHREALTIME
	log=$(logfile_of "$part")
	if probe "$part"; then
		if [[ -n ${RESTART[$part]:-} ]]; then
			say "$part: configuration changed, restarting"
			stop_part "$part" keep-jobs >/dev/null
		else
			if [[ $part == slurmdbd ]]; then ensure_accounting || die "slurmdbd: setting up accounts failed"; fi
			say "$part: already up (pid $(part_pid "$part")) in $(since "$t") s"
			return 0
		fi
	fi
	for dep in ${PART_DEPS[$part]:-}; do
		probe "$dep" || die "$part needs $dep, which is down (run: $TESTBED_SRC/up $dep)"
	done
	# a live process of ours that does not answer: replace it
	if part_pid "$part" >/dev/null; then
		warn "$part: pid $(part_pid "$part") does not answer; restarting it"
		stop_part "$part" keep-jobs >/dev/null
	fi
	port=$(port_of "$part")
	if [[ -n $port ]] && port_in_use "$port"; then
		die "$part: TCP port $port is taken by a process that is not ours"
	fi
	[[ $part == slurmdbd ]] && { ensure_db_grants || die "slurmdbd: creating its MariaDB database/user failed"; }
	printf '\n===== %s starting %s =====\n' "$(date '+%F %T')" "$part" >>"$log"
	LAUNCHED_PID=
	if ! start_part "$part"; then
		printf '%s: FAILED to start\n' "$part" >&2
		log_tail "$log"
		stop_part "$part" >/dev/null 2>&1 || true
		exit 1
	fi
	limit=$(ready_timeout_of "$part")
	deadline=$((SECONDS + limit))
	until ready "$part"; do
		if ((SECONDS >= deadline)) || { [[ -n $LAUNCHED_PID ]] && ! alive "$LAUNCHED_PID"; }; then
			printf '%s: FAILED, not answering after %s s\n' "$part" "$(since "$t")" >&2
			log_tail "$log"
			if [[ $part == slurmd || $part == slurmctld ]]; then timeout 10 scontrol show node "$NODE" >&2 || true; fi
			stop_part "$part" >/dev/null 2>&1 || true
			exit 1
		fi
		sleep 0.2
	done
	case $part in
	mariadb) ensure_db_grants || die "mariadb: creating slurmdbd's database/user failed" ;;
	slurmdbd) ensure_accounting || die "slurmdbd: setting up accounts failed" ;;
	esac
	pid=$(part_pid "$part")
	say "$part: up in $(since "$t") s (pid $pid)"
}

# ---------------------------------------------------------------- stopping parts
# Send TERM to the pids, wait up to $1 seconds, then KILL what is left (bounded).
terminate() {
	local limit=$1 pid left deadline
	shift
	(($#)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	deadline=$((SECONDS + limit))
	while :; do
		left=()
		for pid in "$@"; do alive "$pid" && left+=("$pid"); done
		((${#left[@]})) || return 0
		((SECONDS < deadline)) || break
		sleep 0.1
	done
	kill -KILL "${left[@]}" 2>/dev/null || true
	deadline=$((SECONDS + 5))
	while ((SECONDS < deadline)); do
		left=()
		for pid in "$@"; do alive "$pid" && left+=("$pid"); done
		((${#left[@]})) || return 0
		sleep 0.1
	done
	warn "processes still alive after SIGKILL: ${left[*]}"
}

# Stop one part: the pid from its pid file, any other process carrying its tag, and
# what hangs below them (sshd: the per-connection processes and the users' commands;
# slurmd: the slurmstepd of running jobs and the job processes, unless $2 is
# "keep-jobs": then running jobs survive, as with a real slurmd restart).
stop_part() {
	local part=$1 keep_jobs=${2:-} t found=() mains=() extras=() pid exe main="" limit=15
	t=$EPOCHREALTIME
	if main=$(part_pid "$part"); then found+=("$main"); else main=; fi
	mapfile -t -O "${#found[@]}" found < <(tagged_pids "$part")
	# sshd rewrites its process title over its environment (no tag), but the listener's
	# title keeps its command line, which names our config file
	[[ $part == sshd ]] && mapfile -t -O "${#found[@]}" found < <(sshd_listener_pids)
	if ((${#found[@]})); then mapfile -t found < <(printf '%s\n' "${found[@]}" | sort -un); fi
	for pid in "${found[@]}"; do
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		# slurmstepd (one per running job step) inherits slurmd's environment and tag
		if [[ $part == slurmd && ${exe##*/} == slurmstepd* ]]; then
			[[ $keep_jobs == keep-jobs ]] || extras+=("$pid")
		else
			mains+=("$pid")
		fi
	done
	case $part in
	sshd) mapfile -t -O "${#extras[@]}" extras < <(descendants "${mains[@]}") ;;
	slurmd) mapfile -t -O "${#extras[@]}" extras < <(descendants "${extras[@]}") ;;
	mariadb) limit=60 ;; # clean InnoDB shutdown
	esac
	rm -f -- "$(pidfile_of "$part")"
	if ((${#mains[@]} + ${#extras[@]} == 0)); then
		say "$part: already down"
		return 0
	fi
	if [[ $part == slurmd ]]; then
		# a stopped node's jobs are gone: their slurmstepd and processes die first, hard
		terminate 0 "${extras[@]}"
		terminate "$limit" "${mains[@]}"
	else
		terminate "$limit" "${mains[@]}" "${extras[@]}"
	fi
	say "$part: down in $(since "$t") s${main:+ (was pid $main)}"
}

sshd_listener_pids() {
	local f pid
	while IFS= read -r f; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */sshd ]] && echo "$pid"
	done < <(grep -lzF -- "-f $SSHD_CONFIG" /proc/[0-9]*/cmdline 2>/dev/null)
	return 0
}

# Processes of the testbed's users that survived everything else (full `down` only).
testbed_user_pids() {
	local u uids=()
	for u in "${TB_USERS[@]}"; do
		if getent passwd "$u" >/dev/null; then uids+=("$(id -u "$u")"); fi
	done
	((${#uids[@]})) || return 0
	ps -e -o pid=,uid= | awk -v uids=" ${uids[*]} " 'index(uids, " " $2 " ") { print $1 }'
}

# ---------------------------------------------------------------- end-to-end checks
SSH_OPTS=(-F none -p "$SSH_PORT" -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none
	-o PreferredAuthentications=publickey -o StrictHostKeyChecking=yes
	-o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null
	-o ConnectTimeout=10 -o LogLevel=ERROR)

E2E_TMP="" # temporary directory of e2e_checks, removed by up's EXIT trap on failure
# Run after a full `up`: (1) ssh with a fresh CA-signed certificate, (2) a Slurm job over
# that ssh, COMPLETED in sacct, (3) an S3 round trip through presigned URLs.
e2e_checks() {
	local tmp t out rc remote
	tmp=$(mktemp -d "$TMP_DIR/e2e.XXXXXX")
	E2E_TMP=$tmp
	ssh-keygen -q -t ed25519 -N '' -C "testbed-e2e" -f "$tmp/id"
	ssh-keygen -q -s "$CA_KEY" -I "testbed-e2e-fireuser" -n fireuser -V -5m:+10m "$tmp/id.pub" 2>/dev/null
	local cert_ssh=(ssh "${SSH_OPTS[@]}" -i "$tmp/id" -o CertificateFile="$tmp/id-cert.pub" "fireuser@$LOOPBACK" --)

	t=$EPOCHREALTIME
	rc=0
	out=$(timeout 30 "${cert_ssh[@]}" id 2>&1) || rc=$?
	if ((rc != 0)) || [[ $out != "uid="*"(fireuser)"* ]]; then
		printf 'e2e ssh-certificate: FAILED (rc %s): %s\n' "$rc" "$out" >&2
		log_tail "$(logfile_of sshd)" 20
		return 1
	fi
	say "e2e ssh-certificate: ok in $(since "$t") s ($out)"

	t=$EPOCHREALTIME
	# submit and poll sacct in one ssh session (bounded both remotely and locally)
	remote='j=$(sbatch --parsable --job-name=testbed-e2e --output=/dev/null --time=00:02:00 --wrap=hostname) || exit 2
		for i in $(seq 1 240); do
			s=$(sacct -n -X -P -j "$j" -o State,Account 2>/dev/null | head -n 1)
			case ${s%%|*} in
			COMPLETED) echo "job $j $s"; exit 0 ;;
			FAILED|CANCELLED*|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) echo "job $j $s"; exit 1 ;;
			esac
			sleep 0.25
		done
		echo "job $j still ${s:-unknown} after 60 s"; exit 1'
	rc=0
	out=$(timeout 90 "${cert_ssh[@]}" "$remote" 2>&1) || rc=$?
	if ((rc != 0)); then
		printf 'e2e slurm-job: FAILED (rc %s): %s\n' "$rc" "$out" >&2
		log_tail "$(logfile_of slurmctld)" 20
		log_tail "$(logfile_of slurmd)" 20
		return 1
	fi
	say "e2e slurm-job: ok in $(since "$t") s ($out)"

	t=$EPOCHREALTIME
	rc=0
	out=$(F7T_S3_URL="http://$LOOPBACK:$S3_PORT" F7T_S3_ACCESS_KEY=$S3_ACCESS_KEY F7T_S3_SECRET_KEY=$S3_SECRET_KEY \
		F7T_S3_REGION=$S3_REGION timeout 60 "$VENV/bin/python" "$TESTBED_SRC/s3_selftest.py" 2>&1) || rc=$?
	if ((rc != 0)); then
		printf 'e2e s3-presigned: FAILED (rc %s): %s\n' "$rc" "$out" >&2
		log_tail "$(logfile_of s3)" 20
		return 1
	fi
	say "e2e s3-presigned: ok in $(since "$t") s ($out)"
	rm -rf -- "$tmp"
	# shellcheck disable=SC2034 # read by up's EXIT trap
	E2E_TMP=""
}
