"""genloom.tune with the real bundled model: the chat format training uses is serving's token for token; the GGUF
adapter exporter agrees with the merged torch model (logits); one training step end to end (train -> export ->
registry -> llama.cpp -> generate); the full worked example is slow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genloom.errors import UserError

pytest.importorskip("peft")
pytestmark = [
    pytest.mark.model,
    # transformers / peft / trl deprecation chatter we do not control
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:peft.*"),
    pytest.mark.filterwarnings("ignore::UserWarning:trl.*"),
    pytest.mark.filterwarnings("ignore::UserWarning:transformers.*"),
]

GROUNDED = [
    {"role": "system", "content": "You answer questions using only the numbered sources."},
    {"role": "user", "content": "Source [1] (apt > hold):\n<<<\nRun apt-mark hold PKG to keep it.\n>>>\n\n"
     "Question: How do I hold a package?"},
]  # fmt: skip


@pytest.fixture(scope="module")
def base():
    from genloom.tune.chat import base_gguf, load_base

    path = base_gguf("llamacpp:")
    model, tok = load_base(path, threads=2)
    return path, model, tok


def test_chat_format_is_servings_token_for_token(base):
    from genloom.backends.llm.llamacpp import LlamaCppLLM
    from genloom.tune.chat import ChatFormat
    from genloom.types import Message

    path, _, tok = base
    fmt = ChatFormat.for_gguf(path, tok)
    served = LlamaCppLLM(None, n_ctx=512).prompt_ids([Message(m["role"], m["content"]) for m in GROUNDED])
    assert fmt.ids(fmt.prompt(GROUNDED)) == served
    row = fmt.sft_row(GROUNDED, "Run apt-mark hold PKG [1].", 512)
    n_prompt = len(served)
    assert row["input_ids"][:n_prompt] == served and row["labels"][:n_prompt] == [-100] * n_prompt
    assert row["labels"][-1] == tok.eos_token_id  # the answer's end token is learnt
    with pytest.raises(UserError, match="more than max_length 20"):
        fmt.sft_row(GROUNDED, "x", 20)


def _llama_logits(path: Path, ids: list[int], lora: Path | None) -> np.ndarray:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, logits_all=True, n_threads=2, verbose=False,
                          lora_path=str(lora) if lora else None)  # fmt: skip
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)])
    llm.close()
    return out


def test_exported_adapter_matches_the_merged_torch_model(base, tmp_path):
    """llama.cpp + adapter.gguf changes the logits as the merged torch model does; the same export without
    the q/k row permutation does not (which is why the comparison is on the *change* of the logits)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from genloom.tune import export
    from genloom.tune.export import export_adapter

    path, model, tok = base
    # q and k only: the projections whose rows llama.cpp permutes, so the check is about exactly that
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj"]))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    peft.save_pretrained(str(tmp_path / "adapter"))
    ids = tok("Debian is a free operating system made by volunteers.", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        tuned_t = peft(torch.tensor([ids])).logits[0].numpy()
        with peft.disable_adapter():
            base_t = peft(torch.tensor([ids])).logits[0].numpy()
    peft.unload()  # the shared base model gets its plain layers back
    good = export_adapter(tmp_path / "adapter", tmp_path / "a.gguf", path)
    base_l = _llama_logits(path, ids, None)
    tuned_l = _llama_logits(path, ids, good)
    want = (tuned_t - base_t).ravel()
    corr = float(np.corrcoef((tuned_l - base_l).ravel(), want)[0, 1])
    assert corr > 0.9, corr
    original = export.permute_rows
    try:
        export.permute_rows = lambda w, n_head: w  # the silent bug: no permutation
        bad = export_adapter(tmp_path / "adapter", tmp_path / "bad.gguf", path)
    finally:
        export.permute_rows = original
    corr_bad = float(np.corrcoef((_llama_logits(path, ids, bad) - base_l).ravel(), want)[0, 1])
    assert corr_bad < corr - 0.1, (corr, corr_bad)
    # merged into a copy of the base (backends.llm.gguf_merge): the same change of the logits, no adapter
    from genloom.backends.llm.gguf_merge import merge_adapter

    merged = merge_adapter(path, good, tmp_path / "merged.gguf")
    corr_merged = float(np.corrcoef((_llama_logits(merged, ids, None) - base_l).ravel(), want)[0, 1])
    assert corr_merged > 0.9, corr_merged
    info = export.adapter_info(good)
    assert (
        info["general.type"] == "adapter" and info["adapter.type"] == "lora" and info["tensors"] == 30 * 2 * 2
    )


def test_one_training_step_end_to_end(tmp_path, monkeypatch):
    """train (1 step) -> export -> registry version -> registry:NAME through resolve_llm -> llama.cpp generates."""
    from genloom.backends.llm import resolve_llm
    from genloom.registry import Registry
    from genloom.tune import TrainConfig, register_run, train
    from genloom.types import Message, SamplingParams

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q}], "completion": a}) + "\n"
                            for q, a in [("Name a colour.", "Blue."), ("Name a fruit.", "Apple.")]))  # fmt: skip
    cfg = TrainConfig(max_steps=1, batch_size=2, rank=2, alpha=4, max_length=64, seed=3)
    run = train(data, tmp_path / "run", cfg)
    m = run.metrics
    assert m["finished"] and m["steps"] == 1 and m["tokens_seen"] > 0 and m["train_loss"] > 0
    assert m["peak_rss_mb"] > 100 and (tmp_path / "run" / "adapter" / "adapter_model.safetensors").exists()
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["train"]["seed"] == 3 and recorded["n_examples"] == 2 and len(recorded["data_hash"]) == 64
    with pytest.raises(UserError, match="another config or data"):
        train(data, tmp_path / "run", TrainConfig(max_steps=2, batch_size=2, rank=2))
    merged = register_run(tmp_path / "run", "tiny")  # the default: the adapter folded into a copy of the base
    assert merged.kind == "llm" and merged.path.endswith("merged.gguf") and merged.config["adapter"]
    v = register_run(tmp_path / "run", "tiny", merge=False)
    assert v.kind == "adapter" and v.base == "llamacpp:" and v.data_hash == recorded["data_hash"]
    assert v.metrics["train"]["steps"] == 1 and v.config["rank"] == 2
    llm = resolve_llm("registry:tiny@v2")
    assert llm.info().details["lora"] == v.path and "+lora:" in llm.info().id
    for spec in ("registry:tiny@v1", "registry:tiny@v2"):
        text = "".join(
            d.text
            for d in resolve_llm(spec).stream(
                [Message("user", "Name a colour.")], SamplingParams(max_tokens=8, temperature=0)
            )
        )
        assert text.strip(), spec
    reg = Registry.open()
    assert [x.ref for x in reg.list()] == ["tiny@v1", "tiny@v2"]
    reg.close()
    with pytest.raises(UserError, match="did not pass its gates"):
        from genloom.tune import promote_version

        promote_version("tiny", 2, {"tuned": "registry:tiny@v2", "passed": False, "gates": []})


