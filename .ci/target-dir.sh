# Sourced by .ci/run and bench/run.sh: the Cargo target directory, outside the clone so repeat runs
# reuse the build, and one per clone. Two clones sharing a target directory would each see the
# other's newer build as up to date (Cargo compares modification times, and workspace crates do
# not hash their path into artifact names), and test binaries embed their clone's path.
# An empty directory only makes the first run slower (a cold build takes about 17 minutes on 2 cores).
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    CARGO_TARGET_DIR="$HOME/.cache/reeflow/target-$(pwd -P | sha256sum | cut -c1-12)"
fi
export CARGO_TARGET_DIR
