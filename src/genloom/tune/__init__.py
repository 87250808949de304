"""Fine-tuning as a closed loop: data -> LoRA / DPO on CPU -> GGUF adapter -> registry version -> eval -> promote.

    from genloom import tune
    tune.build_dataset("data/", kb="docs")                                  # genloom tune data
    run = tune.train("data/sft.train.jsonl", "runs/g", tune.TrainConfig())   # genloom tune train
    v = tune.register_run("runs/g", "grounded")                              # genloom tune export
    cmp = tune.compare("llamacpp:", f"registry:{v.ref}", "dev.jsonl", kb="docs")  # genloom tune eval
    tune.promote_version("grounded", v.version, cmp.to_dict())               # genloom tune promote

Modules: examples (the file format), sources and grounded (where examples come from), data (building the
files), chat (the base model in torch, chat format as serving uses it), train, export (GGUF adapter),
versions (registry), evaluate (base vs tuned with intervals, gates). torch and friends load only when
training or exporting (the ``tune`` extra).
"""

from genloom.tune.data import build_dataset
from genloom.tune.evaluate import DEFAULT_GATES, Comparison, compare, write_report
from genloom.tune.examples import Example, load_examples
from genloom.tune.export import export_adapter
from genloom.tune.train import TrainConfig, TrainRun, train
from genloom.tune.versions import promote_version, record_eval, register_run

__all__ = [
    "DEFAULT_GATES", "Comparison", "Example", "TrainConfig", "TrainRun", "build_dataset", "compare",
    "export_adapter", "load_examples", "promote_version", "record_eval", "register_run", "train",
    "write_report",
]  # fmt: skip
