# bash completion for mpfetch(1). Installed as
# share/bash-completion/completions/mpfetch. The option lists are checked
# against `mpfetch --help` by tests/options-check.sh (ctest options_doc).

_mpfetch()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
    fi

    # options that take a value
    local with_arg="--workers --concurrency --per-host --rate --request
        --header --data --max-redirs --cacert --timeout --connect-timeout
        --speed-limit --speed-time --retries --output --shard --body --max-body --summary-json --grace
        --engine --proxy --noproxy --proxy-cacert --resolve --dns-servers
        -w -c -X -H -d -x -o"
    # options without one
    local flags="--location --compressed --insecure --proxy-insecure --http1.1
        --ordered --resume
        --include --fail-on-http-error --quiet --progress --no-progress
        --version --help -L -k -i -f -q -h"

    case $prev in
        -o|--output|--cacert|--proxy-cacert|--summary-json)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -d|--data)
            if [[ $cur == @* ]]; then
                COMPREPLY=($(compgen -f -P @ -- "${cur#@}"))
            fi
            return ;;
        -X|--request)
            COMPREPLY=($(compgen -W "GET HEAD POST PUT DELETE PATCH OPTIONS" -- "$cur"))
            return ;;
        --engine)
            COMPREPLY=($(compgen -W "auto native curl" -- "$cur"))
            return ;;
        --body)
            COMPREPLY=($(compgen -W "none inline sha256 dir:" -- "$cur"))
            [[ $cur == dir:* ]] && COMPREPLY=($(compgen -d -P dir: -- "${cur#dir:}"))
            return ;;
        -w|--workers|-c|--concurrency|--per-host|--rate|-H|--header|\
        --max-redirs|--timeout|--connect-timeout|--speed-limit|--speed-time|\
        --retries|--shard|\
        --max-body|--grace)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$with_arg $flags" -- "$cur"))
        return
    fi
    # URL arguments (SCHEME://...): nothing to complete
    [[ ${COMP_LINE:0:COMP_POINT} =~ [A-Za-z][A-Za-z0-9+.-]*://[^[:space:]]*$ ]] && return
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _mpfetch mpfetch
