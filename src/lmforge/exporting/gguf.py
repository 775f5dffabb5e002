"""`lmforge export RUN --format gguf`: one GGUF file for llama.cpp and Ollama, through the `gguf` package.

Follows llama.cpp's own `convert_hf_to_gguf.py` for the architectures below: tensor names from gguf's
`TensorNameMap`, Llama Q/K rows permuted into llama.cpp's rotary layout (transformers' GGUF loader undoes
it), GPT-2's Conv1D weights transposed, norms / biases / position embeddings kept in F32 and every other
matrix in F16 or Q8_0 (`gguf.quants.quantize`). The tokenizer goes in whole: tokens, token types, merges,
BOS/EOS/pad/unk ids, whether BOS/EOS are added, the chat template (lmforge's fallback template where the
model has none, so llama.cpp formats chats as `lmforge generate` does) and generation_config's sampling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmforge.errors import UserError

GGUF_FILE = "model.gguf"
QUANTS = ("f16", "q8_0")


@dataclass(frozen=True)
class Arch:
    gguf_name: str  # gguf.MODEL_ARCH member name
    permute_qk: bool = False  # llama.cpp's rotary layout (LlamaModel.undo_permute)
    transpose: tuple[str, ...] = ()  # GPT-2's Conv1D weights are stored (in, out)


# HF model_type -> how llama.cpp writes it (Mistral is written as llama, as convert_hf_to_gguf.py does)
ARCHS = {
    "llama": Arch("LLAMA", permute_qk=True),
    "mistral": Arch("LLAMA", permute_qk=True),
    "qwen2": Arch("QWEN2"),
    "qwen3": Arch("QWEN3"),
    "gpt2": Arch("GPT2", transpose=(".c_attn.weight", ".c_proj.weight", ".c_fc.weight")),
}


def write_gguf(
    model_dir: str | Path, out_dir: str | Path, quant: str = "f16", name: str | None = None
) -> Path:
    """Write `out_dir/model.gguf` (+ Modelfile) from a full-weight Hugging Face folder; returns the file.

    >>> write_gguf("exported/merged", "exported/gguf", quant="q8_0")  # doctest: +SKIP
    PosixPath('exported/gguf/model.gguf')
    """
    import gguf
    from transformers import AutoConfig, AutoTokenizer

    from lmforge.exporting.gguf_vocab import add_vocab
    from lmforge.exporting.modelfile import write_modelfile
    from lmforge.formatting.templates import ensure_chat_template

    if quant not in QUANTS:
        raise UserError(f"--quant {quant}: expected one of {', '.join(QUANTS)}")
    src, out = Path(model_dir), Path(out_dir)
    config = AutoConfig.from_pretrained(src)
    arch = _arch(config)
    tokenizer = ensure_chat_template(AutoTokenizer.from_pretrained(src))
    ftype = gguf.LlamaFileType.MOSTLY_F16 if quant == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH[arch.gguf_name]])
    _add_tensors(writer, src, config, arch, ftype)
    _add_metadata(writer, src, config, arch, ftype, name or src.name)
    add_vocab(writer, src, tokenizer, config.vocab_size)
    out.mkdir(parents=True, exist_ok=True)
    path = out / GGUF_FILE
    writer.write_header_to_file(path=path)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    write_modelfile(out, tokenizer, _generation_config(src))
    return path


def _arch(config: Any) -> Arch:
    if config.model_type not in ARCHS:
        raise UserError(
            f"GGUF export does not write model type '{config.model_type}' "
            f"(it writes {', '.join(sorted(ARCHS))}); export it with --format hf"
        )
    if not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.architectures or []):
        raise UserError(f"GGUF export needs a causal LM; this model is {config.architectures}")
    rope = _rope(config)
    if rope.get("rope_type") not in (None, "default", "linear"):
        raise UserError(f"GGUF export does not write rope scaling '{rope['rope_type']}'; use --format hf")
    return ARCHS[config.model_type]


def _rope(config: Any) -> dict:
    """transformers >= 5 keeps rope in `rope_parameters`; older versions in `rope_theta` + `rope_scaling`."""
    rope = dict(getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {})
    if "rope_theta" not in rope and getattr(config, "rope_theta", None) is not None:
        rope["rope_theta"] = config.rope_theta
    rope.setdefault("rope_type", rope.get("type"))
    return rope


def permute_qk(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a Q or K projection from HF's half-split rotary layout into llama.cpp's interleaved one.

    Per head, rows [r0 .. r(d/2-1), s0 .. s(d/2-1)] become [r0, s0, r1, s1, ...] (llama.cpp's permute):
    >>> permute_qk(np.arange(4).reshape(4, 1), n_head=1).ravel().tolist()
    [0, 2, 1, 3]
    """
    rows = weights.shape[0]
    w = weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])  # (H, 2, d/2, ...)
    return w.swapaxes(1, 2).reshape(weights.shape)


def _source_tensors(src: Path):
    """(name, float32 array) for every tensor of the folder's safetensors files (tied heads are absent)."""
    from safetensors import safe_open

    files = sorted(src.glob("*.safetensors"))
    if not files:
        raise UserError(f"{src} has no .safetensors weights to convert")
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                yield key, f.get_tensor(key).float().numpy()


