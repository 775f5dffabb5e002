#!/usr/bin/env bash
# The GPU checks, in one script, within ~10 minutes on one CUDA machine (more GPUs: + 2-process FSDP).
#   bash bench/gpu.sh            # from the repository root, after `make install` (or with .venv present)
# Prints one table at the end; every step has its own time limit so one hang cannot eat the budget.
# Not yet run: no GPU machine has been lent to this project so far (docs/train.md, "GPU checks").
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/bench/gpu}
mkdir -p "$OUT"
ROWS=()
row() { ROWS+=("$(printf '%-34s %-8s %s' "$1" "$2" "$3")"); }

"$PY" - <<'PY' || { echo "no CUDA device: bench/gpu.sh checks GPUs only"; exit 1; }
import torch
assert torch.cuda.is_available()
print("cuda", torch.version.cuda, "|", torch.cuda.device_count(), "x", torch.cuda.get_device_name(0))
PY
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
# flash-attn and bitsandbytes are optional: without them the rows below say so (sdpa is used instead)
"$PY" -m pip install --quiet bitsandbytes 2>/dev/null || true

# (a) the tests marked gpu, and the packing equivalence with every attention backend present
if timeout 240 "$PY" -m pytest -q -m gpu tests/ tests/formatting/test_packing.py -p no:cacheprovider >"$OUT/tests.log" 2>&1; then
  row "tests -m gpu + packing backends" ok "$(tail -1 "$OUT/tests.log")"
else
  row "tests -m gpu + packing backends" FAILED "see $OUT/tests.log"
fi

# (b)+(c) the same epoch: lmforge vs HF Trainer vs TRL SFTTrainer (padding-free) vs a bare loop, bf16 LoRA
if timeout 300 "$PY" -m bench.train --train 2000 --val 64 --reps 1 --work "$OUT/train" >"$OUT/train.json" 2>"$OUT/train.log"; then
  row "LoRA bf16 (lmforge/HF/TRL/limit)" ok "$("$PY" -c "
import json; s = json.load(open('$OUT/train.json'))
print(' | '.join(f\"{k} {s[k]['label_tokens_per_s']['median']:.0f} tok/s {s[k]['peak_rss_mb']['median']:.0f} MB MFU {100*s[k]['mfu_bf16']['median']:.1f}%\" for k in ('lmforge','hf_trainer','trl_sft','limit') if k in s))")"
else
  row "LoRA bf16 (lmforge/HF/TRL/limit)" FAILED "see $OUT/train.log"
fi

# lmforge alone: QLoRA (4-bit base) and a full fine-tune, a few hundred steps on the bench's SFT data
exp="$OUT/exp.yaml"
cat >"$exp" <<YAML
name: gpu-check
task: {type: sft}
data: {output_dir: $OUT/train/lmforge/data}
train: {max_steps: 300, batch_size: 8, max_seq_len: 512, eval_every: 0, save_every: 100000, log_every: 50, precision: bf16}
YAML
for mode in "qlora model.quantize=4bit" "full model.lora=null train.lr=2e-5"; do
  name=${mode%% *}; args=${mode#* }
  rm -rf "$OUT/$name"
  if timeout 150 "$PY" -m lmforge.cli train "$exp" train.output_dir="$OUT/$name" $args >"$OUT/$name.log" 2>&1; then
    row "lmforge $name, 300 steps" ok "$(tail -1 "$OUT/$name/metrics.jsonl" | cut -c1-120)"
  else
    row "lmforge $name, 300 steps" FAILED "$(tail -1 "$OUT/$name.log" | cut -c1-120)"
  fi
done

# (d) 2-process FSDP where 2 GPUs exist
if [ "$NGPU" -ge 2 ]; then
  rm -rf "$OUT/fsdp"
  if timeout 150 "$PY" -m lmforge.cli train "$exp" train.output_dir="$OUT/fsdp" train.num_processes=2 train.distributed=fsdp train.max_steps=100 >"$OUT/fsdp.log" 2>&1; then
    row "lmforge fsdp x2, 100 steps" ok "$(tail -1 "$OUT/fsdp/metrics.jsonl" | cut -c1-120)"
  else
    row "lmforge fsdp x2, 100 steps" FAILED "see $OUT/fsdp.log"
  fi
else
  row "lmforge fsdp x2" skipped "one GPU"
fi

echo; printf '%-34s %-8s %s\n' check result detail
for r in "${ROWS[@]}"; do echo "$r"; done