@pytest.mark.slow
def test_interrupted_training_resumes_from_its_checkpoint(tmp_path):
    """Ctrl-C (a real SIGINT) saves a checkpoint and stops; the same command again resumes and finishes."""
    import os
    import signal

    from genloom.tune import TrainConfig, train

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Say {w}."}], "completion": w})
                            + "\n" for w in ("one", "two", "three", "four")))  # fmt: skip
    cfg = TrainConfig(max_steps=4, batch_size=2, rank=2, alpha=4, max_length=64, save_steps=100)

    def interrupt(e: dict[str, object]) -> None:
        if e["step"] == 2 and "loss" not in e:
            os.kill(os.getpid(), signal.SIGINT)

    first = train(data, tmp_path / "run", cfg, progress=interrupt)
    assert not first.metrics["finished"] and first.metrics["stopped_by"] == "interrupt"
    assert first.metrics["steps"] == 2 and (tmp_path / "run" / "checkpoint-2").is_dir()
    assert not (tmp_path / "run" / "adapter").exists()
    second = train(data, tmp_path / "run", cfg)
    assert second.metrics["resumed"] and second.metrics["finished"] and second.metrics["steps"] == 4
    assert [r["step"] for r in second.metrics["loss_history"]] == [3, 4]


@pytest.mark.slow
@pytest.mark.example
@pytest.mark.timeout(
    1800
)  # two 9-case evals with generation; on a loaded 2-core box it outruns the 600 s default
def test_worked_example_kb_to_promoted_version(tmp_path):
    """docs/fine-tuning.md on a small KB: data from the KB -> train -> export -> eval vs base -> promote or not."""
    from genloom.cli.main import main
    from genloom.kb import KnowledgeBase
    from genloom.registry import Registry
    from genloom.tune.evaluate import load_report

    data = Path(__file__).parent / "data" / "eval"
    kb = KnowledgeBase.open("docs", create=True)
    kb.ingest([data / "apt.md", data / "git.md", data / "sqlite.md"])
    kb.close()
    dev = data / "cases.jsonl"
    assert main(["tune", "data", "--kb", "docs", "--exclude", str(dev), "--out", str(tmp_path / "ds")]) == 0
    train_file = tmp_path / "ds" / "sft.train.jsonl"
    assert main(["tune", "train", "--data", str(train_file), "--out", str(tmp_path / "run"), "--max-steps", "6",
                 "--batch-size", "2"]) == 0  # fmt: skip
    assert main(["tune", "export", str(tmp_path / "run"), "--name", "docs-grounded"]) == 0
    assert main(["tune", "eval", str(dev), "--kb", "docs", "--tuned", "registry:docs-grounded@v1",
                 "--perplexity", str(data / "git.md"), "--out", str(tmp_path / "eval")]) == 0  # fmt: skip
    report = load_report(tmp_path / "eval")
    assert report["rows"]["faithfulness"]["n_base"] > 0 and report["perplexity"]["ratio"] > 0
    assert (tmp_path / "eval" / "compare.md").read_text().count("|") > 20
    reg = Registry.open()
    v = reg.resolve("docs-grounded@v1")
    assert v.metrics["eval"]["passed"] == report["passed"] and "train" in v.metrics
    code = main(["tune", "promote", "docs-grounded@v1", "--report", str(tmp_path / "eval")])
    assert code == (0 if report["passed"] else 2)
    assert reg.get("docs-grounded").current == report["passed"]
    reg.close()


