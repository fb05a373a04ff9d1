#!/usr/bin/env bash
# Prod deploys only from `main` or from a release tag v* that is SSH-signed by a key listed in
# .github/allowed_signers AS MAIN HAS IT (a tag cannot bring its own signers) and that points at a
# commit on main. Usage: verify-ref.sh REF [MAIN_REF]; needs the tag object and MAIN_REF fetched.
set -euo pipefail
ref="${1:?usage: verify-ref.sh REF [MAIN_REF]}"
main_ref="${2:-refs/remotes/origin/main}"
case "$ref" in
  refs/heads/main)
    echo "ref $ref: main"
    ;;
  refs/tags/v*)
    tag="${ref#refs/tags/}"
    if [ "$(git cat-file -t "$ref")" != tag ]; then
      echo "refusing $ref: a lightweight tag carries no signature" >&2
      exit 1
    fi
    signers="$(mktemp)"
    trap 'rm -f "$signers"' EXIT
    if ! git show "$main_ref:.github/allowed_signers" > "$signers"; then
      echo "refusing $ref: no .github/allowed_signers on $main_ref" >&2
      exit 1
    fi
    if ! git -c gpg.format=ssh -c gpg.ssh.allowedSignersFile="$signers" verify-tag "$ref"; then
      echo "refusing $ref: not signed by a key in $main_ref:.github/allowed_signers" >&2
      exit 1
    fi
    if ! git merge-base --is-ancestor "$ref^{commit}" "$main_ref"; then
      echo "refusing $ref: tag $tag points at a commit that is not on main" >&2
      exit 1
    fi
    echo "ref $ref: signed release tag on main"
    ;;
  *)
    echo "refusing $ref: prod deploys only from refs/heads/main or a signed refs/tags/v* tag" >&2
    exit 1
    ;;
esac
