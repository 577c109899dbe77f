#!/usr/bin/env bash
# nginx for the benchmarks and the end-to-end tests: the one place that
# configures and starts it (tests/testutil.c's tu_nginx_start runs this).
#
#   tools/nginx.sh start DIR [--tls]   prints "PORT n" (and "TLS_PORT n",
#                                      "CAFILE DIR/cert.pem" with --tls;
#                                      "ECHO 1" when /delay/100 is served),
#                                      and returns with nginx running; its
#                                      master's pid is in DIR/nginx.master
#   tools/nginx.sh stop DIR            stops it (SIGTERM, SIGKILL after 10 s)
#
# DIR must exist. nginx serves DIR/www: /1k, /256k, /text (text/plain, gzip'd
# on request) and, with the echo module, /delay/100. Exit status 3 means
# nginx is not installed (callers skip).
set -euo pipefail

ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
TEXT_LINE='The quick brown fox jumps over the lazy dog. 0123456789'

die() { echo "nginx.sh: $*" >&2; exit 1; }

find_nginx() {
    local p
    for p in /usr/sbin/nginx /usr/local/sbin/nginx /usr/local/nginx/sbin/nginx; do
        [[ -x $p ]] && { echo "$p"; return 0; }
    done
    command -v nginx || return 1
}

# Prints a port in 20000-32767 (below the ephemeral range) that nothing
# listens on right now; nginx's bind is the real test (start retries).
pick_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12768))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

prepare_dir() { # DIR TLS
    local dir=$1 tls=$2 i
    mkdir -p "$dir/www" "$dir/tmp"
    yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c 1024 >"$dir/www/1k" || true
    yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c 262144 >"$dir/www/256k" || true
    : >"$dir/www/text"
    for ((i = 0; i < 70; i++)); do echo "$TEXT_LINE" >>"$dir/www/text"; done
    if [[ $tls == 1 && ! ( -r $dir/cert.pem && -r $dir/key.pem ) ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
            -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" >"$dir/openssl.log" 2>&1 ||
            die "openssl req failed; see $dir/openssl.log"
    fi
}

write_conf() { # DIR PORT TLS_PORT(0: none) ECHO(0/1)
    local dir=$1 port=$2 tls_port=$3 echo=$4
    {
        echo "daemon off;"
        echo "master_process on;"
        echo "worker_processes 1;"
        echo "worker_rlimit_nofile 20000;"
        [[ $(id -u) == 0 ]] && echo "user root;"
        echo "pid $dir/nginx.pid;"
        echo "error_log $dir/error.log warn;"
        [[ $echo == 1 ]] && echo "load_module $ECHO_MODULE;"
        echo "events { worker_connections 12000; }"
        echo "http {"
        echo " access_log off;"
        echo " client_body_temp_path $dir/tmp/body;"
        echo " proxy_temp_path $dir/tmp/proxy;"
        echo " fastcgi_temp_path $dir/tmp/fastcgi;"
        echo " uwsgi_temp_path $dir/tmp/uwsgi;"
        echo " scgi_temp_path $dir/tmp/scgi;"
        echo " default_type application/octet-stream;"
        echo " keepalive_requests 100000;"
        echo " keepalive_timeout 75s;"
        echo " gzip on;"
        echo " gzip_types text/plain;"
        echo " gzip_min_length 20;"
        echo " sendfile on;"
        echo " tcp_nopush on;"
        echo " server {"
        echo "  listen 127.0.0.1:$port;"
        if [[ $tls_port != 0 ]]; then
            echo "  listen 127.0.0.1:$tls_port ssl http2;"
            echo "  ssl_certificate $dir/cert.pem;"
            echo "  ssl_certificate_key $dir/key.pem;"
        fi
        echo "  root $dir/www;"
        echo "  location = /text { default_type text/plain; }"
        [[ $echo == 1 ]] && echo "  location = /delay/100 { echo_sleep 0.1; echo ok; }"
        echo " }"
        echo "}"
    } >"$dir/nginx.conf"
}

# Waits (10 s at most) until the ports accept; fails if nginx exits.
wait_ready() { # PID PORT TLS_PORT
    local pid=$1 port=$2 tls_port=$3 i
    for ((i = 0; i < 500; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
            { [[ $tls_port == 0 ]] || (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null; }; then
            return 0
        fi
        sleep 0.02
    done
    return 1
}

start() { # DIR [--tls]
    local dir bin tls=0 echo=0 port tls_port pid attempt
    [[ $# -ge 1 ]] || die "usage: nginx.sh start DIR [--tls]"
    dir=$(cd "$1" && pwd) || die "no directory $1"
    [[ ${2:-} == --tls ]] && tls=1
    bin=$(find_nginx) || { echo "nginx.sh: nginx is not installed" >&2; exit 3; }
    [[ -r $ECHO_MODULE ]] && echo=1
    prepare_dir "$dir" "$tls"
    for attempt in 1 2 3; do
        port=$(pick_port)
        tls_port=0
        if [[ $tls == 1 ]]; then
            tls_port=$(pick_port)
            [[ $tls_port != "$port" ]] || continue
        fi
        write_conf "$dir" "$port" "$tls_port" "$echo"
        "$bin" -e "$dir/error.log" -p "$dir/" -c "$dir/nginx.conf" \
            </dev/null >>"$dir/nginx.out" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/nginx.master"
        if wait_ready "$pid" "$port" "$tls_port"; then
            echo "PORT $port"
            [[ $echo == 1 ]] && echo "ECHO 1"
            [[ $tls == 1 ]] && { echo "TLS_PORT $tls_port"; echo "CAFILE $dir/cert.pem"; }
            return 0
        fi
        stop "$dir" || true
    done
    die "nginx did not start; see $dir/error.log"
}

stop() { # DIR
    local dir=${1:?usage: nginx.sh stop DIR} pid i
    [[ -r $dir/nginx.master ]] || return 0
    pid=$(<"$dir/nginx.master")
    kill -TERM "$pid" 2>/dev/null || { rm -f "$dir/nginx.master"; return 0; }
    for ((i = 0; i < 500; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/nginx.master"
}

case ${1:-} in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) die "usage: nginx.sh start DIR [--tls] | nginx.sh stop DIR" ;;
esac
