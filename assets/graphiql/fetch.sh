#!/usr/bin/env bash
# Re-creates the vendored GraphiQL files in this folder from the pinned npm packages:
# `npm pack` each one, refuse it unless its tarball matches the sha512 pinned below (the
# registry's `dist.integrity`), then copy out only the files the page loads. Nothing
# here is replaced unless every package passed.
# To update: change a version, pin `npm view <pkg>@<version> dist.integrity` beside it,
# run this script, and check the page in a browser (README.md).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copies=()

# get NAME VERSION INTEGRITY FILE-IN-PACKAGE:NAME-HERE...
get() {
    local name=$1 version=$2 integrity=$3 tgz actual pair
    shift 3
    npm pack --ignore-scripts --loglevel=warn --pack-destination "$work" "$name@$version" >/dev/null
    tgz="$work/$name-$version.tgz"
    actual="sha512-$(openssl dgst -sha512 -binary "$tgz" | openssl base64 -A)"
    if [[ $actual != "$integrity" ]]; then
        echo "$name@$version: tarball is $actual, pinned $integrity" >&2
        exit 1
    fi
    mkdir "$work/$name"
    tar -xzf "$tgz" -C "$work/$name"
    for pair in "$@"; do
        copies+=("$work/$name/package/${pair%%:*}:$here/${pair#*:}")
    done
    echo "$name@$version: integrity ok"
}

get graphiql 4.1.2 \
    sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg== \
    graphiql.min.js:graphiql.min.js graphiql.min.css:graphiql.min.css LICENSE:LICENSE.graphiql
get react 18.3.1 \
    sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ== \
    umd/react.production.min.js:react.production.min.js LICENSE:LICENSE.react
get react-dom 18.3.1 \
    sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw== \
    umd/react-dom.production.min.js:react-dom.production.min.js LICENSE:LICENSE.react-dom

for pair in "${copies[@]}"; do
    install -m 644 "${pair%%:*}" "${pair#*:}"
done
echo "written to $here"