@pytest.mark.slow
def test_dpo_one_step_exports_and_loads(tmp_path):
    """--method dpo on preference pairs (as feedback_pairs makes them) trains, exports and loads in llama.cpp."""
    from genloom.backends.llm.llamacpp import LlamaCppLLM
    from genloom.tune import TrainConfig, train
    from genloom.tune.chat import base_gguf
    from genloom.tune.export import export_adapter
    from genloom.types import Message, SamplingParams

    data = tmp_path / "pairs.jsonl"
    rows = [("How do I hold a package?", "Run apt-mark hold PKG.", "Delete it."),
            ("Where is the apt cache?", "In /var/cache/apt/archives.", "On the moon.")]  # fmt: skip
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q}], "chosen": c, "rejected": r})
                            + "\n" for q, c, r in rows))  # fmt: skip
    with pytest.raises(UserError, match="is a preference example, this needs sft"):
        train(tmp_path / "pairs.jsonl", tmp_path / "x", TrainConfig(method="lora", max_steps=1))
    run = train(data, tmp_path / "run", TrainConfig(method="dpo", max_steps=1, batch_size=2, rank=2, alpha=4))
    assert run.metrics["finished"] and run.metrics["train_loss"] > 0
    gguf = export_adapter(run.adapter_dir, tmp_path / "dpo.gguf", base_gguf("llamacpp:"))
    llm = LlamaCppLLM(None, n_ctx=256, lora_path=str(gguf))
    out = "".join(
        d.text for d in llm.stream([Message("user", "Hi")], SamplingParams(max_tokens=4, temperature=0))
    )
    assert out.strip()
