#!/usr/bin/env bash
# nginx for the benchmarks and the end-to-end tests: the one place that
# configures and starts it (tests/testutil.c's tu_nginx_start runs this).
#
#   tools/nginx.sh start DIR [--tls] [--tls-upstream PORT] [--log]
#                            [--keepalive-requests N]
#       prints "PORT n" ("ECHO 1" when /delay/100 is served) and returns
#       with nginx running; its master's pid is in DIR/nginx.master.
#       --tls: also "TLS_PORT n" (HTTPS, HTTP/2 offered by ALPN),
#       "TLS1_PORT n" (HTTPS, HTTP/1.1 only) and "CAFILE DIR/cert.pem".
#       --tls-upstream PORT (implies --tls; needs the stream module):
#       "TLSUP_PORT n", TLS ended there and the bytes passed as they are to
#       127.0.0.1:PORT (e.g. mp-testserver, so its paths work over TLS).
#       --log: the HTTP ports log "PORT REUSED URI CONN" per request to
#       DIR/access.log (REUSED: nginx's $ssl_session_reused, "r" or ".";
#       CONN: nginx's $connection, the connection's serial number).
#       --keepalive-requests N: a connection (HTTP/2 too) carries N
#       requests, then nginx ends it (GOAWAY on HTTP/2); default 100000.
#   tools/nginx.sh stop DIR            stops it (SIGTERM, SIGKILL after 10 s)
#
# DIR must exist. nginx serves DIR/www: /1k, /256k, /text (text/plain, gzip'd
# on request), /gz/1k (/1k's bytes, gzip'd ahead: gzip_static), /r/... (a 302
# to /gz/1k), /rx/...?to=NAME&... (a 302 to http://NAME:PORT/gz/1k?to=NAME&...,
# bench/crawl), /hdr/... and /trailer (see limit_locations), /redir/text
# (302 to /text), /redir/chain (301 to "text", then /redir/text),
# /redir/see-other (303 to /echo), /redir/keep (307 to /echo) and, with the
# echo module, /delay/100, /delay/10000 ("ok" after 10 s), /echo (a line
# "METHOD X-Test Content-Type Content-Length" as nginx saw them, then the
# request body) and /trailer/stream (/trailer's trailers after "ok\n" of
# no announced length). Exit status 3 means nginx is not installed (callers skip).
set -euo pipefail

ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
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
    mkdir -p "$dir/www/gz" # /gz/1k: the same 1 KB, gzip'd ahead (gzip_static)
    cp "$dir/www/1k" "$dir/www/gz/1k" && gzip -9kf "$dir/www/gz/1k"
    : >"$dir/www/text"
    for ((i = 0; i < 70; i++)); do echo "$TEXT_LINE" >>"$dir/www/text"; done
    if [[ $tls == 1 && ! ( -r $dir/cert.pem && -r $dir/key.pem ) ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
            -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" >"$dir/openssl.log" 2>&1 ||
            die "openssl req failed; see $dir/openssl.log"
    fi
}

write_conf() { # DIR PORT TLS_PORT(0: none) TLS1_PORT ECHO(0/1) UP UP_PORT LOG KA
    local dir=$1 port=$2 tls_port=$3 tls1_port=$4 echo=$5 up=$6 up_port=$7 log=$8 ka=$9
    {
        echo "daemon off;"
        echo "master_process on;"
        echo "worker_processes 1;"
        echo "worker_rlimit_nofile 20000;"
        [[ $(id -u) == 0 ]] && echo "user root;"
        echo "pid $dir/nginx.pid;"
        echo "error_log $dir/error.log warn;"
        [[ $echo == 1 ]] && echo "load_module $ECHO_MODULE;"
        [[ $up != 0 ]] && echo "load_module $STREAM_MODULE;"
        echo "events { worker_connections 12000; }"
        if [[ $up != 0 ]]; then
            echo "stream { server {"
            echo " listen 127.0.0.1:$up_port ssl;"
            echo " ssl_certificate $dir/cert.pem;"
            echo " ssl_certificate_key $dir/key.pem;"
            echo " proxy_pass 127.0.0.1:$up;"
            echo "} }"
        fi
        echo "http {"
        if [[ $log == 1 ]]; then
            echo " log_format reuse '\$server_port \$ssl_session_reused \$request_uri \$connection';"
            echo " access_log $dir/access.log reuse;"
        else
            echo " access_log off;"
        fi
        echo " client_body_temp_path $dir/tmp/body;"
        echo " proxy_temp_path $dir/tmp/proxy;"
        echo " fastcgi_temp_path $dir/tmp/fastcgi;"
        echo " uwsgi_temp_path $dir/tmp/uwsgi;"
        echo " scgi_temp_path $dir/tmp/scgi;"
        echo " default_type application/octet-stream;"
        echo " keepalive_requests $ka;"
        echo " keepalive_timeout 75s;"
        echo " gzip on;"
        echo " gzip_types text/plain;"
        echo " gzip_min_length 20;"
        echo " sendfile on;"
        echo " tcp_nopush on;"
        echo " server {"
        echo "  listen 127.0.0.1:$port backlog=4096;" # 4,000+ connects at once
        if [[ $tls_port != 0 ]]; then
            echo "  listen 127.0.0.1:$tls_port ssl http2;"
            echo "  listen 127.0.0.1:$tls1_port ssl;"
            echo "  ssl_certificate $dir/cert.pem;"
            echo "  ssl_certificate_key $dir/key.pem;"
        fi
        echo "  root $dir/www;"
        echo "  location = /text { default_type text/plain; }"
        # redirects on the same server (HTTP/2 hops on one connection)
        echo "  location = /redir/text { absolute_redirect off; return 302 /text; }"
        echo "  location = /redir/chain { absolute_redirect off; return 301 text; }"
        echo "  location = /redir/see-other { absolute_redirect off; return 303 /echo; }"
        echo "  location = /redir/keep { absolute_redirect off; return 307 /echo; }"
        # bench/compressed: /gz/1k gzip'd to a client that accepts it, /r/... a 302 to it
        echo "  location /gz/ { gzip_static on; default_type text/plain; }"
        echo "  location /r/ { absolute_redirect off; return 302 /gz/1k; }"
        echo "  location /rx/ { return 302 http://\$arg_to:\$server_port/gz/1k?\$args; }"
        limit_locations
        if [[ $echo == 1 ]]; then
            echo "  location = /delay/100 { echo_sleep 0.1; echo ok; }"
            echo "  location = /delay/10000 { echo_sleep 10; echo ok; }"
            echo "  location = /echo { echo_read_request_body;"
            echo "   echo \"\$request_method \$http_x_test \$content_type \$content_length\";"
            echo "   echo_request_body; }"
            # trailers after a body of unknown length (no content-length)
            echo "  location = /trailer/stream { default_type text/plain;"
            echo "   add_trailer X-T-One 1; add_trailer X-T-Two two; echo ok; }"
        fi
        echo " }"
        echo "}"
    } >"$dir/nginx.conf"
}

# Writes the locations whose responses test the header limits of
# mpool.h (MP_HTTP_MAX_HEADER_LINES 1000, MP_HTTP_MAX_HEADER_BYTES 256 KiB)
# and trailers: /hdr/lines/990 and /hdr/lines/1001 (that many X-L-n
# lines, beside nginx's own four), /hdr/bytes/18k, /hdr/bytes/60k,
# /hdr/bytes/120k, /hdr/bytes/240k and /hdr/bytes/270k (6, 20, 40, 80 or
# 90 lines X-B-n of 3,000 bytes each), /trailer ("ok", then the
# trailers X-T-One: 1 and X-T-Two: two, HTTP/2 and chunked only).
limit_locations() {
    local i n v
    v=$(printf '%03000d' 0 | tr 0 v)
    for n in 990 1001; do
        echo "  location = /hdr/lines/$n { default_type text/plain;"
        for ((i = 1; i <= n; i++)); do echo "   add_header X-L-$i $i;"; done
        echo "   return 200 \"ok\\n\"; }"
    done
    for n in 6 20 40 80 90; do
        echo "  location = /hdr/bytes/$((n * 3))k { default_type text/plain;"
        for ((i = 1; i <= n; i++)); do echo "   add_header X-B-$i $v;"; done
        echo "   return 200 \"ok\\n\"; }"
    done
    echo "  location = /trailer { default_type text/plain;"
    echo "   add_trailer X-T-One 1; add_trailer X-T-Two two;"
    echo "   return 200 \"ok\\n\"; }"
}

# Waits (10 s at most) until the ports (0: none) accept; fails if nginx
# exits.
wait_ready() { # PID PORT...
    local pid=$1 i p ok
    shift
    for ((i = 0; i < 500; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        ok=1
        for p in "$@"; do
            [[ $p == 0 ]] || (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { ok=0; break; }
        done
        ((ok)) && return 0
        sleep 0.02
    done
    return 1
}

start() { # DIR [--tls] [--tls-upstream PORT] [--log]
    local dir bin tls=0 echo=0 up=0 log=0 ka=100000 port tls_port tls1_port up_port pid attempt
    [[ $# -ge 1 ]] || die "usage: nginx.sh start DIR [--tls] [--tls-upstream PORT] [--log]"
    dir=$(cd "$1" && pwd) || die "no directory $1"
    shift
    while (($#)); do
        case $1 in
        --tls) tls=1 ;;
        --tls-upstream) tls=1; up=${2:?--tls-upstream needs a port}; shift ;;
        --log) log=1 ;;
        --keepalive-requests) ka=${2:?--keepalive-requests needs a count}; shift ;;
        *) die "unknown option $1" ;;
        esac
        shift
    done
    bin=$(find_nginx) || { echo "nginx.sh: nginx is not installed" >&2; exit 3; }
    [[ $up == 0 || -r $STREAM_MODULE ]] ||
        { echo "nginx.sh: no stream module ($STREAM_MODULE)" >&2; exit 3; }
    [[ -r $ECHO_MODULE ]] && echo=1
    prepare_dir "$dir" "$tls"
    for attempt in 1 2 3; do
        port=$(pick_port)
        tls_port=0 tls1_port=0 up_port=0
        if [[ $tls == 1 ]]; then
            tls_port=$(pick_port)
            tls1_port=$(pick_port)
        fi
        [[ $up == 0 ]] || up_port=$(pick_port)
        [[ $(printf '%s\n' $port $tls_port $tls1_port $up_port | grep -v '^0$' | sort | uniq -d) == "" ]] || continue
        write_conf "$dir" "$port" "$tls_port" "$tls1_port" "$echo" "$up" "$up_port" "$log" "$ka"
        "$bin" -e "$dir/error.log" -p "$dir/" -c "$dir/nginx.conf" \
            </dev/null >>"$dir/nginx.out" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/nginx.master"
        if wait_ready "$pid" "$port" "$tls_port" "$tls1_port" "$up_port"; then
            echo "PORT $port"
            [[ $echo == 1 ]] && echo "ECHO 1"
            [[ $tls == 1 ]] && { echo "TLS_PORT $tls_port"; echo "TLS1_PORT $tls1_port"; }
            [[ $up == 0 ]] || echo "TLSUP_PORT $up_port"
            [[ $tls == 1 ]] && echo "CAFILE $dir/cert.pem"
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
*) die "usage: nginx.sh start DIR [--tls] [--tls-upstream PORT] [--log] [--keepalive-requests N] | nginx.sh stop DIR" ;;
esac
