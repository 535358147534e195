#!/usr/bin/env bash
# Run the full `molecule test` of each named scenario against a real Windows VM over WinRM.
# Without MOLECULE_WINDOWS_HOST there is nothing to run against: say so and skip (exit 0).
set -euo pipefail
if [ -z "${MOLECULE_WINDOWS_HOST:-}" ]; then
  echo "SKIPPED: molecule test needs a Windows VM. Set MOLECULE_WINDOWS_HOST, MOLECULE_WINDOWS_USER and"
  echo "         MOLECULE_WINDOWS_PASSWORD (or MOLECULE_WINDOWS_TRANSPORT=kerberos with a ticket); see README."
  exit 0
fi
: "${MOLECULE_WINDOWS_USER:?set MOLECULE_WINDOWS_USER (e.g. LAB\\molecule)}"
for scenario in "$@"; do
  echo "== molecule test -s ${scenario} against ${MOLECULE_WINDOWS_HOST}"
  molecule test -s "${scenario}"
done
