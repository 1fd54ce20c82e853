#!/usr/bin/env bash
# The twenty-third attempt's synthetic stage (experiments/tune_fm.md): experiments/fm_stage1.sh,
# with the offline default table (JOBS=2 runs two at a time).
exec "$(dirname "$0")/../fm_stage1.sh" experiments/fm23 default
