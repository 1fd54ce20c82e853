#!/usr/bin/env bash
# The twenty-first attempt's synthetic stage (experiments/tune_fm.md): experiments/fm_stage1.sh,
# with both offline tables.
exec "$(dirname "$0")/../fm_stage1.sh" experiments/fm21 "default gaps"
