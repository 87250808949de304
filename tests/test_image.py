"""Image generation: one real training step per model kind, reproducibility and resume, sampling (DDPM, DDIM,
guidance, per-image seeds), prompts -> classes, folder data, provenance PNGs, metrics and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from genloom.cli.main import main
from genloom.errors import NotFound, UserError
from genloom.image.artifact import ImageModel, open_model
from genloom.image.data import load_data, load_folder
from genloom.image.metrics import fid, inception_score, nn_distances, precision_recall
from genloom.image.png import decode_png, encode_png, image_manifest, verify
from genloom.image.prompt import label_for, parse_label
from genloom.image.train import TrainOptions, register, train
from genloom.registry import Registry
from genloom.settings import get_settings

DIGITS = [str(i) for i in range(10)]


def _weights(run) -> dict[str, torch.Tensor]:
    return {
        f"{m}.{k}": v.clone() for m, mod in run.trainer.modules.items() for k, v in mod.state_dict().items()
    }


@pytest.mark.parametrize("kind", ["ddpm", "vae", "gan"])
def test_one_training_step_changes_the_weights_and_registers(kind, tmp_path):
    opts = TrainOptions(
        kind=kind, epochs=1, batch_size=16, grid=False, model={"width": 16} if kind == "ddpm" else {}
    )
    before = train(opts, tmp_path / "a", max_steps=1)
    torch.manual_seed(0)
    from genloom.image.trainers import make_trainer

    fresh = make_trainer(kind, 8, 1, 10, opts.model)
    init = {f"{m}.{k}": v for m, mod in fresh.modules.items() for k, v in mod.state_dict().items()}
    after = _weights(before)
    assert before.steps == 1 and not before.finished and np.isfinite(before.history[-1]["loss"])
    changed = [k for k in init if init[k].dtype.is_floating_point and not torch.equal(init[k], after[k])]
    assert changed, "one optimiser step must change some weights"
    v = register(before, f"t-{kind}")
    assert v.kind == "image" and v.ref == f"t-{kind}@v1" and v.config["kind"] == kind
    m = open_model(v.ref)
    assert m.kind == kind and m.size == 8 and m.classes == (DIGITS if kind == "ddpm" else [])


def test_same_seed_same_weights_and_resume_equals_uninterrupted(tmp_path):
    opts = TrainOptions(kind="vae", epochs=2, batch_size=64, limit=256, grid=False)
    a = _weights(train(opts, tmp_path / "a"))
    b = _weights(train(opts, tmp_path / "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    part = train(opts, tmp_path / "c", max_steps=3)  # stops inside epoch 1, checkpointed
    assert not part.finished and part.steps == 3
    with pytest.raises(UserError, match="already holds a training run"):
        train(opts, tmp_path / "c")
    resumed = train(opts, tmp_path / "c", resume=True)
    assert resumed.finished and resumed.steps == 2 * 4
    c = _weights(resumed)
    assert all(torch.equal(a[k], c[k]) for k in a), "a resumed run must give the uninterrupted run's weights"
    with pytest.raises(NotFound):
        train(opts, tmp_path / "nothing", resume=True)


@pytest.fixture(scope="module")
def ddpm_folder(tmp_path_factory):
    """A real (two-step) class-conditional DDPM written as a model folder."""
    from genloom.image.artifact import write_model
    from genloom.image.train import _export_modules, model_meta

    run = train(TrainOptions(kind="ddpm", epochs=1, batch_size=32, grid=False, model={"width": 16}),
                tmp_path_factory.mktemp("run"), max_steps=2)  # fmt: skip
    folder = tmp_path_factory.mktemp("models") / "ddpm"
    return write_model(folder, model_meta(run), _export_modules(run.trainer))


def test_ddpm_ddim_sampling_guidance_and_per_image_seeds(ddpm_folder):
    m = ImageModel.load(ddpm_folder, "tiny@v1")
    out = m.generate(3, seed=10, label=[7, 3, None], steps=4, sampler="ddim", guidance=3.0)
    assert out.images.shape == (3, 1, 8, 8) and out.images.abs().max() <= 1
    assert [p["seed"] for p in out.params] == [10, 11, 12] and out.params[0]["class"] == "7"
    alone = m.generate(1, seed=11, label=3, steps=4, sampler="ddim", guidance=3.0)
    assert torch.allclose(alone.images[0], out.images[1], atol=1e-4), "image i of a batch = seed+i alone"
    again = m.generate(3, seed=10, label=[7, 3, None], steps=4, sampler="ddim", guidance=3.0)
    assert torch.equal(again.images, out.images)
    ddpm = m.generate(2, seed=0, label=1, steps=3, sampler="ddpm")
    assert ddpm.params[0]["sampler"] == "ddpm" and ddpm.params[0]["guidance"] == 2.0
    assert not torch.equal(ddpm.images, m.generate(2, seed=0, label=1, steps=3, sampler="ddim").images)
    with pytest.raises(UserError, match="steps"):
        m.generate(1, steps=5000)
    with pytest.raises(UserError, match="sampler"):
        m.generate(1, sampler="euler")


def test_unconditional_unet_and_vae_operations():
    from genloom.image.pipeline import DiffusionPipeline
    from genloom.image.schedulers import scheduler_config
    from genloom.image.unet import build_unet, unet_config
    from genloom.image.vae import ConvVAE

    torch.manual_seed(0)
    pipe = DiffusionPipeline(build_unet(unet_config(16, 3, None, 16)).eval(), scheduler_config(100), None)
    assert pipe([1, 2], steps=2, sampler="ddpm").shape == (2, 3, 16, 16)
    with pytest.raises(UserError, match="unconditional"):
        pipe([1], [3], steps=2)
    vae = ConvVAE(16, 3).eval()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert vae.reconstruct(x).shape == x.shape and vae.sample([0, 1]).shape == (2, 3, 16, 16)
    path = vae.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, 3, 16, 16)
    assert torch.allclose(path[0], vae.reconstruct(x[:1])[0], atol=1e-5)  # the ends are the reconstructions
    assert torch.allclose(path[-1], vae.reconstruct(x[1:])[0], atol=1e-5)


def test_prompts_and_labels_map_to_classes():
    assert label_for("a handwritten 7", DIGITS) == 7
    assert label_for("Seven, please", DIGITS) == 7
    assert label_for("  ", DIGITS) is None
    assert parse_label("3", DIGITS) == 3 and parse_label("cat", ["cat", "dog"]) == 0
    with pytest.raises(UserError, match="names none"):
        label_for("a cat", DIGITS)
    with pytest.raises(UserError, match="more than one"):
        label_for("a 1 and a 2", DIGITS)
    with pytest.raises(UserError, match="unconditional"):
        label_for("a 7", [])
    with pytest.raises(UserError, match="unknown label"):
        parse_label("12", DIGITS)


def test_png_provenance_roundtrip_and_tamper_check():
    px = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)
    man = image_manifest(px, model="m@v1", seed=3, steps=50, guidance=2.0, sampler="ddim", label=7,
                         class_name="7", prompt="a 7")  # fmt: skip
    data = encode_png(px, man)
    back, got = decode_png(data)
    assert np.array_equal(back, px) and got == json.loads(json.dumps(man)) and verify(data)
    other = encode_png(px[::-1].copy(), man)  # other pixels, same manifest
    assert not verify(other) and not verify(encode_png(px))


def test_folder_data_labels_from_subfolders(tmp_path):
    from PIL import Image

    for cls, value in (("cats", 30), ("dogs", 220)):
        (tmp_path / "set" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40, 30), (value, value, i)).save(tmp_path / "set" / cls / f"{i}.png")
    (tmp_path / "set" / "dogs" / "notes.txt").write_text("not an image")
    d = load_folder(tmp_path / "set", size=16, channels=3)
    assert d.images.shape == (6, 3, 16, 16) and d.classes == ["cats", "dogs"]
    assert d.labels.tolist() == [0, 0, 0, 1, 1, 1] and d.skipped[0].endswith("notes.txt")
    assert d.images[:3].mean() < 0 < d.images[3:].mean()
    flat = load_folder(tmp_path / "set" / "cats", size=8)
    assert flat.labels is None and flat.channels == 1
    Image.new("L", (8, 8)).save(tmp_path / "set" / "stray.png")
    with pytest.raises(UserError, match="both at the top and in sub-folders"):
        load_folder(tmp_path / "set")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image"):
        load_folder(tmp_path / "bad", size=8)
    with pytest.raises(UserError, match="not supported"):
        load_folder(tmp_path / "set" / "cats", size=12)


def test_metrics_behave_on_known_cases():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    far = a + 5
    assert fid(a, a) == pytest.approx(0, abs=1e-6) and fid(a, b) < 1 < fid(a, far)
    assert fid(a, far) == pytest.approx(8 * 25, rel=0.05)
    assert inception_score(np.eye(10)) == pytest.approx(10) and inception_score(
        np.full((5, 10), 0.1)
    ) == pytest.approx(1)
    assert precision_recall(a, a) == (1.0, 1.0)
    p, r = precision_recall(a, far)
    assert p == 0 and r == 0
    d = load_data("digits")
    assert nn_distances(d.images[:5], d.images).max() == 0


def test_cli_train_resume_sample_list(tmp_path, capsys):
    args = ["image", "train", "--model", "ddpm", "--width", "16", "--epochs", "1", "--batch-size", "64",
            "--cpu-minutes", "0.0001", "--name", "cli-ddpm", "--json"]  # fmt: skip
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["model"] == "cli-ddpm@v1" and first["finished"] is False and first["steps"] == 1
    assert main(args) == 2 and "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "cli-ddpm@v2"
    out = tmp_path / "imgs"
    assert main(["image", "sample", "--model", "cli-ddpm@v1", "--prompt", "a handwritten 7", "--n", "2",
                 "--seed", "4", "--steps", "3", "--out", str(out), "--json"]) == 0  # fmt: skip
    res = json.loads(capsys.readouterr().out)
    assert [i["seed"] for i in res["images"]] == [4, 5] and res["images"][0]["class"] == "7"
    png = (out / "cli-ddpm-v1-seed4.png").read_bytes()
    side = json.loads((out / "cli-ddpm-v1-seed4.json").read_text())
    assert (
        verify(png) and side["steps"] == 3 and side["model"] == "cli-ddpm@v1" and (out / "grid.png").exists()
    )
    assert main(["image", "sample", "--model", "cli-ddpm", "--prompt", "a cat", "--out", str(out)]) == 2
    assert "names none" in capsys.readouterr().err
    assert main(["image", "sample", "--model", "nope", "--out", str(out)]) == 2
    assert main(["image", "list", "--json"]) == 0
    assert [r["ref"] for r in json.loads(capsys.readouterr().out)] == ["cli-ddpm@v1", "cli-ddpm@v2"]


def test_registry_kind_is_checked(tmp_path):
    f = tmp_path / "x.gguf"
    f.write_bytes(b"x")
    reg = Registry.open(get_settings())
    reg.register("an-llm", "llm", f)
    reg.close()
    with pytest.raises(UserError, match="not an image model"):
        open_model("an-llm")


def test_evaluator_baselines_and_memorisation_with_a_quick_feature_net(ddpm_folder):
    from genloom.image.evaluate import Evaluator
    from genloom.image.features import train_feature_net

    train_set, held = load_data("digits").split(0.2, 0)
    small = train_set.subset(torch.arange(300))
    net, info = train_feature_net(small, held, epochs=1)
    assert 0.1 < info["held_out_accuracy"] <= 1  # one epoch on 300 images: better than chance
    ev = Evaluator(small, held, net, info)
    base = ev.baselines(60)
    assert base["train"]["copy_rate"] == 1.0 and base["train"]["nn_median_samples"] == 0  # they are copies
    assert base["held_out"]["copy_rate"] < 0.3 and 0.8 < base["held_out"]["nn_ratio"] < 1.25
    assert base["noise"]["fid"] > base["held_out"]["fid"] > base["train"]["fid"] >= 0
    assert "accuracy" not in base["noise"] and set(base["train"]["per_class_accuracy"]) <= set(DIGITS)
    m = ImageModel.load(ddpm_folder, "tiny@v1")
    rep = ev.report(m, 20, steps=2)
    assert rep["n"] == 20 and 0 <= rep["precision"] <= 1 and 0 <= rep["accuracy"] <= 1
    assert set(rep["per_class_accuracy"]) == set(DIGITS)  # round-robin classes


@pytest.mark.slow
def test_full_example_ddpm_trains_and_beats_noise(tmp_path, capsys):
    """The README's example on a small budget: train a conditional DDPM, evaluate it with the baselines."""
    assert main(["image", "train", "--model", "ddpm", "--cpu-minutes", "2", "--epochs", "200", "--json"]) == 0
    capsys.readouterr()
    assert main(["image", "eval", "--model", "digits-ddpm", "--n", "200", "--steps", "25", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    ours, noise = res["scores"]["digits-ddpm@v1"], res["scores"]["baseline:noise"]
    assert res["feature_net"]["held_out_accuracy"] > 0.95
    assert ours["fid"] < noise["fid"] and ours["accuracy"] > 0.3  # chance is 0.1
    assert Registry.open(get_settings()).get("digits-ddpm").metrics["eval"]["fid"] == ours["fid"]