def _add_tensors(writer: Any, src: Path, config: Any, arch: Arch, ftype: Any) -> None:
    import gguf

    n_layers = config.num_hidden_layers
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.gguf_name], n_layers)
    n_head = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", None) or n_head
    for hf_name, data in _source_tensors(src):
        if hf_name.endswith((".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")):
            continue  # buffers, not weights (llama.cpp skips them too)
        if arch.permute_qk and hf_name.endswith(("q_proj.weight", "q_proj.bias")):
            data = permute_qk(data, n_head)
        elif arch.permute_qk and hf_name.endswith(("k_proj.weight", "k_proj.bias")):
            data = permute_qk(data, n_kv)
        if hf_name.endswith(arch.transpose):
            data = np.ascontiguousarray(data.T)
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise UserError(f"GGUF export cannot map tensor '{hf_name}' of {config.model_type}")
        qtype = _tensor_type(name, data, ftype)
        try:
            packed = gguf.quants.quantize(data, qtype)
        except gguf.QuantError:  # a row length Q8_0 cannot block (not a multiple of 32): F16, as llama.cpp
            qtype = gguf.GGMLQuantizationType.F16
            packed = gguf.quants.quantize(data, qtype)
        writer.add_tensor(name, packed, raw_dtype=qtype)


def _tensor_type(name: str, data: np.ndarray, ftype: Any) -> Any:
    """llama.cpp's rule: 1-D tensors, norms, biases and position embeddings stay F32; matrices get ftype."""
    import gguf

    q = gguf.GGMLQuantizationType
    if data.ndim <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return q.F32
    if name == "position_embd.weight":
        return q.F32
    return q.F16 if ftype == gguf.LlamaFileType.MOSTLY_F16 else q.Q8_0


def _add_metadata(writer: Any, src: Path, config: Any, arch: Arch, ftype: Any, name: str) -> None:
    import gguf

    writer.add_type(gguf.GGUFType.MODEL)
    total, shared, expert, experts = writer.get_total_parameter_count()
    meta = gguf.Metadata.load(None, src, name, total)
    # gguf guesses basename/finetune/version from the folder name: a scratch merge folder's is noise
    meta.name, meta.basename, meta.finetune, meta.version = name, None, None, None
    if meta.size_label is None and total > 0:  # "135M", as llama.cpp's converter labels it
        meta.size_label = gguf.size_label(total, shared, expert, experts)
    meta.set_gguf_meta_model(writer)  # name, size label, and generation_config's sampling defaults
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    ff = (
        getattr(config, "intermediate_size", None)
        or getattr(config, "n_inner", None)
        or 4 * config.hidden_size
    )
    writer.add_feed_forward_length(ff)
    writer.add_head_count(config.num_attention_heads)
    if arch.gguf_name == "GPT2":
        writer.add_layer_norm_eps(config.layer_norm_epsilon)
    else:
        _add_rotary_hparams(writer, config, arch)
    writer.add_file_type(ftype)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _add_rotary_hparams(writer: Any, config: Any, arch: Arch) -> None:
    import gguf

    writer.add_head_count_kv(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    rope = _rope(config)
    writer.add_rope_freq_base(rope.get("rope_theta", 10000.0))
    if rope.get("rope_type") == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(rope["factor"])
    head_dim = config.to_dict().get("head_dim")  # written only where config.json sets it, as llama.cpp
    if head_dim is not None:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    if arch.gguf_name == "LLAMA":
        writer.add_vocab_size(config.vocab_size)
        writer.add_rope_dimension_count(head_dim or config.hidden_size // config.num_attention_heads)


def describe(out_dir: str | Path) -> str:
    """What was written, read back from the files, and the commands that run it next.

    >>> print(describe("exported/gguf"))  # doctest: +SKIP
    model.gguf: llama, 272 tensors, 270.9 MB, 49152 tokens, pre-tokenizer gpt-2
    ...
    """
    from gguf import GGUFReader

    out = Path(out_dir)
    reader = GGUFReader(out / GGUF_FILE)
    field = reader.fields
    arch = field["general.architecture"].contents()
    head = (
        f"model.gguf: {arch}, {len(reader.tensors)} tensors, {(out / GGUF_FILE).stat().st_size / 1e6:.1f} MB, "
        f"{len(field['tokenizer.ggml.tokens'].data)} tokens, pre-tokenizer {field['tokenizer.ggml.pre'].contents()}"
    )
    lines = (out / "Modelfile").read_text(encoding="utf-8").splitlines()
    template = next((line[2:] for line in lines if line.startswith("# chat template")), "")
    stops = [line.split(" ", 2)[2] for line in lines if line.startswith("PARAMETER stop")]
    return "\n".join(
        [
            head,
            f"Modelfile: {template}; stop {', '.join(stops) or 'none'}",
            f"next: llama-cli -m {out}/model.gguf  |  llama-server -m {out}/model.gguf  |  "
            f"ollama create NAME -f {out}/Modelfile && ollama run NAME",
        ]
    )


def _generation_config(src: Path) -> dict:
    path = src / "generation_config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
