# SPDX-License-Identifier: BSD-2-Clause
# bash completion for qzfs. Commands and options come from qzfs's own help (`qzfs --help`,
# `qzfs COMMAND --help`), so they are always those of the installed qzfs.

# The command words typed so far (words before the cursor that are not options or values).
_qzfs_command() {
    local w i
    _qzfs_words=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        [[ $w == -* ]] && continue
        _qzfs_words+=("$w")
    done
}

_qzfs() {
    local cur=${COMP_WORDS[COMP_CWORD]} names opts next
    _qzfs_command
    # every command's full name ("pool setup", "list"), from the table qzfs --help prints
    names=$(qzfs --help 2>/dev/null | sed -n 's/^  \([a-z][a-z0-9 -]*[a-z0-9]\)  .*/\1/p')
    local typed="${_qzfs_words[*]}"
    if [[ $cur == -* ]]; then
        opts=$({ qzfs ${_qzfs_words[@]:0:2} --help 2>/dev/null | grep -o -- '--[a-z0-9-]*'
                 printf '%s\n' --json --help; [[ -n $typed ]] || echo --version; } | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    # the next word of a command name that starts with what was typed
    next=$(printf '%s\n' "$names" | while read -r n; do
        if [[ -z $typed ]]; then echo "${n%% *}"
        elif [[ $n == "$typed "* ]]; then n=${n#"$typed "}; echo "${n%% *}"
        fi
    done | sort -u)
    if [[ -n $next ]]; then
        COMPREPLY=($(compgen -W "$next" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur")) # a command's arguments: names and files
    fi
}
complete -F _qzfs qzfs
