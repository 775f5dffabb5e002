"""`lmforge export`: models that load anywhere (hf.py: transformers / peft folders, merged or not;
gguf.py + gguf_vocab.py + modelfile.py: one GGUF file and an Ollama Modelfile for llama.cpp / Ollama)."""
